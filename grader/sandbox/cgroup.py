"""A control group around one worker tree, where the system lets the grader make one.

One sandbox, one cgroup (per controller on cgroup v1, one folder on v2) with:

- ``memory``: the kernel enforces the memory limit on everything the tree allocates
  (the runner's resident-memory watch misses memory resident in no process and growth
  between two looks);
- ``cpu``: at most ``cpus`` CPUs' worth of time (CFS quota), an equal share otherwise,
  so a submission that starts many busy processes slows only itself, never a classmate
  graded beside it;
- ``cpuacct`` (v2: ``cpu.stat``): the CPU time of every process of the tree, those that
  already exited included, in nanoseconds: what time limits and speed checks measure;
- ``pids``: the number of tasks.

The member list names every process of the tree, whatever it did with sessions, process
groups or its parent. Best effort: each controller is used where it is mounted (v1) or
delegated to us (v2); what is missing is reported, and the runner falls back to reading
``/proc`` (CPU time, memory) and to pinning and rlimits (CPU share, processes).
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from dataclasses import dataclass, field

ROOT = "/sys/fs/cgroup"
CONTROLLERS = ("memory", "cpu", "cpuacct", "pids")
CFS_PERIOD_US = 100_000
_counter = itertools.count()


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _v1_mounts() -> dict[str, str]:
    """controller -> mount point of its cgroup v1 hierarchy."""
    found: dict[str, str] = {}
    try:
        lines = _read("/proc/self/mountinfo").splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] != "cgroup":
            continue
        for option in tail[2].split(","):
            if option in CONTROLLERS:
                found.setdefault(option, fields[4])
    return found


def _own_folders() -> tuple[str | None, dict[str, str]]:
    """(this process's cgroup v2 folder, {v1 controller: its folder})."""
    try:
        lines = _read("/proc/self/cgroup").splitlines()
    except OSError:
        return None, {}
    v2, v1 = None, {}
    mounts = _v1_mounts()
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            v2 = ROOT + path.rstrip("/") if os.path.isfile(os.path.join(ROOT, "cgroup.controllers")) else None
            if v2 is None and os.path.isdir(os.path.join(ROOT, "unified")):
                v2 = os.path.join(ROOT, "unified") + path.rstrip("/")
            continue
        for name in controllers.split(","):
            if name in mounts:
                v1[name] = mounts[name] + path.rstrip("/")
    return v2, v1


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


@dataclass
class SandboxCgroup:
    """The folders of one sandbox's cgroup: ``add`` processes, read ``cpu_seconds``,
    ``kill_all`` members, ``remove`` it."""

    version: str  # "v1" or "v2"
    folders: dict[str, str] = field(default_factory=dict)  # controller -> folder (v2: all the same)

    @classmethod
    def create(cls, memory_bytes: int, cpus: float = 1.0, tasks: int | None = None) -> SandboxCgroup | None:
        name = f"grader-{os.getpid()}-{next(_counter)}"
        v2, v1 = _own_folders()
        group = cls._create_v2(v2, name) if v2 else None
        if group is None and v1:
            group = cls._create_v1(v1, name)
        if group is None:
            return None
        group._limit(memory_bytes, cpus, tasks)
        if not group.folders:
            return None
        return group

    @classmethod
    def _create_v2(cls, parent: str, name: str) -> SandboxCgroup | None:
        try:
            enabled = _read(os.path.join(parent, "cgroup.subtree_control")).split()
        except OSError:
            return None
        wanted = [c for c in ("memory", "cpu", "pids") if c in enabled]
        if not wanted:
            return None
        _sweep(parent)
        path = os.path.join(parent, name)
        try:
            os.mkdir(path, 0o755)
        except OSError:
            return None
        folders: dict[str, str] = {c: path for c in wanted}
        if "cpu" in wanted:
            folders["cpuacct"] = path  # cpu.stat's usage_usec
        return cls("v2", folders)

    @classmethod
    def _create_v1(cls, parents: dict[str, str], name: str) -> SandboxCgroup | None:
        folders: dict[str, str] = {}
        made: set[str] = set()
        for controller in CONTROLLERS:
            parent = parents.get(controller)
            if parent is None or not os.path.isdir(parent):
                continue
            path = os.path.join(parent, name)
            if path not in made:  # cpu and cpuacct may share one hierarchy
                _sweep(parent)
                try:
                    os.mkdir(path, 0o755)
                except OSError:
                    continue
                made.add(path)
            folders[controller] = path
        return cls("v1", folders) if folders else None

    def _limit(self, memory_bytes: int, cpus: float, tasks: int | None) -> None:
        """Write the limits; a controller whose limit cannot be written is dropped."""
        v2 = self.version == "v2"
        quota = str(int(CFS_PERIOD_US * cpus))
        settings = {
            "memory": [("memory.max", str(memory_bytes)), ("memory.swap.max", "0")] if v2
            else [("memory.limit_in_bytes", str(memory_bytes))],
            "cpu": [("cpu.max", f"{quota} {CFS_PERIOD_US}")] if v2
            else [("cpu.cfs_period_us", str(CFS_PERIOD_US)), ("cpu.cfs_quota_us", quota)],
            "pids": [("pids.max", str(tasks))] if tasks else [],
        }
        for controller, pairs in settings.items():
            folder = self.folders.get(controller)
            if folder is None:
                continue
            try:
                for filename, value in pairs:
                    if filename == "memory.swap.max" and not os.path.exists(os.path.join(folder, filename)):
                        continue
                    _write(os.path.join(folder, filename), value)
            except OSError:
                del self.folders[controller]
                if controller == "cpu" and v2:
                    self.folders.pop("cpuacct", None)

    # ------------------------------------------------------------------ reading
    @property
    def controllers(self) -> list[str]:
        return [c for c in CONTROLLERS if c in self.folders]

    def _paths(self) -> list[str]:
        return sorted(set(self.folders.values()))

    def members(self) -> list[int]:
        found: set[int] = set()
        for path in self._paths():
            try:
                found.update(int(line) for line in _read(os.path.join(path, "cgroup.procs")).split())
            except (OSError, ValueError):
                continue
        return sorted(found)

    def add(self, pids: list[int]) -> None:
        """Put these processes into every folder of the group that does not hold them yet
        (each controller's own member list: a process that forked while it was being
        added may have left its child behind in one of them)."""
        for path in self._paths():
            try:
                present = {int(line) for line in _read(os.path.join(path, "cgroup.procs")).split()}
            except (OSError, ValueError):
                present = set()
            for pid in pids:
                if pid in present:
                    continue
                try:
                    _write(os.path.join(path, "cgroup.procs"), str(pid))
                except OSError:  # gone already, or a zombie
                    pass

    def procs_files(self) -> list[str]:
        """The member lists a process writes its own pid to, to join the group itself
        (before it forks: its children are then born inside)."""
        return [os.path.join(path, "cgroup.procs") for path in self._paths()]

    def cpu_seconds(self) -> float | None:
        """CPU time of every process that ever was in the group, or None without cpuacct."""
        folder = self.folders.get("cpuacct")
        if folder is None:
            return None
        try:
            if self.version == "v1":
                return int(_read(os.path.join(folder, "cpuacct.usage"))) / 1e9
            for line in _read(os.path.join(folder, "cpu.stat")).splitlines():
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
        except (OSError, ValueError):
            return None
        return None

    def oom_kills(self) -> int:
        folder = self.folders.get("memory")
        if folder is None:
            return 0
        name = "memory.events" if self.version == "v2" else "memory.oom_control"
        try:
            for line in _read(os.path.join(folder, name)).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    # ------------------------------------------------------------------ ending
    def kill_all(self) -> None:
        for path in self._paths():
            if self.version == "v2" and os.path.exists(os.path.join(path, "cgroup.kill")):
                try:
                    _write(os.path.join(path, "cgroup.kill"), "1")
                    continue
                except OSError:
                    pass
        for pid in self.members():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def remove(self, wait: float = 2.0) -> bool:
        """Kill what is left and delete the folders (a folder with members cannot go)."""
        deadline = time.monotonic() + wait
        left = self._paths()
        while left:
            for path in list(left):
                try:
                    os.rmdir(path)
                    left.remove(path)
                except FileNotFoundError:
                    left.remove(path)
                except OSError:
                    pass
            if not left:
                return True
            if time.monotonic() > deadline:
                return False
            self.kill_all()
            time.sleep(0.02)
        return True
