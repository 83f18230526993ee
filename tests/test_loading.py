"""Loading submissions: notebooks, modules, magics, and files that are not submissions."""

import json

import pytest

from grader.errors import GraderError
from grader.submission import load_module, load_notebook, neutralise_magics
from conftest import notebook


def test_valid_python_is_left_alone_even_with_percent_lines():
    source = 'text = """\n%not a magic\n!nor a shell\n"""\n'
    assert neutralise_magics(source, "cell 1") == (source, [])


def test_line_magics_and_shell_commands_become_no_ops_with_a_note():
    source = "%matplotlib inline\nimport os\n!pip install torch\nfiles = !ls\nfor i in range(2):\n    %time f(i)\nos?"
    out, notes = neutralise_magics(source, "cell 4")
    compile(out, "<cell 4>", "exec")
    assert out.splitlines()[1] == "import os"
    assert "files = None" in out
    assert "    pass" in out.splitlines()[5]
    assert len(notes) == 5 and all(n.startswith("cell 4, line") for n in notes)


def test_cell_magics_run_the_body_of_time_and_skip_others():
    body, notes = neutralise_magics("%%time\nx = 1\ny = x + 1", "cell 2")
    assert "x = 1" in body and "%%" not in body and "ran the body" in notes[0]
    skipped, notes = neutralise_magics("%%bash\nrm -rf /\n", "cell 3")
    assert skipped is None and "skipped a `%%bash` cell" in notes[0]


def test_notebook_cells_become_units_named_by_cell(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text(notebook("import torch", "%load_ext autoreload", "def f():\n    return 1"))
    sub = load_notebook(path)
    assert [u.label for u in sub.units] == ["cell 1", "cell 2", "cell 3"]
    assert sub.units[1].source.strip() == "pass"
    assert sub.units[2].filename == "<cell 3>"
    assert any("load_ext" in n for n in sub.notes)


def test_nbformat_3_notebooks_are_upgraded(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"},
          "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 41 + 1", "language": "python",
                                     "outputs": [], "metadata": {}}], "metadata": {}}]}
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(v3))
    sub = load_notebook(path)
    assert [u.source for u in sub.units] == ["x = 41 + 1"]


def test_module_units_are_top_level_statements_with_their_lines(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("import torch\n\n@staticmethod\ndef f():\n    return 1\n\nX = f\n")
    sub = load_module(path)
    assert [(u.label, u.first_line) for u in sub.units] == [("line 1", 1), ("line 3", 3), ("line 7", 7)]
    assert sub.units[1].source.startswith("@staticmethod")


def test_module_with_a_syntax_error_is_a_gradable_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def f(:\n    pass\n")
    sub = load_module(path)
    assert sub.units == [] and "SyntaxError in broken.py, line 1" in sub.syntax_error


@pytest.mark.parametrize("name, content, message", [
    ("empty.ipynb", b"", "empty"),
    ("blank.py", b"  \n\n", "empty"),
    ("paper.ipynb", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "not"),
    ("bad.ipynb", b'{"cells": [', "invalid JSON"),
    ("list.ipynb", b"[1, 2, 3]", "no cells"),
    ("binary.py", b"\x00\xff\xfe\x00garbage", "not a text file"),
])
def test_unreadable_files_are_user_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    loader = load_notebook if name.endswith(".ipynb") else load_module
    with pytest.raises(GraderError, match=message):
        loader(path)


def test_notebook_cells_are_split_into_top_level_statements(tmp_path):
    cell = ("%matplotlib inline\nimport pandas as pd\nraise RuntimeError('explore')\n\n@decorate\ndef f():\n"
            "    return 1\na = 1; b = 2\nc = (3,\n     4); d = 5\n")
    path = tmp_path / "nb.ipynb"
    path.write_text(notebook("x = 0", cell, "def broken(:\n    pass\ny = 1"))
    sub = load_notebook(path)
    assert [(u.label, u.filename, u.first_line) for u in sub.units] == [
        ("cell 1", "<cell 1>", 1), ("cell 2", "<cell 2>", 1), ("cell 2", "<cell 2>", 2),
        ("cell 2", "<cell 2>", 3), ("cell 2", "<cell 2>", 5), ("cell 2", "<cell 2>", 8), ("cell 2", "<cell 2>", 9),
        ("cell 3", "<cell 3>", 1)]
    sources = [u.source for u in sub.units]
    assert sources[1] == "pass\n" and sources[3] == "raise RuntimeError('explore')\n"
    assert sources[4] == "@decorate\ndef f():\n    return 1\n"
    assert sources[5] == "a = 1; b = 2\n" and sources[6] == "c = (3,\n     4); d = 5\n"  # shared lines stay together
    assert sources[7] == "def broken(:\n    pass\ny = 1"  # does not parse: one unit, the worker reports it
    assert sub.files["<cell 2>"].startswith("pass\nimport pandas")  # the whole cell, for tracebacks


def test_line_numbers_follow_python_not_str_splitlines(tmp_path):
    """A form feed or U+2028 is no line break to Python: statements keep their lines."""
    path = tmp_path / "mod.py"
    path.write_text("x = 1\n\x0c\ns = 'a\u2028b'\r\ny = 2\rz = 3\n")
    assert [(u.first_line, u.source) for u in load_module(path).units] == [
        (1, "x = 1\n"), (3, "s = 'a\u2028b'\n"), (4, "y = 2\n"), (5, "z = 3\n")]


def test_statements_sharing_a_line_run_once(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("a = 1; b = 2\nc = 3\n")
    assert [(u.label, u.source) for u in load_module(path).units] == [("line 1", "a = 1; b = 2\n"),
                                                                     ("line 2", "c = 3\n")]


def test_a_notebook_source_with_a_lone_surrogate_or_a_null_byte_is_cleaned_or_reported(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ["s = '\ud800'\n", "t = 1"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": "u = 1\x00"}]}))
    sub = load_notebook(path)
    assert [u.source for u in sub.units] == ["s = '\ufffd'\n", "t = 1", "u = 1\x00"]
