"""The built-in report formats: terminal text, self-contained HTML, Markdown and JSON.

Renderers read only the plain result dict (the JSON of INTERFACES.md); the text, HTML and
Markdown layouts are Jinja2 templates in ``templates/`` (HTML autoescaped).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import grader

FORMATS = ("text", "json", "html", "md")
_TEMPLATES = {"text": "report.txt.j2", "html": "report.html.j2", "md": "report.md.j2"}
_COLORS = {"green": "32", "red": "31", "yellow": "33", "cyan": "36", "bold": "1", "dim": "2"}
SYMBOLS = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "-"}


@functools.lru_cache(maxsize=None)
def environment():
    from importlib import resources

    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.files("grader.templates"))),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters["points"] = format_points
    env.filters["indent_lines"] = lambda text, n=6: "\n".join(" " * n + line for line in str(text).splitlines())
    env.globals["symbols"] = SYMBOLS
    return env


def format_points(x: Any) -> str:
    x = float(x)
    return f"{x:g}" if x == round(x, 2) else f"{x:.2f}"


def render(result: dict[str, Any], fmt: str, color: bool = False) -> str:
    if fmt == "json":
        return json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    template = environment().get_template(_TEMPLATES[fmt])

    def paint(text: Any, name: str) -> str:
        return f"\033[{_COLORS[name]}m{text}\033[0m" if color else str(text)

    return template.render(r=result, paint=paint)


@grader.hookimpl
def grader_report_formats():
    return list(FORMATS)


@grader.hookimpl(trylast=True)
def grader_render_report(result: dict[str, Any], fmt: str, color: bool) -> str | None:
    if fmt not in FORMATS:
        return None
    return render(result, fmt, color)
