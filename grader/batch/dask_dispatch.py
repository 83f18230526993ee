"""The client's side of a Dask batch: which worker gets which submission, and what
happens when a worker goes away.

Every worker the scheduler knows is checked before it is used: its report
(:func:`grader.batch.dask_worker.worker_report`) is judged here, on the trusted side
(:func:`grader.batch.dask_executor.refusal_reasons`); a refused worker is named, with
why, and never sent anything. Each accepted worker holds at most :data:`IN_FLIGHT`
tasks, pinned to it (one grading, one waiting, so it never idles while this process
saves a result); the bytes of the other submissions stay in their files until then.
A machine's first task goes alone: its worker computes the reference observations into
the machine's cache, and the other workers there read them instead of computing them too.

A worker that leaves the cluster (killed, out of memory, stopped) is noticed here; the
task it was running (the oldest it held that had not finished) is charged one death and,
like the others it held, sent to another worker. A task whose workers died more than
:data:`RETRIES` times becomes a failure (a ``grader_error`` row, tried again on the next
run). The workers that replace the dead ones (a nanny restarts them) are checked like
any other. A scheduler lost in the middle of a batch makes every submission not graded
yet a failure of the same kind: the batch ends in order, and the next run resumes.
"""

from __future__ import annotations

import collections
import itertools
import queue
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from grader.batch.executor import GradeTask, TaskOutcome
from grader.errors import GraderError

IN_FLIGHT = 2  # tasks per worker
RETRIES = 2  # more tries for a task whose worker died
POLL_SECONDS = 0.25
WORKER_WAIT_SECONDS = 180.0  # a worker's check (its zygote imports torch first), or a cluster without workers
RESULT_SECONDS = 120.0  # fetching a finished task's result from its worker


@dataclass(eq=False)
class _Flight:
    index: int  # into the tasks
    task_id: str
    worker: str
    future: Any


class Dispatcher:
    def __init__(self, client, tasks: Sequence[GradeTask], expected: dict[str, Any], notify: Callable[[str], None],
                 where: str = "the scheduler", wait_seconds: float = WORKER_WAIT_SECONDS, plugin: str = "grader-"):
        self.client, self.tasks, self.expected, self.notify = client, tasks, expected, notify
        self.where, self.wait_seconds, self.plugin = where, wait_seconds, plugin
        self.pending: collections.deque[int] = collections.deque(range(len(tasks)))
        self.flights: dict[Any, _Flight] = {}  # future -> its flight
        self.finished: queue.SimpleQueue = queue.SimpleQueue()  # futures, as each finishes (Dask's callbacks)
        self.accepted: dict[str, list[_Flight]] = {}  # worker address -> its flights, oldest first
        self.hosts: dict[str, str] = {}  # worker address -> its machine
        self.warm_hosts: set[str] = set()  # machines where a task has been graded
        self.refused: dict[str, str] = {}  # worker address -> why
        self.checking: dict[str, float] = {}  # worker address -> since when
        self.deaths: collections.Counter[int] = collections.Counter()
        self.counter = itertools.count()
        self.idle_since = time.monotonic()  # no accepted worker since then
        self.sent_any = False
        self.last_watch = 0.0

    # ------------------------------------------------------------------ the loop
    def outcomes(self) -> Iterator[TaskOutcome]:
        try:
            while self.pending or self.flights:
                try:
                    yield from self._watch_workers()
                    self._dispatch()
                except OSError as exc:  # the scheduler is gone (Dask's CommClosedError is one)
                    yield from self._scheduler_lost(exc)
                    return
                yield from self._collect_finished()
        finally:
            self._cancel_all()

    def _scheduler_lost(self, exc: OSError) -> Iterator[TaskOutcome]:
        reason = f"the connection to the Dask scheduler at {self.where} was lost ({type(exc).__name__}: {exc})"
        self.notify(f"dask: {reason}")
        indexes = [f.index for f in self.flights.values()] + list(self.pending)
        self.flights.clear()
        self.pending.clear()
        for index in indexes:
            yield TaskOutcome(self.tasks[index].id, failure=reason)

    def _collect_finished(self) -> Iterator[TaskOutcome]:
        try:
            future = self.finished.get(timeout=POLL_SECONDS)
        except queue.Empty:
            return
        while True:
            yield from self._collect(future)
            try:
                future = self.finished.get_nowait()
            except queue.Empty:
                return

    def _collect(self, future) -> Iterator[TaskOutcome]:
        flight = self.flights.pop(future, None)
        if flight is None:
            return
        held = self.accepted.get(flight.worker, [])
        if flight in held:
            held.remove(flight)
        try:
            outcome = TaskOutcome.from_dict(future.result(timeout=RESULT_SECONDS))
            if outcome.id != flight.task_id:
                raise ValueError(f"the worker answered for {outcome.id!r}")
            self.warm_hosts.add(self.hosts.get(flight.worker, ""))
        except Exception as exc:  # noqa: BLE001 - the task is tried again elsewhere, or fails
            yield from self._charge(flight, f"the Dask task failed on {flight.worker} ({type(exc).__name__}: {exc})")
            return
        finally:
            future.release()
        yield outcome

    # ------------------------------------------------------------------ workers
    def _watch_workers(self) -> Iterator[TaskOutcome]:
        now = time.monotonic()
        if now - self.last_watch < POLL_SECONDS:
            return
        self.last_watch = now
        current = set(self.client.nthreads())
        for address in [a for a in self.accepted if a not in current]:
            yield from self._lost(address)
        for address in current - set(self.accepted) - set(self.refused) - set(self.checking):
            self.checking[address] = now
        for address in [a for a in self.checking if a not in current]:
            del self.checking[address]
        if self.checking:
            self._judge(self.client.run(_report, self.plugin, workers=list(self.checking), on_error="return",
                                        nanny=False), now)
        if self.accepted:
            self.idle_since = now
        elif now - self.idle_since > self.wait_seconds or (self.refused and not self.checking and not self.sent_any):
            yield from self._no_workers()

    def _judge(self, reports: dict[str, Any], now: float) -> None:
        from grader.batch.dask_executor import refusal_reasons

        for address, report in reports.items():
            if address not in self.checking:
                continue
            waiting = report is None or isinstance(report, (OSError, TimeoutError))  # still checking, or unreachable
            if waiting and now - self.checking[address] < self.wait_seconds:
                continue
            del self.checking[address]
            if report is None:
                reasons = [f"it did not finish its sandbox check within {self.wait_seconds:g} s"]
            elif isinstance(report, BaseException):  # e.g. no grader installed: our function cannot be loaded
                reasons = [f"it cannot run the grader ({type(report).__name__}: {report})"]
            else:
                reasons = refusal_reasons(report, self.expected)
            host = report.get("host", "") if isinstance(report, dict) else ""
            name = f"{address} ({host})" if host else address
            if reasons:
                self.refused[address] = f"{name}: {'; '.join(reasons)}"
                self.notify(f"dask: refused worker {self.refused[address]}")
            else:
                self.accepted[address] = []
                self.hosts[address] = host
                self.notify(f"dask: worker {name} checked and accepted")

    def _lost(self, address: str) -> Iterator[TaskOutcome]:
        flights = self.accepted.pop(address)
        self.notify(f"dask: worker {address} left the cluster (it died or was stopped)"
                    + (f"; its {len(flights)} submission(s) go to other workers" if flights else ""))
        running = next((f for f in flights if not f.future.done()), None)  # the oldest unfinished: it was grading
        for flight in reversed(flights):
            self.flights.pop(flight.future, None)
            flight.future.cancel()
            if flight is running:
                yield from self._charge(flight, f"the Dask worker {address} grading it died (killed, or out of memory)")
            else:  # waiting behind it, or finished but its result lost with the worker
                self.pending.appendleft(flight.index)

    def _charge(self, flight: _Flight, reason: str) -> Iterator[TaskOutcome]:
        self.deaths[flight.index] += 1
        if self.deaths[flight.index] > RETRIES:
            yield TaskOutcome(flight.task_id, worker=flight.worker,
                              failure=f"{reason}, after {self.deaths[flight.index]} tries")
        else:
            self.pending.appendleft(flight.index)

    def _no_workers(self) -> Iterator[TaskOutcome]:
        refused = "; ".join(self.refused.values())
        if not self.sent_any:
            if refused:
                raise GraderError(f"no Dask worker at {self.where} may grade this batch: {refused}")
            raise GraderError(f"no Dask worker at {self.where} was ready within {self.wait_seconds:g} s "
                              f"(start some with `dask worker {self.where}`)")
        reason = f"no Dask worker was left to grade it ({refused or 'none was ready'})"
        while self.pending:
            index = self.pending.popleft()
            yield TaskOutcome(self.tasks[index].id, failure=reason)

    # ------------------------------------------------------------------ tasks
    def _dispatch(self) -> None:
        from grader.batch.dask_worker import grade_on_worker

        while self.pending:
            ready = [a for a in self.accepted if len(self.accepted[a]) < self._room(a)]
            if not ready:
                return
            worker = min(ready, key=lambda a: len(self.accepted[a]))
            index = self.pending.popleft()
            task = self.tasks[index]
            future = self.client.submit(grade_on_worker, task, self.plugin, key=f"{self.plugin}-{next(self.counter)}",
                                        workers=[worker], allow_other_workers=False, pure=False)
            flight = _Flight(index, task.id, worker, future)
            self.flights[future] = flight
            self.accepted[worker].append(flight)
            future.add_done_callback(self.finished.put)
            self.sent_any = True

    def _room(self, worker: str) -> int:
        """How many tasks the worker may hold now (a machine's first task goes alone)."""
        host = self.hosts.get(worker, "")
        if host in self.warm_hosts:
            return IN_FLIGHT
        busy = any(self.accepted[a] for a in self.accepted if self.hosts.get(a, "") == host)
        return 1 if not busy or self.accepted[worker] else 0

    def _cancel_all(self) -> None:
        futures = list(self.flights)
        self.flights.clear()
        if futures:
            try:
                self.client.cancel(futures, force=True)
            except Exception:  # noqa: BLE001 - the session is closing anyway
                pass


def _report(plugin: str, dask_worker=None):
    """What ``Client.run`` calls on a worker (the plugin's report, or None)."""
    from grader.batch.dask_worker import worker_report

    return worker_report(plugin, dask_worker)
