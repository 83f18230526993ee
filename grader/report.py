"""The built-in report formats: terminal text, self-contained HTML, Markdown and JSON.

Renderers read only the plain result dict (the JSON of docs/interfaces.md); the text, HTML and
Markdown layouts are Jinja2 templates in ``templates/``. Everything in a result may be the
student's text, so before a template sees it every string is cleaned and its control
characters are shown escaped (:func:`grader.text.printable`: an escape sequence cannot
clear the screen and print a fake total); then each format escapes what it needs:
the text layout indents every continuation line, Markdown escapes inline text
(:func:`markdown_text`) and fences blocks with a fence longer than any run of backticks
inside (:func:`markdown_fence`), HTML is autoescaped. A note that repeats a cell's error
is left out: each error is shown once.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import grader
from grader.text import clean, printable

FORMATS = ("text", "json", "html", "md")
_TEMPLATES = {"text": "report.txt.j2", "html": "report.html.j2", "md": "report.md.j2"}
_COLORS = {"green": "32", "red": "31", "yellow": "33", "cyan": "36", "bold": "1", "dim": "2"}
SYMBOLS = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "-"}


@functools.cache
def environment():
    from importlib import resources

    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.files("grader.templates"))),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        finalize=lambda value: clean(value) if isinstance(value, str) else value,  # no template writes a surrogate
    )
    env.filters["points"] = format_points
    env.filters["indent_lines"] = lambda text, n=6: "\n".join(" " * n + line for line in str(text).split("\n"))
    env.filters["inline"] = lambda text, n=4: str(text).replace("\n", "\n" + " " * n)
    env.filters["md"] = markdown_text
    env.filters["fenced"] = markdown_fence
    env.globals["symbols"] = SYMBOLS
    return env


def format_points(x: Any) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    return f"{x:g}" if x == round(x, 2) else f"{x:.2f}"


# ------------------------------------------------------------------ Markdown
_MD_ALWAYS = re.compile(r"([\\`*\[\]<>!|~&@$]|(?<![^\W_])_|_(?![^\W_]))")  # "_" inside a word is plain
_MD_BLOCK_START = re.compile(r"^(\s*)([-+#>=]|\d+[.)])")
_MD_AUTOLINK = re.compile(r"(?i)(:)(?=//)|(?<=www)(\.)")


def markdown_text(text: Any, starts_line: bool = False) -> str:
    """Student text inside a Markdown line: on one line, with everything Markdown (or
    GitHub's flavour: autolinks, ``$math$``) would read as syntax escaped, so that it can
    open no emphasis, link, image, HTML tag or table cell; ``starts_line`` when it begins
    a line or a list item, where ``1.``, ``-`` or ``#`` would start a block."""
    text = " ".join(str(text).split("\n"))
    text = _MD_AUTOLINK.sub(lambda m: "\\" + m.group(), _MD_ALWAYS.sub(r"\\\1", text))
    if starts_line:
        text = _MD_BLOCK_START.sub(lambda m: f"{m.group(1)}{m.group(2)[:-1]}\\{m.group(2)[-1]}", text)
    return text


def markdown_fence(text: Any) -> str:
    """Student text as a fenced code block whose fence (backticks) is longer than any run
    of backticks inside it, so that nothing inside can close it."""
    text = str(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


# ------------------------------------------------------------------ what templates see
def _printable(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_printable(item) for item in value]
    return value


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(str(key)): _cleaned(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cleaned(item) for item in value]
    return value


def cell_place(cell: dict[str, Any]) -> str:
    """Where a cell's error is: ``"cell 3, line 5"`` (a module's units are already
    labelled by line: ``"line 12"``)."""
    label = str(cell.get("label", ""))
    line = cell.get("line")
    if label.startswith("cell ") and isinstance(line, int) and not isinstance(line, bool):
        return f"{label}, line {line}"
    return label


def for_people(result: dict[str, Any]) -> dict[str, Any]:
    """The result as the text, Markdown and HTML templates read it: every string
    printable, each cell with its place, and no note that repeats what is shown already."""
    view = _printable(result)
    cells = [c for c in view.get("cells") or [] if isinstance(c, dict)]
    for cell in cells:
        cell["where"] = cell_place(cell)
    shown = {str(c.get("message", "")).strip() for c in cells}
    shown |= {str(e.get("message", "")).strip() for e in view.get("exercises") or [] if isinstance(e, dict)}
    shown.discard("")
    notes = []
    for note in view.get("notes") or []:
        text = str(note).strip()
        if text and text not in notes and not any(text in message for message in shown):
            notes.append(text)
    view["cells"], view["notes"] = cells, notes
    return view


def render(result: dict[str, Any], fmt: str, color: bool = False) -> str:
    if fmt == "json":
        return json.dumps(_cleaned(result), indent=2, ensure_ascii=False) + "\n"
    template = environment().get_template(_TEMPLATES[fmt])

    def paint(text: Any, name: str) -> str:
        code = _COLORS.get(name)
        return f"\033[{code}m{text}\033[0m" if color and code else str(text)

    return template.render(r=for_people(result), paint=paint)


@grader.hookimpl
def grader_report_formats():
    return list(FORMATS)


@grader.hookimpl(trylast=True)
def grader_render_report(result: dict[str, Any], fmt: str, color: bool) -> str | None:
    if fmt not in FORMATS:
        return None
    return render(result, fmt, color)
