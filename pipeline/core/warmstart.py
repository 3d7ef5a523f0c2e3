"""Warm start for stage processes: one server imports the heavy libraries once, each stage runs in a fork of it.

DVC starts every stage as a new `python -m pipeline ...` process, and on 2 cores importing sdv/torch, MLflow and
scikit-learn costs 3-9 s per stage: most of a small stage's time. `python -m pipeline.core.warmstart CMD ...` runs
CMD (e.g. `dvc repro`) beside a server that imports those libraries (not `pipeline`) and then listens on a Unix
socket named by `PIPELINE_WARM_SOCKET`. `pipeline/__main__.py` asks it first (`run_via_server`): the server forks,
and the fork takes the client's working folder, environment, arguments and standard streams (passed as file
descriptors), imports `pipeline` from that folder as a cold start would, and runs the module as `__main__`; the
client waits and exits with the fork's exit status (a signal death is passed on as the same signal). The client
forwards SIGINT/SIGTERM/SIGHUP to the fork; when the client dies, the server kills the fork.

Same results as a cold start, by construction, or no warm start at all: the server declines (and the client runs
the stage in its own process, as without a server) when the client's interpreter, interpreter flags or any
environment variable read at import time (`IMPORT_ENV_PREFIXES`: Python's, thread counts, locale, Dask's config)
differ from the server's. Without `PIPELINE_WARM_SOCKET`, or when the server is not (yet) listening, nothing
changes: `dvc repro` alone runs every stage cold.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys

#: the socket's path; set by `start_server` for the commands it runs
SOCKET_ENV = "PIPELINE_WARM_SOCKET"
#: set in a fork to its own PID: that process is already warm and runs its module itself
CHILD_ENV = "PIPELINE_WARM_CHILD"
#: libraries the stages import (measured with `python -X importtime`); a fork that does not need one pays nothing
PRELOAD = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "scipy.stats",
    "sklearn.metrics",
    "sklearn.neighbors",
    "xgboost",
    "matplotlib.pyplot",
    "torch",
    "sdv.single_table",
    "sdmetrics.reports.single_table",
    "sdmetrics.single_table",
    "imblearn.over_sampling",
    "mlflow",
    "mlflow.pyfunc",
    "mlflow.store.tracking.sqlalchemy_store",
    "dask.dataframe",
    "distributed",
)
#: caches of those libraries filled once in the server, which every fork then inherits: (module, function) called
#: with no argument after the imports, when the module's package is preloaded. MLflow's map of installed
#: distributions to modules (importlib's `packages_distributions` over every installed package: 2 s here), which it
#: builds the first time a process logs a model, to check the model's pinned requirements against the environment:
#: each publish and retrain paid it
WARM_CACHES = (("mlflow.utils.requirements_utils", "_init_modules_to_packages_map"),)
#: environment variables read at import or interpreter start: a client whose values differ is declined
IMPORT_ENV_PREFIXES = (
    "PYTHON",
    "OMP_",
    "KMP_",
    "MKL_",
    "OPENBLAS_",
    "GOTO",
    "VECLIB",
    "NUMEXPR",
    "TORCH",
    "CUDA",
    "LD_",
    "MPL",
    "MATPLOTLIB",
    "DASK_",
    "LANG",
    "LC_",
    "TZ",
)
_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def _import_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(IMPORT_ENV_PREFIXES)}


def _interpreter() -> dict:
    return {
        "executable": os.path.realpath(sys.executable),
        "flags": list(sys.flags),
        "warnoptions": list(sys.warnoptions),
        "xoptions": {str(k): str(v) for k, v in sys._xoptions.items()},
    }


def _send(sock: socket.socket, obj: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(obj).encode()
    frame = struct.pack("!I", len(data)) + data
    if fds:
        sent = socket.send_fds(sock, [frame], fds)
        if sent < len(frame):
            sock.sendall(frame[sent:])
    else:
        sock.sendall(frame)


def _recv_exact(sock: socket.socket, n: int, buf: bytes = b"") -> bytes | None:
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _recv(sock: socket.socket) -> dict | None:
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    body = _recv_exact(sock, struct.unpack("!I", head)[0])
    return None if body is None else json.loads(body)


# --- client ---------------------------------------------------------------------------------------------------


def run_via_server(module: str, argv: list[str]) -> int | None:
    """Run `python -m <module> <argv>` in a fork of the warm server; its exit code, or None when there is no server
    to ask or it declines (then run the module in this process, as without a server)."""
    path = os.environ.get(SOCKET_ENV)
    if not path or os.environ.get(CHILD_ENV) == str(os.getpid()):
        return None
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        request = {"module": module, "argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), **_interpreter()}
        _send(sock, request, [0, 1, 2])
        reply = _recv(sock)
    except OSError:
        return None
    if reply is None or "pid" not in reply:
        return None
    import signal

    pid = int(reply["pid"])

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for name in _SIGNALS:
        signal.signal(getattr(signal, name), forward)
    try:
        done = _recv(sock)
    except OSError:
        done = None
    if done is None:
        print(f"error: the warm-start server stopped while running {module} {' '.join(argv)}", file=sys.stderr)
        return 1
    code = int(done["exit"])
    if code < 0:  # the fork died of a signal: die of it too, as the cold process would have
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


# --- server ---------------------------------------------------------------------------------------------------


def _decline_reason(
    request: dict, interpreter: dict, import_env: dict[str, str], set_by_imports: dict[str, str]
) -> str | None:
    """Why a client must run cold, or None. `import_env`: the server's import-time variables after its imports."""
    for key, value in interpreter.items():
        if request.get(key) != value:
            return f"the interpreter's {key} differ from the server's"
    # a variable the preloaded imports set (setdefault) is the same whether the client had it already or not
    theirs = _import_env({**set_by_imports, **request["env"]})
    if theirs != import_env:
        names = sorted(k for k in {*theirs, *import_env} if theirs.get(k) != import_env.get(k))
        return f"environment variables read at import differ from the server's: {', '.join(names)}"
    return None


def _die_with_parent(signum: int) -> None:
    """Linux: this process gets `signum` when its parent exits (prctl PR_SET_PDEATHSIG); elsewhere nothing."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signum, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _run_child(request: dict, fds: list[int], set_by_imports: dict[str, str]) -> None:
    """In the fork: become the client's `python -m module argv` process, then exit with its status."""
    import atexit
    import runpy
    import signal
    import threading
    import traceback

    os.setpgid(0, 0)  # its own process group: when the client dies, the server kills the fork and its children
    _die_with_parent(signal.SIGKILL)  # and when the server dies, its forks die: their clients see it and fail
    for name in ("SIGCHLD", *_SIGNALS):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdout.reconfigure(line_buffering=os.isatty(1))  # type: ignore[union-attr]
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update({**set_by_imports, **request["env"]})
    os.environ[CHILD_ENV] = str(os.getpid())
    sys.path[0] = request["cwd"]  # `python -m` puts the working folder first
    for name in [m for m in sys.modules if m == "pipeline" or m.startswith("pipeline.")]:
        del sys.modules[name]  # the server's own; the client's folder may hold other code
    import importlib

    importlib.invalidate_caches()
    sys.argv = [request["module"], *request["argv"]]
    code = 0
    try:
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        traceback.print_exc()
        code = -signal.SIGINT
    except BaseException:
        traceback.print_exc()
        code = 1
    try:  # what the interpreter does at exit: wait for non-daemon threads, then the atexit functions
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        if code < 0:
            signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
        os._exit(code & 0xFF)


def serve(path: str, preload: tuple[str, ...] = PRELOAD) -> None:
    """Import `preload` and fill `WARM_CACHES`, then listen on `path` until SIGTERM or until the process that started
    this one is gone."""
    import importlib
    import selectors
    import signal

    parent = os.getppid()
    started_with = dict(os.environ)
    interpreter, import_env = _interpreter(), _import_env(started_with)
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception as e:  # a stage that needs it fails the same way cold
            print(f"warm start: not preloaded: {name}: {e}", file=sys.stderr)
    preloaded = {name.split(".")[0] for name in preload}
    for module, function in WARM_CACHES:
        if module.split(".")[0] not in preloaded:
            continue
        try:
            getattr(importlib.import_module(module), function)()
        except Exception as e:  # a private helper that moved: the fork fills the cache itself, as a cold start does
            print(f"warm start: cache not filled: {module}.{function}: {e}", file=sys.stderr)
    # what the imports put in the environment (scikit-learn: KMP_DUPLICATE_LIB_OK, KMP_INIT_AT_FORK): a fork gets it
    # on top of the client's environment, as a cold process importing them would
    set_by_imports = {k: v for k, v in os.environ.items() if started_with.get(k) != v}
    import_env = _import_env({**import_env, **set_by_imports})
    stopping = False

    def stop(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    tmp = f"{path}.{os.getpid()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(tmp)
        listener.listen(16)
        os.replace(tmp, path)  # clients connect only once everything is imported
    except OSError as e:  # e.g. a socket path too long for the system: every stage runs cold
        print(f"warm start: cannot listen on {path}: {e}; stages run cold", file=sys.stderr)
        listener.close()
        return
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    try:
        while not stopping and os.getppid() == parent:
            for key, _ in sel.select(timeout=0.2):
                if key.fileobj is listener:
                    _accept(listener, sel, children, interpreter, import_env, set_by_imports)
                else:  # a client spoke or hung up: it is gone, and so must its fork be
                    conn = key.fileobj
                    assert isinstance(conn, socket.socket)
                    try:
                        alive = bool(conn.recv(1))
                    except OSError:
                        alive = False
                    if not alive:
                        sel.unregister(conn)
                        for pid, c in children.items():
                            if c is conn:
                                _kill(pid)
            _reap(sel, children)
    finally:
        for pid in children:
            _kill(pid)
        listener.close()
        try:
            os.unlink(path)
        except OSError:
            pass


def _kill(pid: int) -> None:
    """Kill a fork and its process group (the processes it started), as killing the cold stage's group would."""
    import signal

    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _accept(listener, sel, children, interpreter, import_env, set_by_imports) -> None:
    import selectors

    conn, _ = listener.accept()
    fds: list[int] = []
    try:
        conn.settimeout(10)
        first, fds, _, _ = socket.recv_fds(conn, 4, 3)
        head = _recv_exact(conn, 4, first)
        body = None if head is None else _recv_exact(conn, struct.unpack("!I", head)[0])
        if body is None or len(fds) != 3:
            raise OSError("incomplete request")
        request = json.loads(body)
        reason = _decline_reason(request, interpreter, import_env, set_by_imports)
        if reason:
            print(f"warm start: {request['module']} {' '.join(request['argv'])} runs cold: {reason}", file=sys.stderr)
            _send(conn, {"decline": reason})
            raise OSError(reason)
    except (OSError, ValueError):
        conn.close()
        for fd in fds:
            os.close(fd)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the fork: never returns
        try:
            sel.close()
            listener.close()
            for c in children.values():
                c.close()
            conn.close()
            _run_child(request, fds, set_by_imports)
        finally:
            os._exit(70)
    for fd in fds:
        os.close(fd)
    conn.settimeout(None)
    children[pid] = conn
    _send(conn, {"pid": pid})
    sel.register(conn, selectors.EVENT_READ)


def _reap(sel, children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is None:
            continue
        try:
            _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
        except OSError:
            pass
        try:
            sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()


# --- running a command beside a server -----------------------------------------------------------------------


def start_server(preload: tuple[str, ...] | None = None, env: dict[str, str] | None = None, stderr=None):
    """Start a server in the background (it imports while the caller goes on); returns (process, socket path).
    Its messages (a module it could not import, a client it declined and why) go to `stderr` (default: ours).
    Stop it with `stop_server`."""
    import subprocess
    import tempfile

    folder = tempfile.mkdtemp(prefix="pipeline-warm-")
    path = os.path.join(folder, "sock")
    cmd = [sys.executable, "-m", "pipeline.core.warmstart", "--serve", path]
    if preload is not None:
        cmd += ["--preload", ",".join(preload)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=stderr, env=env, start_new_session=True)
    return proc, path


def stop_server(proc, path: str) -> None:
    import shutil
    import subprocess

    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def main(argv: list[str]) -> int:
    """`python -m pipeline.core.warmstart CMD ...`: run CMD with a warm server beside it; CMD's exit code."""
    if argv[:1] == ["--serve"]:
        preload: tuple[str, ...] = PRELOAD
        if argv[2:3] == ["--preload"]:
            preload = tuple(m for m in argv[3].split(",") if m)
        serve(argv[1], preload)
        return 0
    if not argv:
        print("usage: python -m pipeline.core.warmstart COMMAND [ARGS...]", file=sys.stderr)
        return 2
    import signal
    import subprocess

    server = None
    env = dict(os.environ)
    try:
        server = start_server()
        env[SOCKET_ENV] = server[1]
    except OSError as e:  # no temporary folder, no process to spare: the command runs, its stages cold
        print(f"warm start: not started ({e}); stages run cold", file=sys.stderr)
    try:
        try:
            cmd = subprocess.Popen(argv, env=env)
        except FileNotFoundError:
            print(f"error: command not found: {argv[0]}", file=sys.stderr)
            return 127
        # Ctrl-C reaches the command (the terminal signals its whole process group): let it stop in its own way,
        # as a shell does (a Python handler, unlike SIG_IGN, is not inherited by the command); SIGTERM and SIGHUP,
        # sent to this process alone, are passed on
        signal.signal(signal.SIGINT, lambda *_: None)
        for name in ("SIGTERM", "SIGHUP"):
            signal.signal(getattr(signal, name), lambda signum, _: cmd.send_signal(signum))
        return cmd.wait()
    finally:
        if server is not None:
            stop_server(*server)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
