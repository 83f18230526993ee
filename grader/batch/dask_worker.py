"""The Dask worker's side of ``grader batch --executor dask``.

The client registers a :class:`GraderWorkerPlugin` with the scheduler, under a name of
its own batch; Dask sets it up on every worker, those that join later (a replacement for
one that died) included. On each
worker it starts one warm zygote (:class:`grader.sandbox.launch.WorkerPool` of size 1),
once, and runs :func:`grader.sandbox.diagnose.diagnose` through it in the background: the
worker's report (grader and torch versions, exercise fingerprints, what its sandbox can
do), which the client reads with :func:`worker_report` and judges before it sends the
worker anything (:func:`grader.batch.dask_executor.refusal_reasons`).

A task (:func:`grade_on_worker`) is graded exactly as the local executor grades it, by
:func:`grader.batch.executor.grade_task` with this worker's pool, one at a time. Each
worker computes the reference observations once, through its own zygote, or reads them
from its own reference cache (keyed by exercise fingerprint, torch version and device):
the client need not be able to run the sandbox, and nothing is shared between machines.
The zygote ends when the plugin is removed (the client unregisters it at the end of the
batch, also after Ctrl-C) or with the worker process (parent-death signal); a client that
is killed outright leaves it, idle, until the worker restarts.

This module imports Dask: only the Dask executor and the workers import it.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Sequence
from typing import Any

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from grader.batch.executor import GradeTask, StoppablePool, TaskOutcome, failure_text, grade_task, prepare_references

PLUGIN_PREFIX = "grader-"


class GraderWorkerPlugin(WorkerPlugin):
    """Set up on each worker: its warm zygote and its sandbox report (see the module).
    Each batch registers its own, under its own name (two batches may share a cluster)."""

    idempotent = False

    def __init__(self, name: str, exercises: Sequence[str], modules: Sequence[str], device: str,
                 local: bool = False):
        self.name = name
        self.exercises = tuple(exercises)
        self.modules = list(modules)
        self.device = device
        self.local = local  # a worker of the batch's own local cluster
        self.address = ""
        self.report: dict[str, Any] | None = None  # None until the check has run
        self.pool: Any = None  # the worker's WorkerPool, once set up

    def setup(self, worker) -> None:
        # In the worker's event-loop thread, which lives as long as the worker: the zygote
        # is bound to the thread that starts it. Starting it does not wait for its imports.
        from grader.sandbox.launch import WorkerPool

        self.address = str(worker.address)
        if self.local and threading.current_thread() is threading.main_thread():
            # Ctrl-C reaches the whole terminal's process group: the batch catches it and
            # closes its cluster; a worker started again after one died must not die of it
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.prepared: set[str] = set()
        self.pool = WorkerPool(1, preload=self.modules, warm=True)
        threading.Thread(target=self._check, name="grader-sandbox-check", daemon=True).start()

    def _check(self) -> None:
        from grader.sandbox.diagnose import diagnose

        try:
            report = diagnose(self.exercises, device=self.device, pool=StoppablePool(self.pool, self.stop))
        except Exception as exc:  # noqa: BLE001 - the client refuses the worker and says why
            report = {"problem": f"the worker cannot run the grader: {failure_text(exc)}"}
        self.report = report

    def teardown(self, worker) -> None:
        if getattr(self, "stop", None) is not None:
            self.stop.set()
        if self.pool is not None:
            self.pool.close()

    def grade(self, task: GradeTask) -> TaskOutcome:
        with self.lock:  # one submission at a time: the worker has one zygote
            key = json.dumps([task.exercises, task.device, task.limits], sort_keys=True)
            if key not in self.prepared:
                try:
                    prepare_references(task, pool=StoppablePool(self.pool, self.stop))
                except Exception as exc:  # noqa: BLE001 - a grader error for this row, tried again next run
                    return TaskOutcome(task.id, failure=failure_text(exc), worker=self.address)
                self.prepared.add(key)
            return grade_task(task, pool=StoppablePool(self.pool, self.stop), worker=self.address)


def _plugin(dask_worker, name: str) -> GraderWorkerPlugin | None:
    plugin = dask_worker.plugins.get(name) if name.startswith(PLUGIN_PREFIX) else None
    return plugin if isinstance(plugin, GraderWorkerPlugin) else None


def worker_report(plugin_name: str, dask_worker=None) -> dict[str, Any] | None:
    """Run on a worker by the client (``Client.run``): its report, or None while the
    check is still running."""
    plugin = _plugin(dask_worker, plugin_name)
    return None if plugin is None else plugin.report


def grade_on_worker(task: GradeTask, plugin_name: str) -> dict[str, Any]:
    """The Dask task: grade one submission on this worker; the outcome as plain data."""
    plugin = _plugin(get_worker(), plugin_name)
    if plugin is None or plugin.pool is None:
        return TaskOutcome(task.id, failure="this Dask worker was not set up for grading").to_dict()
    return plugin.grade(task).to_dict()
