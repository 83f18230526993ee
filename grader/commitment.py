"""A commitment to a whole result, opened at a few rows later: how a timed call proves
that its result was complete when the clock stopped.

Inside the measured window, the worker hashes every row of the result into a Merkle tree
and sends only the root; the runner stops the clock when the root arrives and only then
draws which rows to open. The worker sends those rows with their paths up the tree, and
the trusted side checks each path against the root and each row against values it
computes itself. Nothing computed after the clock stopped can match the root, and no
row can be chosen in advance. Pure functions, used on both sides.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

DIGEST = 16  # bytes of each BLAKE2b hash


def _hash(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=DIGEST).digest()


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([_hash(below[i] + below[i + 1]) if i + 1 < len(below) else below[i]
                       for i in range(0, len(below), 2)])
    return levels


@dataclass
class Tree:
    """The Merkle tree over the rows of one result."""

    levels: list[list[bytes]]

    @classmethod
    def of_rows(cls, rows: list[bytes]) -> Tree:
        return cls(_levels([_hash(row) for row in rows] or [_hash(b"")]))

    @property
    def root(self) -> str:
        return self.levels[-1][0].hex()

    def path(self, index: int) -> list[str]:
        """The sibling hashes from row ``index`` up to the root ('' where there is none)."""
        found = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            found.append(level[sibling].hex() if sibling < len(level) else "")
            index //= 2
        return found


def verify(root: str, index: int, row: bytes, path: list[str]) -> bool:
    """Whether ``row`` is row ``index`` of the result whose tree has this ``root``."""
    try:
        node = _hash(row)
        for sibling in path:
            if sibling:
                other = bytes.fromhex(sibling)
                node = _hash(other + node) if index % 2 else _hash(node + other)
            index //= 2
        return node.hex() == root
    except (ValueError, TypeError):
        return False
