"""`grader verify` for every built-in exercise: references score full marks and every
mutant loses points on its intended check with its hint."""

import pytest

from conftest import worker_pool
from grader.engine import exercise_registry
from grader.plugins import make_plugin_manager
from grader.verify import read_mutants, verify

BUILTINS = sorted(exercise_registry(make_plugin_manager(autoload=False)))


@pytest.mark.parametrize("exercise_id", BUILTINS)
def test_verify_passes(exercise_id):
    exercise = exercise_registry(make_plugin_manager(autoload=False))[exercise_id]
    findings = verify([exercise], jobs=2, pool=worker_pool())
    failures = [f for f in findings if not f.ok]
    assert not failures, "\n".join(f"{f.subject}: {f.detail}" for f in failures)
    assert len(read_mutants(exercise)) >= 1


def test_verify_catches_a_mutant_that_does_not_fail(tmp_path):
    from copy import copy

    exercise = copy(exercise_registry(make_plugin_manager(autoload=False))["tensor_ops"])
    exercise.mutants = tmp_path
    (tmp_path / "actually_correct.py").write_text(
        "# mutant: claims a bug but is correct\n# expect-fail: mask_mean.values\n"
        "def mask_mean(mask):\n    return mask.float().mean()\n")
    findings = {f.subject: f for f in verify([exercise], jobs=2, pool=worker_pool())}
    assert not findings["actually_correct.py"].ok
    assert "did not lose points" in findings["actually_correct.py"].detail
