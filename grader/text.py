"""Text that comes from a submission or from the sandbox, made safe once, where it enters.

Student code controls exception messages, printed output, file names and notebook
contents: any of them may hold lone surrogates (``"\\ud800"``, which no encoder writes),
bytes that are not UTF-8, or control characters. :func:`clean` makes a string encodable
(lone surrogates and undecodable bytes become U+FFFD) and :func:`display_name` does it for
file names (the real path is kept for opening the file); :func:`printable` shows control
characters escaped, for everything written to a terminal or a file (reports, CSV), and
the reports then escape what their format needs (Markdown syntax, HTML).
:func:`student_message` cleans a library's error message; :func:`article` picks "a" or
"an" for the type names that messages build.
"""

from __future__ import annotations

import functools
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
    try:
        raw = os.fsencode(path)
    except UnicodeEncodeError:  # a lone surrogate that no file system byte made
        return clean(str(os.fspath(path)))
    return raw.decode("utf-8", "replace")


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
#: sentences of library error messages that would make a student's code unsafe (torch's
#: advice to load with weights_only=False, or to allow-list a class)
_UNSAFE_SENTENCES = ("weights_only` set to `False", "weights_only=False", "This file can still be loaded",
                     "two options", "add_safe_globals", "safe_globals(", "In PyTorch 2.6, we changed the default",
                     "(2) Alternatively", "Do it only if you got the file from a trusted source")


def _sentences(text: str) -> list[str]:
    """``text`` cut after each line break and each full stop that ends a sentence (one
    followed by a space), in linear time, nothing dropped (``torch.load`` stays whole)."""
    parts, start, size = [], 0, len(text)
    for index, char in enumerate(text):
        if char == "\n" or (char == "." and (index + 1 == size or text[index + 1] in " \t")):
            parts.append(text[start:index + 1])
            start = index + 1
    parts.append(text[start:])
    return parts


def student_message(text: str) -> str:
    """A library's error message as a student should read it: terminal escape sequences
    removed, and advice that would make the code unsafe (torch's "re-run with
    weights_only=False", "allow-list this class") cut out. Linear in the text's length."""
    text = _ANSI.sub("", clean(text))
    if "weights_only" in text or "safe_globals" in text:
        text = "".join(s if not any(u in s for u in _UNSAFE_SENTENCES) else "\n" * s.endswith("\n")
                       for s in _sentences(text))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


# ------------------------------------------------------------------ showing student text
#: characters a terminal or viewer acts on instead of showing: C0 controls but tab and
#: newline, DEL, C1 controls, the Unicode line separators and the bidirectional overrides
#: ("Trojan source" reordering)
_CONTROL_CHARS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


@functools.cache
def _controls(keep: str) -> re.Pattern:
    return re.compile(f"[{_CONTROL_CHARS}{''.join(c for c in chr(10) + chr(9) if c not in keep)}]")


def _escaped(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str, keep: str = "\n\t") -> str:
    """``text`` (cleaned) with every control character shown escaped (ESC reads ``\\x1b``,
    a carriage return ``\\r``), so that student text printed to a terminal or written to
    a file can neither move the cursor, clear the screen nor overwrite a line. Windows
    line endings become newlines; tab and newline are kept unless left out of ``keep``."""
    return _controls(keep).sub(_escaped, clean(text).replace("\r\n", "\n"))


def display_name(name: str | bytes | os.PathLike) -> str:
    """A file name as the grader shows and writes it: undecodable bytes as U+FFFD and
    control characters (newlines included) escaped. Open files by their real path."""
    return printable(clean_path(name), keep="")


def article(word: str) -> str:
    """``"an"`` or ``"a"`` for a type or kind name: an int, an ndarray, a uint8, a list."""
    lowered = str(word).lower()
    if lowered.startswith(("uint", "uni", "use", "usu", "one")):
        return "a"
    return "an" if lowered[:1] in ("a", "e", "i", "o", "u") or lowered.startswith(("nd", "mlp", "nn.")) else "a"


def with_article(word: str) -> str:
    """``word`` after its indefinite article: ``with_article("int")`` is ``"an int"``."""
    return f"{article(word)} {word}"
