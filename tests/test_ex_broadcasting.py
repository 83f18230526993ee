"""Exercise 2, broadcasting: one mistake is charged once (a wrong broadcast_shape value
keeps its by_hand and incompatible checks; a library helper refused at run time is charged
where it was refused; an in-place center_rows costs its input check only) and the hints name the actual mistake,
also when it raises. The speed check has its own tests; that every mutant loses points with
its hint is tests/test_verify.py's check."""

from __future__ import annotations

import pytest
from conftest import builtin_exercise, checks_by_id, dump, exercise_result, grade_jobs, mutant_path, write_submission

from grader.verify import read_mutants

EXERCISE = "broadcasting"

# by hand, but max() of the two sizes is wrong for zero-size dims: a mistake of values only
WRONG_ZERO_SIZE = '''
def broadcast_shape(shape_a, shape_b):
    n = max(len(shape_a), len(shape_b))
    a = (1,) * (n - len(shape_a)) + tuple(shape_a)
    b = (1,) * (n - len(shape_b)) + tuple(shape_b)
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"{shape_a} and {shape_b} do not broadcast")
        out.append(max(x, y))
    return tuple(out)
'''

# the library through an alias taken at the top level, and center_rows without keepdim
LIBRARY_ALIAS = '''
import torch

_shapes = torch.broadcast_shapes

def broadcast_shape(shape_a, shape_b):
    try:
        return tuple(_shapes(shape_a, shape_b))
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None
'''

# returns nothing like a result: its arguments are unchanged, but that earns nothing on its own
CENTER_GARBAGE = '''
import torch

def center_rows(x):
    return torch.zeros(1)
'''

MUTANTS = ("center_in_place.py", "outer_product.py", "outer_raises.py", "pairwise_raises.py", "row_not_column.py")


@pytest.fixture(scope="module")
def results(isolated_cache, tmp_path_factory):
    directory = tmp_path_factory.mktemp(EXERCISE)
    jobs = {"wrong_zero_size": write_submission(directory, WRONG_ZERO_SIZE, "wrong_zero_size.py"),
            "library_alias": write_submission(directory, LIBRARY_ALIAS, "library_alias.py"),
            "center_garbage": write_submission(directory, CENTER_GARBAGE, "center_garbage.py")}
    jobs.update({name: mutant_path(EXERCISE, name) for name in MUTANTS})
    return grade_jobs(jobs, EXERCISE)


def test_reference_scores_full_marks(results):
    assert exercise_result(results["reference"], EXERCISE)["score"] == 10, dump(results["reference"])


def test_a_wrong_value_does_not_skip_the_other_broadcast_shape_checks(results):
    checks = checks_by_id(results["wrong_zero_size"], EXERCISE)
    assert checks["broadcast_shape.values"]["points"] == 0
    assert "should be (0,)" in checks["broadcast_shape.values"]["message"]
    assert checks["broadcast_shape.incompatible"]["status"] == "passed", dump(results["wrong_zero_size"])
    assert checks["broadcast_shape.by_hand"]["status"] == "passed"


def test_a_library_helper_through_an_alias_is_charged_once_where_it_was_refused(results):
    checks = checks_by_id(results["library_alias"], EXERCISE)
    values = checks["broadcast_shape.values"]
    assert values["points"] == 0 and "torch.broadcast_shapes" in values["message"], dump(results["library_alias"])
    assert "by hand" in values["hint"]
    for later in ("broadcast_shape.incompatible", "broadcast_shape.by_hand"):
        assert checks[later]["status"] == "skipped" and "charged in broadcast_shape.values" in checks[later]["message"]


def test_center_rows_in_place_loses_its_input_check_only(results):
    checks = checks_by_id(results["center_in_place.py"], EXERCISE)
    unchanged = checks["center_rows.input_unchanged"]
    assert unchanged["points"] == 0 and "in-place" in unchanged["hint"], dump(results["center_in_place.py"])
    assert checks["center_rows.values"]["status"] == "passed"


@pytest.mark.parametrize("name, hint", [("outer_product.py", "multiplies"), ("outer_raises.py", "(n,) vs (n, 1)"),
                                        ("row_not_column.py", "transposed"), ("pairwise_raises.py", "(n,) vs (n, 1)")])
def test_each_hint_names_the_actual_mistake_also_when_it_raises(results, name, hint):
    check_id = "pairwise_sq_dists.values" if name.startswith("pairwise") else "outer_sum.values"
    check = checks_by_id(results[name], EXERCISE)[check_id]
    assert check["points"] == 0 and hint in (check["hint"] or ""), dump(results[name])
    if name == "outer_product.py":
        assert "column" not in check["hint"].split(".")[0]


def test_each_owed_hint_has_a_mutant():
    hints = " ".join(m.expect_hint or "" for m in read_mutants(builtin_exercise(EXERCISE)))
    for owed in ("(n,) vs (n, 1)", "a loop where broadcasting was due", "keepdim", "in-place"):
        assert owed in hints, owed


def test_an_unchanged_argument_earns_nothing_when_the_result_is_garbage(results):
    checks = checks_by_id(results["center_garbage"], EXERCISE)
    assert checks["center_rows.input_unchanged"]["status"] == "skipped", dump(results["center_garbage"])
    assert exercise_result(results["center_garbage"], EXERCISE)["score"] == 0


def test_the_contract_states_the_speed_limit_the_check_applies():
    """The students' contract (the starter and docs/exercises.md) says the factor the speed
    check really allows."""
    import importlib

    from grader.starter import starter_for

    exercise = builtin_exercise("broadcasting")
    factor = importlib.import_module(exercise.module).SPEED_FACTOR
    assert f"within {factor:g}× the CPU time" in starter_for(exercise).contract
