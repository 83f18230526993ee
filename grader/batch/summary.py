"""The instructor's ``summary.html``: score distributions as inline SVG, the most
frequent failed checks and hints, the submissions that errored or timed out, and every
student with a link to their feedback. Self-contained (inline CSS and SVG, no script),
rendered by ``templates/summary.html.j2`` with autoescaping."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import grader
from grader.cache import write_text_atomic

FILENAME = "summary.html"
CHART_W, CHART_H, BINS = 420, 150, 10


def histogram(scores: Sequence[float], maximum: float, bins: int = BINS) -> dict[str, Any]:
    """Bars for an SVG histogram of ``scores`` on [0, maximum] (the last bin includes maximum)."""
    maximum = float(maximum) or 1.0
    counts = [0] * bins
    for s in scores:
        index = min(bins - 1, max(0, int(float(s) / maximum * bins)))
        counts[index] += 1
    top = max(counts) or 1
    left, bottom, plot_w, plot_h = 34, CHART_H - 22, CHART_W - 44, CHART_H - 34
    slot = plot_w / bins
    bars = []
    for i, c in enumerate(counts):
        h = plot_h * c / top
        lo, hi = maximum * i / bins, maximum * (i + 1) / bins
        bars.append({"x": round(left + i * slot + 1, 1), "y": round(bottom - h, 1), "w": round(slot - 2, 1),
                     "h": round(h, 1), "count": c,
                     "label": f"[{lo:g}–{hi:g}{']' if i == bins - 1 else ')'}: {c} student(s)"})
    ticks = [{"x": round(left + i * slot, 1), "label": f"{maximum * i / bins:g}"} for i in range(0, bins + 1, 2)]
    return {"bars": bars, "ticks": ticks, "top": top, "width": CHART_W, "height": CHART_H, "left": left,
            "bottom": bottom, "plot_w": plot_w, "plot_h": plot_h}


def _stats(scores: list[float]) -> dict[str, Any]:
    if not scores:
        return {"n": 0, "mean": None, "median": None, "min": None, "max": None}
    return {"n": len(scores), "mean": statistics.fmean(scores), "median": statistics.median(scores),
            "min": min(scores), "max": max(scores)}


def _failures(scored: Sequence[dict[str, Any]]) -> tuple[Counter, dict[tuple[str, str], str], Counter]:
    """How many students failed each check, the checks' names, and how many students got
    each hint (a hint given on several checks of one student counts once)."""
    failed: Counter = Counter()
    names: dict[tuple[str, str], str] = {}
    hinted: dict[tuple[str, str], set[str]] = {}
    for r in scored:
        for x in r["exercises"]:
            for c in x.get("checks", []):
                if c["status"] in ("failed", "error"):
                    failed[(x["id"], c["id"])] += 1
                    names[(x["id"], c["id"])] = c["name"]
                if c.get("hint") and c["status"] != "passed":
                    hinted.setdefault((x["id"], c["hint"]), set()).add(r["student"])
    return failed, names, Counter({key: len(students) for key, students in hinted.items()})


def build_context(records: Sequence[dict[str, Any]], inventory, exercises, interrupted: bool = False) -> dict:
    from grader.batch.course import course_columns

    scored = [r for r in records if r["batch"]["has_score"]]
    # with an assignment, scores are its points (weighted, adjusted, after the late penalty)
    max_total = max((float(r["max_score"]) for r in scored), default=sum(float(e.points) for e in exercises))
    per_exercise = []
    for e in exercises:
        rows = [x for r in scored for x in r["exercises"] if x["id"] == e.id]
        scores = [float(x["score"]) for x in rows]
        maximum = max((float(x["max_score"]) for x in rows), default=float(e.points))
        per_exercise.append({"id": e.id, "title": e.title, "max": maximum, **_stats(scores),
                             "not_attempted": sum(1 for x in rows if x["status"] == "not_attempted"),
                             "errors": sum(1 for x in rows if x["status"] == "error"),
                             "chart": histogram(scores, maximum)})
    failed, check_names, hints = _failures(scored)
    n_scored = len(scored) or 1
    links = {r["student"]: ("feedback/" + quote(r["student"]) + ".html") if r["batch"]["feedback"] else None
             for r in records}
    totals = [float(r["score"]) for r in scored]
    return {
        "grader_version": grader.__version__,
        "generated": time.strftime("%Y-%m-%d %H:%M"),
        "layout": inventory.layout, "source": inventory.source, "interrupted": interrupted,
        "n": len(records), "n_scored": len(scored), "max_total": max_total,
        "status_counts": Counter(r["batch"]["status"] for r in records).most_common(),
        "total": {**_stats(totals), "chart": histogram(totals, max_total)},
        "exercises": per_exercise,
        "failed_checks": [{"exercise": k[0], "check": k[1], "name": check_names[k], "count": v,
                           "share": v / n_scored} for k, v in failed.most_common(15)],
        "hints": [{"exercise": k[0], "hint": k[1], "count": v} for k, v in hints.most_common(10)],
        "problems": [{"student": r["student"], "name": r["batch"]["name"], "status": r["batch"]["status"],
                      "message": r["batch"]["message"], "link": links[r["student"]]}
                     for r in records if r["batch"]["status"] != "graded"],
        "attention": [{"student": r["student"], "notes": r["batch"]["notes"], "link": links[r["student"]]}
                      for r in records if r["batch"]["notes"]],
        "students": [{"student": r["student"], "name": r["batch"]["name"], "status": r["batch"]["status"],
                      "score": r["score"] if r["batch"]["has_score"] else None, "max_score": r["max_score"],
                      "exercises": {x["id"]: x["score"] for x in r["exercises"]} if r["batch"]["has_score"] else {},
                      "late": r["batch"]["late"], "link": links[r["student"]], "course": course_columns(r)}
                     for r in records],
        "course": any(r.get("assignment") for r in records),
        "late_unknown": [{"student": r["student"], "link": links[r["student"]], "late": r["batch"]["late"]}
                         for r in records if (r.get("assignment") or {}).get("lateness", {}).get("status")
                         == "unknown"],
        "exercise_ids": [e.id for e in exercises],
        "strays": inventory.strays, "notes": inventory.notes,
    }


def write_summary(out: Path, records, inventory, exercises, interrupted: bool = False) -> Path:
    from grader.report import environment

    html = environment().get_template("summary.html.j2").render(
        s=build_context(records, inventory, exercises, interrupted))
    path = Path(out) / FILENAME
    write_text_atomic(path, html)
    return path
