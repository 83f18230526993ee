"""Trust, round 2: nothing in a submission moves a grade except correct work.

Each test grades a hostile submission and a control (the same wrong code without the
trick): the trick must gain nothing, and the grader must not break.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pytest

from conftest import REPO, checks_by_id, exercise_result, grade, write_submission
from grader.sandbox import Limits

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/mountinfo"), reason="the sandbox needs Linux")


def small(**changes) -> Limits:
    base = dict(unit_seconds=5, total_seconds=120, max_restarts=8, memory_bytes=1024 * 1024 * 1024)
    base.update(changes)
    return Limits(**base)


def printed(result: dict, tag: str):
    for line in result["output"].splitlines():
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1:])
    raise AssertionError(f"{tag!r} not in the output:\n{result['output'][:2000]}\n{result['cells']}")


def score(result: dict, exercise: str) -> float:
    return exercise_result(result, exercise)["score"]


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

# ------------------------------------------------------------------ 1. forged observations
FORGE_EMPTY_TENSORS = WRONG_TENSOR_OPS + '''
import json, os, struct, sys

def _forge():
    """The whole result stream, written ahead of the worker: every observation a tensor
    "of the right shape" whose data is missing, a failure record whose message is a
    number; then exit right after 'done', as the worker would."""
    f = sys._getframe()
    while not (type(f.f_locals.get("self")).__name__ == "Job" and "index" in f.f_locals):
        f = f.f_back
    job, index = f.f_locals["self"], f.f_locals["index"]
    def send(message):
        data = json.dumps(message).encode()
        os.write(job.channel.frames, struct.pack(">I", len(data)) + data)
    empty = {"$": "tensor", "kind": "tensor", "dtype": "float32", "shape": [50, 4], "device": "cpu", "data": None}
    send({"type": "unit_done", "index": index, "error": None})
    send({"type": "loaded", "defined": list(job.request["names"]), "stand_ins": []})
    for spec in job.request["probes"]:
        send({"type": "probe_start", "exercise": spec["exercise"], "probe": spec["probe"]})
        keys = ["random", "float64", "constant", "list", "nested_list", "two_dims", "all_false"]
        send({"type": "probe_done", "exercise": spec["exercise"], "probe": spec["probe"],
              "observations": {k: empty for k in keys},
              "failure": {"$": "raised", "type": "X", "message": 12345, "traceback": []}})
    send({"type": "done"})
    os._exit(0)

_forge()
'''


def test_forged_observations_with_missing_data_earn_nothing_and_break_nothing(tmp_path):
    forged = grade(write_submission(tmp_path, FORGE_EMPTY_TENSORS, "forged.py"), "tensor_ops", limits=small())
    control = grade(write_submission(tmp_path, WRONG_TENSOR_OPS, "control.py"), "tensor_ops", limits=small())
    assert score(forged, "tensor_ops") == 0 <= score(control, "tensor_ops") < 2  # forging costs, never gains
    messages = " ".join([exercise_result(forged, "tensor_ops")["message"]] + forged["notes"]
                        + [c["message"] for c in exercise_result(forged, "tensor_ops")["checks"]]
                        + [c["message"] for c in forged["cells"]])
    assert "tampered" in messages, forged


def test_a_comparison_passes_only_when_both_sides_have_values():
    import numpy as np

    from grader.codec import TensorValue
    from grader.judging import compare_tensors

    expected = TensorValue("tensor", "float32", (2,), data=np.zeros(2, dtype=np.float32))
    no_data = TensorValue("tensor", "float32", (2,), data=None)
    assert not compare_tensors(no_data, expected).passed
    assert not compare_tensors(expected, no_data).passed
    meta = TensorValue("tensor", "float32", (2,), device="meta")
    assert compare_tensors(meta, meta, values=False).passed  # shapes and devices only, when asked for


# ------------------------------------------------------------------ 2. measured where the student cannot reach
DOUBLE_LOOP = '''
import torch

def pairwise_sq_dists(a, b):
    out = torch.empty(a.shape[0], b.shape[0])
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            out[i, j] = ((a[i] - b[j]) ** 2).sum()
    return out
'''

CLOCK_TRICKS = DOUBLE_LOOP + '''
import sys, time
time.perf_counter = time.process_time = time.monotonic = time.time = lambda: 0.0
for name in ("grader.sandbox.recorder", "grader.sandbox.student"):
    module = sys.modules.get(name)
    if module is not None:
        module._process_time = lambda: 0.0
# and make the grader's own matrix-product version look slow, in case it is timed after this
_matmul = torch.Tensor.__matmul__
def _slow_matmul(self, other):
    end = time.thread_time() + 0.5
    while time.thread_time() < end:
        pass
    return _matmul(self, other)
torch.Tensor.__matmul__ = _slow_matmul
# remember results for the inputs the grader used last time (seed 0)
_memo = {}
_plain = pairwise_sq_dists
def pairwise_sq_dists(a, b):
    key = (a.shape, float(a.sum()), float(b.sum()))
    if key not in _memo:
        _memo[key] = _plain(a, b)
    return _memo[key]
'''


def test_replacing_the_clocks_or_slowing_the_baseline_does_not_pass_the_speed_check(tmp_path):
    limits = small(probe_seconds=8)  # what breaks the worker's own clock runs until the runner stops it
    tricked = grade(write_submission(tmp_path, CLOCK_TRICKS, "tricked.py"), "broadcasting", limits=limits)
    control = grade(write_submission(tmp_path, DOUBLE_LOOP, "control.py"), "broadcasting", limits=limits)
    for result in (tricked, control):
        check = checks_by_id(result, "broadcasting")["pairwise_sq_dists.speed"]
        assert check["points"] == 0, check
    assert "loop where broadcasting was due" in (checks_by_id(control, "broadcasting")["pairwise_sq_dists.speed"]
                                                  ["hint"] or "")
    # reaching into sys.modules also leaves every watched call unverified (grader.integrity): it costs more
    assert score(tricked, "broadcasting") <= score(control, "broadcasting")
    assert any("sys.modules" in n for n in tricked["notes"]), tricked["notes"]


# ------------------------------------------------------------------ 3. forbidden functions through an alias
ALIASES = {
    "direct": "import torch\n\ndef broadcast_shape(a, b):\n    return tuple(torch.broadcast_shapes(a, b))\n",
    "import as": "from torch import broadcast_shapes as bs\n\ndef broadcast_shape(a, b):\n    return tuple(bs(a, b))\n",
    "captured": "import torch\n_b = torch.broadcast_shapes\n\ndef broadcast_shape(a, b):\n    return tuple(_b(a, b))\n",
    "getattr": "import torch\n\ndef broadcast_shape(a, b):\n"
               "    return tuple(getattr(torch, 'broadcast_' + 'shapes')(a, b))\n",
    "vars": "import torch\n\ndef broadcast_shape(a, b):\n    return tuple(vars(torch)['broadcast_shapes'](a, b))\n",
    "__dict__": "import numpy\nf = numpy.__dict__['broadcast_shapes']\n\ndef broadcast_shape(a, b):\n"
                "    return tuple(int(d) for d in f(a, b))\n",
    "default argument": "import torch\n\ndef broadcast_shape(a, b, _f=torch.broadcast_shapes):\n"
                        "    return tuple(_f(a, b))\n",
}


@pytest.mark.parametrize("style", [s for s in ALIASES if s != "direct"])
def test_a_forbidden_function_counts_as_used_however_it_is_reached(tmp_path, style):
    tricked = grade(write_submission(tmp_path, ALIASES[style], "tricked.py"), "broadcasting", limits=small())
    control = grade(write_submission(tmp_path, ALIASES["direct"], "control.py"), "broadcasting", limits=small())
    got = {k: (c["points"], c["status"]) for k, c in checks_by_id(tricked, "broadcasting").items()}
    want = {k: (c["points"], c["status"]) for k, c in checks_by_id(control, "broadcasting").items()}
    assert got == want
    assert checks_by_id(tricked, "broadcasting")["broadcast_shape.values"]["points"] == 0


# ------------------------------------------------------------------ 3b. switching the watching off
WATCH_OFF = {  # each switches off, or writes over, what the sandbox watches during the call
    "profile hook": (
        "broadcasting",
        "import sys\nimport torch\n_NAME = 'broadcast_' + 'shapes'\n\n"
        "def broadcast_shape(a, b):\n    watch = sys.getprofile()\n    sys.setprofile(None)\n    try:\n"
        "        return tuple(getattr(torch, _NAME)(tuple(a), tuple(b)))\n    finally:\n"
        "        sys.setprofile(watch)\n",
        "import torch\n\ndef broadcast_shape(a, b):\n    return tuple(torch.broadcast_shapes(tuple(a), tuple(b)))\n"),
    "autograd behind the hook": (
        "manual_backprop",
        "import sys\nimport torch\n_G = getattr(getattr(torch, 'auto' + 'grad'), 'gr' + 'ad')\n\n"
        "def two_layer_backward(x, W1, b1, W2, b2, y):\n    watch = sys.getprofile()\n    sys.setprofile(None)\n"
        "    try:\n        with torch.enable_grad():\n"
        "            ps = [t.detach().requires_grad_(True) for t in (W1, b1, W2, b2)]\n"
        "            loss = ((torch.sigmoid(x @ ps[0].T + ps[1]) @ ps[2].T + ps[3] - y) ** 2).mean()\n"
        "            g = _G(loss, ps)\n    finally:\n        sys.setprofile(watch)\n"
        "    return dict(zip(('W1', 'b1', 'W2', 'b2'), g))\n",
        "import torch\n\ndef two_layer_backward(x, W1, b1, W2, b2, y):\n    with torch.enable_grad():\n"
        "        ps = [t.detach().requires_grad_(True) for t in (W1, b1, W2, b2)]\n"
        "        loss = ((torch.sigmoid(x @ ps[0].T + ps[1]) @ ps[2].T + ps[3] - y) ** 2).mean()\n"
        "        g = torch.autograd.grad(loss, ps)\n    return dict(zip(('W1', 'b1', 'W2', 'b2'), g))\n"),
    "the copies rewritten": (
        "broadcasting",
        "import sys\n\ndef center_rows(x):\n    x -= x.mean(dim=1, keepdim=True)\n    f = sys._getframe(1)\n"
        "    while f is not None and 'arguments' not in f.f_locals:\n        f = f.f_back\n    if f is not None:\n"
        "        for _, tensor, before in f.f_locals['arguments']:\n            before.copy_(tensor)\n    return x\n",
        "def center_rows(x):\n    x -= x.mean(dim=1, keepdim=True)\n    return x\n"),
    "a thread started at the top level": (
        "broadcasting",
        "import threading, time\nimport torch\n\ndef _quiet():\n    import sys as s\n    while True:\n"
        "        setattr(s, 'setpro' + 'file', lambda *a: None)\n        time.sleep(0.01)\n\n"
        "threading.Thread(target=_quiet, daemon=True).start()\n\n"
        "def broadcast_shape(a, b):\n    return tuple(torch.broadcast_shapes(tuple(a), tuple(b)))\n",
        "import torch\n\ndef broadcast_shape(a, b):\n    return tuple(torch.broadcast_shapes(tuple(a), tuple(b)))\n"),
}


WATCH_OFF["text turned into the hook by a library"] = (
    "broadcasting",
    "import logging.config\nimport torch\n_c = logging.config.BaseConfigurator({})\n\n"
    "def broadcast_shape(a, b):\n    off = _c.resolve('sys.set' + 'profile')\n"
    "    on = _c.resolve('sys.get' + 'profile')()\n    off(None)\n    try:\n"
    "        return tuple(torch.broadcast_shapes(tuple(a), tuple(b)))\n    finally:\n        off(on)\n",
    WATCH_OFF["profile hook"][2])


@pytest.mark.parametrize("trick", list(WATCH_OFF))
def test_switching_off_what_the_sandbox_watches_gains_nothing(tmp_path, trick):
    """The watching inside the sandbox (forbidden calls, in-place changes) runs beside the
    student's code; code that can reach it is found in the source (grader.integrity) and
    its watched calls count as caught: never more points than the plain mistake."""
    exercise, hostile, control = WATCH_OFF[trick]
    tricked = grade(write_submission(tmp_path, hostile, "tricked.py"), exercise, limits=small())
    plain = grade(write_submission(tmp_path, control, "control.py"), exercise, limits=small())
    assert score(tricked, exercise) <= score(plain, exercise), (checks_by_id(tricked, exercise),
                                                                checks_by_id(plain, exercise))
    failed = [c for c in checks_by_id(tricked, exercise).values() if c["points"] < c["max_points"]
              and c["status"] == "failed"]
    if score(tricked, exercise) == score(plain, exercise):  # else the trick broke the student's own code
        assert any(word in c["message"] for c in failed for word in ("could not be verified", "does not allow",
                                                                      "in place")), failed
    if trick.startswith("text turned"):  # nothing in the source names it: the sandbox's audit hook saw it
        assert any("sys.setprofile (seen while it ran)" in n for n in tricked["notes"]), tricked["notes"]


# ------------------------------------------------------------------ 4. the filesystem is an allow-list
VIEW_READER = '''
import json, os
found = {}
for path in {paths!r}:
    try:
        found[path] = "listed: " + ",".join(sorted(os.listdir(path))[:5]) if os.path.isdir(path) else (
            "read" if open(path, "rb").read(1) is not None else "")
    except OSError as exc:
        found[path] = type(exc).__name__
print("VIEW", json.dumps(found))
'''


def test_other_copies_of_the_data_and_other_environments_are_not_there(tmp_path):
    """An allow-list, not a hide-list: a copy of scikit-learn's digits in another venv or a
    package cache, the grader's checkout, home folders and the host's /etc are not part of
    the view; the result says what the view is."""
    other = Path("/var/tmp") / f"grader-other-{uuid.uuid4().hex[:8]}"
    data = other / "venv" / "lib" / "python3.11" / "site-packages" / "sklearn" / "datasets" / "data"
    data.mkdir(parents=True)
    (data / "digits.csv.gz").write_bytes(b"labels")
    try:
        paths = [str(data / "digits.csv.gz"), str(other), str(REPO), str(REPO / ".git"), str(REPO / "reference"),
                 "/etc/shadow", "/etc/hostname", "/root/.cache", "/home", "/var", "/opt", "/srv", "/run", "/sys",
                 os.path.expanduser("~/.cache/pip")]
        result = grade(write_submission(tmp_path, VIEW_READER.replace("{paths!r}", repr(paths)), "view.py"),
                       "tensor_ops", limits=small())
    finally:
        shutil.rmtree(other, ignore_errors=True)
    view = printed(result, "VIEW")
    interpreter_only = {p for p in (str(REPO),) if view[p].startswith("listed")
                        and set(view[p][len("listed: "):].split(",")) <= {".venv", ""}}
    leaked = {p: v for p, v in view.items() if not v.endswith("Error") and p not in interpreter_only}
    assert leaked == {}, leaked
    assert any(f.startswith("filesystem: an allow-list") for f in result["sandbox"]), result["sandbox"]


# ------------------------------------------------------------------ 5. a classmate's CPU
HOG = '''
import os
for _ in range(24):  # busy processes that outlive the cell and run beside the probes
    if os.fork() == 0:
        while True:
            pass
'''


@pytest.mark.slow
def test_a_cpu_hog_beside_an_honest_classmate_does_not_change_the_classmate_grade(tmp_path):
    from conftest import run_cli

    honest = (REPO / "reference" / "digits_classifier.py").read_text()
    alone, beside = tmp_path / "alone", tmp_path / "beside"
    alone.mkdir()
    beside.mkdir()
    (alone / "honest.py").write_text(honest)
    (beside / "honest.py").write_text(honest)
    (beside / "hog.py").write_text(HOG + honest)
    results = {}
    for name, folder in (("alone", alone), ("beside", beside)):
        proc = run_cli("batch", str(folder), "--out", str(tmp_path / f"out-{name}"), "-e", "digits_classifier",
                       "--jobs", "2", "--progress", "none")
        assert proc.returncode == 0, proc.stderr
        results[name] = json.loads((tmp_path / f"out-{name}" / "results" / "honest.json").read_text())
    strip = lambda r: [(c["id"], c["status"], c["points"]) for c in r["exercises"][0]["checks"]]
    assert strip(results["beside"]) == strip(results["alone"])
    assert results["alone"]["score"] == 10


SLOW_PLUGIN = '''
from grader.api import Exercise, Verdict

exercise = Exercise(id="slow_reference", title="slow", names=("slow",), reference=REFERENCE)


@exercise.probe("calls", timeout=1)
def _probe(student, rec):
    rec.call("value", "slow")


@exercise.check("slow.value", points=10, probe="calls")
def _check(ctx):
    return Verdict(True)
'''


def test_a_reference_that_times_out_is_never_cached(tmp_path, monkeypatch):
    from grader import references
    from grader.errors import GraderError

    import importlib

    reference = write_submission(tmp_path, "def slow():\n    while True:\n        pass\n", "ref.py")
    (tmp_path / "trust_slow_plugin.py").write_text(SLOW_PLUGIN.replace("REFERENCE", repr(str(reference))))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the worker imports the exercise's module too
    exercise = importlib.import_module("trust_slow_plugin").exercise
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(GraderError, match="reference solution failed"):
        references.reference_observations([exercise], "cpu", small(unit_seconds=2), {})
    assert not list((tmp_path / "cache").rglob("*.json"))
