"""What a student sees when a notebook has the usual problems: errors, plots, input()."""

from conftest import checks_by_id, exercise_result, grade, notebook, write_submission

CORRECT_TENSOR_OPS = '''
import numpy as np
import torch

def to_float_tensor(data):
    return torch.tensor(np.array(data), dtype=torch.float32)

def column_standardize(x):
    std = x.std(dim=0, correction=0)
    return torch.where(std == 0, 0.0, (x - x.mean(dim=0)) / torch.where(std == 0, 1.0, std)).to(x.dtype)

def mask_mean(mask):
    return mask.float().mean()

def batched_transpose(a):
    return a.transpose(-2, -1)
'''


def test_a_messy_but_correct_notebook_gets_full_marks_and_clear_notes(tmp_path):
    cells = [
        "%matplotlib inline\nfrom google.colab import drive\ndrive.mount('/content/drive')\n"
        "import matplotlib.pyplot as plt\nimport seaborn as sns\nfrom tqdm.auto import tqdm",
        CORRECT_TENSOR_OPS,
        "name = input('your name? ')",  # raises EOFError: no keyboard while grading
        "for _ in tqdm(range(3)):\n    pass\nfig, ax = plt.subplots()\nax.plot([1, 2])\nplt.show()\ndisplay(fig)",
        "undefined_function()",
        "def outer_sum(u, v):\n    return u[:, None] + v[None, :]",
    ]
    path = write_submission(tmp_path, notebook(*cells), "nb.ipynb")
    result = grade(path, "tensor_ops", "broadcasting")
    assert exercise_result(result, "tensor_ops")["score"] == 10
    broadcasting = exercise_result(result, "broadcasting")
    assert broadcasting["status"] == "graded"
    assert checks_by_id(result, "broadcasting")["outer_sum.values"]["status"] == "passed"
    assert "not defined: broadcast_shape, center_rows, pairwise_sq_dists" in broadcasting["message"]
    cells_by_label = {c["label"]: c for c in result["cells"]}
    assert set(cells_by_label) == {"cell 3", "cell 5"}, result["cells"]
    assert "EOFError" in cells_by_label["cell 3"]["message"]
    assert "NameError" in cells_by_label["cell 5"]["message"]
    assert "cell 5, line 1" in cells_by_label["cell 5"]["message"]
    assert any("%matplotlib" in note for note in result["notes"])


def test_a_failing_function_shows_only_the_students_own_frames(tmp_path):
    source = '''
    import torch

    def helper(x):
        return x.mean(dim=0) / x.std(dim=0, correction=0).numpy()  # mixes a tensor and an array badly

    def column_standardize(x):
        centered = x - x.mean(dim=0)
        return helper(centered) + undefined_name
    '''
    path = write_submission(tmp_path, source, "student.py")
    result = grade(path, "tensor_ops")
    check = checks_by_id(result, "tensor_ops")["column_standardize.population_std"]
    assert check["status"] == "error" and check["points"] == 0
    assert "NameError" in check["message"] or "Error" in check["message"]
    assert "student.py, line 9, in column_standardize" in check["message"]
    assert "grader" not in check["message"].replace("the grader", "")
    assert "site-packages" not in check["message"]


def test_not_attempted_exercises_are_reported_as_such(tmp_path):
    path = write_submission(tmp_path, "x = 1\n", "nothing.py")
    result = grade(path, "tensor_ops")
    ex = exercise_result(result, "tensor_ops")
    assert ex["status"] == "not_attempted" and ex["score"] == 0 and ex["max_score"] == 10


def test_a_module_with_a_syntax_error_scores_zero_with_the_line(tmp_path):
    path = write_submission(tmp_path, "def mask_mean(mask)\n    return mask.float().mean()\n", "broken.py")
    result = grade(path, "tensor_ops", "broadcasting")
    assert exercise_result(result, "tensor_ops")["status"] == "error"
    assert "line 1" in exercise_result(result, "tensor_ops")["message"]
    assert exercise_result(result, "broadcasting")["status"] == "not_attempted"
    assert result["score"] == 0


def test_the_same_submission_gets_the_same_result_every_run(tmp_path):
    path = write_submission(tmp_path, CORRECT_TENSOR_OPS + "\ndef center_rows(x):\n    return x - x.mean(0)\n")
    first, second = grade(path, "tensor_ops", "broadcasting"), grade(path, "tensor_ops", "broadcasting")
    strip = lambda r: [(e["id"], e["score"], [(c["id"], c["status"], c["points"], c["message"]) for c in e["checks"]])
                       for e in r["exercises"]]
    assert strip(first) == strip(second)
