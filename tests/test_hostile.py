"""Student code is hostile: what a submission can try against the sandbox, and what it gets.

Every test grades a real submission through the engine (warm worker pool, as `grader
check`), with small limits so that hangs stay cheap. A hostile cell or probe must cost
only itself (the rest is still graded), must never take the grader down, and must never
earn a point it did not compute.

Known limit: the probes run in the student's own process, so a submission can always
find the result channel and send, in exactly the worker's order, results it computed
itself, then end the process; that cannot be told from the real thing. It earns only
what those results are worth: they are still judged against the reference on the
trusted side (a forged timing or a dodged forbidden call would be its only gain).
"""

from __future__ import annotations

import json
import os
import sys
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import score_beside_machinery, REPO, checks_by_id, exercise_result, grade, notebook, write_submission
from grader.sandbox import Limits

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/mountinfo"), reason="the sandbox needs Linux")

CORRECT_TENSOR_OPS = '''
import numpy as np
import torch

def to_float_tensor(data):
    return torch.tensor(np.array(data), dtype=torch.float32)

def column_standardize(x):
    mean = x.mean(dim=0, keepdim=True)
    std = x.std(dim=0, correction=0, keepdim=True)
    centred = x - mean
    return torch.where(std == 0, torch.zeros_like(centred), centred / torch.where(std == 0, torch.ones_like(std), std))

def mask_mean(mask):
    return mask.to(torch.float32).mean()

def batched_transpose(a):
    return a.transpose(-2, -1)
'''

OUTER_SUM = "def outer_sum(u, v):\n    return u[:, None] + v[None, :]\n"

WRONG_TENSOR_OPS = '''
import torch

def to_float_tensor(data):
    return torch.zeros(1)

def column_standardize(x):
    return torch.zeros(1)

def mask_mean(mask):
    return torch.zeros(1)

def batched_transpose(a):
    return torch.zeros(1)
'''


def small(**changes) -> Limits:
    base = dict(unit_seconds=2, total_seconds=90, max_restarts=8, memory_bytes=1024 * 1024 * 1024)
    base.update(changes)
    return Limits(**base)


def cell(result: dict, label: str) -> dict:
    return next(c for c in result["cells"] if c["label"] == label)


def printed(result: dict, tag: str) -> dict:
    """What the submission printed as ``tag <json>`` on one line."""
    for line in result["output"].splitlines():
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1:])
    raise AssertionError(f"{tag!r} not in the output:\n{result['output'][:2000]}\n{result['cells']}")


def marked_processes(marker: str) -> list[int]:
    """Processes anywhere on the machine whose command line or name carries ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/comm", "rb") as f:
                comm = f.read()
        except OSError:
            continue
        if marker.encode() in cmdline or marker[:12].encode() in comm:
            found.append(int(entry))
    return found


def wait_until_gone(marker: str, seconds: float = 3.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := marked_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


# ------------------------------------------------------------------ a cell that hangs, dies or floods
ANY_LIMIT = tuple(f"{what} while running cell 1" for what in (
    "crashed (segmentation fault)", "memory limit of 1 GiB exceeded", "time limit of 2 s exceeded"))
CRASHES = {
    "infinite loop": ("while True:\n    pass", "time limit of 2 s exceeded while running cell 1"),
    "os._exit": ("import os\nos._exit(0)", "exited (status 0"),
    "segfault": ("import ctypes\nctypes.string_at(0)", "crashed (segmentation fault) while running cell 1"),
    "output flood": ("while True:\n    print('x' * 1000)", "output limit of 1 MiB exceeded while running cell 1"),
    "closing every descriptor": ("import os\nos.closerange(0, 1024)", "while running cell 1"),
    # 64 processes spinning (the process limit): whichever limit they hit first
    "fork bomb": ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
                  ("time limit of 2 s exceeded while running cell 1",
                   "memory limit of 1 GiB exceeded while running cell 1")),
    # no recursion limit: Python frames fill the heap, C frames overflow the stack (or time runs out first)
    "unbounded recursion": ("import sys\nsys.setrecursionlimit(10**8)\ndef f():\n    return f()\nf()", ANY_LIMIT),
    "C stack overflow": ("import sys\nsys.setrecursionlimit(10**8)\nx = []\nfor _ in range(10**5):\n    x = [x]\n"
                         "repr(x)", ANY_LIMIT),
}


@pytest.mark.parametrize("name", list(CRASHES))
def test_a_cell_that_hangs_crashes_or_floods_costs_only_itself(tmp_path, name):
    source, messages = CRASHES[name]
    path = write_submission(tmp_path, notebook(source, CORRECT_TENSOR_OPS, OUTER_SUM), "nb.ipynb")
    result = grade(path, "tensor_ops", "broadcasting", limits=small())
    first = cell(result, "cell 1")
    assert first["status"] == "stopped", result["cells"]
    assert any(m in first["message"] for m in ([messages] if isinstance(messages, str) else messages)), first
    assert not any("cell 1" in note for note in result["notes"])  # said once, in the cells
    assert exercise_result(result, "tensor_ops")["score"] == 10, result
    assert checks_by_id(result, "broadcasting")["outer_sum.values"]["status"] == "passed"


def test_signals_to_itself_or_to_everyone_reach_only_the_sandbox(tmp_path):
    # the submission's first process is PID 1 of its own PID namespace: it cannot stop or
    # kill itself, and "every process" (-1) means only the sandbox's own
    signals = "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\nos.kill(os.getpid(), signal.SIGKILL)\n" \
              "for sig in (signal.SIGKILL, signal.SIGSTOP):\n    try:\n        os.kill(-1, sig)\n" \
              "    except ProcessLookupError:  # nobody else to signal\n        pass"
    path = write_submission(tmp_path, notebook(signals, CORRECT_TENSOR_OPS), "nb.ipynb")
    result = grade(path, "tensor_ops", limits=small())
    assert result["cells"] == []
    assert exercise_result(result, "tensor_ops")["score"] == 10


def test_a_hanging_statement_in_a_module_is_named_by_its_line(tmp_path):
    path = write_submission(tmp_path, CORRECT_TENSOR_OPS + "\nimport time\nwhile True:\n    time.sleep(0.1)\n")
    result = grade(path, "tensor_ops", limits=small())
    stopped = [c for c in result["cells"] if c["status"] == "stopped"]
    assert len(stopped) == 1 and "time limit of 2 s exceeded while running line" in stopped[0]["message"]
    assert exercise_result(result, "tensor_ops")["score"] == 10


# ------------------------------------------------------------------ memory
MEMORY_BOMB = '''
import torch
hoard = []
while True:
    hoard.append(torch.ones(16 << 20))  # 64 MiB each, really touched
'''

MEMFD_BOMB = '''
import os
files = []
for i in range(40):  # 40 x 48 MiB held in memfd files: resident in no process
    fd = os.memfd_create(f"hoard{i}")
    os.posix_fallocate(fd, 0, 48 << 20)
    files.append(fd)
import time
time.sleep(5)
'''

SYSV_BOMB = '''
import ctypes, json
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
got = 0
for i in range(40):  # detached segments stay allocated, mapped nowhere
    sid = libc.shmget(0, 32 << 20, 0o1600)
    if sid < 0:
        break
    addr = libc.shmat(sid, None, 0)
    if addr is None or addr == ctypes.c_void_p(-1).value:
        break
    ctypes.memset(addr, 1, 32 << 20)
    libc.shmdt(addr)
    got += 32
print("SYSV", json.dumps(got))
'''


def test_memory_bombs_are_stopped_with_a_message_and_cost_only_their_cell(tmp_path):
    cells = [MEMORY_BOMB, MEMFD_BOMB, SYSV_BOMB, CORRECT_TENSOR_OPS]
    path = write_submission(tmp_path, notebook(*cells), "nb.ipynb")
    result = grade(path, "tensor_ops", limits=small(unit_seconds=8, memory_bytes=900 << 20))
    for label in ("cell 1", "cell 2"):
        stopped = cell(result, label)
        assert stopped["status"] == "stopped", result["cells"]
        assert f"memory limit of 900 MiB exceeded while running {label}" in stopped["message"]
    # SysV shared memory of the sandbox is capped at the size of its private /tmp (256 MiB)
    assert printed(result, "SYSV") <= 256
    assert score_beside_machinery(result, "tensor_ops") == 10


# ------------------------------------------------------------------ fooling the judge
MONKEYPATCHES = '''
import builtins, numpy as np, torch
always = lambda *a, **k: True
torch.allclose = torch.equal = np.allclose = np.array_equal = always
torch.Tensor.__eq__ = lambda self, other: True
torch.Tensor.equal = torch.Tensor.allclose = always
np.testing.assert_allclose = lambda *a, **k: None
try:
    import grader.judging, grader.codec
    grader.judging.compare_tensors = lambda *a, **k: grader.exercise.Verdict(True, "patched")
    grader.judging.compare_arrays = grader.judging.compare_tensors
except Exception:
    pass
'''

SUBCLASS = '''
import torch

class Tensor(torch.Tensor):  # named like the real thing, lies about everything it can
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func.__name__ in ("allclose", "equal", "__eq__", "eq", "isclose"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})

    @property
    def shape(self):
        return torch.Size([50, 4])

    @property
    def dtype(self):
        return torch.float32

    def numpy(self, *a, **k):
        import numpy as np
        return np.zeros((50, 4), dtype=np.float32)

    def __eq__(self, other):
        return True

def _fake():
    return torch.zeros(3).as_subclass(Tensor)

def to_float_tensor(data):
    return _fake()

def column_standardize(x):
    return _fake()

def mask_mean(mask):
    return _fake()

def batched_transpose(a):
    return _fake()
'''


def test_monkeypatching_torch_numpy_or_the_judge_earns_nothing(tmp_path):
    path = write_submission(tmp_path, notebook(MONKEYPATCHES, WRONG_TENSOR_OPS), "nb.ipynb")
    result = grade(path, "tensor_ops", limits=small())
    assert result["cells"] == []  # the patches ran without error
    assert exercise_result(result, "tensor_ops")["score"] == 0
    assert all(c["status"] != "passed" for c in checks_by_id(result, "tensor_ops").values())


def test_a_lying_tensor_subclass_earns_nothing_and_does_not_crash_the_grader(tmp_path):
    path = write_submission(tmp_path, SUBCLASS)
    result = grade(path, "tensor_ops", limits=small())
    checks = checks_by_id(result, "tensor_ops")
    assert exercise_result(result, "tensor_ops")["score"] == 0
    assert checks["column_standardize.population_std"]["status"] == "failed"
    # its __torch_function__ makes the watched calls unverifiable, charged once per function
    assert "could not be verified: the submission uses def __torch_function__" in checks[
        "column_standardize.population_std"]["message"]
    # and the metadata that travels is the real tensor's, not what the subclass claims
    assert "got shape [3]" in checks["column_standardize.float64"]["message"]


# ------------------------------------------------------------------ the result channel
FAKE_FRAMES = '''
import json, os, struct

def frame(message):
    data = json.dumps(message).encode()
    return struct.pack(">I", len(data)) + data

bad_tensor = {"$": "tensor", "kind": "tensor", "dtype": "float32", "shape": [50, 4], "wire": "<f4", "data": "AAAA"}
fakes = [frame({"type": "probe_done", "exercise": "tensor_ops", "probe": p,
                "observations": {"random": bad_tensor, "list": bad_tensor}, "failure": None})
         for p in ("to_float_tensor", "column_standardize", "mask_mean", "batched_transpose")]
fakes += [frame({"type": "unit_start", "index": 10 ** 9}), frame({"type": "done"}),
          struct.pack(">I", 200000) + b"[" * 200000, struct.pack(">I", 0xFFFFFFFF)]
blob = b"".join(fakes)
print(blob[:200].decode("latin-1"))
for fd in range(1024):
    try:
        os.write(fd, blob)
    except OSError:
        pass
'''


def test_fake_frames_on_every_descriptor_cost_only_their_cell(tmp_path):
    path = write_submission(tmp_path, notebook(FAKE_FRAMES, CORRECT_TENSOR_OPS, OUTER_SUM), "nb.ipynb")
    result = grade(path, "tensor_ops", "broadcasting", limits=small())
    first = cell(result, "cell 1")
    assert first["status"] == "stopped"
    assert "result channel was tampered with while running cell 1" in first["message"]
    assert exercise_result(result, "tensor_ops")["score"] == 10
    assert checks_by_id(result, "broadcasting")["outer_sum.values"]["status"] == "passed"


FORGER = CORRECT_TENSOR_OPS + '''
import json, os, struct, sys

def _forge():
    """Find the worker's own state, run its probes on this (correct) code, and send their
    results ahead of the worker, in exactly the order it would: all the way to 'done'."""
    f = sys._getframe()
    while not (type(f.f_locals.get("self")).__name__ == "Job" and "index" in f.f_locals):
        f = f.f_back
    job, index = f.f_locals["self"], f.f_locals["index"]
    from grader.sandbox import recorder as worker_side
    fd = job.channel.frames
    def send(message):
        data = json.dumps(message).encode()
        os.write(fd, struct.pack(">I", len(data)) + data)
    send({"type": "unit_done", "index": index, "error": None})
    send({"type": "loaded", "defined": [n for n in job.request["names"] if n in job.namespace], "stand_ins": []})
    for spec in job.request["probes"]:
        key = (spec["exercise"], spec["probe"])
        rec = worker_side.Recorder(job.student, worker_side.Trimmer({}), torch, "cpu", 5, spec.get("inputs"))
        job.probes[tuple(key)](job.student, rec)
        send({"type": "probe_start", "exercise": key[0], "probe": key[1]})
        send({"type": "probe_done", "exercise": key[0], "probe": key[1], "observations": rec.observations,
              "failure": None})
    send({"type": "done"})
    ENDING

_forge()
'''


FORGERY_ENDINGS = {
    "the worker's own frames follow": "",
    "half a frame, then exit": "os.write(fd, struct.pack('>I', 100) + b'{}'); os._exit(0)",
    "an oversized frame": "os.write(fd, struct.pack('>I', 5_000_000) + b'[' + b'0,' * 2_499_999 + b'0]')",
}


@pytest.mark.parametrize("ending", list(FORGERY_ENDINGS))
def test_a_forged_result_stream_is_detected_and_nothing_from_it_is_kept(tmp_path, ending):
    """A perfect forgery followed by anything at all: everything of that run is discarded
    (the forged observations here are even correct ones: forging still earns nothing).
    (A forgery that ends the process right after its 'done' cannot be told from the real
    thing: see the module's docstring.)"""
    path = write_submission(tmp_path, FORGER.replace("ENDING", FORGERY_ENDINGS[ending]))
    result = grade(path, "tensor_ops", limits=small())
    ex = exercise_result(result, "tensor_ops")
    assert ex["score"] == 0, result
    assert "tampered" in ex["message"]


# ------------------------------------------------------------------ processes left behind
SPAWNER = '''
import ctypes, os, subprocess, sys, threading, time
MARKER = "{marker}"

# a double-forked, setsid daemon that ignores the polite signals
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c",
                 "import signal, time\\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
                 "signal.signal(signal.SIGHUP, signal.SIG_IGN)\\nwhile True: time.sleep(0.1)", MARKER + "-daemon"])
    os._exit(0)
# a child that never execs, renamed so that the test can find it
if os.fork() == 0:
    ctypes.CDLL(None).prctl(15, MARKER[:12].encode(), 0, 0, 0)  # PR_SET_NAME
    os.setpgid(0, 0)
    while True:
        time.sleep(0.1)
subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(0.1)", MARKER + "-popen"],
                 start_new_session=True)
threading.Thread(target=lambda: time.sleep(3600)).start()  # not a daemon thread
time.sleep(0.5)
'''


def test_no_process_of_a_submission_survives_it(tmp_path):
    marker = f"hx{uuid.uuid4().hex}"
    path = write_submission(tmp_path, notebook(SPAWNER.replace("{marker}", marker), CORRECT_TENSOR_OPS), "nb.ipynb")
    result = grade(path, "tensor_ops", limits=small())
    assert score_beside_machinery(result, "tensor_ops") == 10
    assert wait_until_gone(marker) == []


SLEEPER = '''
import ctypes, os, time
os.setsid()
ctypes.CDLL(None).prctl(15, b"{name}", 0, 0, 0)  # PR_SET_NAME
time.sleep(30)
'''


def test_the_sandbox_dies_with_its_parent_even_after_dropping_privileges(tmp_path):
    """If the processes between the runner and the student's code die first (the OOM
    killer picks them, say), the student's process must not live on as an orphan."""
    name = f"hx{uuid.uuid4().hex[:10]}"
    path = write_submission(tmp_path, SLEEPER.replace("{name}", name))
    killed = {}

    def kill_the_parent():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = marked_processes(name)
            if found:
                with open(f"/proc/{found[0]}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                killed["student"] = found[0]
                os.kill(ppid, signal.SIGKILL)
                killed["at"] = time.monotonic()
                killed["gone"] = wait_until_gone(name, 2.0) == []
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_the_parent)
    killer.start()
    grade(path, "tensor_ops", limits=small(unit_seconds=12, max_restarts=1))
    killer.join()
    assert killed.get("student"), "the student's process was never seen"
    assert killed["gone"], "the student's process outlived its parent"


# ------------------------------------------------------------------ the filesystem
WRITER = '''
import json, os
results = {}
for path in {targets!r}:
    try:
        with open(path, "w") as f:
            f.write("escaped")
        results[path] = "written"
    except OSError as exc:
        results[path] = type(exc).__name__
print("WRITES", json.dumps(results))
'''


def test_writes_outside_the_private_tmp_do_not_land(tmp_path):
    token = uuid.uuid4().hex
    targets = [str(tmp_path / f"beside-{token}.txt"), f"/tmp/host-{token}.txt", str(REPO / f"repo-{token}.txt"),
               str(REPO / "reference" / f"ref-{token}.py"), f"/var/tmp/var-{token}.txt",
               str(Path.home() / f"home-{token}.txt"), f"/tmp/work/ok-{token}.txt"]
    path = write_submission(tmp_path, notebook(WRITER.replace("{targets!r}", repr(targets)), CORRECT_TENSOR_OPS),
                            "nb.ipynb")
    result = grade(path, "tensor_ops", limits=small())
    writes = printed(result, "WRITES")
    assert writes[f"/tmp/work/ok-{token}.txt"] == "written"  # its own working folder is writable...
    for target in targets:
        assert not os.path.exists(target), f"{target} landed on the host"  # ...and private
        if "/tmp/work/" not in target and not target.startswith("/tmp/host"):
            assert writes[target] != "written", target
    assert exercise_result(result, "tensor_ops")["score"] == 10


READER = '''
import glob, importlib, json, os
results = {}
for path in {paths!r}:
    try:
        with open(path, "rb") as f:
            results[path] = "read: " + f.read(80).decode("latin-1")
    except OSError as exc:
        results[path] = type(exc).__name__
for folder in {folders!r}:
    try:
        results[folder] = "listed: " + ",".join(sorted(os.listdir(folder))[:20])
    except OSError as exc:
        results[folder] = type(exc).__name__
try:
    import grader.exercises.tensor_ops as ex
    results["via the exercise"] = "read: " + ex.exercise.reference.read_text()[:80]
except Exception as exc:
    results["via the exercise"] = type(exc).__name__
try:
    importlib.import_module("grader.reference.tensor_ops")
    results["import"] = "imported"
except Exception as exc:
    results["import"] = type(exc).__name__
print("READS", json.dumps(results))
'''


def test_reference_solutions_and_grader_files_are_neither_readable_nor_importable(tmp_path, monkeypatch):
    import grader

    monkeypatch.chdir(tmp_path)  # not from the checkout: it must be hidden all the same
    package = Path(grader.__file__).resolve().parent
    paths = [str(REPO / "reference" / "tensor_ops.py"), str(package / "engine.py"),
             str(REPO / "exercises" / "tensor_ops.py"), str(REPO / "build" / "lib" / "grader" / "reference" /
                                                            "tensor_ops.py"),
             str(REPO / ".git" / "HEAD"), str(REPO / "pyproject.toml")]
    folders = [str(REPO / "reference"), str(REPO), os.environ["GRADER_CACHE_DIR"],
               str(Path(os.environ["GRADER_CACHE_DIR"]) / "reference")]
    source = READER.replace("{paths!r}", repr(paths)).replace("{folders!r}", repr(folders))
    path = write_submission(tmp_path, notebook(source, CORRECT_TENSOR_OPS), "nb.ipynb")
    result = grade(path, "tensor_ops", limits=small())
    reads = printed(result, "READS")
    # a checkout that holds the interpreter (a .venv inside it) shows that entry and nothing else
    interpreter = {Path(p).resolve().relative_to(REPO).parts[0] for p in [*sys.path, sys.prefix]
                   if p and Path(p).resolve().is_relative_to(REPO) and Path(p).resolve() != REPO}
    leaked = {k: v for k, v in reads.items() if v.startswith(("read", "listed", "imported"))
              and not (k == str(REPO) and set(filter(None, v[len("listed: "):].split(","))) <= interpreter)}
    assert leaked == {}, leaked
    assert "Reference solution" not in result["output"]
    assert score_beside_machinery(result, "tensor_ops") == 10


CACHE_SNOOPER = '''
import glob, json, os, time
root = {root!r}
seen = []
deadline = time.monotonic() + 4
while time.monotonic() < deadline and not seen:  # the reference run writes its cache meanwhile
    seen = glob.glob(root + "/**", recursive=True)
    time.sleep(0.05)
print("SEEN", json.dumps(seen))
'''


def test_a_reference_cache_created_during_the_run_stays_unseen(tmp_path, monkeypatch):
    if not os.access("/var/tmp", os.W_OK):
        pytest.skip("needs a writable folder outside /tmp")
    root = Path("/var/tmp") / f"grader-hostile-{uuid.uuid4().hex}"
    cache = root / "cache"  # does not exist yet when the sandbox is set up: the reference run makes it
    root.mkdir()
    monkeypatch.setenv("GRADER_CACHE_DIR", str(cache))
    try:
        path = write_submission(tmp_path, CACHE_SNOOPER.replace("{root!r}", repr(str(root))))
        result = grade(path, "tensor_ops", limits=small(unit_seconds=8))
        assert list(cache.glob("reference/*.json")), "the reference run wrote no cache"
        # at most the (covered) folder itself, when it appeared before the sandbox was set up
        assert [p for p in printed(result, "SEEN") if p.startswith(str(cache) + "/")] == []
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


HIJACKERS = {
    "torch.py": "print('HIJACKED torch')\nraise SystemExit(3)\n",
    "numpy.py": "print('HIJACKED numpy')\n",
    "sitecustomize.py": "print('HIJACKED sitecustomize')\n",
    "usercustomize.py": "print('HIJACKED usercustomize')\n",
    "grader.py": "print('HIJACKED grader')\n",
    "hijack.pth": "import sys; print('HIJACKED pth')\n",
}


def test_modules_beside_the_submission_are_not_imported_in_its_place(tmp_path):
    for name, text in HIJACKERS.items():
        (tmp_path / name).write_text(text)
    path = write_submission(tmp_path, CORRECT_TENSOR_OPS + "\nimport torch, numpy\nprint(torch.__file__)\n")
    result = grade(path, "tensor_ops", limits=small())
    assert "HIJACKED" not in result["output"]
    assert exercise_result(result, "tensor_ops")["score"] == 10


# ------------------------------------------------------------------ the network
NETWORK = '''
import json, socket
results = {}
def attempt(name, family, kind, address):
    try:
        s = socket.socket(family, kind)
        s.settimeout(1)
        s.connect(address)
        results[name] = "connected"
    except OSError as exc:
        results[name] = type(exc).__name__
attempt("internet", socket.AF_INET, socket.SOCK_STREAM, ("1.1.1.1", 53))
attempt("host loopback", socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", {port}))
attempt("host unix socket", socket.AF_UNIX, socket.SOCK_STREAM, {unix!r})
try:
    socket.getaddrinfo("pypi.org", 443)
    results["dns"] = "resolved"
except OSError as exc:
    results["dns"] = type(exc).__name__
print("NET", json.dumps(results))
'''


def test_the_network_and_the_hosts_services_are_out_of_reach(tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    unix_path = f"/run/grader-hostile-{uuid.uuid4().hex[:8]}.sock" if os.access("/run", os.W_OK) else None
    unix = None
    if unix_path:
        unix = socket.socket(socket.AF_UNIX)
        unix.bind(unix_path)
        os.chmod(unix_path, 0o777)
        unix.listen()
    try:
        source = NETWORK.replace("{port}", str(port)).replace("{unix!r}", repr(unix_path or "/nonexistent"))
        path = write_submission(tmp_path, notebook(source, CORRECT_TENSOR_OPS), "nb.ipynb")
        result = grade(path, "tensor_ops", limits=small())
    finally:
        listener.close()
        if unix:
            unix.close()
            os.unlink(unix_path)
    net = printed(result, "NET")
    assert "connected" not in net.values() and net["dns"] != "resolved", net
    assert exercise_result(result, "tensor_ops")["score"] == 10


# ------------------------------------------------------------------ a probe that hangs
HANGING_PROBES = CORRECT_TENSOR_OPS + '''
import signal

def mask_mean(mask):  # hangs in Python: the in-sandbox alarm stops it
    while True:
        pass

def batched_transpose(a):  # hangs with the timer signals blocked: the runner must kill the worker
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGPROF})
    while True:
        pass
'''


def test_a_hanging_probe_costs_only_its_own_checks(tmp_path):
    path = write_submission(tmp_path, HANGING_PROBES)
    result = grade(path, "tensor_ops", limits=small(probe_seconds=2))
    checks = checks_by_id(result, "tensor_ops")
    assert checks["mask_mean.values"]["status"] == "error"
    assert "time limit of 2 s exceeded" in checks["mask_mean.values"]["message"]
    assert checks["batched_transpose.values"]["status"] == "error"
    assert ("time limit of 2 s exceeded while checking batched_transpose (tensor_ops)"
            in checks["batched_transpose.values"]["message"])
    assert exercise_result(result, "tensor_ops")["score"] == 7  # 10 - 1.5 - 1.5


def test_a_huge_plain_list_sent_back_costs_only_its_check(tmp_path):
    """Tensors travel as one string each; a nested list of millions of numbers would cost
    the grader gigabytes to parse, and is refused."""
    source = CORRECT_TENSOR_OPS + "\ndef mask_mean(mask):\n    return [[0] * 10000] * 420\n"
    path = write_submission(tmp_path, source)
    result = grade(path, "tensor_ops", limits=small())
    checks = checks_by_id(result, "tensor_ops")
    assert checks["mask_mean.values"]["status"] == "error"
    assert "sent too much data back" in checks["mask_mean.values"]["message"]
    assert exercise_result(result, "tensor_ops")["score"] == 8.5
