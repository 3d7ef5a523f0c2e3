"""The warm-start server: a stage run in a fork behaves as the same command started cold, or runs cold."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline.core import warmstart
from tests.helpers import ROOT

# the client, as `pipeline/__main__.py` calls it, for a module `probe` in the working folder; exit 99 = ran cold
CLIENT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from pipeline.core.warmstart import run_via_server; "
    "code = run_via_server('probe', sys.argv[2:]); sys.exit(99 if code is None else code)"
)

PROBE = """
import os, sys, time
from pathlib import Path
import marker
mode = sys.argv[1]
print(f"pid={os.getpid()} ppid={os.getppid()} cwd={os.getcwd()} argv={sys.argv[1:]} "
      f"X={os.environ.get('PROBE_X')} marker={marker.WHERE} main={__name__} "
      f"imported={os.environ.get('KMP_PROBE_AT_IMPORT')}", flush=True)
print("to stderr", file=sys.stderr)
if mode == "exit":
    sys.exit(int(sys.argv[2]))
if mode == "message":
    sys.exit("a one-line message")
if mode == "raise":
    raise RuntimeError("boom")
if mode == "sleep":
    if len(sys.argv) > 3:  # and a process of its own, sleeping as long
        import subprocess
        print(f"child={subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']).pid}", flush=True)
    time.sleep(float(sys.argv[2]))
    Path("finished").write_text("yes")
"""


@pytest.fixture
def server(tmp_path: Path):
    lib = tmp_path / "lib"  # a preloaded module that sets a variable at import, as scikit-learn does
    lib.mkdir()
    (lib / "sets_env.py").write_text("import os\nos.environ.setdefault('KMP_PROBE_AT_IMPORT', 'by-import')\n")
    env = {**os.environ, "PYTHONPATH": str(lib)}
    env.pop(warmstart.SOCKET_ENV, None)
    env.pop("KMP_PROBE_AT_IMPORT", None)
    log = open(tmp_path / "server.log", "w")
    proc, path = warmstart.start_server(preload=("json", "sets_env"), env=env, stderr=log)
    deadline = time.monotonic() + 60
    while not os.path.exists(path):
        assert proc.poll() is None and time.monotonic() < deadline, "the warm-start server did not start"
        time.sleep(0.05)
    yield proc, path, env
    warmstart.stop_server(proc, path)
    log.close()
    assert not os.path.exists(os.path.dirname(path))


def _folder(tmp_path: Path, where: str) -> Path:
    d = tmp_path / where
    (d / "probe").mkdir(parents=True)
    (d / "probe" / "__main__.py").write_text(textwrap.dedent(PROBE))
    (d / "probe" / "__init__.py").write_text("")
    (d / "marker.py").write_text(f"WHERE = {where!r}\n")
    return d


def _client(folder: Path, env: dict, *args: str, sock: str | None = None, **kw) -> subprocess.Popen:
    e = {**env, "PROBE_X": "from-client"}
    if sock:
        e[warmstart.SOCKET_ENV] = sock
    return subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(ROOT), *args],
        cwd=folder,
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_the_fork_takes_the_clients_folder_env_args_streams_and_exit_code(server, tmp_path):
    proc, sock, env = server
    folder = _folder(tmp_path, "one")
    client = _client(folder, env, "exit", "3", sock=sock)
    out, err = client.communicate(timeout=60)
    assert client.returncode == 3, err
    assert f"ppid={proc.pid}" in out  # ran in a fork of the server
    assert f"pid={client.pid}" not in out
    assert f"cwd={folder}" in out and "argv=['exit', '3']" in out and "X=from-client" in out
    assert "marker=one" in out and "main=__main__" in out and "imported=by-import" in out
    assert err == "to stderr\n"
    # a second client in another folder gets that folder's modules, not the first one's
    other = _folder(tmp_path, "two")
    out, _ = _client(other, env, "exit", "0", sock=sock).communicate(timeout=60)
    assert "marker=two" in out


@pytest.mark.parametrize(
    "args, code, tail",
    [
        (("message",), 1, "a one-line message\n"),
        (("raise",), 1, "RuntimeError: boom\n"),
        (("exit", "0"), 0, "to stderr\n"),
    ],
)
def test_exits_and_errors_are_those_of_a_cold_start(server, tmp_path, args, code, tail):
    _, sock, env = server
    folder = _folder(tmp_path, "f")
    cold = subprocess.run(
        [sys.executable, "-m", "probe", *args], cwd=folder, env={**env, "PROBE_X": "from-client"}, capture_output=True
    )
    warm = _client(folder, env, *args, sock=sock)
    _, err = warm.communicate(timeout=60)
    assert warm.returncode == cold.returncode == code
    assert err.endswith(tail) and cold.stderr.decode().endswith(tail)


def test_runs_cold_without_a_server_or_when_an_import_time_variable_differs(server, tmp_path):
    _, sock, env = server
    folder = _folder(tmp_path, "f")
    assert _client(folder, env, "exit", "0").wait(timeout=60) == 99  # no PIPELINE_WARM_SOCKET
    assert _client(folder, env, "exit", "0", sock=str(tmp_path / "none")).wait(timeout=60) == 99
    threads = {**env, "OMP_NUM_THREADS": str(int(env.get("OMP_NUM_THREADS", "1")) + 1)}
    assert _client(folder, threads, "exit", "0", sock=sock).wait(timeout=60) == 99
    # a variable the preloaded imports set (as scikit-learn sets KMP_DUPLICATE_LIB_OK) may be there already, the same
    assert _client(folder, {**env, "KMP_PROBE_AT_IMPORT": "by-import"}, "exit", "0", sock=sock).wait(60) == 0
    assert _client(folder, {**env, "KMP_PROBE_AT_IMPORT": "other"}, "exit", "0", sock=sock).wait(60) == 99
    # the server says why, on its own stderr
    assert _client(folder, {**env, "MKL_NUM_THREADS": "3"}, "exit", "0", sock=sock).wait(timeout=60) == 99
    log = (tmp_path / "server.log").read_text()
    assert "warm start: probe exit 0 runs cold: environment variables read at import differ" in log
    assert "OMP_NUM_THREADS" in log and "MKL_NUM_THREADS" in log
    assert _client(folder, {**env, "MLFLOW_TRACKING_URI": "sqlite:///x.db"}, "exit", "0", sock=sock).wait(60) == 0


def _wait_started(client: subprocess.Popen) -> int:
    line = client.stdout.readline()
    assert line.startswith("pid="), line
    return int(line.split()[0].split("=")[1])


def test_a_killed_client_takes_its_fork_with_it(server, tmp_path):
    _, sock, env = server
    folder = _folder(tmp_path, "f")
    client = _client(folder, env, "sleep", "3", "with-a-child", sock=sock)
    fork = _wait_started(client)
    grandchild = int(client.stdout.readline().strip().split("=")[1])
    client.kill()
    client.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _alive(fork) or _alive(grandchild):
        assert time.monotonic() < deadline, "the fork or a process it started outlived the client"
        time.sleep(0.05)
    time.sleep(3.5)
    assert not (folder / "finished").exists()


def test_a_dead_server_takes_its_forks_and_their_clients_fail(server, tmp_path):
    proc, sock, env = server
    folder = _folder(tmp_path, "f")
    client = _client(folder, env, "sleep", "3", sock=sock)
    fork = _wait_started(client)
    proc.kill()
    _, err = client.communicate(timeout=30)
    assert client.returncode == 1 and "the warm-start server stopped while running probe sleep 3" in err
    deadline = time.monotonic() + 10
    while _alive(fork):
        assert time.monotonic() < deadline, "the fork outlived its server"
        time.sleep(0.05)
    time.sleep(3.5)
    assert not (folder / "finished").exists()


def test_a_socket_path_it_cannot_listen_on_leaves_every_stage_cold(tmp_path):
    env = {**os.environ, "PYTHONPATH": ""}
    path = str(tmp_path / ("x" * 120))  # longer than a Unix socket path may be
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.core.warmstart", "--serve", path, "--preload", "json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "warm start: cannot listen on" in done.stderr and "stages run cold" in done.stderr
    assert "Traceback" not in done.stderr
    folder = _folder(tmp_path, "f")
    assert _client(folder, env, "exit", "0", sock=path).wait(timeout=60) == 99


def test_ctrl_c_reaches_the_fork_and_the_client_dies_of_it(server, tmp_path):
    _, sock, env = server
    folder = _folder(tmp_path, "f")
    client = _client(folder, env, "sleep", "30", sock=sock)
    _wait_started(client)
    client.send_signal(signal.SIGINT)
    _, err = client.communicate(timeout=30)
    assert client.returncode == -signal.SIGINT
    assert "KeyboardInterrupt" in err
    assert not (folder / "finished").exists()


def test_the_wrapper_runs_a_command_beside_a_server_and_stops_it(tmp_path):
    code = "import os, sys; sys.exit(5 if os.environ.get('PIPELINE_WARM_SOCKET') else 6)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.core.warmstart", sys.executable, "-c", code], env=env, cwd=tmp_path
    )
    assert done.returncode == 5
    missing = subprocess.run(
        [sys.executable, "-m", "pipeline.core.warmstart", "no-such-command-xyz"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 127 and "command not found: no-such-command-xyz" in missing.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie until the server reaps it
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_the_caches_the_server_fills_exist_in_the_installed_libraries():
    """`WARM_CACHES` names private helpers of the preloaded libraries: an upgrade that moves one only costs speed (the
    server prints it and the fork fills the cache itself), so this test is what notices."""
    import importlib

    preloaded = {name.split(".")[0] for name in warmstart.PRELOAD}
    for module, function in warmstart.WARM_CACHES:
        assert module.split(".")[0] in preloaded, module
        assert callable(getattr(importlib.import_module(module), function)), f"{module}.{function}"
