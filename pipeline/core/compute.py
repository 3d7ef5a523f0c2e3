"""The compute backend: where a stage's independent units of work run (params `compute`; docs/operations.md,
"When one machine is not enough").

`compute.scheduler`:
- `local` (default): a Dask `LocalCluster` on this machine, one single-threaded worker process per core
  (`compute.workers`), started by the stage and closed when it ends. Starting it costs a few seconds, so a stage
  with fewer than `compute.min_tasks` units runs them in its own process instead (same results), as does a
  machine with fewer than `MIN_LOCAL_CORES` cores unless `compute.workers` is set (measured: no gain on 2 cores).
- `sequential`: no Dask; every unit runs in the stage's process, one after another (debugging, profiling).
- an address (`tcp://host:8786`) of an existing Dask cluster. The environment variable `DASK_SCHEDULER_ADDRESS`,
  when set, replaces `local` (not an explicit `sequential` or address).

A stage hands `Backend.map` a function and its units; the results come back in the units' order whatever the
order they finish in, and every unit carries its own seeds, so every backend gives identical results (tested:
byte-identical `comparison.csv`). Inside a Dask task XGBoost and torch use one thread (`task_threads`): the
cluster's parallelism is its workers. Large inputs shared by every unit (the training rows) are sent to each
worker once (`shared=`), so workers need no shared filesystem for the pandas engine.

Failures: a worker that dies mid-unit (killed, out of memory) has its unit rerun on another worker; a unit whose
workers die `distributed.scheduler.allowed-failures` + 1 times (Dask's default: 4) fails the stage with one line,
as does a cluster left without workers. A stage writes its outputs only after every unit succeeded.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from pipeline.core.errors import ConfigError, PipelineError

SEQUENTIAL, LOCAL = "sequential", "local"
ENV = "DASK_SCHEDULER_ADDRESS"
ADDRESS_PREFIXES = ("tcp://", "tls://", "ucx://", "ws://", "wss://", "inproc://")
#: `local` with `compute.workers: null` starts a cluster only on machines with at least this many cores: on 2 cores
#: XGBoost's own 2 threads already use them (train stage, built-in data, 2-worker cluster vs sequential: 0.93x and
#: 1.06x in two runs, start-up included; tests/bench/results/compute.md), and 2 worker processes cost ~0.6 GiB
MIN_LOCAL_CORES = 4
#: how often a waiting stage checks that its cluster still has workers
_POLL_S = 1.0


class ComputeError(PipelineError):
    """The Dask cluster cannot run the stage's units (unreachable, no workers, workers keep dying)."""


def is_address(value: str) -> bool:
    return isinstance(value, str) and value.startswith(ADDRESS_PREFIXES) and len(value) > value.index("://") + 3


def resolve(params: dict[str, Any]) -> tuple[str, str]:
    """(scheduler, where it came from): `sequential`, `local` or a scheduler address."""
    scheduler = params["compute"]["scheduler"]
    env = os.environ.get(ENV, "").strip()
    if scheduler == LOCAL and env:
        if not is_address(env):
            raise ConfigError(f"{ENV}={env!r} is not a Dask scheduler address; set it like tcp://host:8786 or unset it")
        return env, ENV
    return scheduler, "compute.scheduler"


def in_task() -> bool:
    """True inside a unit of work running on a Dask worker."""
    if "distributed" not in sys.modules:
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


def task_threads(default: int) -> int:
    """Threads a unit may use: 1 on a Dask worker (the cluster's parallelism is its workers), else `default`."""
    return 1 if in_task() else int(default)


def _run_unit(fn: Callable, item: Any, shared: dict[str, Any]) -> Any:
    """A unit on a worker: one thread for torch as well (XGBoost asks `task_threads`)."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    return fn(item, **shared)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Backend:
    """Runs a stage's units (see the module doc). Use as a context manager: a cluster it started is closed on
    exit; a cluster given by address is only disconnected from."""

    def __init__(
        self,
        scheduler: str,
        source: str = "compute.scheduler",
        workers: int | None = None,
        worker_memory: str | None = None,
        min_tasks: int = 1,
        connect_timeout_s: float = 10.0,
    ):
        self.scheduler, self.source = scheduler, source
        self.workers_given = workers is not None
        self.workers = workers or _cores()
        self.worker_memory = worker_memory
        self.min_tasks = min_tasks
        self.connect_timeout_s = connect_timeout_s
        self._client: Any = None  # a distributed.Client once started (distributed is imported only then)
        self._cluster: Any = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    @property
    def describe(self) -> str:
        if self.scheduler == SEQUENTIAL:
            return "sequential (no Dask)"
        if self.scheduler == LOCAL:
            return f"Dask LocalCluster, {self.workers} workers x 1 thread"
        return f"Dask cluster at {self.scheduler} ({self.source})"

    def uses_dask(self, n_units: int) -> bool:
        """Whether `n_units` units would go to Dask (a `local` cluster is not worth starting for a handful)."""
        if self.scheduler == SEQUENTIAL:
            return False
        if self.scheduler != LOCAL:
            return True
        return n_units >= max(self.min_tasks, 2) and (self.workers_given or self.workers >= MIN_LOCAL_CORES)

    @property
    def client(self):
        """The Dask client, connecting (or starting the local cluster) on first use."""
        if self._client is None:
            if self.scheduler == SEQUENTIAL:
                raise ConfigError(
                    "compute.scheduler is 'sequential' but this step needs a Dask cluster "
                    "(detector.engine: dask); set compute.scheduler: local or a scheduler address"
                )
            self._client = self._start_local() if self.scheduler == LOCAL else self._connect(self.scheduler)
        return self._client

    def _start_local(self):
        from distributed import Client, LocalCluster

        kw = {"memory_limit": self.worker_memory} if self.worker_memory else {}
        self._cluster = LocalCluster(
            n_workers=self.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
            **kw,
        )
        return Client(self._cluster)

    def _connect(self, address: str):
        from distributed import Client

        try:
            client = Client(address, timeout=self.connect_timeout_s)
        except (OSError, TimeoutError) as e:
            why = " ".join(str(e).split())[:160] or type(e).__name__
            raise ComputeError(
                f"cannot reach a Dask scheduler at {address} (from {self.source}): {why}; start one "
                f"(`dask scheduler` and `dask worker {address}`), fix the address, or set "
                f"compute.scheduler: local"
            ) from None
        try:
            client.wait_for_workers(1, timeout=self.connect_timeout_s)
        except (OSError, TimeoutError):
            client.close()
            raise ComputeError(
                f"the Dask cluster at {address} has no workers (waited {self.connect_timeout_s:g}s); "
                f"start some with `dask worker {address}`"
            ) from None
        problems = mismatches(environment(), client.run(environment))
        if problems:
            client.close()
            raise ComputeError(
                f"the Dask workers at {address} differ from this machine, so results would not be "
                f"identical: {'; '.join(problems[:3])}; install this checkout with requirements.lock "
                f"on every worker"
            )
        return client

    # -- work ------------------------------------------------------------------------------------------------
    def map(
        self,
        fn: Callable,
        items: Sequence[Any],
        shared: dict[str, Any] | None = None,
        *,
        what: str = "unit",
        name: Callable[[Any], str] = str,
        on_result: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """`[fn(item, **shared) for item in items]`, on this backend; `on_result(index, result)` is called as
        each unit finishes (in finishing order), the returned list is in `items`' order. A `PipelineError` raised
        by a unit is raised as it is; the other units are cancelled."""
        items = list(items)
        shared = shared or {}
        if not self.uses_dask(len(items)):
            out = []
            for i, item in enumerate(items):
                out.append(fn(item, **shared))
                if on_result:
                    on_result(i, out[-1])
            return out
        return self._map_dask(fn, items, shared, what, name, on_result)

    def _map_dask(self, fn, items, shared, what, name, on_result) -> list[Any]:
        from distributed import wait
        from distributed.scheduler import KilledWorker

        client = self.client
        token = uuid.uuid4().hex[:8]
        # one future per shared input ([v]: scatter would split a dict into one future per key)
        sent = {k: client.scatter([v], broadcast=True, hash=False)[0] for k, v in shared.items()}
        futures = [
            client.submit(_run_unit, fn, item, sent, key=f"{what}-{i}-{token}", pure=False)
            for i, item in enumerate(items)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(items)
        pending = set(futures)
        no_workers_since = None
        try:
            while pending:
                try:
                    done, pending = wait(pending, timeout=_POLL_S, return_when="FIRST_COMPLETED")
                except TimeoutError:  # nothing finished in _POLL_S: look at the workers, wait again
                    done = set()
                for fut in done:
                    i = index[fut.key]
                    try:
                        results[i] = fut.result()
                    except KilledWorker:
                        raise ComputeError(
                            f"{what} {name(items[i])}: the Dask workers running it died "
                            f"{_allowed_failures() + 1} times (killed or out of memory); give workers more memory "
                            f"(compute.worker_memory, or dask worker --memory-limit) or set compute.scheduler: "
                            "sequential - nothing was written"
                        ) from None
                    if on_result:
                        on_result(i, results[i])
                if pending:
                    no_workers_since = self._check_workers(no_workers_since, what)
        finally:
            for fut in pending:
                fut.cancel()
            for fut in sent.values():
                fut.release()
        return results

    def _check_workers(self, since: float | None, what: str) -> float | None:
        """Fail, instead of waiting for ever, when the cluster has had no worker for `connect_timeout_s`."""
        if self._client.scheduler_info(n_workers=-1).get("workers"):
            return None
        now = time.monotonic()
        since = since or now
        if now - since > max(self.connect_timeout_s, 3 * _POLL_S):
            raise ComputeError(
                f"the {self.describe} has had no workers for "
                f"{now - since:.0f}s while {what}s were waiting; start workers or set "
                f"compute.scheduler: local - nothing was written"
            )
        return since


def environment() -> dict[str, str]:
    """What a worker must share with the stage's process for identical results: the versions of the packages that
    compute (`provenance.PACKAGES`) and a fingerprint of this package's code (workers run its functions)."""
    from pipeline.core.provenance import code_fingerprint, package_versions

    return {**package_versions(), "pipeline code": code_fingerprint()}


def mismatches(here: dict[str, str], workers: dict[str, dict[str, str]]) -> list[str]:
    """'what on which worker (here: ...)' for every difference between the workers' `environment()` and ours."""
    out = []
    for address, theirs in sorted(workers.items()):
        for key in sorted(set(here) | set(theirs)):
            if here.get(key) != theirs.get(key):
                out.append(f"{key} {theirs.get(key) or 'missing'} on {address} (here {here.get(key) or 'missing'})")
    return out


def _allowed_failures() -> int:
    import dask

    return int(dask.config.get("distributed.scheduler.allowed-failures", 3))


def open_backend(params: dict[str, Any]) -> Backend:
    """The backend `params["compute"]` asks for (see the module doc); nothing starts until a stage maps units."""
    c = params["compute"]
    scheduler, source = resolve(params)
    return Backend(
        scheduler,
        source,
        workers=c["workers"],
        worker_memory=c["worker_memory"],
        min_tasks=c["min_tasks"],
        connect_timeout_s=c["connect_timeout_s"],
    )


def announce(backend: Backend, n_units: int, what: str) -> None:
    where = backend.describe if backend.uses_dask(n_units) else "in this process"
    if backend.scheduler == LOCAL and not backend.uses_dask(n_units):
        if n_units < max(backend.min_tasks, 2):
            where += f" (fewer than compute.min_tasks = {backend.min_tasks} {what}s: no cluster started)"
        else:
            where += (
                f" ({backend.workers} cores: XGBoost's own threads use them; set compute.workers to start a "
                f"local cluster anyway)"
            )
    print(f"compute: {n_units} {what}s, {where}", flush=True)
