"""Progress of a batch on stderr: a redrawn bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Counts graded, reused (cache) and problem submissions; estimates the time left
    from the pace of the submissions actually graded in this run."""

    def __init__(self, total: int, to_grade: int, stream: TextIO | None = None, mode: str = "auto"):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "lines"
        self.mode = mode  # bar, lines or none
        self.total = total
        self.to_grade = to_grade
        self.done = 0
        self.graded = 0
        self.cached = 0
        self.problems = 0
        self.started = time.monotonic()
        self._last_draw = 0.0

    # ------------------------------------------------------------------ events
    def reused(self, count: int) -> None:
        """Submissions taken from the cache (counted once, before grading starts)."""
        self.cached += count
        self.done += count
        if count and self.mode == "lines":
            self._line(f"{count} unchanged submission(s) taken from the cache")

    def advance(self, student: str, status: str, score: str = "") -> None:
        self.done += 1
        self.graded += 1
        if status != "graded":
            self.problems += 1
        if self.mode == "lines":
            detail = f"{score} " if score else ""
            self._line(f"[{self.done:>{len(str(self.total))}}/{self.total}] {student}: {detail}{status}"
                       f"  (eta {self.eta()})")
        elif self.mode == "bar":
            self.draw()

    def eta(self) -> str:
        left = self.to_grade - self.graded
        if left <= 0:
            return "0:00"
        if not self.graded:
            return "?"
        return format_duration((time.monotonic() - self.started) / self.graded * left)

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return 60.0 * self.graded / elapsed if elapsed > 0 else 0.0

    # ------------------------------------------------------------------ output
    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def draw(self, force: bool = False) -> None:
        if self.mode != "bar":
            return
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        width = shutil.get_terminal_size((80, 20)).columns
        counts = (f" {self.done}/{self.total}  graded {self.graded}  cached {self.cached}  "
                  f"problems {self.problems}  {self.rate():.0f}/min  eta {self.eta()}")
        bar_width = max(10, min(30, width - 70))  # a fixed width, so the bar does not jitter
        filled = int(bar_width * self.done / self.total) if self.total else bar_width
        self.stream.write("\r[" + "#" * filled + "-" * (bar_width - filled) + "]" + counts[: width - bar_width - 3]
                          + "\033[K")
        self.stream.flush()

    def finish(self) -> None:
        if self.mode == "bar":
            self.draw(force=True)
            self.stream.write("\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        """A line that is not progress (warnings, the final counts)."""
        if self.mode == "none":
            return
        if self.mode == "bar":
            self.stream.write("\r\033[K")
        self._line(text)
        if self.mode == "bar" and self.done < self.total:
            self.draw(force=True)
