"""``grader batch --executor dask``: grade a class on a Dask cluster.

With ``--scheduler ADDRESS`` the batch connects to a running cluster; without one it
starts a ``LocalCluster`` of ``--jobs`` worker processes (one thread each) and closes it
at the end, so the same command runs on one machine. Dask is an optional extra
(``pip install 'torch-grader[dask]'``); without it ``--executor dask`` is a usage error
that names the extra. This module imports Dask only when the executor runs.

What runs where:

- each worker (:mod:`grader.batch.dask_worker`) keeps one warm zygote, checks its own
  sandbox, computes or caches its own reference observations, and grades the tasks it is
  sent with :func:`grader.batch.executor.grade_task`, as the local executor does;
- this process (the client) judges every worker's report before it uses the worker
  (:func:`refusal_reasons`: the grader's and torch's versions, the exercises'
  fingerprints, and a sandbox with namespaces, a memory cgroup and the seccomp filter),
  sends each accepted worker at most two tasks at a time, each carrying the submission's
  bytes (:mod:`grader.batch.dask_dispatch`), and hands every outcome to the batch, which
  writes the files and the cache exactly as for the local executor;
- a worker that dies mid-task costs no row: its task goes to another worker, at most
  :data:`~grader.batch.dask_dispatch.RETRIES` more times, then becomes a ``grader_error``
  row with the reason (never cached: the next run tries it again).
"""

from __future__ import annotations

import gc
import contextlib
import logging
import secrets
import signal
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from typing import Any

import grader
from grader.batch.executor import GradeTask, TaskOutcome, _exercises
from grader.errors import GraderError

def _distribution() -> str:
    """The name to ``pip install`` this grader by."""
    try:
        return metadata.packages_distributions().get("grader", ["torch-grader"])[0]
    except Exception:  # noqa: BLE001 - only a hint in a message
        return "torch-grader"


def refusal_reasons(report: Any, expected: dict[str, Any]) -> list[str]:
    """Why a worker whose check gave ``report`` must not grade this batch (nothing when
    it may): ``expected`` is this client's grader and torch versions, device and the
    exercises' fingerprints."""
    from grader.sandbox.diagnose import missing_protections

    if not isinstance(report, dict):
        return ["it sent no readable report"]
    reasons = []
    for key, what in (("grader", "grader"), ("torch", "torch")):
        if report.get(key) != expected[key]:
            reasons.append(f"it has {what} {report.get(key)} and this client {what} {expected[key]}")
    fingerprints = report.get("fingerprints")
    theirs = fingerprints if isinstance(fingerprints, dict) else {}
    unknown = [e for e in expected["fingerprints"] if e not in theirs]
    changed = [e for e, fp in expected["fingerprints"].items() if e in theirs and theirs[e] != fp]
    if unknown:
        reasons.append(f"it does not have the exercise(s) {', '.join(unknown)}")
    if changed:
        reasons.append(f"its grading code or reference solution of {', '.join(changed)} differs from this client's")
    if report.get("problem"):
        reasons.append(f"its sandbox does not work: {report['problem']}")
    else:
        reasons += [f"its sandbox has no {what}" for what in missing_protections(report)]
    if str(expected["device"]).startswith("cuda") and not report.get("cuda"):
        reasons.append("it has no CUDA device")
    return reasons


def expected_report(task: GradeTask) -> dict[str, Any]:
    """What every worker's report must match, from this client's own installation."""
    from grader.references import torch_version

    return {"grader": grader.__version__, "torch": torch_version(), "device": task.device,
            "fingerprints": {e.id: e.fingerprint() for e in _exercises(task)}}


class DaskExecutor:
    """Grades on a Dask cluster (see the module's documentation)."""

    name = "dask"
    description = "a Dask cluster: --scheduler ADDRESS, or a local cluster of --jobs workers"

    def __init__(self) -> None:
        self.scheduler: str | None = None
        self.notify: Callable[[str], None] | None = None

    def configure(self, scheduler: str | None = None) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise GraderError(f"--executor dask needs Dask's distributed scheduler, an optional extra: "
                              f"pip install '{_distribution()}[dask]'") from None
        self.scheduler = scheduler

    def run(self, tasks: Sequence[GradeTask], jobs: int) -> Iterator[TaskOutcome]:
        if not tasks:
            return
        from grader.batch.dask_dispatch import Dispatcher

        self.configure(self.scheduler)
        first = tasks[0]
        session = _Session(self.scheduler, jobs, self.notify or (lambda text: None))
        try:
            session.start(first)
            yield from Dispatcher(session.client, tasks, expected_report(first), session.notify,
                                  where=session.where, plugin=session.plugin).outcomes()
        finally:
            session.close()


class _Session:
    """The client's connection (and the local cluster it started), the grader plugin
    registered on the workers, and their orderly end."""

    def __init__(self, scheduler: str | None, jobs: int, notify: Callable[[str], None]):
        self.scheduler, self.jobs, self.notify = scheduler, max(1, jobs), notify
        self.client: Any = None
        self.cluster: Any = None  # the local cluster this batch started, if any
        self.where = scheduler or "a local cluster"
        self.plugin = ""  # the name of this batch's plugin on the workers

    def start(self, first: GradeTask) -> None:
        from distributed import Client

        from grader.batch.dask_worker import PLUGIN_PREFIX, GraderWorkerPlugin

        if self.scheduler:
            try:
                # Dask's connect timeout: distributed.comm.timeouts.connect (30 s unless configured)
                self.client = Client(self.scheduler, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise GraderError(f"cannot reach the Dask scheduler at {self.scheduler} ({exc}); start it with "
                                  f"`dask scheduler`, or leave out --scheduler to grade on this machine") from None
        else:
            self.cluster = _local_cluster(self.jobs)
            self.client = Client(self.cluster, set_as_default=False)
            self.notify(f"dask: started a local cluster of {self.jobs} worker(s) at {self.cluster.scheduler_address}")
        modules = sorted({e.module for e in _exercises(first)})
        self.plugin = PLUGIN_PREFIX + secrets.token_hex(6)
        plugin = GraderWorkerPlugin(self.plugin, first.exercises, modules, first.device,
                                    local=self.cluster is not None)
        self.client.register_plugin(plugin, name=self.plugin)

    def close(self) -> None:
        """End the zygotes (the plugin's teardown), then the client and the local cluster,
        waiting for each: nothing this batch started outlives it. What Dask and tornado log
        while they shut down (a callback cut short by Ctrl-C) is not the instructor's news."""
        with _quiet("tornado", "asyncio", "distributed"):
            self._close()

    def _close(self) -> None:
        try:
            if self.client is not None:
                try:
                    if self.plugin:
                        self.client.unregister_worker_plugin(self.plugin)
                except Exception:  # noqa: BLE001 - a worker that is gone has no plugin to remove
                    pass
                self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()
                _stop_helpers()


@contextlib.contextmanager
def _quiet(*names: str) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _local_cluster(jobs: int):
    """``jobs`` worker processes on this machine, forked from this process when the
    cluster starts (while it does nothing else): they share its memory (its imports: the
    grader, the exercises, Dask) instead of each importing its own copy. One that dies is
    started again by a fresh interpreter (Dask's default), not forked from this process
    while it is busy. They ignore Ctrl-C, as the zygotes do: this process catches it and
    closes the cluster."""
    import multiprocessing.util

    import dask
    from distributed import LocalCluster

    multiprocessing.util.register_after_fork(_local_cluster, _in_forked_worker)
    settings = {"distributed.worker.multiprocessing-method": "fork",
                "distributed.worker.profile.enabled": False,  # a sampling profiler: memory and CPU for nothing
                "distributed.admin.system-monitor.gil.enabled": False}
    gc.collect()
    gc.freeze()  # out of the collector's reach while the workers fork: a collection there would copy every page
    try:
        with dask.config.set(settings):
            return LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None,
                                host="127.0.0.1", silence_logs=logging.ERROR)
    finally:
        gc.unfreeze()


def _in_forked_worker(_) -> None:
    """In each forked worker: not this process's signal handlers (SIGTERM is its Ctrl-C)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stop_helpers() -> None:
    """multiprocessing's helper processes (the resource tracker; a fork server, had Dask
    been configured to use one) would otherwise outlive this process by a moment."""
    from multiprocessing import forkserver, resource_tracker

    for helper in (getattr(forkserver, "_forkserver", None), getattr(resource_tracker, "_resource_tracker", None)):
        stop = getattr(helper, "_stop", None)
        try:
            if stop is not None:
                stop()
        except Exception:  # noqa: BLE001 - not started, or another Python's internals
            pass
