"""`grader batch --executor dask`: the same grades as the local executor on a Dask
cluster; a worker killed mid-batch, an interrupted client, a mismatched worker; and no
process of either executor (nor of `grader check`) left behind when the command exits.

The clusters are small (two workers, one thread each) and the exercise is tensor_ops,
so that these tests fit the suite's time on two cores. The dispatcher's rules (bounded
retries, refusals, a machine's first task alone) are also tested against a fake client.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import REPO, notebook

pytest.importorskip("distributed")

REFERENCE = (REPO / "reference" / "tensor_ops.py").read_text()
HONEST = notebook("import numpy as np\nimport torch", REFERENCE.split("import torch", 1)[1])
BUGGY = notebook(REFERENCE.replace("correction=0", "correction=1"))
QUITS = notebook(REFERENCE, "import os\nos._exit(3)")
SLOW = notebook("import time\ntime.sleep(3)", REFERENCE)  # sleeping costs no CPU time: no time limit is near
EXERCISE = ("-e", "tensor_ops")
DASK = str(Path(sys.executable).with_name("dask"))

#: Runs a command as a child of a subreaper, so that whatever the command leaves behind is
#: re-parented to this helper, which lists what is still alive the moment the command has
#: exited; meanwhile it notes the command line of every process below it (every 50 ms).
#: With a marker, it sends Ctrl-C to the command's process group (as a terminal does) once
#: the marker appears on the command's stderr.
REAPED = textwrap.dedent(r"""
    import ctypes, json, os, signal, subprocess, sys, threading, time
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    marker, command = sys.argv[1], sys.argv[2:]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    commands = set()

    def watch():
        while proc.poll() is None:
            below, todo = {}, [os.getpid()]
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    parent = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
                    below.setdefault(parent, []).append(int(pid))
                except (OSError, ValueError):
                    pass
            while todo:
                for child in below.get(todo.pop(), []):
                    todo.append(child)
                    try:
                        commands.add(open(f"/proc/{child}/cmdline", "rb").read().replace(b"\0", b" ").decode())
                    except OSError:
                        pass
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    seen, interrupted = "", None
    if marker:
        while marker not in seen:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        interrupted = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate()
    ended = time.monotonic()
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid() and fields[0] != "Z":
                left.append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()[:160])
        except OSError:
            pass
    watcher.join()
    print(json.dumps({"returncode": proc.returncode, "stdout": out, "stderr": seen + err, "left": left,
                      "stop_seconds": None if interrupted is None else ended - interrupted,
                      "commands": sorted(commands)}))
""")


def reaped(*command: str, interrupt_at: str = "", env: dict | None = None) -> dict:
    proc = subprocess.run([sys.executable, "-c", REAPED, interrupt_at, *command], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def grade_class(source: Path, out: Path, *extra: str, interrupt_at: str = "", env: dict | None = None) -> dict:
    return reaped(sys.executable, "-m", "grader", "batch", str(source), "--out", str(out), *EXERCISE, "--timeout",
                  "20", "--progress", "lines", *extra, interrupt_at=interrupt_at, env=env)


def results(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}


def rows(out: Path) -> dict[str, dict[str, str]]:
    import csv

    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def small_class(root: Path) -> Path:
    root.mkdir()
    for name, text in {"ada.ipynb": HONEST, "bob.ipynb": BUGGY, "cy.ipynb": '{"cells": [ nope', "dee.ipynb": "",
                       "eve.ipynb": QUITS, "fay.py": REFERENCE.replace("correction=0", "correction=1")}.items():
        (root / name).write_text(text)
    return root


# ------------------------------------------------------------------ a local cluster, through the CLI
def _fresh_interpreters(run: dict) -> list[str]:
    """Sandboxed workers started as a new interpreter (another copy of torch in memory)
    instead of forked from a warm zygote."""
    return [c for c in run["commands"] if "grader.sandbox.worker" in c and "--zygote" not in c]


def test_dask_gives_the_local_executors_grades_and_leaves_no_process(tmp_path):
    source = small_class(tmp_path / "class")
    runs = {}
    for executor in ("local", "dask"):  # each with a cold reference cache
        env = dict(os.environ, GRADER_CACHE_DIR=str(tmp_path / f"cache-{executor}"))
        runs[executor] = grade_class(source, tmp_path / executor, "--jobs", "2", "--executor", executor, env=env)
    local, dask = runs["local"], runs["dask"]
    for run in (local, dask):
        assert run["returncode"] == 0, run["stderr"]
        assert run["left"] == [], run["left"]  # no zygote, worker or multiprocessing helper outlives the command
        # the references, the sandbox checks and every submission: forks of the warm zygotes
        assert any("--zygote" in c for c in run["commands"]) and _fresh_interpreters(run) == [], run["commands"]
    assert (tmp_path / "dask" / "grades.csv").read_text() == (tmp_path / "local" / "grades.csv").read_text()
    statuses = {k: r["status"] for k, r in rows(tmp_path / "dask").items()}
    assert statuses == {"ada": "graded", "bob": "graded", "cy": "unreadable", "dee": "unreadable", "eve": "error",
                        "fay": "graded"}
    assert dask["stderr"].count("checked and accepted") == 2
    workers = {k: r["resources"].get("worker", "") for k, r in results(tmp_path / "dask").items() if r["cells"]}
    assert workers and all(w.startswith("tcp://127.0.0.1:") for w in workers.values()), workers
    assert {r["resources"].get("worker") for r in results(tmp_path / "local").values() if r["cells"]} <= {
        "local/1", "local/2"}
    assert "(tcp://127.0.0.1:" in dask["stderr"]  # each progress line names the worker


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["dask", "local"])
def test_an_interrupted_client_resumes_from_the_cache_and_leaves_no_process(tmp_path, executor):
    source = tmp_path / "class"
    source.mkdir()
    for name, text in {"a1.ipynb": HONEST, "a2.ipynb": BUGGY, "z1.ipynb": SLOW, "z2.ipynb": SLOW.replace(
            "sleep(3)", "sleep(3.5)"), "z3.ipynb": SLOW.replace("sleep(3)", "sleep(4)")}.items():
        (source / name).write_text(text)
    out = tmp_path / "graded"
    first = grade_class(source, out, "--jobs", "2", "--executor", executor, interrupt_at="[2/5]")
    assert first["returncode"] == 130, first["stderr"]
    assert first["left"] == [], first["left"]  # the sandboxes that were running end with the command
    assert first["stop_seconds"] < 20, first["stop_seconds"]
    assert "Traceback" not in first["stderr"]  # Ctrl-C reaches the Dask workers too: they leave it to the client
    interrupted = rows(out)
    done = {k for k, r in interrupted.items() if r["status"] == "graded"}
    assert len(done) >= 2 and {r["status"] for r in interrupted.values()} <= {"graded", "not_graded"}
    again = grade_class(source, out, "--jobs", "2", "--executor", executor)
    assert again["returncode"] == 0, again["stderr"]
    assert f"graded {5 - len(done)} now, {len(done)} unchanged" in again["stderr"]
    assert {r["status"] for r in rows(out).values()} == {"graded"}


# ------------------------------------------------------------------ a cluster started like an instructor's
PRELOAD_OTHER_VERSION = """
import grader
grader.__version__ = "0.0.0+other"  # a worker with another grader installed
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` and `dask worker --nworkers 2 --nthreads 1` (the workers' nanny
    restarts one that dies), plus one worker with another grader version."""
    from distributed import Client

    tmp = tmp_path_factory.mktemp("cluster")
    scheduler_file = tmp / "scheduler.json"
    (tmp / "other_version.py").write_text(PRELOAD_OTHER_VERSION)
    common = ["--no-dashboard"]
    procs = [subprocess.Popen([DASK, "scheduler", "--scheduler-file", str(scheduler_file), "--port", "0",
                               "--host", "127.0.0.1", *common], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        procs.append(subprocess.Popen([DASK, "worker", address, "--nworkers", "2", "--nthreads", "1", *common],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--name", "odd", "--preload",
                                       str(tmp / "other_version.py"), *common],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with Client(address, set_as_default=False) as client:
            client.wait_for_workers(3, timeout=120)
            odd = next(a for a, info in client.scheduler_info(n_workers=-1)["workers"].items()
                       if info.get("name") == "odd")
        yield {"address": address, "odd": odd}
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_a_mismatched_worker_is_refused_and_never_used(cluster, tmp_path):
    source = small_class(tmp_path / "class")
    run = grade_class(source, tmp_path / "graded", "--executor", "dask", "--scheduler", cluster["address"])
    assert run["returncode"] == 0, run["stderr"]
    refusal = f"dask: refused worker {cluster['odd']} (vm): it has grader 0.0.0+other and this client grader"
    assert refusal.replace("(vm)", f"({socket.gethostname()})") in run["stderr"], run["stderr"]
    assert run["stderr"].count("checked and accepted") == 2
    workers = {r["resources"].get("worker") for r in results(tmp_path / "graded").values() if r["cells"]}
    assert workers and cluster["odd"] not in workers and all(w.startswith("tcp://") for w in workers)
    assert {k: r["status"] for k, r in rows(tmp_path / "graded").items()}["fay"] == "graded"


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for thread in os.listdir(f"/proc/{pid}/task")
                for c in open(f"/proc/{pid}/task/{thread}/children").read().split()]
    except OSError:
        return []


def _grading(pids) -> int | None:
    """One of these Dask worker processes that runs a sandbox now (its zygote has a child)."""
    return next((pid for pid in pids if any(_children(zygote) for zygote in _children(pid))), None)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["dask worker", "local cluster"])
def test_a_worker_killed_mid_batch_loses_no_row(cluster, tmp_path, where):
    """kill -9 of a worker process while it grades: of a `dask worker` (its nanny starts
    another), or of the batch's own local cluster (a worker forked from the batch)."""
    import threading

    from distributed import Client

    source = tmp_path / "class"
    source.mkdir()
    for n in range(4):
        (source / f"s{n}.ipynb").write_text(SLOW)
    out = tmp_path / "graded"
    scheduler = ["--scheduler", cluster["address"]] if where == "dask worker" else ["--jobs", "2"]
    batch = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(source), "--out", str(out), *EXERCISE,
                              "--executor", "dask", *scheduler, "--progress", "lines"],
                             stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(batch.stderr.readline, "")), daemon=True)
    reader.start()
    killed = None
    with Client(cluster["address"], set_as_default=False) as client:
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline and batch.poll() is None:
            accepted = [line.split()[2] for line in list(lines) if "checked and accepted" in line]
            if len(accepted) == 2:
                pids = (client.run(os.getpid, workers=accepted).values() if where == "dask worker"
                        else _children(batch.pid))
                killed = _grading(pids)
                if killed is not None:
                    os.kill(killed, signal.SIGKILL)  # kill -9 of a Dask worker process, mid-task
            time.sleep(0.1)
    batch.wait(timeout=300)
    reader.join(timeout=10)
    err = "".join(lines)
    assert killed is not None, err
    assert batch.returncode == 0, err
    assert "left the cluster" in err, err
    graded = rows(out)
    assert set(graded) == {"s0", "s1", "s2", "s3"}
    assert {r["status"] for r in graded.values()} == {"graded"}, graded
    assert {r["score"] for r in graded.values()} == {"10"}


# ------------------------------------------------------------------ usage errors
def test_an_unreachable_scheduler_is_a_clear_error_before_any_work(tmp_path):
    source = small_class(tmp_path / "class")
    env = dict(os.environ, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="1s")
    run = grade_class(source, tmp_path / "graded", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9", env=env)
    assert run["returncode"] == 2, run["stderr"]
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in run["stderr"]
    assert "Traceback" not in run["stderr"]
    assert not (tmp_path / "graded" / "results").exists() or not list((tmp_path / "graded" / "results").iterdir())
    assert run["left"] == []


def test_without_dask_the_executor_names_the_extra(tmp_path):
    shim = tmp_path / "shim" / "distributed"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('no distributed here')\n")
    source = small_class(tmp_path / "class")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "shim"))
    run = grade_class(source, tmp_path / "graded", "--executor", "dask", env=env)
    assert run["returncode"] == 2, run["stderr"]
    assert "[dask]" in run["stderr"] and "pip install" in run["stderr"] and "Traceback" not in run["stderr"]
    assert "submission(s) found" not in run["stderr"]  # refused before the class is even read


def test_a_scheduler_address_needs_the_dask_executor(tmp_path):
    run = grade_class(small_class(tmp_path / "class"), tmp_path / "graded", "--scheduler", "tcp://127.0.0.1:9")
    assert run["returncode"] == 2 and "--executor dask" in run["stderr"], run["stderr"]


def test_grader_check_leaves_no_process(tmp_path):
    (tmp_path / "ada.ipynb").write_text(HONEST)
    run = reaped(sys.executable, "-m", "grader", "check", str(tmp_path / "ada.ipynb"), *EXERCISE)
    assert run["returncode"] == 0, run["stderr"]
    assert run["left"] == [], run["left"]


# ------------------------------------------------------------------ the sandbox report
def test_the_sandbox_report_shows_what_this_machine_protects(tmp_path):
    from conftest import builtin_exercise, worker_pool
    from grader.sandbox.diagnose import describe, diagnose, missing_protections

    report = diagnose(["tensor_ops"], pool=worker_pool())
    assert report["problem"] is None, report
    assert (report["namespaces"], report["memory_cgroup"], report["seccomp"]) == (True, True, True), report["sandbox"]
    assert missing_protections(report) == []
    assert report["fingerprints"] == {"tensor_ops": builtin_exercise("tensor_ops").fingerprint()}
    assert report["torch"] and report["sandbox_torch"]
    json.dumps(report)  # plain data
    assert "this machine can grade on a cluster" in describe(report)
    without = dict(report, seccomp=False)
    assert missing_protections(without) == ["seccomp filter (forbidden system calls)"]
    assert "cannot grade on a cluster: no seccomp filter" in describe(without)


def test_protections_are_read_from_the_sandboxs_features():
    from grader.sandbox.diagnose import protections

    full = ["network cut off", "private PID namespace", "private mounts", "seccomp filter (50 system calls denied)",
            "cgroup (memory, cpu, cpuacct, pids)"]
    assert protections(full) == {"namespaces": True, "memory_cgroup": True, "seccomp": True}
    assert protections([f for f in full if f != "private mounts"])["namespaces"] is False
    assert protections(full[:3] + ["no seccomp filter (EINVAL: Invalid argument)", "cgroup (cpu, pids)"]) == {
        "namespaces": True, "memory_cgroup": False, "seccomp": False}


# ------------------------------------------------------------------ the client's verdict on a worker
EXPECTED = {"grader": "1.0", "torch": "2.13.0", "device": "cpu", "fingerprints": {"tensor_ops": "aa", "mlp": "bb"}}
GOOD = {"grader": "1.0", "torch": "2.13.0", "fingerprints": {"tensor_ops": "aa", "mlp": "bb", "other": "cc"},
        "namespaces": True, "memory_cgroup": True, "seccomp": True, "problem": None, "cuda": False, "host": "h"}


def test_refusal_reasons_name_each_difference():
    from grader.batch.dask_executor import refusal_reasons

    assert refusal_reasons(GOOD, EXPECTED) == []
    assert refusal_reasons(dict(GOOD, torch="2.12.0"), EXPECTED) == [
        "it has torch 2.12.0 and this client torch 2.13.0"]
    assert refusal_reasons(dict(GOOD, fingerprints={"tensor_ops": "zz"}), EXPECTED) == [
        "it does not have the exercise(s) mlp",
        "its grading code or reference solution of tensor_ops differs from this client's"]
    assert refusal_reasons(dict(GOOD, memory_cgroup=False), EXPECTED) == [
        "its sandbox has no memory cgroup (the kernel's memory limit)"]
    assert refusal_reasons(dict(GOOD, problem="the sandbox did not start"), EXPECTED) == [
        "its sandbox does not work: the sandbox did not start"]
    assert refusal_reasons(GOOD, dict(EXPECTED, device="cuda")) == ["it has no CUDA device"]
    assert refusal_reasons("garbage", EXPECTED) == ["it sent no readable report"]


class FakeFuture:
    def __init__(self, task, worker):
        self.task, self.worker, self.value, self.callbacks, self.finished = task, worker, None, [], False

    def add_done_callback(self, callback):  # as Dask's: at once for a future that has finished
        self.callbacks.append(callback)
        if self.finished:
            callback(self)

    def done(self):
        return self.finished

    def finish(self, value):
        self.value, self.finished = value, True
        for callback in self.callbacks:
            callback(self)

    def result(self, timeout=None):
        return self.value

    def release(self):
        pass

    def cancel(self):
        pass


class FakeClient:
    """A scheduler's view, in memory: workers join and die as ``behave`` decides."""

    def __init__(self, reports, behave):
        self.reports, self.behave, self.submitted, self.joined = dict(reports), behave, [], 0

    def nthreads(self):
        return {a: 1 for a in self.reports}

    def run(self, function, *args, workers, on_error, nanny):
        return {a: self.reports[a] for a in workers if a in self.reports}

    def submit(self, function, task, *args, key, workers, allow_other_workers, pure):
        assert not allow_other_workers and len(workers) == 1
        future = FakeFuture(task, workers[0])
        self.submitted.append(future)
        self.behave(self, future)
        return future

    def cancel(self, futures, force):
        pass


def _outcome(future):
    from grader.batch.executor import TaskOutcome

    return TaskOutcome(future.task.id, result={"score": 1}, worker=future.worker).to_dict()


def _tasks(*ids):
    from grader.batch.executor import GradeTask

    return [GradeTask(id=i, name=f"{i}.py", data=b"x = 1\n") for i in ids]


def test_a_task_whose_workers_keep_dying_becomes_a_failure_after_bounded_retries():
    from grader.batch.dask_dispatch import RETRIES, Dispatcher

    def behave(client, future):
        if future.task.id == "poison":  # its worker dies; the nanny starts a replacement
            del client.reports[future.worker]
            client.joined += 1
            client.reports[f"tcp://new:{client.joined}"] = dict(GOOD, host=f"n{client.joined}")
        else:
            future.finish(_outcome(future))

    client = FakeClient({"tcp://a:1": dict(GOOD, host="a"), "tcp://b:1": dict(GOOD, host="b")}, behave)
    notes = []
    outcomes = list(Dispatcher(client, _tasks("one", "poison", "two", "three"), EXPECTED, notes.append).outcomes())
    by_id = {o.id: o for o in outcomes}
    assert sorted(by_id) == ["one", "poison", "three", "two"] and len(outcomes) == 4
    assert all(by_id[i].result == {"score": 1} for i in ("one", "two", "three"))
    assert by_id["poison"].result is None and "died" in by_id["poison"].failure
    assert f"after {RETRIES + 1} tries" in by_id["poison"].failure
    assert sum(f.task.id == "poison" for f in client.submitted) == RETRIES + 1
    assert sum("left the cluster" in n for n in notes) == RETRIES + 1
    assert sum("checked and accepted" in n for n in notes) == 2 + RETRIES + 1  # replacements are checked too


def test_no_acceptable_worker_is_a_clear_error_naming_each_one():
    from grader.batch.dask_dispatch import Dispatcher
    from grader.errors import GraderError

    client = FakeClient({"tcp://a:1": dict(GOOD, grader="0.9"), "tcp://b:1": dict(GOOD, seccomp=False)},
                        lambda client, future: pytest.fail("a refused worker was sent a task"))
    notes = []
    with pytest.raises(GraderError) as error:
        list(Dispatcher(client, _tasks("one"), EXPECTED, notes.append, where="tcp://s:8786").outcomes())
    message = str(error.value)
    assert "no Dask worker at tcp://s:8786 may grade this batch" in message
    assert "tcp://a:1 (h): it has grader 0.9 and this client grader 1.0" in message
    assert "tcp://b:1 (h): its sandbox has no seccomp filter" in message
    assert len([n for n in notes if n.startswith("dask: refused worker")]) == 2


def test_a_worker_that_never_reports_is_refused():
    from grader.batch.dask_dispatch import Dispatcher
    from grader.errors import GraderError

    client = FakeClient({"tcp://a:1": None}, lambda client, future: pytest.fail("an unchecked worker got a task"))
    with pytest.raises(GraderError, match="did not finish its sandbox check"):
        list(Dispatcher(client, _tasks("one"), EXPECTED, lambda text: None, wait_seconds=0.5).outcomes())


def test_a_machines_first_task_goes_alone_then_each_worker_holds_two():
    from grader.batch.dask_dispatch import IN_FLIGHT, Dispatcher

    held = []

    def behave(client, future):
        held.append(sum(not f.finished for f in client.submitted))
        if len(client.submitted) > 1:  # the later ones finish together, once every worker holds its share
            if sum(not f.finished for f in client.submitted) == 2 * IN_FLIGHT:
                for f in client.submitted:
                    if not f.finished:
                        f.finish(_outcome(f))
        else:
            future.finish(_outcome(future))  # the reference run's task

    client = FakeClient({"tcp://a:1": GOOD, "tcp://a:2": GOOD}, behave)
    outcomes = list(Dispatcher(client, _tasks(*"abcde"), EXPECTED, lambda text: None).outcomes())
    assert sorted(o.id for o in outcomes) == list("abcde")
    assert held[0] == 1 and held[1] == 1  # the second task was sent only after the first came back
    assert max(held) == 2 * IN_FLIGHT


def test_a_scheduler_lost_mid_batch_ends_it_in_order():
    from grader.batch.dask_dispatch import Dispatcher

    class Vanishing(FakeClient):
        def nthreads(self):
            if any(f.finished for f in self.submitted):
                raise OSError("Stream is closed")
            return super().nthreads()

    def behave(client, future):  # the first is graded; the scheduler is gone before the others come back
        if future.task.id == "a":
            future.finish(_outcome(future))

    notes = []
    outcomes = list(Dispatcher(Vanishing({"tcp://a:1": GOOD}, behave), _tasks(*"abcd"), EXPECTED,
                               notes.append).outcomes())
    assert sorted(o.id for o in outcomes) == list("abcd")  # every submission has its row, once
    assert [o.id for o in outcomes if o.result] == ["a"]
    assert all("connection to the Dask scheduler" in o.failure and "Stream is closed" in o.failure
               for o in outcomes if o.id != "a")
    assert any("connection to the Dask scheduler" in n for n in notes)
