"""Reading a notebook's code cells, safely: the ``.ipynb`` half of :mod:`grader.submission`.

A notebook is the student's file: its JSON may be anything. Before it is parsed, its size,
its number of JSON values and its nesting are checked (a file of tiny values would take
the grader gigabytes once parsed; docs/limits.md); it is parsed once, and only its code
cells' sources are kept: outputs, attachments and metadata go no further. A cell that is
not a cell, or whose source is not text, is skipped with a note; lone surrogates in a
source become U+FFFD.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.submission import newlines, read_bytes
from grader.text import clean

MiB = 1024 * 1024
MAX_NOTEBOOK_BYTES = 64 * MiB  # the .ipynb file (what a zip export extracts at most, too)
MAX_JSON_VALUES = 2_000_000  # values in the JSON: about 100 MB once parsed, at worst
MAX_JSON_DEPTH = 100  # nesting of the JSON (a notebook needs about 10)
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def read_code_cells(path: Path) -> tuple[list[tuple[int, str]], list[str]]:
    """``(cell number, source)`` of each code cell of the notebook at ``path``, and notes
    on what was skipped. Numbers count every cell, as Jupyter shows them."""
    raw = read_bytes(path, "a Jupyter notebook", MAX_NOTEBOOK_BYTES)
    check_json_size(raw, path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise GraderError(f"{path}: not a Jupyter notebook (it is not UTF-8 text)") from None
    del raw  # parsed once, holding one copy of the file
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraderError(f"{path}: not a Jupyter notebook (invalid JSON: {exc.msg} at line {exc.lineno})") from None
    except RecursionError:  # a hostile file must not take the grader down
        raise GraderError(f"{path}: not a Jupyter notebook (JSON nested too deeply)") from None
    del text
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise GraderError(f"{path}: not a Jupyter notebook (no cells)")
    code, notes = _code_cells(data, path)
    return code, notes + _validation_note(data)


def check_json_size(raw: bytes, path: Path) -> None:
    """Refuse a notebook too costly to parse, before parsing it: each JSON value costs the
    grader tens of bytes once parsed, so a file of tiny values would take gigabytes.
    Values (commas and brackets) and nesting are counted on the raw bytes, outside strings."""
    import numpy as np

    structure = _JSON_STRING.sub(b'""', raw)
    values = structure.count(b",") + structure.count(b"[") + structure.count(b"{")
    if values > MAX_JSON_VALUES:
        raise GraderError(f"{path}: not a readable Jupyter notebook (more than {MAX_JSON_VALUES:,} JSON values; "
                          f"the grader reads at most that many; clear the outputs and save again)")
    brackets = np.frombuffer(structure.translate(None, _NOT_BRACKETS), dtype=np.uint8)
    if brackets.size:
        depth = int(np.cumsum(np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1), dtype=np.int64).max())
        if depth > MAX_JSON_DEPTH:
            raise GraderError(f"{path}: not a readable Jupyter notebook (JSON nested more than {MAX_JSON_DEPTH} "
                              f"levels deep)")


# ------------------------------------------------------------------ cells
def _kind_of(value: Any) -> str:
    kinds = {dict: "an object", list: "a list", str: "text", bool: "true or false", type(None): "null"}
    return kinds.get(type(value), "a number")


def _source_text(source: Any) -> str | None:
    """A cell's source as text (a string, or a list of strings), or None when it is not."""
    if source is None:
        return ""
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return source if isinstance(source, str) else None


def _what(source: Any) -> str:
    if isinstance(source, list):
        return f"a list holding {_kind_of(next(x for x in source if not isinstance(x, str)))}"
    return _kind_of(source)


def _code_cells(data: dict, path: Path) -> tuple[list[tuple[int, str]], list[str]]:
    """``(cell number, source)`` of each code cell, and notes on cells that cannot be read.
    Numbers count every cell, as Jupyter shows them; only the sources are kept (outputs,
    attachments and metadata are never looked at)."""
    if isinstance(data.get("worksheets"), list):  # nbformat 3 and older: cells in worksheets, code in "input"
        cells = [c for w in data["worksheets"] if isinstance(w, dict) and isinstance(w.get("cells"), list)
                 for c in w["cells"]]
        field_name = "input"
    elif isinstance(data.get("cells"), list):
        cells, field_name = data["cells"], "source"
    else:
        raise GraderError(f"{path}: not a Jupyter notebook (no cells)")
    found, notes = [], []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            notes.append(f"cell {number} is not a notebook cell (it is {_kind_of(cell)}); skipped")
        elif cell.get("cell_type") == "code":
            source = _source_text(cell.get(field_name))
            if source is None:
                notes.append(f"cell {number}: its source is {_what(cell.get(field_name))}, not text; skipped")
            else:
                found.append((number, newlines(clean(source))))
    return found, notes


def _validation_note(data: dict) -> list[str]:
    """What nbformat says of the notebook's structure, with outputs, attachments and
    metadata left out (and the cells already skipped with a note)."""
    import warnings

    import nbformat  # imported here: `grader check x.py` need not pay for it

    if data.get("nbformat") != 4 or not isinstance(data.get("cells"), list):
        return []
    cells = []
    for cell in (c for c in data["cells"] if isinstance(c, dict) and _source_text(c.get("source")) is not None):
        kept = {k: cell[k] for k in ("cell_type", "id", "source") if k in cell}
        kept["metadata"] = {}
        if cell.get("cell_type") == "code":
            kept.update(outputs=[], execution_count=None)
        cells.append(kept)
    pruned = {"nbformat": 4, "nbformat_minor": data.get("nbformat_minor", 0), "metadata": {}, "cells": cells}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat warns of missing cell ids on stderr
            nbformat.validate(pruned)
    except nbformat.ValidationError as exc:
        return [f"the notebook does not fully validate ({clean(str(exc.message))[:120]}); graded anyway"]
    except Exception:  # noqa: BLE001 - a validator's bug must not stop the grading
        return []
    return []


