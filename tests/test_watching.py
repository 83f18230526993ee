"""Watched calls (grader/sandbox/watching.py, grader/watched.py, grader/integrity.py):
routes around the watching that a red team found, each graded beside its control (the same
mistake made plainly): the route earns nothing. And honest code in unusual styles keeps
full marks. The submissions are files in tests/attacks/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import checks_by_id, grade
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
}
HONEST = sorted(p.stem for p in ATTACKS.glob("honest_*.py"))


def limits() -> Limits:
    return Limits(unit_seconds=10, total_seconds=120, max_restarts=4)


def points(result: dict, exercise: str, prefix: str) -> float:
    return sum(c["points"] for c in checks_by_id(result, exercise).values() if c["id"].startswith(prefix))


@pytest.fixture(scope="module")
def controls():
    return {name: grade(ATTACKS / f"{name}.py", exercise, limits=limits()) for name, exercise in (
        ("control_broadcast_shape", "broadcasting"), ("control_center_rows", "broadcasting"),
        ("control_two_layer_backward", "manual_backprop"))}


@pytest.mark.parametrize("route", list(ROUTES))
def test_a_route_around_the_watching_earns_nothing(route, controls):
    exercise, prefix, control = ROUTES[route]
    tricked = grade(ATTACKS / f"{route}.py", exercise, limits=limits())
    assert points(tricked, exercise, prefix) <= points(controls[control], exercise, prefix), \
        checks_by_id(tricked, exercise)


@pytest.mark.parametrize("name", HONEST)
def test_honest_top_level_code_beside_a_correct_solution_keeps_full_marks(name):
    result = grade(ATTACKS / f"{name}.py", "broadcasting", limits=limits())
    assert result["score"] == 10, checks_by_id(result, "broadcasting")
