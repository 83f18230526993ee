"""One failing line of a cell does not throw away the rest: cells run statement by
statement, and the report names the cell and line that failed, once."""

from __future__ import annotations

from grader.report import render
from conftest import exercise_result, grade, notebook, write_submission

DEFINITIONS = '''
def mask_mean(mask):
    return mask.float().mean()

def batched_transpose(a):
    return a.transpose(-2, -1)
'''


def graded_functions(result: dict) -> dict[str, bool]:
    """Whether every check of mask_mean and of batched_transpose passed."""
    checks = exercise_result(result, "tensor_ops")["checks"]
    statuses = {name: [c["status"] for c in checks if c["id"].startswith(name + ".")]
                for name in ("mask_mean", "batched_transpose")}
    return {name: bool(found) and set(found) == {"passed"} for name, found in statuses.items()}


def test_a_first_cell_whose_first_statement_raises_still_imports_torch_and_defines(tmp_path):
    first = "import numpy as np\nraise RuntimeError('exploring the data')\nimport torch\n" + DEFINITIONS
    path = write_submission(tmp_path, notebook("# setup", first), "nb.ipynb")
    result = grade(path, "tensor_ops")
    assert graded_functions(result) == {"mask_mean": True, "batched_transpose": True}, result["cells"]
    (cell,) = result["cells"]
    assert (cell["label"], cell["line"], cell["error"]) == ("cell 2", 2, "RuntimeError")
    text = render(result, "text")
    assert "cell 2, line 2: error" in text
    assert text.count("RuntimeError: exploring the data") == 1  # shown once: not again in the notes
    assert "**cell 2, line 2** (error)" in render(result, "md")
    assert "<strong>cell 2, line 2</strong>" in render(result, "html")


def test_a_missing_display_library_at_the_top_of_a_cell_costs_nothing(tmp_path):
    first = "import pandas as pd\nimport seaborn as sns\nimport torch\n" + DEFINITIONS
    path = write_submission(tmp_path, notebook(first, "df = pd.DataFrame({'a': [1]})\nsns.histplot(df)"), "nb.ipynb")
    result = grade(path, "tensor_ops")
    assert graded_functions(result) == {"mask_mean": True, "batched_transpose": True} and result["cells"] == []


def test_a_line_that_fails_in_the_middle_of_a_cell_keeps_what_comes_after(tmp_path):
    cell = "import torch\nx = undefined_name\n" + DEFINITIONS + "\nfor i in range(2):\n    y = 1 / 0\n"
    path = write_submission(tmp_path, notebook(cell), "nb.ipynb")
    result = grade(path, "tensor_ops")
    assert graded_functions(result) == {"mask_mean": True, "batched_transpose": True}
    assert [(c["label"], c["line"], c["error"]) for c in result["cells"]] == [
        ("cell 1", 2, "NameError"), ("cell 1", 11, "ZeroDivisionError")]
    assert "cell 1, line 11, in <module>" in result["cells"][1]["message"]
