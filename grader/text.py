"""Text that comes from a submission or from the sandbox, made safe once, where it enters.

Student code controls exception messages, printed output, file names and notebook
contents: any of them may hold lone surrogates (``"\\ud800"``, which no encoder writes),
bytes that are not UTF-8, or control characters. :func:`clean` makes a string encodable
(lone surrogates and undecodable bytes become U+FFFD); reports then escape what their
format needs (control characters in text, Markdown syntax, HTML).
"""

from __future__ import annotations

import os
import re

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """``text`` with every lone surrogate (also those ``surrogateescape`` made of bytes
    that are not UTF-8) replaced by U+FFFD; valid text is returned unchanged."""
    if not isinstance(text, str):
        text = str(text)
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def clean_path(path: str | bytes | os.PathLike) -> str:
    """A file name as text for reports: bytes that are not UTF-8 become U+FFFD."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", "replace")


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
#: advice in library error messages that would make a student's code unsafe to run
_UNSAFE_ADVICE = (
    re.compile(r"\(1\) In PyTorch 2\.6.*?(?=\(2\)|WeightsUnpickler error|$)", re.S),
    re.compile(r"\(2\) Alternatively, to load with `weights_only=True` please check the recommended steps in the "
               r"following error message\.\s*", re.S),
    re.compile(r"[^.\n]*weights_only[`=\s]*(set to\s*)?`?False`?[^.\n]*\.\s*", re.S),
    re.compile(r"This file can still be loaded, to do so you have two options,[^.]*\.\s*", re.S),
    re.compile(r"Please use `torch\.serialization\.add_safe_globals.*?if you trust this class/function\.\s*", re.S),
)


def student_message(text: str) -> str:
    """A library's error message as a student should read it: terminal escape sequences
    removed, and advice that would make the code unsafe (torch's "re-run with
    weights_only=False") cut out."""
    text = _ANSI.sub("", clean(text))
    for pattern in _UNSAFE_ADVICE:
        text = pattern.sub("", text)
    return re.sub(r"[ \t]+\n", "\n", text).strip()
