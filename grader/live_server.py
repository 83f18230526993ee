"""The grading helper of live checks: ``python -I -m grader.live_server``.

A notebook's kernel (:mod:`grader.live`) starts it once and sends it one JSON line per
check: ``{"cells": [[execution count, source], ...], "exercises": [ids],
"assignment": path or null}``. It answers one JSON line: ``{"ok": true, "score",
"max_score", "result", "html", "text"}`` or ``{"ok": false, "error"}``. This process is
the trusted side: it never runs student code itself, and grades the cells exactly as
``grader check`` grades a saved notebook (the cells written to a private notebook file,
loaded by the same loader, run in the same sandbox from a warm worker kept between
checks, judged here). It ends at the end of its input, that is with the kernel.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from grader.errors import GraderError

MAX_CELLS = 5000
LABEL_NOTE = "live check of the cells run so far: cell N is the cell you ran as [N]"


def cells_of(request: dict[str, Any]) -> list[tuple[int, str]]:
    """The request's cells, checked: plain (number, text) pairs, numbers increasing."""
    cells = request.get("cells")
    if not isinstance(cells, list) or len(cells) > MAX_CELLS:
        raise GraderError("the notebook sent no cells the grader can read")
    found, last = [], 0
    for item in cells:
        if (not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], int)
                or not isinstance(item[1], str) or item[0] <= last):
            raise GraderError("the notebook sent cells the grader cannot read")
        found.append((item[0], item[1]))
        last = item[0]
    return found


def write_notebook(cells: list[tuple[int, str]], path: Path) -> Path:
    """A notebook whose cell N is the cell run as [N] (empty cells fill the gaps)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    sources = dict(cells)
    nb.cells = [nbformat.v4.new_code_cell(sources.get(n, "")) for n in range(1, max(sources, default=0) + 1)]
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


def inline_html(document: str) -> str:
    """The HTML report as a fragment for a notebook's output: its body in a ``div``, its
    stylesheet scoped to that ``div`` (the report's ``body`` rules must not restyle the
    notebook around it)."""
    style = re.search(r"<style>(.*?)</style>", document, re.S)
    body = re.search(r"<body>(.*)</body>", document, re.S)
    rules = []
    for rule in (style.group(1) if style else "").split("}"):
        if "{" not in rule:
            continue
        selectors, declarations = rule.split("{", 1)
        scoped = [".grader-live" if s.strip() == "body" else f".grader-live {s.strip()}"
                  for s in selectors.split(",") if s.strip()]
        rules.append(f"{', '.join(scoped)} {{{declarations}}}")
    return (f'<div class="grader-live"><style>{" ".join(rules)}</style>'
            f'{body.group(1) if body else document}</div>')


class LiveGrader:
    """Grades requests with one warm worker pool kept for the helper's life."""

    def __init__(self, pm=None):
        from grader.engine import exercise_registry
        from grader.plugins import get_plugin_manager
        from grader.sandbox.launch import WorkerPool

        self.pm = pm or get_plugin_manager()
        self.registry = exercise_registry(self.pm)
        self.pool = WorkerPool(1, preload=sorted({e.module for e in self.registry.values()}), warm=True)

    def close(self) -> None:
        self.pool.close()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        from grader.assignment import limits_for, open_assignment, select_for
        from grader.engine import grade_submission
        from grader.options import resolve_device
        from grader.scoring import apply_assignment
        from grader.submission import load_submission

        cells = cells_of(request)
        ids = request.get("exercises") or None
        if ids is not None and not all(isinstance(i, str) for i in ids):
            raise GraderError("exercise ids must be text, e.g. grader.check(\"tensor_ops\")")
        assignment = open_assignment(request.get("assignment"), self.pm) if request.get("assignment") else None
        exercises = select_for(assignment, self.registry, ids)
        device = resolve_device(self.pm, (assignment.device if assignment else None) or "cpu")
        with tempfile.TemporaryDirectory(prefix="grader-live-") as folder:
            submission = load_submission(write_notebook(cells, Path(folder) / "live.ipynb"), self.pm)
        result = grade_submission(submission, exercises, device=device, limits=limits_for(assignment),
                                  display_path="the cells run so far", pool=self.pool).to_dict()
        result["notes"] = [LABEL_NOTE, *result["notes"]]
        if assignment is not None:
            result = apply_assignment(result, assignment)
        render = self.pm.hook.grader_render_report
        return {"ok": True, "score": result["score"], "max_score": result["max_score"], "result": result,
                "html": inline_html(render(result=result, fmt="html", color=False)),
                "text": render(result=result, fmt="text", color=False)}


def serve(stdin, reply_to) -> None:
    grader = LiveGrader()
    try:
        for line in stdin:
            try:
                answer = grader.handle(json.loads(line))
            except GraderError as exc:
                answer = {"ok": False, "error": str(exc)}
            except ValueError:
                answer = {"ok": False, "error": "the notebook sent a request the grader cannot read"}
            except Exception as exc:  # noqa: BLE001 - a bug in the grader: one line, and keep serving
                answer = {"ok": False, "error": f"internal error in the grader ({type(exc).__name__}: {exc})"}
            reply_to.write(json.dumps(answer) + "\n")
            reply_to.flush()
    finally:
        grader.close()


def main() -> int:
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # anything else printed goes to stderr, not the pipe
    serve(sys.stdin, replies)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
