"""Building the sandbox's root filesystem from a :class:`grader.sandbox.view.Plan`.

Called in W1, after it entered a new mount namespace: every host path of the plan is
opened first (``O_PATH``), then an empty tmpfs becomes the new root, the paths are bound
onto it read-only, a private ``/tmp`` (with ``/tmp/work``, the working folder),
``/dev`` and ``/dev/shm`` are made, and ``pivot_root`` leaves the host's root behind
(detached: nothing else of it can be reached). The new root itself is then read-only.
"""

from __future__ import annotations

import os

from grader.sandbox.isolation import (MS_BIND, MS_NODEV, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT,
                                      _MOUNT_FLAGS, _check, _libc, _mount, limit_ipc)
from grader.sandbox.view import Plan

NEW_ROOT = "/tmp"  # where the new root is assembled (a host folder every system has; only shadowed here)
WORKDIR = "/tmp/work"
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}


def _inodes(size: int) -> str:
    """Each file costs kernel memory that the size of a tmpfs does not count."""
    return f"nr_inodes={max(4096, size // 4096)}"


def _mount_flags() -> list[tuple[str, int]]:
    """(mount point, its per-mount flags), longest first: a bind's read-only remount must
    keep the flags of the mount it comes from (in a user namespace they are locked)."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            flags = 0
            for option in fields[5].split(","):
                flags |= _MOUNT_FLAGS.get(option, 0)
            found.append((point, flags))
    return sorted(found, key=lambda item: len(item[0]), reverse=True)


def _flags_of(path: str, table: list[tuple[str, int]]) -> int:
    for point, flags in table:
        if path == point or path.startswith(point.rstrip("/") + "/"):
            return flags
    return 0


def _pivot_root(new_root: str) -> None:
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None:  # an architecture without a known number: a chroot keeps the view
        os.chroot(new_root)
        os.chdir("/")
        return
    os.chdir(new_root)
    assert _libc is not None  # the view is built only after unshare(), which needs libc
    _check(_libc.syscall(number, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount the host's root")
    os.chdir("/")


class _Builder:
    def __init__(self, plan: Plan, tmp_bytes: int, owner: int):
        self.plan = plan
        self.tmp_bytes = tmp_bytes
        self.owner = owner
        self.flags = _mount_flags()
        self.handles: dict[str, int] = {}
        self.read_only: list[tuple[str, int]] = []  # (target, flags) remounted read-only at the end

    def open_sources(self) -> None:
        for shown, host in list(self.plan.binds.items()) + [(d, d) for d in self.plan.devices]:
            try:
                self.handles[shown] = os.open(host, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue

    def close_sources(self) -> None:
        for fd in self.handles.values():
            os.close(fd)

    def _target(self, shown: str) -> str:
        return NEW_ROOT + shown

    def _mountpoint(self, target: str, folder: bool) -> None:
        if folder:
            os.makedirs(target, mode=0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            if not os.path.lexists(target):
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))

    def bind(self, shown: str, host: str) -> None:
        fd = self.handles.get(shown)
        if fd is None:
            return
        target = self._target(shown)
        self._mountpoint(target, os.path.isdir(f"/proc/self/fd/{fd}"))
        _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
        self.read_only.append((target, _flags_of(host, self.flags)))

    def empty(self, shown: str) -> None:
        target = self._target(shown)
        if os.path.isdir(target):
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
            self.read_only.append((target, MS_NOSUID | MS_NODEV))
        elif os.path.lexists(target):
            hidden = self._target("/.hidden")
            if not os.path.exists(hidden):
                os.close(os.open(hidden, os.O_CREAT | os.O_WRONLY, 0o000))
            _mount(hidden, target, None, MS_BIND)

    def link(self, shown: str, target_text: str) -> None:
        target = self._target(shown)
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(target_text, target)

    def build(self) -> None:
        self._private()  # first: what the host keeps under /tmp (a virtual environment) is bound into it
        steps = [(p, 0, "bind") for p in self.plan.binds] + [(p, 1, "empty") for p in self.plan.empty]
        steps += [(p, 2, "link") for p in self.plan.links]
        for shown, _, kind in sorted(steps):
            if kind == "bind":
                self.bind(shown, self.plan.binds[shown])
            elif kind == "empty":
                self.empty(shown)
            else:
                self.link(shown, self.plan.links[shown])
        self._system()

    def _system(self) -> None:
        for shown, content in self.plan.files.items():
            target = self._target(shown)
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            with open(target, "w") as f:
                f.write(content)
        dev = self._target("/dev")
        os.makedirs(dev, mode=0o755, exist_ok=True)
        for device in self.plan.devices:
            fd = self.handles.get(device)
            if fd is not None:
                self._mountpoint(self._target(device), folder=False)
                _mount(f"/proc/self/fd/{fd}", self._target(device), None, MS_BIND)
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                             ("stderr", "/proc/self/fd/2")):
            os.symlink(target, os.path.join(dev, name))
        os.makedirs(self._target("/proc"), mode=0o555, exist_ok=True)

    def _private(self) -> None:
        size = f"size={self.tmp_bytes},{_inodes(self.tmp_bytes)},mode=1777"
        for private in ("/tmp", "/dev/shm"):
            os.makedirs(self._target(private), mode=0o755, exist_ok=True)
            _mount("tmpfs", self._target(private), "tmpfs", MS_NOSUID | MS_NODEV, size)
        workdir = self._target(WORKDIR)
        os.makedirs(workdir, mode=0o700)
        os.chown(workdir, self.owner, self.owner)

    def seal(self) -> None:
        """Everything but the private /tmp and /dev/shm read-only."""
        for target, flags in self.read_only:
            shown = target[len(NEW_ROOT):] or "/"
            try:
                _mount(None, shown, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
            except OSError:
                _mount(None, shown, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags | MS_NOSUID | MS_NODEV)
        _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def build_root(plan: Plan, tmp_bytes: int, owner: int, features: list[str]) -> None:
    """Replace this mount namespace's root with the plan's view (see the module doc)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    limit_ipc(tmp_bytes)
    builder = _Builder(plan, tmp_bytes, owner)
    builder.open_sources()
    try:
        _mount("tmpfs", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,nr_inodes=65536,mode=0755")
        builder.build()
    finally:
        builder.close_sources()
    _pivot_root(NEW_ROOT)
    builder.seal()
    features.append(plan.summary())
    features.append("private /tmp and /dev/shm")
