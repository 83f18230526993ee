"""Live checks from a notebook: `grader.check(...)` and `%grader` in a real IPython kernel
(nbclient), on cells that were run but never saved, graded by a separate helper process
in the sandbox; patching torch or the grader inside the kernel gains nothing."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import nbformat
import pytest

from conftest import REPO
from grader.live import is_live_check
from grader.live_server import cells_of, inline_html, write_notebook

REFERENCE = (REPO / "reference" / "tensor_ops.py").read_text()
BUGGY = REFERENCE.replace("correction=0", "correction=1")  # fails the 2-point population-std check: 8 / 10
CHEATS = """\
import numpy as np
import torch
import grader.judging
from grader.exercise import Verdict

torch.allclose = lambda *args, **kwargs: True
np.allclose = lambda *args, **kwargs: True
grader.judging.compare_tensors = lambda *args, **kwargs: Verdict(True)
"""


def test_the_loader_skips_live_checks_only():
    for source in ('grader.check("tensor_ops")', "grader.check()", "r = grader.check('a', 'b')",
                   "grader.init('assignment.toml')", "grader.live.check()"):
        assert is_live_check(source), source
    for source in ("import grader", "check('x')", "my.grader.check()", "grader.checks()", "x = 1",
                   "grader.check(\n", "def f():\n    grader.check()"):
        assert not is_live_check(source), source


def test_the_helper_reads_only_plain_cells_and_numbers_them_as_run(tmp_path):
    assert cells_of({"cells": [[1, "x = 1"], [4, "y = 2"]]}) == [(1, "x = 1"), (4, "y = 2")]
    for bad in ({"cells": "x = 1"}, {"cells": [[1, 2]]}, {"cells": [[2, "a"], [1, "b"]]}, {}):
        with pytest.raises(Exception, match="cells"):
            cells_of(bad)
    nb = nbformat.read(write_notebook([(1, "x = 1"), (3, "y = 2")], tmp_path / "n.ipynb"), as_version=4)
    assert [c.source for c in nb.cells] == ["x = 1", "", "y = 2"]  # cell 3 is the cell run as [3]


def test_the_inline_report_cannot_restyle_the_notebook():
    html = inline_html("<html><head><style>body { margin: 2rem; } h1, .total { font-size: 2rem; }</style></head>"
                       "<body><h1>Grading report</h1></body></html>")
    assert html.startswith('<div class="grader-live"><style>') and "<body>" not in html
    assert ".grader-live { margin: 2rem; }" in html and ".grader-live h1, .grader-live .total {" in html


def test_import_grader_stays_light():
    code = "import sys, grader; grader.check; grader.init; print(sorted({'torch', 'numpy'} & set(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stderr


def test_text_in_a_terminal_ipython(capsys):
    from grader.live import _show

    class TerminalInteractiveShell:  # what `ipython` in a terminal is
        pass

    _show(TerminalInteractiveShell(), {"text": "Total: 8 / 10\n", "html": "<div>no</div>"})
    assert capsys.readouterr().out == "Total: 8 / 10\n"


def outputs(cell) -> str:
    return "\n".join(o.get("data", {}).get("text/plain", "") or o.get("text", "") for o in cell.outputs)


@pytest.mark.slow
def test_a_live_check_in_a_real_kernel(tmp_path):
    from nbclient import NotebookClient

    folder = tmp_path / "course"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(BUGGY),
                nbformat.v4.new_code_cell('import grader\ngrader.check("tensor_ops")'),
                nbformat.v4.new_code_cell(CHEATS),
                nbformat.v4.new_code_cell('grader.check("tensor_ops")'),
                nbformat.v4.new_code_cell("%grader tensor_ops"),
                nbformat.v4.new_code_cell(
                    'open("assignment.toml", "w").write(\'title = "HW 1"\\n[exercises.tensor_ops]\\npoints = 20\\n\')'),
                nbformat.v4.new_code_cell("grader.check()")]
    started = time.monotonic()
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    first, cheated, magic, assignment = (outputs(nb.cells[i]) for i in (1, 3, 4, 6))
    # the cells were graded as they were run, in the sandbox, never from a saved file
    assert "Total: 8 / 10" in first and "column_standardize divides by the population std" in first, first
    assert "torch.std is unbiased by default" in first  # the hint that names the mistake
    assert "the cells run so far" in first and "skipped `grader.check(" in first
    assert any("text/html" in o.get("data", {}) and 'class="grader-live"' in o["data"]["text/html"]
               for o in nb.cells[1].outputs)
    # patching torch, NumPy and the grader in the kernel earns nothing: it is judged elsewhere, and
    # reaching into the grader's modules leaves the watched calls unverified (grader.integrity)
    total = lambda text: tuple(map(float, re.search(r"Total: ([\d.]+) / ([\d.]+)", text).groups()))
    assert total(cheated)[0] <= 8 and "could not be verified" in cheated, cheated
    assert total(magic) == total(cheated), magic
    # no id: every exercise of assignment.toml next to the notebook, in its points
    assert total(assignment) == (2 * total(cheated)[0], 20) and "HW 1" in assignment, assignment
    assert not list(folder.glob("*.ipynb"))
    assert time.monotonic() - started < 240
