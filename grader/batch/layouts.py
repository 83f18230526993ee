"""Finding the submissions in what an LMS exports, and who handed each one in.

The input is a folder or a ``.zip``. Every file in it ends up in exactly one place of
the :class:`Inventory`: a student's submission (the file graded, or one handed in beside
it), layout metadata, or a stray file (``__MACOSX``, ``.DS_Store``...) with the reason it
was not graded. Nothing is dropped without being listed.

Layouts (``--layout``; ``auto`` picks from the names):

- ``canvas``: ``name[_late]_userid_submissionid_file`` files (Canvas "Download submissions").
- ``moodle``: ``Full Name_participantid_assignsubmission_file_/`` folders (or files with
  that prefix when Moodle was told not to make folders).
- ``gradescope``: ``submission_<id>/`` folders and ``submission_metadata.yml``.
- ``flat``: one file (or one folder) per student, named after the student.

Names are normalised to NFC (macOS zips store NFD) and zip names that were stored as
UTF-8 without the UTF-8 flag are decoded as UTF-8 (names flagged UTF-8 that are not are
read with U+FFFD where they are not). A name is the student's text: every ``rel`` is a
display name (bytes that are not UTF-8 read as U+FFFD, control characters escaped,
:func:`grader.text.display_name`); files are opened by their real ``path``. Members of a
zip are extracted by this module one by one into the staging folder (never ``extractall``): absolute paths, ``..``,
symbolic links and oversized members cannot escape or exhaust it.
"""

from __future__ import annotations

import bisect
import io
import os
import re
import shutil
import stat
import struct
import time
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from grader.errors import GraderError
from grader.text import display_name, printable

LAYOUTS = ("auto", "flat", "canvas", "moodle", "gradescope")
#: Files the grader can take, most preferred first (other files are handed to the loaders too
#: when a student has nothing else, so that the row says why they cannot be read).
GRADABLE_SUFFIXES = (".ipynb", ".py")
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one file inside a zip
MAX_TOTAL_BYTES = 8 * 1024 * 1024 * 1024  # everything extracted from one zip

CANVAS_RE = re.compile(r"^(?P<name>[^/]+?)(?P<late>_late)?_(?P<uid>\d+)(?:_(?P<sid>\d+))?_(?P<file>[^/]+)$",
                       re.IGNORECASE)
MOODLE_RE = re.compile(r"^(?P<name>.+?)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?(?P<file>.*)$")
GRADESCOPE_DIR_RE = re.compile(r"^submission_(?P<id>\d+)$")
GRADESCOPE_METADATA = "submission_metadata.yml"


# ------------------------------------------------------------------ data
@dataclass
class FoundFile:
    """One file of the input."""

    rel: str  # its path inside the input, as the LMS named it ("/"-separated, NFC; a display name)
    path: Path  # where its bytes are on this machine (for a zip: the extracted copy)
    size: int = 0
    mtime: float = 0.0
    problem: str | None = None  # set when the bytes could not be had (too large, unreadable)
    zip_time: str = ""  # a zip member's own time, as the LMS wrote it (ISO 8601, no zone)


@dataclass
class StudentSubmission:
    """What one student (or one group) handed in."""

    key: str  # unique, safe as a file name: the ``student`` column and results/<key>.json
    name: str  # the name as the export gives it
    lms_id: str = ""  # Canvas user id, Moodle participant id, Gradescope submission id
    email: str = ""
    late: bool = False
    files: list[FoundFile] = field(default_factory=list)  # everything handed in
    primary: FoundFile | None = None  # the file that is graded
    notes: list[str] = field(default_factory=list)  # what the instructor should know
    extra: dict[str, str] = field(default_factory=dict)  # layout-specific ids (canvas_submission_id, sid...)
    submitted_at: str = ""  # when it was handed in (ISO 8601; no offset: the LMS's local time); "" when unknown
    time_source: str = ""  # where that time comes from


@dataclass
class Inventory:
    layout: str
    source: str  # the input as given
    submissions: list[StudentSubmission]
    strays: list[tuple[str, str]] = field(default_factory=list)  # (rel, why it is not graded)
    metadata: list[str] = field(default_factory=list)  # layout files read for identity
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"layout": self.layout, "source": self.source, "strays": [list(s) for s in self.strays],
                "metadata": self.metadata, "notes": self.notes,
                "submissions": [{"student": s.key, "name": s.name, "lms_id": s.lms_id, "late": s.late,
                                 "submitted_at": s.submitted_at or None, "time_source": s.time_source,
                                 "graded_file": s.primary.rel if s.primary else None,
                                 "files": [f.rel for f in s.files], "notes": s.notes} for s in self.submissions]}


# ------------------------------------------------------------------ names
def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def shown(name: str | os.PathLike) -> str:
    """A name from the input as the grader shows and writes it (NFC, a display name)."""
    return nfc(display_name(name))


def safe_key(text: str, limit: int = 80) -> str:
    """A file-name-safe student key: letters of any script, digits, ``.``, ``-`` and ``_``."""
    key = re.sub(r"[^\w.\-]+", "_", nfc(text), flags=re.UNICODE)
    key = re.sub(r"_+", "_", key).strip("._-")
    return key[:limit].rstrip("._-") or "student"


def stray_reason(rel: str) -> str | None:
    """Why a file is not a submission (operating-system and tool clutter), or None."""
    parts = rel.split("/")
    base = parts[-1]
    if "__MACOSX" in parts:
        return "macOS archive metadata (__MACOSX)"
    if base == ".DS_Store":
        return "macOS folder metadata (.DS_Store)"
    if base.startswith("._"):
        return "macOS resource fork (._ file)"
    if base.lower() in ("thumbs.db", "desktop.ini"):
        return "Windows folder metadata"
    if ".ipynb_checkpoints" in parts:
        return "Jupyter autosave checkpoint (.ipynb_checkpoints)"
    if "__pycache__" in parts or base.endswith((".pyc", ".pyo")):
        return "Python bytecode cache"
    if any(p in (".git", ".hg", ".svn") for p in parts):
        return "version-control data"
    if base.startswith("~$") or base.endswith("~"):
        return "editor temporary file"
    return None


def _zip_name(info: zipfile.ZipInfo, mislabelled: bool = False) -> str:
    """A member's name; ``mislabelled`` when it was flagged UTF-8 but is not (its bytes
    are then read as UTF-8, what is not becoming U+FFFD)."""
    name = info.filename
    if mislabelled:
        name = name.encode("cp437").decode("utf-8", "replace")
    elif not info.flag_bits & 0x800:  # no UTF-8 flag: zipfile decoded cp437; many tools wrote UTF-8 anyway
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name.replace("\\", "/")


def _clean_rel(name: str) -> tuple[str, bool]:
    """Normalise a member name to a relative path; report whether it tried to escape."""
    parts, unsafe = [], name.startswith("/") or bool(re.match(r"^[A-Za-z]:", name))
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            unsafe = True
            continue
        parts.append(shown(part))
    return "/".join(parts), unsafe


# ------------------------------------------------------------------ reading the input
def read_input(source: Path, staging: Path,
               exclude: Sequence[Path] = ()) -> tuple[list[FoundFile], list[tuple[str, str]], list[str]]:
    """Every file of a folder or a zip, the entries that could not be taken at all (with
    why), and notes about the input."""
    if not source.exists():
        raise GraderError(f"{source}: no such file or folder")
    if source.is_dir():
        return _read_folder(source, exclude)
    if zipfile.is_zipfile(source):
        return _read_zip(source, staging)
    raise GraderError(f"{source}: not a folder or a .zip file")


def _read_folder(source: Path,
                 exclude: Sequence[Path]) -> tuple[list[FoundFile], list[tuple[str, str]], list[str]]:
    found, skipped = [], []
    excluded = {os.path.realpath(p) for p in exclude}
    for dirpath, dirnames, filenames in os.walk(source):
        here = Path(dirpath)
        for d in list(dirnames):
            full = here / d
            if os.path.realpath(full) in excluded:
                dirnames.remove(d)
            elif full.is_symlink():
                dirnames.remove(d)
                skipped.append((shown(full.relative_to(source).as_posix()), "symbolic link, not followed"))
        dirnames.sort()
        for name in sorted(filenames):
            full = here / name
            rel = shown(full.relative_to(source).as_posix())
            if full.is_symlink():
                skipped.append((rel, "symbolic link, not followed"))
                continue
            try:
                st = full.stat()
            except OSError as exc:
                found.append(FoundFile(rel, full, problem=f"cannot read: {exc.strerror}"))
                continue
            if not stat.S_ISREG(st.st_mode):
                skipped.append((rel, "not a regular file"))
                continue
            found.append(FoundFile(rel, full, size=st.st_size, mtime=st.st_mtime))
    return found, skipped, []


def _read_zip(source: Path, staging: Path) -> tuple[list[FoundFile], list[tuple[str, str]], list[str]]:
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    found, skipped, notes = [], [], []
    total = 0
    archive, mislabelled = open_zip(source)
    with archive:
        for index, info in enumerate(archive.infolist()):
            raw = _zip_name(info, index in mislabelled)
            rel, unsafe = _clean_rel(raw)
            if info.is_dir() or not rel:
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                skipped.append((rel, "symbolic link inside the archive, not extracted"))
                continue
            target_dir = staging / f"{index:06d}"
            target_dir.mkdir()
            target = target_dir / _safe_basename(PurePosixPath(rel).name)
            mtime = time.mktime(info.date_time + (0, 0, -1)) if info.date_time[0] >= 1980 else 0.0
            entry = FoundFile(rel, target, size=info.file_size, mtime=mtime,
                              zip_time=_zip_time(info.date_time))
            if unsafe:
                notes.append(f"{raw!r}: unsafe path in the archive (absolute or with ..); read as {rel}")
            if info.file_size > MAX_MEMBER_BYTES:
                entry.problem = f"larger than {MAX_MEMBER_BYTES // (1024 * 1024)} MiB in the archive; not extracted"
            elif total + info.file_size > MAX_TOTAL_BYTES:
                entry.problem = "the archive expands to more than the grader extracts; not extracted"
            else:
                try:
                    written = _extract(archive, info, target, MAX_MEMBER_BYTES)
                    total += written
                    entry.size = written
                except _TooLarge:
                    entry.problem = f"expands to more than {MAX_MEMBER_BYTES // (1024 * 1024)} MiB; not extracted"
                except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError,
                        ValueError) as exc:
                    entry.problem = f"cannot be extracted from the archive ({exc})"
            found.append(entry)
    return found, skipped, notes


class _TooLarge(Exception):
    pass


def _zip_time(date_time: tuple) -> str:
    """A member's time as the zip stores it (local time, no zone), or "" when unset."""
    if date_time[0] <= 1980 and date_time[1:3] == (1, 1):
        return ""
    try:
        return datetime(*date_time).isoformat()
    except ValueError:
        return ""


# ------------------------------------------------------------------ names flagged UTF-8 that are not
_ZIP: Any = zipfile  # its helpers for the end-of-central-directory record (private, stable since 2.x)
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # a central directory entry's fixed part (the zip format's)
_CENTRAL_FLAGS, _LOCAL_FLAGS, _UTF8 = 8, 6, 0x800  # where the flags are in each header; "the name is UTF-8"


def open_zip(source: Path) -> tuple[zipfile.ZipFile, set[int]]:
    """The archive, and the indexes of members whose names are flagged UTF-8 but are not.
    Python's zipfile refuses the whole archive for one such name; here it reads it as if
    the flag were clear (the bytes are not changed on disk), so one student's odd file
    name costs nothing but a U+FFFD in that name."""
    try:
        return zipfile.ZipFile(source), set()
    except UnicodeDecodeError:
        pass
    except (zipfile.BadZipFile, OSError) as exc:
        raise GraderError(f"{display_name(source)}: cannot open the zip file ({exc})") from None
    try:
        handle = open(source, "rb")
        patches, mislabelled = _central_patches(handle)
        patched = _Patched(handle, patches)  # closed with the archive that reads it (when it is freed)
        for index in mislabelled:  # the local headers repeat the flag: clear it there too
            offset = zipfile.ZipFile(patched).infolist()[index].header_offset + _LOCAL_FLAGS
            handle.seek(offset)
            patched.patch(offset, struct.pack("<H", struct.unpack("<H", handle.read(2))[0] & ~_UTF8))
        return zipfile.ZipFile(patched), mislabelled
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, struct.error, IndexError) as exc:
        raise GraderError(f"{display_name(source)}: cannot open the zip file ({exc})") from None


def _central_patches(handle) -> tuple[dict[int, bytes], set[int]]:
    """``{offset: new flags}`` for the central directory entries whose names are flagged
    UTF-8 and are not, and those entries' indexes."""
    end = _ZIP._EndRecData(handle)  # the end-of-central-directory record (comment and zip64 handled)
    if not end:
        raise zipfile.BadZipFile("no end of central directory")
    size, offset = end[_ZIP._ECD_SIZE], end[_ZIP._ECD_OFFSET]
    concat = end[_ZIP._ECD_LOCATION] - size - offset
    if end[_ZIP._ECD_SIGNATURE] == _ZIP.stringEndArchive64:
        concat -= _ZIP.sizeEndCentDir64 + _ZIP.sizeEndCentDir64Locator
    handle.seek(offset + concat)
    directory = handle.read(size)
    patches, mislabelled, pos, index = {}, set(), 0, 0
    while pos + _CENTRAL.size <= len(directory) and directory.startswith(b"PK\x01\x02", pos):
        fields = _CENTRAL.unpack_from(directory, pos)
        flags, name_len, extra_len, comment_len = fields[5], fields[12], fields[13], fields[14]
        name = directory[pos + _CENTRAL.size : pos + _CENTRAL.size + name_len]
        if flags & _UTF8:
            try:
                name.decode("utf-8")
            except UnicodeDecodeError:
                patches[offset + concat + pos + _CENTRAL_FLAGS] = struct.pack("<H", flags & ~_UTF8)
                mislabelled.add(index)
        pos += _CENTRAL.size + name_len + extra_len + comment_len
        index += 1
    return patches, mislabelled


class _Patched(io.RawIOBase):
    """A read-only file that reads as ``handle`` with a few bytes replaced."""

    def __init__(self, handle, patches: dict[int, bytes]) -> None:
        self._handle, self._patches, self._starts = handle, dict(patches), sorted(patches)

    def patch(self, offset: int, data: bytes) -> None:
        self._patches[offset] = data
        self._starts = sorted(self._patches)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()

    def readinto(self, buffer) -> int:
        start = self._handle.tell()
        n = self._handle.readinto(buffer)
        first = bisect.bisect_left(self._starts, start - 8)
        for at in self._starts[first:]:
            if at >= start + (n or 0):
                break
            for i, byte in enumerate(self._patches[at]):
                if start <= at + i < start + n:
                    buffer[at + i - start] = byte
        return n

    def close(self) -> None:
        self._handle.close()
        super().close()


def _safe_basename(name: str) -> str:
    name = name.replace("\x00", "")
    return name if name not in ("", ".", "..") and len(name.encode()) < 240 else safe_key(name, 120)


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limit: int) -> int:
    written = 0
    with archive.open(info) as src, open(target, "wb") as dst:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            written += len(chunk)
            if written > limit:
                raise _TooLarge()
            dst.write(chunk)
    return written


# ------------------------------------------------------------------ layouts
def _strip_wrappers(files: list[FoundFile], is_student_dir) -> str:
    """The folder every file sits in when the export wraps everything in one (or more)
    folders, e.g. ``assignment_123_export/``; "" when there is none."""
    prefix = ""
    while True:
        rels = [f.rel[len(prefix):] for f in files]
        if not rels or any("/" not in r for r in rels):
            return prefix
        tops = {r.split("/", 1)[0] for r in rels}
        if len(tops) != 1:
            return prefix
        top = tops.pop()
        if is_student_dir(top):
            return prefix
        prefix += top + "/"


def _looks_like_student_dir(top: str) -> bool:
    return bool(MOODLE_RE.match(top) or GRADESCOPE_DIR_RE.match(top))


def detect_layout(tops: list[str], top_is_dir: dict[str, bool]) -> str:
    """Pick the layout the names follow: at least half of the top-level entries must match."""
    if not tops:
        return "flat"
    if GRADESCOPE_METADATA in tops:
        return "gradescope"
    half = len(tops) / 2
    if sum(1 for t in tops if top_is_dir.get(t) and GRADESCOPE_DIR_RE.match(t)) >= half:
        return "gradescope"
    if sum(1 for t in tops if MOODLE_RE.match(t)) >= half:
        return "moodle"
    if sum(1 for t in tops if not top_is_dir.get(t) and CANVAS_RE.match(t)) >= half:
        return "canvas"
    return "flat"


def parse_gradescope_metadata(text: str) -> dict[str, list[dict[str, str]]]:
    """``submission_<id>`` -> its submitters (name, sid, email) from ``submission_metadata.yml``.

    A small reader for the shape Gradescope writes (no YAML library needed)::

        submission_123456:
          :submitters:
          - :name: Jane Doe
            :sid: '1234'
            :email: jane@example.edu
          :created_at: 2024-01-01 12:00:00 -0800
    """
    result: dict[str, list[dict[str, str]]] = {}
    current: list[dict[str, str]] | None = None
    person: dict[str, str] | None = None
    list_indent: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            continue
        indent = len(line) - len(line.lstrip())
        top = re.match(r"^:?(submission_\d+):\s*$", stripped)
        if indent == 0 and top:
            current, person, list_indent = result.setdefault(top.group(1), []), None, None
            continue
        item = re.match(r"^(-\s+)?:?(\w+):\s*(.*)$", stripped)
        if current is None or not item:
            continue
        dash, key, value = item.groups()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if key == "submitters" and not dash:
            list_indent, person = indent, None
            continue
        if list_indent is not None and dash:
            person = {}
            current.append(person)
        elif list_indent is None or indent <= list_indent:
            list_indent, person = None, None
            continue
        if person is not None and key in ("name", "sid", "email"):
            person[key] = printable(value, keep="")
    return result


MOODLE_TIME_COLUMN = "Last modified (submission)"
_MOODLE_TIME_FORMATS = ("%A, %d %B %Y, %I:%M %p", "%A, %d %B %Y, %H:%M", "%d %B %Y, %I:%M %p", "%d %B %Y, %H:%M")


def parse_moodle_time(text: str) -> str:
    """A time of Moodle's grading worksheet (``Tuesday, 5 March 2024, 11:15 PM``, in the
    site's time zone) as ISO 8601 without a zone; "" when it is not a time (``-``)."""
    text = " ".join(text.split())
    for fmt in _MOODLE_TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).isoformat()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        return ""


def _moodle_worksheets(kept: list[FoundFile], inventory: Inventory) -> tuple[list[FoundFile], dict[str, str]]:
    """Moodle's grading worksheet, when the export carries one at its top: participant id ->
    submission time. The worksheet is layout metadata, not a student's file."""
    import csv

    times: dict[str, str] = {}
    rest = []
    for f in kept:
        if "/" in f.rel or not f.rel.lower().endswith(".csv") or MOODLE_RE.match(f.rel):
            rest.append(f)  # a student's own file (even a CSV) never gives anyone's time
            continue
        try:
            with open(f.path, newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error):
            rows = []
        if not rows or "Identifier" not in rows[0] or MOODLE_TIME_COLUMN not in rows[0]:
            rest.append(f)
            continue
        inventory.metadata.append(f.rel)
        for row in rows:
            pid = re.sub(r"\D", "", row.get("Identifier") or "")
            when = parse_moodle_time(row.get(MOODLE_TIME_COLUMN) or "")
            if pid and when:
                times[pid] = when
    return rest, times


def parse_gradescope_times(text: str) -> dict[str, str]:
    """``submission_<id>`` -> its ``:created_at:`` from ``submission_metadata.yml``, as ISO
    8601 (``2024-01-01 12:00:00.000000000 -08:00`` -> ``2024-01-01T12:00:00-08:00``)."""
    times: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        top = re.match(r"^:?(submission_\d+):\s*$", line.rstrip())
        if top:
            current = top.group(1)
            continue
        m = re.match(r"^\s+:created_at:\s*['\"]?(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.\d+)?\s*"
                     r"(Z|UTC|[+-]\d\d:?\d\d)?['\"]?\s*$", line)
        if current and m and line.startswith("  ") and not line.startswith("   "):
            offset = m.group(3) or ""
            offset = "+00:00" if offset in ("Z", "UTC") else (offset[:3] + ":" + offset[-2:] if offset else "")
            times[current] = f"{m.group(1)}T{m.group(2)}{offset}"
    return times


@dataclass
class _Group:
    ident: str  # how files are grouped (the lms id, or the top-level name)
    name: str
    lms_id: str = ""
    email: str = ""
    late: bool = False
    files: list[FoundFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)
    submitted_at: str = ""
    time_source: str = ""


def _flat_name(top: str, is_dir: bool) -> str:
    if is_dir:
        return top
    stem, dot, suffix = top.rpartition(".")
    return stem if dot and stem else top


@dataclass
class _LayoutMetadata:
    """What the layout's own files say about the students: the submission times of Moodle's
    grading worksheet, the submitters and times of Gradescope's ``submission_metadata.yml``."""

    moodle_times: dict[str, str] = field(default_factory=dict)  # participant id -> submission time
    gradescope_people: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # submission_<id> -> people
    gradescope_times: dict[str, str] = field(default_factory=dict)  # submission_<id> -> created_at


def discover(source: Path, staging: Path, layout: str = "auto", exclude: Sequence[Path] = ()) -> Inventory:
    """Read the input and sort every file into students, layout metadata and strays."""
    if layout not in LAYOUTS:
        raise GraderError(f"unknown layout {layout!r} (choose from {', '.join(LAYOUTS)})")
    files, skipped, input_notes = read_input(source, staging, list(exclude))
    kept, strays = _set_strays_aside(files, skipped)
    prefix = _strip_wrappers(kept, _looks_like_student_dir)
    for f in kept:
        f.rel = f.rel[len(prefix):]
    top_is_dir = _top_level_entries(kept)
    tops = sorted(top_is_dir)
    chosen = detect_layout(tops, top_is_dir) if layout == "auto" else layout
    inventory = Inventory(layout=chosen, source=display_name(source), submissions=[], strays=strays,
                          notes=input_notes)
    if prefix:
        inventory.notes.append(f"everything was inside {prefix.rstrip('/')}/; read from there")
    if layout == "auto":
        inventory.notes.append(f"layout detected: {chosen}")

    kept, metadata = _layout_metadata(kept, chosen, inventory)
    groups: dict[str, _Group] = {}
    for f in kept:
        _group_of(f, chosen, groups, metadata).files.append(f)
    _add_folders_of_strays(strays, prefix, chosen, groups)

    inventory.submissions = _assign_keys([_finish(g, chosen) for g in groups.values()])
    inventory.submissions.sort(key=lambda s: s.key.casefold())
    return inventory


def _set_strays_aside(files: list[FoundFile],
                      skipped: list[tuple[str, str]]) -> tuple[list[FoundFile], list[tuple[str, str]]]:
    """The files that may be a student's, and the strays: what could not be taken at all
    (``skipped``), then the clutter among ``files`` (:func:`stray_reason`)."""
    strays: list[tuple[str, str]] = list(skipped)
    kept = []
    for f in files:
        reason = stray_reason(f.rel)
        if reason:
            strays.append((f.rel, reason))
        else:
            kept.append(f)
    return kept, strays


def _top_level_entries(files: list[FoundFile]) -> dict[str, bool]:
    """The top-level names of the input -> whether each one is a folder."""
    top_is_dir: dict[str, bool] = {}
    for f in files:
        top, _, rest = f.rel.partition("/")
        top_is_dir[top] = top_is_dir.get(top, False) or bool(rest)
    return top_is_dir


def _layout_metadata(kept: list[FoundFile], layout: str,
                     inventory: Inventory) -> tuple[list[FoundFile], _LayoutMetadata]:
    """Take the layout's metadata files out of ``kept`` (listed in ``inventory.metadata``)
    and read what they say about the students."""
    metadata = _LayoutMetadata()
    if layout == "moodle":
        kept, metadata.moodle_times = _moodle_worksheets(kept, inventory)
    if layout == "gradescope":
        for f in kept:
            if f.rel == GRADESCOPE_METADATA:
                inventory.metadata.append(f.rel)
                try:
                    text = f.path.read_text("utf-8", "replace")
                    metadata.gradescope_people = parse_gradescope_metadata(text)
                    metadata.gradescope_times = parse_gradescope_times(text)
                except OSError as exc:
                    inventory.notes.append(f"{f.rel}: cannot read ({exc.strerror}); students named by submission id")
        kept = [f for f in kept if f.rel != GRADESCOPE_METADATA]
    return kept, metadata


def _group_of(f: FoundFile, layout: str, groups: dict[str, _Group], metadata: _LayoutMetadata) -> _Group:
    """The student (or group) the file ``f`` belongs to, added to ``groups`` when new: by
    the layout's naming, or by the file's own name when it does not follow it."""
    top, _, rest = f.rel.partition("/")
    is_dir = bool(rest)
    group = None
    if layout == "canvas":
        group = _canvas_group(top, groups)
    elif layout == "moodle":
        group = _moodle_group(top, groups, metadata.moodle_times)
    elif layout == "gradescope":
        group = _gradescope_group(top, is_dir, groups, metadata)
    if group is None:
        group = _flat_group(top, is_dir, layout, groups)
    return group


def _canvas_group(top: str, groups: dict[str, _Group]) -> _Group | None:
    m = CANVAS_RE.match(top)
    if not m:
        return None
    group = groups.setdefault(f"canvas:{m['uid']}", _Group(f"canvas:{m['uid']}", m["name"], m["uid"]))
    group.late = group.late or bool(m["late"])
    if m["sid"]:
        group.extra["canvas_submission_id"] = m["sid"]
    return group


def _moodle_group(top: str, groups: dict[str, _Group], moodle_times: dict[str, str]) -> _Group | None:
    m = MOODLE_RE.match(top)
    if not m:
        return None
    group = groups.setdefault(f"moodle:{m['pid']}", _Group(f"moodle:{m['pid']}", nfc(m["name"]), m["pid"]))
    if m["pid"] in moodle_times:
        group.submitted_at, group.time_source = moodle_times[m["pid"]], "the Moodle grading worksheet"
    return group


def _gradescope_group(top: str, is_dir: bool, groups: dict[str, _Group],
                      metadata: _LayoutMetadata) -> _Group | None:
    m = GRADESCOPE_DIR_RE.match(top) if is_dir else None
    if not m:
        return None
    ident = f"gradescope:{m['id']}"
    if ident not in groups:
        groups[ident] = _new_gradescope_group(ident, top, m["id"], metadata)
    return groups[ident]


def _new_gradescope_group(ident: str, top: str, submission_id: str, metadata: _LayoutMetadata) -> _Group:
    """The group of the folder ``top`` (``submission_<id>``), named by its submitters."""
    people = metadata.gradescope_people.get(top, [])
    names = "; ".join(p.get("name", "") for p in people if p.get("name")) or top
    sid = next((p["sid"] for p in people if p.get("sid")), "")
    email = next((p["email"] for p in people if p.get("email")), "")
    group = _Group(ident, nfc(names), submission_id, email)
    group.extra["gradescope_sid"] = sid
    if top in metadata.gradescope_times:
        group.submitted_at = metadata.gradescope_times[top]
        group.time_source = f"{GRADESCOPE_METADATA} (created_at)"
    if len(people) > 1:
        group.notes.append(f"group submission by {len(people)} students: {names}")
    if not people and metadata.gradescope_people:
        group.notes.append(f"{top} is not in {GRADESCOPE_METADATA}; named by its submission id")
    return group


def _flat_group(top: str, is_dir: bool, layout: str, groups: dict[str, _Group]) -> _Group:
    """The student named after the top-level entry ``top`` (every entry of the flat layout;
    in another layout, an entry that does not follow its naming)."""
    ident = f"flat:{_flat_name(top, is_dir)}"
    if ident not in groups:
        groups[ident] = _Group(ident, _flat_name(top, is_dir))
        if layout != "flat":
            groups[ident].notes.append(f"{top} does not follow the {layout} export's naming; "
                                       f"the student is taken from its name")
    return groups[ident]


def _add_folders_of_strays(strays: list[tuple[str, str]], prefix: str, layout: str,
                           groups: dict[str, _Group]) -> None:
    """A student folder that holds nothing but clutter still is a student who handed
    something in (Moodle and Gradescope folders): a group with a note, and no files."""
    for rel, reason in strays:
        if not rel.startswith(prefix) or layout not in ("moodle", "gradescope"):
            continue
        top, _, rest = rel[len(prefix):].partition("/")
        m = MOODLE_RE.match(top) if layout == "moodle" else GRADESCOPE_DIR_RE.match(top)
        if not rest or not m:
            continue
        ident = f"moodle:{m['pid']}" if layout == "moodle" else f"gradescope:{m['id']}"
        if ident not in groups:
            name = nfc(m["name"]) if layout == "moodle" else top
            groups[ident] = _Group(ident, name, m["pid"] if layout == "moodle" else m["id"])
        if not groups[ident].files:
            groups[ident].notes.append(f"only a stray file in the folder: {rel} ({reason})")


def _gradescope_key(g: _Group) -> str:
    sid = g.extra.get("gradescope_sid")
    if sid:
        return sid
    if g.email:
        return g.email.split("@", 1)[0]
    return g.name


def pick_primary(files: list[FoundFile]) -> tuple[FoundFile | None, list[FoundFile]]:
    """The file to grade among what one student handed in, and the rest: a notebook before
    a module, a readable file before a broken one, the newest, then by name."""
    if not files:
        return None, []

    def rank(f: FoundFile):
        suffix = PurePosixPath(f.rel).suffix.lower()
        kind = GRADABLE_SUFFIXES.index(suffix) if suffix in GRADABLE_SUFFIXES else len(GRADABLE_SUFFIXES)
        return (kind, f.problem is not None, f.size == 0, -f.mtime, f.rel.count("/"), f.rel)

    ordered = sorted(files, key=rank)
    return ordered[0], ordered[1:]


def _finish(g: _Group, layout: str) -> StudentSubmission:
    files = sorted(g.files, key=lambda f: f.rel)
    primary, others = pick_primary(files)
    notes = list(g.notes)
    if g.late:
        notes.append("marked late by the LMS")
    gradable_others = [f for f in others if PurePosixPath(f.rel).suffix.lower() in GRADABLE_SUFFIXES]
    if gradable_others:
        assert primary is not None  # ranked before the others
        notes.append(f"{len(files)} files handed in; graded {primary.rel}; not graded: "
                     + ", ".join(f.rel for f in gradable_others))
    extras = [f for f in others if f not in gradable_others]
    if extras:
        notes.append("also handed in (not gradable): " + ", ".join(f.rel for f in extras))
    duplicates = sorted({f.rel for f in files if sum(1 for o in files if o.rel == f.rel) > 1})
    if duplicates:
        notes.append("the archive holds several entries named " + ", ".join(duplicates))
    base = _gradescope_key(g) if layout == "gradescope" and g.ident.startswith("gradescope:") else g.name
    submitted_at, time_source = g.submitted_at, g.time_source
    zip_times = [f.zip_time for f in files if f.zip_time]
    if not submitted_at and zip_times and layout in ("canvas", "moodle"):
        submitted_at, time_source = max(zip_times), f"the file time in the {layout.capitalize()} zip"
    return StudentSubmission(key=safe_key(base), name=g.name, lms_id=g.lms_id, email=g.email, late=g.late,
                             files=files, primary=primary, notes=notes, extra=dict(g.extra),
                             submitted_at=submitted_at, time_source=time_source)


def _assign_keys(subs: list[StudentSubmission]) -> list[StudentSubmission]:
    """Make keys unique (case-insensitively, for case-insensitive file systems): students
    who share a name are told apart by their LMS id, or by a counter."""
    by_key: dict[str, list[StudentSubmission]] = {}
    for s in subs:
        by_key.setdefault(s.key.casefold(), []).append(s)
    taken = {k for k, v in by_key.items() if len(v) == 1}
    for clash in (v for v in by_key.values() if len(v) > 1):
        clash.sort(key=lambda s: (s.lms_id.zfill(20), s.files[0].rel if s.files else ""))
        for n, s in enumerate(clash, start=1):
            old = s.key
            candidate = f"{old}_{s.lms_id}" if s.lms_id else f"{old}~{n}"
            while candidate.casefold() in taken:
                candidate += "~"
            s.key = candidate
            taken.add(candidate.casefold())
            s.notes.append(f"{len(clash)} submissions share the name {old!r}; this one is {candidate!r}")
    return subs
