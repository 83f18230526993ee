"""What the grader reads of a notebook: limits checked before parsing (size, JSON values,
nesting, code, statements), outputs and metadata dropped, one parse, and the trusted
process's own memory on a notebook built to exhaust it (docs/limits.md)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import notebook as nb_reader
from grader import submission
from grader.errors import GraderError
from grader.submission import load_module, load_notebook
from conftest import REPO, notebook

CODE = "import torch\ndef mask_mean(m):\n    return m.float().mean()\n"


def with_output(data: str) -> str:
    """A one-cell notebook whose cell has an output holding the raw JSON ``data``."""
    cell = {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": 1, "source": CODE,
            "outputs": [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                         "data": {"application/json": "@DATA@"}}]}
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]}).replace(
        '"@DATA@"', data)


def test_a_notebook_of_too_many_json_values_is_refused_before_parsing(tmp_path, monkeypatch):
    path = tmp_path / "tiny.ipynb"
    path.write_text(with_output("[" + "0," * (nb_reader.MAX_JSON_VALUES + 10) + "0]"))
    parsed = []
    monkeypatch.setattr(nb_reader.json, "loads", lambda *a, **k: parsed.append(1))
    with pytest.raises(GraderError, match=r"more than 2,000,000 JSON values.*clear the outputs"):
        load_notebook(path)
    assert parsed == []  # refused on the raw bytes


def test_values_are_counted_outside_strings(tmp_path):
    """Commas and brackets inside text (a printed table, code) are not values: a notebook
    with a long text output full of them still loads."""
    line = json.dumps("a, b, [c], {d}, " * 4 + "\n")
    path = tmp_path / "text.ipynb"
    path.write_text(with_output("[" + ",".join([line] * 150_000) + "]"))  # 2.4M commas in strings
    sub = load_notebook(path)
    assert [u.source.split("\n")[0] for u in sub.units] == ["import torch", "def mask_mean(m):"]


def test_nesting_past_the_limit_is_refused(tmp_path):
    path = tmp_path / "deep.ipynb"
    depth = nb_reader.MAX_JSON_DEPTH + 5
    path.write_text(with_output("[" * depth + "]" * depth))
    with pytest.raises(GraderError, match=f"nested more than {nb_reader.MAX_JSON_DEPTH} levels"):
        load_notebook(path)
    path.write_text(with_output("[" * 50 + "]" * 50))  # deep, but within the limit: outputs do not matter
    assert len(load_notebook(path).units) == 2


def test_a_file_past_the_size_limit_is_refused_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "big.ipynb"
    path.write_text(notebook(CODE))
    monkeypatch.setattr(nb_reader, "MAX_NOTEBOOK_BYTES", path.stat().st_size - 1)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read a file past the limit"))
    with pytest.raises(GraderError, match=r"too large to grade"):
        load_notebook(path)


def test_too_much_code_and_too_many_statements_are_refused(tmp_path, monkeypatch):
    big = tmp_path / "big.ipynb"
    big.write_text(notebook("x = [" + "0, " * 200_000 + "]"))  # 600 KB of code in one cell
    with pytest.raises(GraderError, match=r"too much code to grade.*512 KiB"):
        load_notebook(big)
    module = tmp_path / "big.py"
    module.write_text("x = 0\n" * 100_000)
    with pytest.raises(GraderError, match=r"too large to grade"):
        load_module(module)
    monkeypatch.setattr(submission, "MAX_UNITS", 50)
    many = tmp_path / "many.py"
    many.write_text("x = 0\n" * 51)
    with pytest.raises(GraderError, match=r"too many top-level statements to grade \(51"):
        load_module(many)


def test_outputs_attachments_and_metadata_never_reach_nbformat(tmp_path, monkeypatch):
    import nbformat

    seen = []
    real_validate = nbformat.validate
    monkeypatch.setattr(nbformat, "validate", lambda nb, *a, **k: (seen.append(nb), real_validate(nb, *a, **k)))
    monkeypatch.setattr(nbformat, "reads", lambda *a, **k: pytest.fail("the notebook was parsed a second time"))
    cell = {"cell_type": "code", "id": "c1", "execution_count": 1, "source": CODE,
            "metadata": {"widgets": {"state": list(range(1000))}},
            "attachments": {"image.png": {"image/png": "AAAA"}},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["x"] * 1000}]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [cell],
                                "metadata": {"kernelspec": {"name": "python3"}, "huge": list(range(1000))}}))
    sub = load_notebook(path)
    assert len(sub.units) == 2 and sub.notes == []
    (validated,) = seen
    assert validated["metadata"] == {} and validated["cells"][0]["outputs"] == []
    assert validated["cells"][0]["metadata"] == {} and "attachments" not in validated["cells"][0]


# The peak of this process's own address space: VmHWM starts afresh at exec, while
# getrusage's ru_maxrss carries the parent's peak across fork and exec (a pytest process
# that has loaded torch would show its own 500 MB here).
PEAK = """
import sys
from grader.cli import main
code = main(["check", sys.argv[1], "-e", "tensor_ops"])
with open("/proc/self/status") as status:
    peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(code, peak_kib // 1024, file=sys.stderr)
"""


@pytest.mark.parametrize("values", [7_500_000, 1_900_000])
def test_the_grader_stays_small_on_a_notebook_of_tiny_values(tmp_path, values):
    """A 15 MB notebook of tiny values took `grader check` to 2.9 GB. Over the limit it is
    refused on its bytes; just under it, it is parsed once and its outputs dropped. The
    bound, for this process only (its VmHWM: the sandbox's worker is another process):
    the interpreter with the grader, numpy and jinja2 loaded peaks at about 55 MB on a
    small notebook; reading holds the file at most three times (bytes, text, the
    string-free copy that is counted: 45 MB for 15 MB), and 1.9M small integers parse to
    a 15 MB list. 160 MB leaves room for allocator slack and is a twentieth of 2.9 GB."""
    path = tmp_path / "tiny.ipynb"
    path.write_text(with_output("[" + "0," * values + "0]"))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(PEAK), str(path)], capture_output=True,
                          text=True, timeout=300, cwd=REPO)
    code, peak_mib = map(int, proc.stderr.strip().splitlines()[-1].split())
    assert peak_mib < 160, proc.stderr
    if values > nb_reader.MAX_JSON_VALUES:
        assert code == 2 and "more than 2,000,000 JSON values" in proc.stderr
        assert path.stat().st_size > 15_000_000
    else:
        assert code == 0 and "mask_mean returns" in proc.stdout, proc.stderr


def test_notes_on_skipped_cells_are_capped(tmp_path):
    cells = [3] * 1000 + [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": CODE}]
    path = tmp_path / "many.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": cells}))
    sub = load_notebook(path)
    assert len(sub.units) == 2 and len(sub.notes) == submission.MAX_NOTES + 1
    assert sub.notes[0] == "cell 1 is not a notebook cell (it is a number); skipped"
    assert sub.notes[-1] == "... and 950 more notes like these"
