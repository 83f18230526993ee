"""A seccomp filter for the sandbox: the kernel surface that student code never needs.

A small classic-BPF program, built here and installed with ``seccomp(2)`` through ctypes
(no dependency), in W2 after privileges are dropped and before student code runs; every
process and thread the student starts inherits it, and nothing can remove it.

What it does, in order:

1. ``seccomp_data.arch`` must be the worker's own ABI; any other (i386 through ``int 0x80``
   on x86_64, arm32 on aarch64) kills the process. On x86_64 the x32 ABI (the same arch
   value, numbers with bit 30 set) is killed too. Syscall numbers are only meaningful once
   the ABI is known, so this comes first.
2. These are denied with ``EPERM``, so that the student sees a plain ``OSError`` rather than
   a dead process: new or other namespaces (``unshare``, ``setns``, ``clone`` with any
   ``CLONE_NEW*`` flag), mounts and the new mount API, ``chroot``, tracing and reading other
   processes (``ptrace``, ``process_vm_*``, ``kcmp``), the kernel keyring, ``bpf``,
   ``perf_event_open``, ``userfaultfd``, io_uring (its operations bypass seccomp), kernel
   modules and kexec, machine-wide administration (reboot, swap, accounting, quotas, the
   kernel log, the clocks), file handles, x86 port I/O, ``personality`` other than a query
   or plain Linux, and ``sched_setaffinity`` (the grader may pin a sandbox to its own CPUs;
   the filter cannot read the CPU mask, so narrowing is refused too).
3. ``clone3`` gets ``ENOSYS``: its flags live in memory that a filter cannot read, and
   glibc falls back to ``clone`` (whose flags it can) when ``clone3`` is missing.
4. Everything else is allowed.

Only the syscalls in the two tables below are known; on any other architecture (or a
32-bit or big-endian interpreter) no filter is installed and the ``sandbox`` list says so.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys
from typing import NamedTuple

# linux/filter.h, linux/bpf_common.h
BPF_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JSET_K = 0x05 | 0x40 | 0x00  # BPF_JMP | BPF_JSET | BPF_K
BPF_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K

# linux/seccomp.h
SECCOMP_RET_KILL_PROCESS = 0x80000000  # before 4.14 the kernel reads this as KILL_THREAD
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4  # 4.17+: do not force the SSB mitigation on
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

# struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
OFFSET_NR, OFFSET_ARCH = 0, 4
OFFSET_ARG0_LOW = 16  # the low 32 bits of args[0] on a little-endian machine

# linux/audit.h: EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_AARCH64 = 0xC00000B7
X32_SYSCALL_BIT = 0x40000000

# linux/sched.h. The kernel reads only the low 32 bits of clone's flags. CLONE_NEWTIME
# (0x80) is not listed: for clone() it is part of the exit signal, and clone() cannot
# create a time namespace (only unshare and clone3 can, and both are refused).
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x10000000, 0x20000000, 0x40000000
CLONE_NAMESPACE_FLAGS = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER
                         | CLONE_NEWPID | CLONE_NEWNET)
PERSONALITY_ALLOWED = (0x0, 0xFFFFFFFF)  # PER_LINUX, and the query personality(0xffffffff)

# Denied with EPERM (except clone3, ENOSYS); clone and personality are checked on their
# first argument. Names are the kernel's. Numbers from the kernel's tables:
#   x86_64:  arch/x86/entry/syscalls/syscall_64.tbl ("common" and "64" entries)
#   aarch64: include/uapi/asm-generic/unistd.h (scripts/syscall.tbl since 6.11), the
#            generic table arm64 uses
DENIED = (
    # namespaces
    "unshare", "setns",
    # mounts and the new mount API
    "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
    "open_tree", "mount_setattr", "open_tree_attr",
    # other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    # kernel keyring, BPF, perf, userfaultfd, io_uring
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # kernel code
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    # the machine
    "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex",
    # file handles (open any inode of a filesystem by number)
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie",
    # port I/O (x86 only)
    "iopl", "ioperm",
    # CPUs beyond those the grader gave the sandbox
    "sched_setaffinity",
)
NOT_IMPLEMENTED = ("clone3",)

SYSCALLS = {
    "x86_64": {
        "clone": 56, "clone3": 435, "personality": 135,
        "unshare": 272, "setns": 308,
        "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "move_mount": 429, "open_tree": 428, "mount_setattr": 442,
        "open_tree_attr": 467,
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
        "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298,
        "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176,
        "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163, "quotactl": 179, "quotactl_fd": 443,
        "syslog": 103, "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305, "adjtimex": 159,
        "open_by_handle_at": 304, "name_to_handle_at": 303, "lookup_dcookie": 212,
        "iopl": 172, "ioperm": 173,
        "sched_setaffinity": 203,
        "seccomp": 317,  # to install the filter, not denied
    },
    "aarch64": {
        "clone": 220, "clone3": 435, "personality": 92,
        "unshare": 97, "setns": 268,
        "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "move_mount": 429, "open_tree": 428, "mount_setattr": 442,
        "open_tree_attr": 467,
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272,
        "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280, "perf_event_open": 241,
        "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273, "delete_module": 106,
        "reboot": 142, "swapon": 224, "swapoff": 225, "acct": 89, "quotactl": 60, "quotactl_fd": 443,
        "syslog": 116, "settimeofday": 170, "clock_settime": 112, "clock_adjtime": 266, "adjtimex": 171,
        "open_by_handle_at": 265, "name_to_handle_at": 264, "lookup_dcookie": 18,
        # no iopl or ioperm on arm64
        "sched_setaffinity": 122,
        "seccomp": 277,
    },
}
AUDIT_ARCH = {"x86_64": AUDIT_ARCH_X86_64, "aarch64": AUDIT_ARCH_AARCH64}
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


class Instruction(NamedTuple):  # struct sock_filter (a NamedTuple: a dataclass costs W0 0.3 ms to import)
    code: int
    jt: int
    jf: int
    k: int


def native_arch() -> str | None:
    """The table for this interpreter's own ABI, or None (a 32-bit or big-endian Python
    on a 64-bit kernel must not be given the 64-bit table)."""
    if sys.platform != "linux" or sys.maxsize <= 2 ** 32 or sys.byteorder != "little":
        return None
    return _MACHINES.get(platform.machine().lower())


def denied_names(arch: str) -> list[str]:
    """The syscalls refused outright on ``arch`` (clone and personality are only restricted)."""
    return [name for name in DENIED + NOT_IMPLEMENTED if name in SYSCALLS[arch]]


def build(arch: str) -> list[Instruction]:
    """The filter program for ``arch`` ("x86_64" or "aarch64"), jumps resolved."""
    table = SYSCALLS[arch]
    # (code, jt, jf, k): a jump target is a label (resolved below) or 0, the next instruction
    program: list[tuple] = [
        (BPF_LD_W_ABS, 0, 0, OFFSET_ARCH),
        (BPF_JEQ_K, 0, "kill", AUDIT_ARCH[arch]),
        (BPF_LD_W_ABS, 0, 0, OFFSET_NR),
    ]
    if arch == "x86_64":
        program.append((BPF_JSET_K, "kill", 0, X32_SYSCALL_BIT))
    program += [(BPF_JEQ_K, "clone", 0, table["clone"]), (BPF_JEQ_K, "personality", 0, table["personality"])]
    program += [(BPF_JEQ_K, "enosys", 0, table[name]) for name in NOT_IMPLEMENTED]
    program += [(BPF_JEQ_K, "eperm", 0, table[name]) for name in DENIED if name in table]
    program.append((BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))  # not in the list: allowed
    labels: dict[str, int] = {}

    def mark(name: str) -> None:
        labels[name] = len(program)

    mark("clone")
    program += [(BPF_LD_W_ABS, 0, 0, OFFSET_ARG0_LOW), (BPF_JSET_K, "eperm", "allow", CLONE_NAMESPACE_FLAGS)]
    mark("personality")
    program.append((BPF_LD_W_ABS, 0, 0, OFFSET_ARG0_LOW))
    for value in PERSONALITY_ALLOWED[:-1]:
        program.append((BPF_JEQ_K, "allow", 0, value))
    program.append((BPF_JEQ_K, "allow", "eperm", PERSONALITY_ALLOWED[-1]))
    mark("kill")
    program.append((BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS))
    mark("eperm")
    program.append((BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM))
    mark("enosys")
    program.append((BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS))
    mark("allow")
    program.append((BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))

    def offset(pc: int, target) -> int:
        if not isinstance(target, str):
            return target
        distance = labels[target] - (pc + 1)
        if not 0 <= distance <= 255:  # jt and jf are 8 bits, and jumps only go forward
            raise ValueError(f"jump from {pc} to {target} out of range ({distance})")
        return distance

    return [Instruction(code, offset(pc, jt), offset(pc, jf), k) for pc, (code, jt, jf, k) in enumerate(program)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)  # the interpreter's own libc (find_library would run ldconfig)


def _load(libc, arch: str, program: list[Instruction]) -> int:
    """Install ``program``; 0, or the errno of the last attempt."""
    filters = (SockFilter * len(program))(*[SockFilter(i.code, i.jt, i.jf, i.k) for i in program])
    fprog = SockFprog(len(program), ctypes.cast(filters, ctypes.POINTER(SockFilter)))
    libc.syscall.restype = ctypes.c_long
    # every thread (W2 has one, but a stray library thread must not stay unfiltered);
    # SPEC_ALLOW keeps the kernel from forcing the store-bypass mitigation on, which
    # would change the speed of student code (older kernels default to forcing it)
    for flags in (SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_TSYNC):
        result = libc.syscall(ctypes.c_long(SYSCALLS[arch]["seccomp"]), ctypes.c_long(SECCOMP_SET_MODE_FILTER),
                              ctypes.c_long(flags), ctypes.byref(fprog))
        if result == 0:
            return 0
        error = ctypes.get_errno() if result < 0 else errno.ESRCH  # > 0: a thread that could not be synced
        if error not in (errno.EINVAL, errno.ENOSYS):
            return error
        if error == errno.ENOSYS:
            break
    # before 3.17 (no seccomp syscall): this thread only
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0:
        return 0
    return ctypes.get_errno()


def install(features: list[str]) -> bool:
    """Install the filter in this process (and its threads); append what was done to
    ``features``. Never raises: a sandbox without the filter is reported, not broken."""
    try:
        arch = native_arch()
        if arch is None:
            features.append(f"no seccomp filter (unsupported architecture {platform.machine() or sys.platform})")
            return False
        program = build(arch)
        libc = _libc()
        # required without CAP_SYS_ADMIN; drop_privileges has set it already
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        error = _load(libc, arch, program)
        if error:
            features.append(f"no seccomp filter ({errno.errorcode.get(error, str(error))}: {os.strerror(error)})")
            return False
    except Exception as exc:  # noqa: BLE001 - the worker must run on, and say so
        features.append(f"no seccomp filter ({type(exc).__name__}: {exc})")
        return False
    features.append(f"seccomp filter ({len(denied_names(arch))} system calls denied, "
                    "clone and personality restricted)")
    return True
