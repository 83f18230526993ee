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
SANDBOX_TMP = "/tmp"
SOCKET_FOLDERS = ("/run", "/var/run")  # covered: connect() works on a read-only mount
_SYSTEM_FOLDERS = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/opt", "/nix", "/snap", "/boot",
                   "/proc", "/sys", "/dev")
WORKDIR = "/tmp/work"
HIDDEN_FILE = "/tmp/.hidden-by-grader"  # on the private /tmp: what a hidden file is replaced with

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
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                       data and data.encode()), f"mount {target}")


def _mount_points() -> list[tuple[str, int]]:
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            flags = 0
            for opt in fields[5].split(","):
                flags |= _MOUNT_FLAGS.get(opt, 0)
            points.append((point, flags))
    return points


def _cover(path: str) -> None:
    """A folder becomes an empty one nobody may enter; a file, an empty one nobody may
    read (so opening it says "Permission denied", not garbage)."""
    if os.path.isdir(path):
        _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000")
    else:
        if not os.path.exists(HIDDEN_FILE):
            os.close(os.open(HIDDEN_FILE, os.O_CREAT | os.O_WRONLY, 0o000))
        _mount(HIDDEN_FILE, path, None, MS_BIND)


def _hide(path: str, keep: list[str], hidden: list[str]) -> None:
    """Cover ``path``; kept paths inside it are bound back onto a bare skeleton, so the
    interpreter stays readable while everything beside it disappears."""
    if path in ("/", "") or os.path.islink(path) or not os.path.exists(path):
        return
    if path == SANDBOX_TMP or path.startswith(("/proc", "/sys", "/dev")):
        return
    if path in keep:
        return
    inner = [k for k in keep if k.startswith(path.rstrip("/") + "/")]
    if not inner:
        try:
            _cover(path)
            hidden.append(path)
        except OSError:
            pass
        return
    if not os.path.isdir(path):
        return
    handles = _open_kept(path, keep)
    try:
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
        hidden.append(path)
        _bind_kept(handles)
        _mount(None, path, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    except OSError:
        pass
    finally:
        for fd in handles.values():
            os.close(fd)


def _open_kept(root: str, keep: list[str]) -> dict[str, int]:
    """O_PATH handles on the outermost kept paths below ``root``, taken before ``root``
    is covered, so that they can be bound back onto the new mount."""
    inner = [k for k in keep if k.startswith(root.rstrip("/") + "/")]
    tops = [k for k in inner if not any(k != o and k.startswith(o + "/") for o in inner)]
    handles = {}
    for k in tops:
        try:
            handles[k] = os.open(k, os.O_PATH)
        except OSError:
            continue
    return handles


def _bind_kept(handles: dict[str, int]) -> None:
    for k, fd in handles.items():
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(k, mode=0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(k), mode=0o755, exist_ok=True)
            open(k, "w").close()
        _mount(f"/proc/self/fd/{fd}", k, None, MS_BIND | MS_REC)


def _untraversable_ancestors(paths: list[str]) -> set[str]:
    """Folders an unprivileged user cannot pass through (``/root`` is 0700) on the way to
    a path the worker needs: they are replaced by a skeleton too."""
    found = set()
    for path in paths:
        parent = os.path.dirname(path)
        while parent not in ("/", ""):
            try:
                if not os.stat(parent).st_mode & 0o001:
                    found.add(parent)
            except OSError:
                pass
            parent = os.path.dirname(parent)
    return found


def _existing_ancestor(path: str) -> str:
    """A path that does not exist yet (a reference cache about to be written) is hidden
    through its nearest existing folder, so that what appears there during the run stays
    unseen; never through a top-level or system folder (the path is then left as is)."""
    found = path
    while found not in ("/", "") and not os.path.lexists(found):
        found = os.path.dirname(found)
    if found == path:
        return path
    if found.count("/") < 2 or any(found == s or found.startswith(s + "/") for s in _SYSTEM_FOLDERS):
        return path
    return found


def _inodes(size: int) -> str:
    """Each file costs kernel memory that the size of a tmpfs does not count."""
    return f"nr_inodes={max(4096, size // 4096)}"


def _limit_ipc(tmp_bytes: int) -> None:
    """SysV shared memory and message queues of the new IPC namespace (memory no process
    has mapped is resident nowhere): no more than a private /tmp. Best effort."""
    for name, value in (("shmmax", tmp_bytes), ("shmall", max(1, tmp_bytes // os.sysconf("SC_PAGE_SIZE"))),
                        ("shmmni", 256), ("msgmni", 64)):
        try:
            with open(f"/proc/sys/kernel/{name}", "w") as f:
                f.write(str(value))
        except OSError:
            pass


def setup_filesystem(hide: list[str], keep: list[str], tmp_bytes: int, owner: int, features: list[str]) -> None:
    """Read-only view of the machine, secret paths covered, private writable /tmp."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    failed = 0
    _limit_ipc(tmp_bytes)
    for point, flags in _mount_points():
        if point.startswith(("/proc", "/dev")):  # /sys too is read-only (cgroup files, device knobs)
            continue
        try:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        except OSError:
            failed += 1
    features.append("read-only filesystem" if not failed else f"read-only filesystem ({failed} mounts left writable)")
    keep_real = sorted({os.path.realpath(k) for k in keep if k and os.path.exists(k)})
    candidates = {_existing_ancestor(os.path.realpath(h)) for h in hide if h} | _untraversable_ancestors(keep_real)
    candidates |= set(SOCKET_FOLDERS)  # unix sockets of the machine's services (a socket ignores read-only)
    # the private /tmp first: what is kept under the host's /tmp (a virtual environment made
    # there, the checkout around it) is bound back, and the hiding below covers it too
    in_tmp = _open_kept(SANDBOX_TMP, keep_real)
    try:
        _mount("tmpfs", SANDBOX_TMP, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_bytes},{_inodes(tmp_bytes)},mode=1777")
        _bind_kept(in_tmp)
    finally:
        for fd in in_tmp.values():
            os.close(fd)
    hidden: list[str] = []
    for path in sorted(candidates):
        _hide(path, keep_real, hidden)
    features.append(f"{len(hidden)} grader paths hidden")
    if os.path.isdir("/dev/shm"):
        try:
            _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_bytes},{_inodes(tmp_bytes)},mode=1777")
        except OSError:
            pass
    os.makedirs(WORKDIR, mode=0o700)
    os.chown(WORKDIR, owner, owner)
    features.append("private /tmp and /dev/shm")


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
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write raises instead of killing
    features.append("resource limits")
