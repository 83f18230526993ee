"""What the runner looks at itself, inside a sandbox's filesystem, when a probe asks: the
files of the writable places and the bytes of one file.

A listing or a file read by the student's own process could be whatever the student's code
made it; the runner reads them from outside, through ``/proc/<W2>/root`` (the sandbox's
root as the kernel sees it), never following a symbolic link: a link made inside the
sandbox must not lead the runner anywhere else. Plain data comes back, capped; a capped
listing says so, and a check treats it as not judged clean.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

MAX_ENTRIES = 10_000  # files listed per writable place
MAX_FILE_BYTES = 64 * 1024 * 1024
WRITABLE = ("/tmp", "/dev/shm")


@dataclass
class Listing:
    """sandbox path -> (inode, size, mtime ns, ctime ns) of every file and link there."""

    entries: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    complete: bool = True
    problem: str | None = None


@dataclass
class FileRead:
    data: bytes | None = None
    problem: str | None = None


def list_files(root: str, places: tuple[str, ...] = WRITABLE) -> Listing:
    """Every file under ``places`` of the sandbox whose root is ``root`` (``/proc/N/root``),
    on the place's own filesystem: a read-only bind of the allow-list that lies below it (a
    virtual environment under /tmp) is not the student's, and the student cannot mount."""
    listing = Listing()
    for place in places:
        count = 0
        try:
            device = os.lstat(root + place).st_dev
        except OSError:
            continue
        for dirpath, dirnames, filenames in os.walk(root + place, followlinks=False):
            dirnames[:] = [d for d in dirnames if _on(device, os.path.join(dirpath, d))]
            for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                full = os.path.join(dirpath, name)
                try:
                    st = os.lstat(full)
                except OSError:
                    continue
                if st.st_dev != device:
                    continue
                listing.entries[full[len(root):]] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                count += 1
                if count >= MAX_ENTRIES:
                    listing.complete = False
                    break
            if not listing.complete:
                break
    return listing


def _on(device: int, path: str) -> bool:
    try:
        return os.lstat(path).st_dev == device
    except OSError:
        return False


def read_file(root: str, path: str) -> FileRead:
    """The bytes of the regular file ``path`` of the sandbox, opened one component at a
    time without following any link, or why not."""
    parts = [p for p in path.split("/") if p]
    if not path.startswith(tuple(p + "/" for p in WRITABLE)) or any(p in (".", "..") for p in parts):
        return FileRead(problem=f"{path[:200]} is not a file of the sandbox's writable places")
    fds = []
    try:
        fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
        fds.append(fd)
        for part in parts[:-1]:
            fd = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            fds.append(fd)
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        fds.append(fd)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return FileRead(problem=f"{path[:200]} is not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            return FileRead(problem=f"{path[:200]} is larger than {MAX_FILE_BYTES // (1 << 20)} MiB")
        chunks, total = [], 0
        while total <= MAX_FILE_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return FileRead(data=b"".join(chunks)[:MAX_FILE_BYTES])
    except OSError as exc:
        return FileRead(problem=f"{path[:200]}: {exc.strerror or exc}")
    finally:
        for fd in fds:
            os.close(fd)
