"""Reading a student's file into runnable units: the built-in ``.py`` and ``.ipynb`` loaders.

Loading only parses; nothing here runs student code. A notebook becomes one unit per
code cell (IPython magics and ``!shell`` lines turned into no-ops, with a note); a module
becomes one unit per top-level statement, so a statement that hangs or crashes can be
skipped and the rest still graded.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import grader
from grader.errors import GraderError

# Cell magics whose body is ordinary Python: run the body once, drop the magic line.
_BODY_MAGICS = {"time", "timeit", "capture", "prun", "memit", "skip_if_none"}
_ASSIGN_MAGIC = re.compile(r"^(\s*)([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*[%!](.*)$")
_HELP_LINE = re.compile(r"^\s*[\w.]+\?{1,2}\s*$|^\s*\?{1,2}[\w.]+\s*$")


@dataclass
class Unit:
    """One piece of student code run on its own: a notebook cell or a top-level statement."""

    label: str  # what the student sees: "cell 7" or "line 12"
    filename: str  # the code object's filename: "<cell 7>" or the module's name
    source: str  # Python source (magics already neutralised)
    first_line: int = 1  # line number of the source's first line in ``filename``


@dataclass
class Submission:
    path: Path
    kind: str  # "notebook" or "module"
    units: list[Unit]
    notes: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # filename -> full text, for tracebacks
    syntax_error: str | None = None  # a module that does not parse cannot run at all

    def to_request(self) -> dict:
        """The plain data the sandbox worker needs to run this submission."""
        return {
            "kind": self.kind,
            "units": [u.__dict__ for u in self.units],
            "files": self.files,
            "module_name": "__main__" if self.kind == "notebook" else Path(self.path).stem,
        }


def read_text(path: Path, what: str = "a text file") -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise GraderError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise GraderError(f"{path}: is a folder, not a submission file") from None
    except OSError as exc:
        raise GraderError(f"{path}: cannot read: {exc.strerror}") from None
    if not raw.strip():
        raise GraderError(f"{path}: the file is empty")
    kind = "a PDF" if raw.startswith(b"%PDF") else "a zip archive" if raw.startswith(b"PK\x03\x04") else None
    if kind:
        raise GraderError(f"{path}: not {what} (the file is {kind})")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise GraderError(f"{path}: not {what} (it is not UTF-8 text)") from None


# ------------------------------------------------------------------ magics
def neutralise_magics(source: str, label: str) -> tuple[str | None, list[str]]:
    """Turn IPython-only syntax into no-ops. Returns (source or None to skip, notes)."""
    try:
        ast.parse(source)
        return source, []
    except (SyntaxError, RecursionError, MemoryError):  # nested too deeply: the worker reports it
        pass
    notes: list[str] = []
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split()[0] if lines[first].lstrip()[2:].split() else ""
        if magic not in _BODY_MAGICS:
            return None, [f"{label}: skipped a `%%{magic}` cell (cell magics other than %%time never run here)"]
        notes.append(f"{label}: ran the body of `%%{magic}` once, without the magic")
        lines[first] = ""
    out = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        assign = _ASSIGN_MAGIC.match(line)
        if stripped.startswith(("%", "!")):
            notes.append(f"{label}, line {number}: skipped `{stripped[:60]}` (IPython magics and shell commands never run here)")
            out.append(indent + "pass")
        elif assign:
            notes.append(f"{label}, line {number}: skipped `{stripped[:60]}`; {assign.group(2)} is set to None")
            out.append(f"{assign.group(1)}{assign.group(2)} = None")
        elif _HELP_LINE.match(line):
            notes.append(f"{label}, line {number}: skipped the help request `{stripped[:60]}`")
            out.append(indent + "pass")
        else:
            out.append(line)
    return "\n".join(out), notes


# ------------------------------------------------------------------ loaders
def load_notebook(path: Path) -> Submission:
    import nbformat  # imported here: `grader check x.py` need not pay for it

    text = read_text(path, "a Jupyter notebook")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraderError(f"{path}: not a Jupyter notebook (invalid JSON: {exc.msg} at line {exc.lineno})") from None
    except RecursionError:  # a hostile file must not take the grader down
        raise GraderError(f"{path}: not a Jupyter notebook (JSON nested too deeply)") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise GraderError(f"{path}: not a Jupyter notebook (no cells)")
    notes: list[str] = []
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises many types for malformed notebooks
        raise GraderError(f"{path}: not a readable Jupyter notebook ({type(exc).__name__}: {str(exc)[:200]})") from None
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        notes.append(f"the notebook does not fully validate ({exc.message[:120]}); graded anyway")
    units: list[Unit] = []
    files: dict[str, str] = {}
    for number, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        label = f"cell {number}"
        runnable, cell_notes = neutralise_magics(source, label)
        notes.extend(cell_notes)
        if runnable is None or not runnable.strip():
            continue
        filename = f"<{label}>"
        files[filename] = runnable
        units.append(Unit(label=label, filename=filename, source=runnable))
    return Submission(path=path, kind="notebook", units=units, notes=notes, files=files)


def load_module(path: Path) -> Submission:
    text = read_text(path)
    filename = path.name
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "somewhere"
        return Submission(path=path, kind="module", units=[], files={filename: text},
                          syntax_error=f"SyntaxError in {filename}, {where}: {exc.msg}")
    except (RecursionError, MemoryError):
        return Submission(path=path, kind="module", units=[], files={filename: text},
                          syntax_error=f"SyntaxError in {filename}: the code is nested too deeply to be parsed")
    lines = text.splitlines(keepends=True)
    units = []
    for stmt in tree.body:
        start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
        end = stmt.end_lineno or stmt.lineno
        units.append(Unit(label=f"line {start}", filename=filename, source="".join(lines[start - 1 : end]),
                          first_line=start))
    return Submission(path=path, kind="module", units=units, files={filename: text})


@grader.hookimpl(trylast=True)
def grader_load_submission(path: Path) -> Submission | None:
    suffix = path.suffix.lower()
    if suffix == ".ipynb":
        return load_notebook(path)
    if suffix == ".py":
        return load_module(path)
    return None


def load_submission(path: Path, pm) -> Submission:
    """Load through the plugins; a file no loader takes is a user error."""
    if not path.exists():
        raise GraderError(f"{path}: no such file")
    submission = pm.hook.grader_load_submission(path=path)
    if submission is None:
        raise GraderError(f"{path}: not a submission the grader can read (expected a .py module or a .ipynb notebook)")
    return submission
