"""The worker's process tree as the trusted side sees it through /proc: who belongs to a
sandbox, and how much memory it holds."""

from __future__ import annotations

import os

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def process_table() -> dict[int, list[tuple[int, int]]]:
    """ppid -> [(start time, pid)] for every process on the machine."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2 :].split()
            ppid, started = int(fields[1]), int(fields[19])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append((started, int(entry)))
    return children


def descendants(root: int, table: dict[int, list[tuple[int, int]]] | None = None) -> list[int]:
    children = table if table is not None else process_table()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(p for _, p in children.get(pid, []))
    return found


def sandboxed_processes(w0: int) -> tuple[list[int], list[int]]:
    """(the whole worker tree, the part that runs student code). W0 and W1 only wait for
    their child: their memory is torch's, shared with W2, and is not the student's. W1
    is W0's first child (orphans that W0 adopts as a subreaper start later)."""
    table = process_table()
    everything = descendants(w0, table)
    first = min(table.get(w0, []), default=None)
    if first is None:
        return everything, everything
    students = [p for p in descendants(first[1], table) if p != first[1]]
    adopted = [p for _, p in sorted(table.get(w0, []))[1:]]
    return everything, students + [q for p in adopted for q in descendants(p, table)]


def resident_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            continue
    return total


def memfd_bytes(pids: list[int]) -> int:
    """Memory in memfd files held open but not mapped: the resident-set count misses it
    (tmpfs files are bounded by the size of the private /tmp and /dev/shm instead)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            path = f"/proc/{pid}/fd/{fd}"
            try:
                if not os.readlink(path).startswith("/memfd:"):
                    continue
                st = os.stat(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pids: list[int]) -> float:
    """CPU time of these processes, every thread counted (``schedstat``, nanoseconds), plus
    that of their children they waited for (``stat``, clock ticks). Used where no cgroup
    counts it: a process that exits without being waited for takes its time with it."""
    total = 0.0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                    total += int(f.read().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            total += (int(fields[13]) + int(fields[14])) / _TICK  # cutime, cstime
        except (OSError, ValueError, IndexError):
            continue
    return total


def sandbox_init(w0: int, table: dict[int, list[tuple[int, int]]] | None = None) -> int | None:
    """W2, PID 1 of the sandbox: the first child of W0's first child (W1)."""
    children = table if table is not None else process_table()
    first = min(children.get(w0, []), default=None)
    if first is None:
        return None
    second = min(children.get(first[1], []), default=None)
    return second[1] if second else None
