"""Where a key of a TOML file is written, so that an error can name its line.

:mod:`tomllib` gives values without positions; this reads the text once more, line by
line, and remembers the first line of every table header (``[exercises.tensor_ops]``)
and of every ``key = value`` (keys dotted or quoted, inline tables included), by the
full path of the key. It is a reader for error messages, not a parser: a key it cannot
place gets the line of the nearest table it can.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\[?\s*(?P<keys>[^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = r'(?:"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_\-]+)'
_ASSIGN = re.compile(rf"^\s*(?P<keys>{_KEY}(?:\s*\.\s*{_KEY})*)\s*=")
_INLINE_KEY = re.compile(rf"(?P<key>{_KEY})\s*=")


def split_keys(text: str) -> tuple[str, ...]:
    """``a."b.c".d`` -> ``("a", "b.c", "d")``."""
    return tuple(k.strip().strip("\"'") for k in re.findall(rf"\s*({_KEY})\s*(?:\.|$)", text))


class KeyLines:
    """``lines.of("exercises", "tensor_ops", "points")`` -> the line it is written on."""

    def __init__(self, text: str):
        self.first: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                table = split_keys(header["keys"])
                self.first.setdefault(table, number)
                continue
            assign = _ASSIGN.match(line)
            if not assign:
                continue
            path = table + split_keys(assign["keys"])
            self.first.setdefault(path, number)
            rest = line[assign.end():]
            if "{" in rest:  # an inline table: its keys are on this line too
                for inner in _INLINE_KEY.finditer(rest):
                    self.first.setdefault(path + (inner["key"].strip("\"'"),), number)

    def of(self, *path: str) -> int | None:
        """The line of ``path``, else of the longest part of it that is found."""
        for end in range(len(path), 0, -1):
            if tuple(path[:end]) in self.first:
                return self.first[tuple(path[:end])]
        return None
