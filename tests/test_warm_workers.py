"""Warm workers: every submission is a fresh fork of a zygote that never runs student code,
so nothing one submission does reaches the next."""

from conftest import checks_by_id, grade, write_submission

POLLUTER = '''
import builtins, os, sys
import torch

torch.leaked_marker = True
builtins.leaked_marker = True
sys.modules["leaked_module"] = type(sys)("leaked_module")
torch.Tensor.mean = lambda self, *a, **k: torch.tensor(123.0)
os.environ["LEAKED"] = "1"
open("/tmp/leaked_file", "w").write("x")

def mask_mean(mask):
    return mask.float().mean()
'''

CLEAN_CHECKER = '''
import builtins, os
import torch

def _there(name):
    try:
        if name == "module":
            import leaked_module
        else:
            builtins.leaked_marker
        return True
    except (ImportError, AttributeError):
        return False

LEAKS = [hasattr(torch, "leaked_marker"), _there("builtin"), _there("module"),
         "LEAKED" in os.environ, os.path.exists("/tmp/leaked_file")]

def mask_mean(mask):
    if any(LEAKS):
        raise RuntimeError(f"state leaked from an earlier submission: {LEAKS}")
    return mask.to(torch.float32).sum() / mask.numel()
'''


def test_nothing_leaks_from_one_submission_to_the_next(tmp_path):
    polluter = write_submission(tmp_path, POLLUTER, "polluter.py")
    checker = write_submission(tmp_path, CLEAN_CHECKER, "checker.py")
    first = grade(polluter, "tensor_ops")
    assert checks_by_id(first, "tensor_ops")["mask_mean.values"]["status"] == "failed"  # its own patch hurt it
    second = grade(checker, "tensor_ops")
    check = checks_by_id(second, "tensor_ops")["mask_mean.values"]
    assert check["status"] == "passed", check["message"]


def test_warm_and_fresh_workers_give_the_same_result(tmp_path):
    from conftest import REPO

    example = REPO / "examples" / "submission.ipynb"
    warm = grade(example, "tensor_ops", "broadcasting")
    fresh = grade(example, "tensor_ops", "broadcasting", fresh=True)
    strip = lambda r: [(e["id"], e["score"], [(c["id"], c["status"]) for c in e["checks"]]) for e in r["exercises"]]
    assert strip(warm) == strip(fresh)
    assert warm["score"] == 20


def test_a_dead_zygote_costs_time_never_a_submission(tmp_path):
    from grader.engine import grade_path
    from grader.sandbox.launch import WorkerPool

    path = write_submission(tmp_path, CLEAN_CHECKER, "checker.py")
    with WorkerPool(1, preload=["grader.exercises.tensor_ops"]) as pool:
        pool.all[0].wait_ready()
        pool.all[0].proc.kill()
        pool.all[0].proc.wait()
        first = grade_path(path, ["tensor_ops"], pool=pool).to_dict()
        second = grade_path(path, ["tensor_ops"], pool=pool).to_dict()
    for result in (first, second):
        assert checks_by_id(result, "tensor_ops")["mask_mean.values"]["status"] == "passed"
