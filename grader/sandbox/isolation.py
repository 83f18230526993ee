"""Linux isolation for the worker: namespaces, mounts, privilege drop, resource limits.

Called in a freshly forked, single-threaded process (``unshare(CLONE_NEWUSER)`` fails
once a process has threads). What could not be set up is reported, not hidden: the
result's ``sandbox`` field lists the isolation that was in force.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND = 32, 1024, 2048, 4096
MS_REC, MS_PRIVATE, MS_RELATIME, MS_STRICTATIME = 16384, 1 << 18, 1 << 21, 1 << 24
_MOUNT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
                "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME, "strictatime": MS_STRICTATIME}

PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE = 1, 24, 38, 4
PR_SET_CHILD_SUBREAPER = 36
WORKDIR = "/tmp/work"

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True) if sys.platform == "linux" else None


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def available() -> bool:
    return _libc is not None


def set_parent_death_signal() -> None:
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def become_subreaper() -> None:
    if _libc is not None:
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def unshare_namespaces(features: list[str]) -> bool:
    """New mount, network, PID, IPC and UTS namespaces (plus a user namespace when not
    root). Returns True when they are in place; the caller must fork so that the child
    is PID 1 of the new PID namespace."""
    if _libc is None:
        return False
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if uid != 0:
        flags |= CLONE_NEWUSER
    try:
        _check(_libc.unshare(flags), "unshare")
    except OSError as exc:
        features.append(f"no namespaces ({exc.strerror})")
        return False
    if uid != 0:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"{gid} {gid} 1")
        features.append("user namespace")
    features += ["network cut off", "private PID namespace", "private mounts"]
    return True


def _mount(source, target, fstype, flags, data=None) -> None:
    assert _libc is not None  # mounts happen only after unshare(), which needs libc
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                       data and data.encode()), f"mount {target}")


def limit_ipc(tmp_bytes: int) -> None:
    """SysV shared memory and message queues of the new IPC namespace (memory no process
    has mapped is resident nowhere): no more than a private /tmp. Best effort."""
    for name, value in (("shmmax", tmp_bytes), ("shmall", max(1, tmp_bytes // os.sysconf("SC_PAGE_SIZE"))),
                        ("shmmni", 256), ("msgmni", 64)):
        try:
            with open(f"/proc/sys/kernel/{name}", "w") as f:
                f.write(str(value))
        except OSError:
            pass


def pin_cpus(cpus: list[int], features: list[str]) -> None:
    """Run on these CPUs only (where no cgroup gives the sandbox a CPU quota); the seccomp
    filter keeps the sandbox from widening it."""
    try:
        os.sched_setaffinity(0, cpus)
        features.append(f"pinned to CPU {', '.join(map(str, cpus))}")
    except (OSError, ValueError):
        pass


def mount_proc(features: list[str]) -> None:
    try:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        features.append("private /proc")
    except OSError:
        pass


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_privileges(sandbox_uid: int | None, features: list[str]) -> None:
    """No capabilities, no way back: an unprivileged uid (when root), an empty capability
    bounding set, and no_new_privs so that setuid programs grant nothing."""
    if _libc is not None:
        for cap in range(64):
            _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    if sandbox_uid is not None:
        os.setgroups([])
        os.setresgid(sandbox_uid, sandbox_uid, sandbox_uid)
        os.setresuid(sandbox_uid, sandbox_uid, sandbox_uid)
        set_parent_death_signal()  # changing credentials cleared it: W2 must still die with W1
        if _libc is not None:  # keep /proc/self readable by the process itself
            _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        features.append(f"unprivileged uid {sandbox_uid}")
    elif _libc is not None:
        header = _CapHeader(0x20080522, 0)
        data = (_CapData * 2)()
        _libc.capset(ctypes.byref(header), data)
        features.append("no capabilities")
    if _libc is not None:
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def own_task_count(uid: int) -> int:
    """Tasks (threads) already running under ``uid``: RLIMIT_NPROC counts them too."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid == uid:
                count += len(os.listdir(f"/proc/{entry}/task"))
        except OSError:
            continue
    return count


def apply_rlimits(limits: dict, cuda: bool, base_tasks: int, features: list[str]) -> None:
    def setlimit(which: int, value: int) -> None:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            soft, hard = resource.getrlimit(which)
            if hard == resource.RLIM_INFINITY or value < hard:
                resource.setrlimit(which, (min(value, hard), hard))

    if not cuda:  # CUDA reserves huge virtual ranges; the RSS watch still bounds memory there
        setlimit(resource.RLIMIT_AS, limits["address_space_bytes"])
    setlimit(resource.RLIMIT_NPROC, base_tasks + limits["processes"])
    setlimit(resource.RLIMIT_FSIZE, limits["file_bytes"])
    setlimit(resource.RLIMIT_NOFILE, limits["open_files"])
    setlimit(resource.RLIMIT_CORE, 0)
    if limits.get("cpu_seconds"):  # where no cgroup counts CPU time: each process's own cap
        setlimit(resource.RLIMIT_CPU, int(limits["cpu_seconds"]))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write raises instead of killing
    features.append("resource limits")
