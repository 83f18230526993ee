"""Reading a student's file into runnable units: the built-in ``.py`` and ``.ipynb`` loaders.

Loading only parses; nothing here runs student code. Both loaders make one unit per
top-level statement, so that a statement that fails, hangs or crashes is skipped and the
rest is still graded: a notebook's code cell is split after its IPython magics and
``!shell`` lines are turned into no-ops (a cell that does not parse stays one unit, and
the worker reports its syntax error with the line). Units keep the cell's label
(``"cell 3"``) and the statement's line in it, so tracebacks read "cell 3, line 5".

All of it is the student's text, made safe here, where it enters: a file too costly to
read is a :class:`GraderError` before it is parsed (docs/limits.md), and a notebook's
JSON is read by :mod:`grader.notebook` (only the code cells' sources go further).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import grader
from grader.errors import GraderError
from grader.sandbox.limits import human_bytes
from grader.text import display_name

#: Limits on what the trusted side parses (docs/limits.md; the notebook's own are in grader.notebook)
MAX_CODE_BYTES = 512 * 1024  # the code of a module, or of all of a notebook's code cells: ~1 KB a token parsed
MAX_UNITS = 10_000  # top-level statements
MAX_NOTES = 50  # notes on skipped cells and magics: a report lists at most these

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


def read_bytes(path: Path, what: str = "a text file", limit: int | None = None) -> bytes:
    """The file's bytes; a file that is missing, empty, larger than ``limit`` or plainly
    something else (a PDF, a zip) is a :class:`GraderError`."""
    try:
        size = path.stat().st_size
        if limit is not None and size > limit:
            raise GraderError(f"{path}: too large to grade ({human_bytes(size)}; the grader reads files of at most "
                              f"{human_bytes(limit)})")
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
    return raw


def read_text(path: Path, what: str = "a text file", limit: int | None = None) -> str:
    """The file as text (UTF-8, a byte-order mark allowed; newlines as ``\\n``, lone
    surrogates of ``\\ud800`` escapes impossible here)."""
    raw = read_bytes(path, what, limit)
    try:
        return newlines(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise GraderError(f"{path}: not {what} (it is not UTF-8 text)") from None


# ------------------------------------------------------------------ magics
def neutralise_magics(source: str, label: str) -> tuple[str | None, list[str]]:
    """Turn IPython-only syntax into no-ops. Returns (source or None to skip, notes)."""
    try:
        ast.parse(source)
        return source, []
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # nested too deeply: the worker reports it
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
            notes.append(f"{label}, line {number}: skipped `{stripped[:60]}` (IPython magics and shell commands "
                         "never run here)")
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


# ------------------------------------------------------------------ limits
def _check_code_size(sources: list[str], path: Path) -> None:
    """Refuse more code than the grader parses: a parsed token costs it about a kilobyte."""
    size = sum(len(source.encode("utf-8", "replace")) for source in sources)
    if size > MAX_CODE_BYTES:
        raise GraderError(f"{path}: too much code to grade ({human_bytes(size)}; the grader reads at most "
                          f"{human_bytes(MAX_CODE_BYTES)} of code)")


def _check_unit_count(units: list[Unit], path: Path) -> None:
    if len(units) > MAX_UNITS:
        raise GraderError(f"{path}: too many top-level statements to grade ({len(units):,}; the grader runs at most "
                          f"{MAX_UNITS:,})")


def _at_most(notes: list[str], limit: int) -> list[str]:
    if len(notes) <= limit:
        return notes
    return notes[:limit] + [f"... and {len(notes) - limit:,} more notes like these"]


# ------------------------------------------------------------------ statements
def _lines(source: str) -> list[str]:
    """The lines of ``source`` with their endings, numbered as Python numbers them (only
    ``\\n`` ends a line once :func:`newlines` has run; form feeds and U+2028 do not)."""
    lines = [line + "\n" for line in source.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines


def newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse(source: str, filename: str = "<unknown>") -> ast.Module | None:
    """The syntax tree of ``source``, or None when it does not parse (nested too deeply
    included): such code runs whole, and the worker reports the error with its line."""
    try:
        return ast.parse(source, filename=filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def statement_spans(tree: ast.Module) -> list[tuple[int, int]]:
    """The (first, last) lines of each top-level statement (decorators included;
    statements that share a line, ``a = 1; b = 2``, stay together)."""
    spans: list[tuple[int, int]] = []
    for stmt in tree.body:
        start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
        end = stmt.end_lineno or stmt.lineno
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def statement_units(source: str, filename: str, tree: ast.Module | None, label) -> list[Unit]:
    """One unit per top-level statement of ``source`` (``label(first_line)`` names it);
    the whole source as one unit when it did not parse (``tree`` is None)."""
    if tree is None:
        return [Unit(label=label(1), filename=filename, source=source)]
    lines = _lines(source)
    return [Unit(label=label(start), filename=filename, source="".join(lines[start - 1 : end]), first_line=start)
            for start, end in statement_spans(tree)]


# ------------------------------------------------------------------ loaders
def load_notebook(path: Path) -> Submission:
    from grader.live import is_live_check
    from grader.notebook import read_code_cells

    code, notes = read_code_cells(path)
    _check_code_size([source for _, source in code], path)
    units: list[Unit] = []
    files: dict[str, str] = {}
    for number, source in code:
        label = f"cell {number}"
        runnable, cell_notes = neutralise_magics(source, label)
        notes.extend(cell_notes)
        if runnable is None or not runnable.strip():
            continue
        filename = f"<{label}>"
        files[filename] = runnable
        cell_units = statement_units(runnable, filename, parse(runnable), lambda line, label=label: label)
        notes += [f"{label}, line {u.first_line}: skipped `{u.source.strip()[:60]}` (a live check runs in your "
                  f"notebook, not when the notebook is graded)" for u in cell_units if is_live_check(u.source)]
        units += [u for u in cell_units if not is_live_check(u.source)]
    _check_unit_count(units, path)
    return Submission(path=path, kind="notebook", units=units, notes=_at_most(notes, MAX_NOTES), files=files)


# ------------------------------------------------------------------ modules
def load_module(path: Path) -> Submission:
    text = read_text(path, limit=MAX_CODE_BYTES)
    filename = display_name(path.name)
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "somewhere"
        return Submission(path=path, kind="module", units=[], files={filename: text},
                          syntax_error=f"SyntaxError in {filename}, {where}: {exc.msg}")
    except (ValueError, RecursionError, MemoryError):
        return Submission(path=path, kind="module", units=[], files={filename: text},
                          syntax_error=f"SyntaxError in {filename}: the code is nested too deeply to be parsed")
    units = statement_units(text, filename, tree, lambda line: f"line {line}")
    _check_unit_count(units, path)
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
