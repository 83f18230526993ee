"""A memory cgroup around one worker tree, where the system lets the grader make one.

The runner's watch counts resident memory every quarter second; memory that is resident
in no process (a SysV segment after ``shmdt``, a memfd passed through a socket and
closed) or that grows between two looks escapes it. A cgroup's limit is enforced by the
kernel on everything the tree allocates, and its member list names every process of the
tree, whatever it did with sessions, process groups or its parent. Best effort: cgroup v1
``memory`` or a cgroup v2 folder whose ``memory`` controller is delegated to us; without
either, the resident-memory watch is all there is.
"""

from __future__ import annotations

import itertools
import os
import signal
import time

ROOT = "/sys/fs/cgroup"
_counter = itertools.count()


def _own_cgroup_folders() -> list[tuple[str, str]]:
    """(version, folder) of this process's memory cgroup(s), v2 first."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            found.insert(0, ("v2", ROOT + path.rstrip("/")))
        elif "memory" in controllers.split(","):
            found.append(("v1", f"{ROOT}/memory{path.rstrip('/')}"))
    return found


def _sweep(parent: str) -> None:
    """Remove the empty folders of graders that ended without removing them (killed)."""
    try:
        names = [n for n in os.listdir(parent) if n.startswith("grader-")]
    except OSError:
        return
    for name in names:
        owner = name.split("-")[1]
        if owner.isdigit() and int(owner) != os.getpid() and not os.path.exists(f"/proc/{owner}"):
            try:
                os.rmdir(os.path.join(parent, name))
            except OSError:  # members left: not ours to kill
                pass


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


class MemoryCgroup:
    """One fresh cgroup: ``add`` processes, ``kill_all`` its members, ``remove`` it."""

    def __init__(self, version: str, path: str):
        self.version = version
        self.path = path

    @classmethod
    def create(cls, limit_bytes: int) -> "MemoryCgroup | None":
        for version, parent in _own_cgroup_folders():
            _sweep(parent)
            try:
                if version == "v2":
                    with open(os.path.join(parent, "cgroup.subtree_control")) as f:
                        if "memory" not in f.read().split():
                            continue
                elif not os.path.isdir(parent):
                    continue
                path = os.path.join(parent, f"grader-{os.getpid()}-{next(_counter)}")
                os.mkdir(path, 0o755)
            except OSError:
                continue
            group = cls(version, path)
            try:
                if version == "v2":
                    _write(os.path.join(path, "memory.max"), str(limit_bytes))
                    if os.path.exists(os.path.join(path, "memory.swap.max")):
                        _write(os.path.join(path, "memory.swap.max"), "0")
                else:
                    _write(os.path.join(path, "memory.limit_in_bytes"), str(limit_bytes))
            except OSError:
                group.remove()
                continue
            return group
        return None

    def members(self) -> list[int]:
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                return [int(line) for line in f if line.strip()]
        except (OSError, ValueError):
            return []

    def add(self, pids: list[int]) -> None:
        for pid in pids:
            try:
                _write(os.path.join(self.path, "cgroup.procs"), str(pid))
            except OSError:  # gone already, or a zombie
                pass

    def oom_kills(self) -> int:
        name = "memory.events" if self.version == "v2" else "memory.oom_control"
        try:
            with open(os.path.join(self.path, name)) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def kill_all(self) -> None:
        if self.version == "v2" and os.path.exists(os.path.join(self.path, "cgroup.kill")):
            try:
                _write(os.path.join(self.path, "cgroup.kill"), "1")
                return
            except OSError:
                pass
        for pid in self.members():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def remove(self, wait: float = 2.0) -> bool:
        """Kill what is left and delete the folder (a folder with members cannot go)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                os.rmdir(self.path)
                return True
            except FileNotFoundError:
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
            self.kill_all()
            time.sleep(0.02)
