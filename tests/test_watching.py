"""Watched calls (grader/sandbox/watching.py, grader/watched.py, grader/integrity.py):
routes around the watching that a red team found, each graded beside its control (the same
mistake made plainly): the route earns nothing. And honest code in unusual styles keeps
full marks. The submissions are files in tests/attacks/."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import checks_by_id, exercise_result
from grader.sandbox import Limits

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/mountinfo"), reason="the sandbox needs Linux")

ATTACKS = Path(__file__).resolve().parent / "attacks"
#: attack file -> (exercise, the function's checks, the control it must not beat)
ROUTES = {
    "refs": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # torch._refs._broadcast_shapes
    "vf": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # _VariableFunctions.broadcast_tensors
    "npbroadcast": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # np.broadcast (a type)
    "profile_hook": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # threading._profile_hook
    "classbody": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # names computed in a class body
    "decorator": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # ... in a decorator
    "pool": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # a thread started before the watch
    "torchsys": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # torch.sys.modules
    "ag_engine": ("manual_backprop", "two_layer_backward.", "control_two_layer_backward"),  # the C++ engine
    "ag_jit": ("manual_backprop", "two_layer_backward.", "control_two_layer_backward"),  # TorchScript from text
    "ag_hook": ("manual_backprop", "two_layer_backward.", "control_two_layer_backward"),
    "walkstack_ag": ("manual_backprop", "two_layer_backward.", "control_two_layer_backward"),
    "walkstack": ("broadcasting", "center_rows.", "control_center_rows"),  # the copies, through traceback
    "dispatch_equal": ("broadcasting", "center_rows.", "control_center_rows"),  # a dispatch mode left on
    "library_equal": ("broadcasting", "center_rows.", "control_center_rows"),  # aten::equal overridden
    "timer": ("broadcasting", "center_rows.", "control_center_rows"),  # changed after the call, by a thread
    "finalize": ("broadcasting", "center_rows.", "control_center_rows"),  # changed when the result is dropped
    # round 3
    "tfmode_center": ("broadcasting", "center_rows.", "control_center_rows"),  # a TorchFunctionMode lies to reads
    "classswap": ("broadcasting", "center_rows.", "control_center_rows"),  # x.__class__ swapped after x -= ...
    "forge_before": ("broadcasting", "center_rows.", "control_center_rows"),  # a second 'before' record written
    "npb_table": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # TOOLS["b"] = np.broadcast
    "if_import": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # an import inside `if True:`
    "vf_table_map": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # map() calls it from C
    "vf_table_direct": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),
    "lazy_tuple": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # work in __getitem__, later
    "rawthread": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # _thread: no profile hook
    "addshape": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # torch's add broadcasts
    "fwad": ("manual_backprop", "two_layer_backward.", "control_two_layer_backward"),  # forward-mode AD
    "gradfn_walk": ("manual_backprop", "two_layer_backward.", "control_two_layer_backward"),  # grad_fn by hand
    "ag_map": ("manual_backprop", "two_layer_backward.", "control_two_layer_backward"),  # the engine via map()
    "lazy_dict": ("manual_backprop", "two_layer_backward.", "control_two_layer_backward"),  # work in items()
    # round 4
    "infer_size": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # torch._C._infer_size
    "window_add": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # a factory no list names
    "fork_server": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # a forked server
    "popen_server": ("broadcasting", "broadcast_shape.", "control_broadcast_shape"),  # a program left running
    "gradfn_reduce": ("manual_backprop", "two_layer_backward.", "control_two_layer_backward"),  # reduce(getattr)
    "reach_ag": ("manual_backprop", "two_layer_backward.", "control_two_layer_backward"),  # grader's modules
    "reach_center": ("broadcasting", "center_rows.", "control_center_rows"),  # watching._sha256 replaced
    "reach2_center": ("broadcasting", "center_rows.", "control_center_rows"),  # ... reached through torch.sys
}
#: honest code in unusual styles -> the exercise it answers in full (broadcasting unless named here)
HONEST = {p.stem: "broadcasting" for p in sorted(ATTACKS.glob("honest_*.*"))} | {
    "honest_layers": "manual_backprop", "honest_modes": "manual_backprop", "honest_mb": "manual_backprop"}
SUBMISSIONS = sorted([*ATTACKS.glob("*.py"), *ATTACKS.glob("*.ipynb")])


def limits() -> Limits:
    return Limits(unit_seconds=10, total_seconds=120, max_restarts=4)


def points(result: dict, exercise: str, prefix: str) -> float:
    return sum(c["points"] for c in checks_by_id(result, exercise).values() if c["id"].startswith(prefix))


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict]:
    """Every file of tests/attacks graded once, two at a time, by ``grader batch`` (the local
    executor, as a course would grade them): file name -> its result."""
    from grader.batch.core import BatchOptions, run_batch

    folder, out = tmp_path_factory.mktemp("attacks"), tmp_path_factory.mktemp("graded")
    for path in SUBMISSIONS:
        shutil.copy(path, folder / path.name)
    report = run_batch(BatchOptions(source=folder, out=out, exercises=["broadcasting", "manual_backprop"], jobs=2,
                                    timeout=limits().total_seconds, cell_timeout=limits().unit_seconds,
                                    progress="none"))
    assert report.graded == len(SUBMISSIONS), report
    return {path.stem: json.loads((out / "results" / f"{path.stem}.json").read_text()) for path in SUBMISSIONS}


@pytest.mark.parametrize("route", list(ROUTES))
def test_a_route_around_the_watching_earns_nothing(route, graded):
    exercise, prefix, control = ROUTES[route]
    tricked = graded[route]
    assert points(tricked, exercise, prefix) <= points(graded[control], exercise, prefix), \
        checks_by_id(tricked, exercise)


@pytest.mark.parametrize("name", list(HONEST))
def test_honest_code_in_an_unusual_style_keeps_full_marks(name, graded):
    exercise = HONEST[name]
    assert exercise_result(graded[name], exercise)["score"] == 10, checks_by_id(graded[name], exercise)
