"""The seccomp layer: what a submission may no longer ask of the kernel, and what it gets.

The engine tests grade a real submission (warm worker pool, as `grader check`) whose first
cell tries each denied class of system call and prints the errno it got; its correct
functions must still earn every point, as a control submission without the tricks does.
The unit tests build the BPF program without installing it, and install it only in a
forked child of the test process (the filter can never be removed from a process).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import re
import signal
from pathlib import Path

import pytest

from conftest import score_beside_machinery, exercise_result, grade, notebook, write_submission
from grader.sandbox import Limits, seccomp

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/mountinfo"), reason="the sandbox needs Linux")

CORRECT_TENSOR_OPS = '''
import numpy as np
import torch

def to_float_tensor(data):
    return torch.tensor(np.array(data), dtype=torch.float32)

def column_standardize(x):
    mean = x.mean(dim=0, keepdim=True)
    std = x.std(dim=0, correction=0, keepdim=True)
    centred = x - mean
    return torch.where(std == 0, torch.zeros_like(centred), centred / torch.where(std == 0, torch.ones_like(std), std))

def mask_mean(mask):
    return mask.to(torch.float32).mean()

def batched_transpose(a):
    return a.transpose(-2, -1)
'''


def small(**changes) -> Limits:
    base = dict(unit_seconds=4, total_seconds=90, max_restarts=8, memory_bytes=1024 * 1024 * 1024)
    base.update(changes)
    return Limits(**base)


def cell(result: dict, label: str) -> dict:
    return next(c for c in result["cells"] if c["label"] == label)


def printed(result: dict, tag: str) -> dict:
    """What the submission printed as ``tag <json>`` on one line."""
    for line in result["output"].splitlines():
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1:])
    raise AssertionError(f"{tag!r} not in the output:\n{result['output'][:2000]}\n{result['cells']}")


def filter_entries(result: dict) -> list[str]:
    return [s for s in result["sandbox"] if s.startswith("seccomp filter")]


# ------------------------------------------------------------------ in a forked child
def in_child(function) -> tuple[object, int]:
    """Run ``function`` in a forked child (which may install the filter); return what it
    returned (JSON) and the child's wait status."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            try:
                message = {"value": function()}
            except BaseException as exc:  # noqa: BLE001 - reported to the test
                message = {"error": repr(exc)}
            os.write(write_end, json.dumps(message).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    message = json.loads(b"".join(chunks)) if chunks else {}
    assert "error" not in message, message["error"]
    return message.get("value"), status


_SUPPORTED: list[str] = []


def kernel_filter() -> str:
    """What ``install`` reports on this machine (in a child, so that this process stays free)."""
    def attempt():
        features = []
        seccomp.install(features)
        return features

    if not _SUPPORTED:
        features, _ = in_child(attempt)
        _SUPPORTED.append((features or ["no seccomp filter (the child died)"])[0])
    return _SUPPORTED[0]


def needs_filter():
    if not kernel_filter().startswith("seccomp filter"):
        pytest.skip(f"this kernel takes no filter: {kernel_filter()}")


# ------------------------------------------------------------------ the program, not installed
def run_filter(program: list[seccomp.Instruction], nr: int, arch: int, args=(0,) * 6) -> int:
    """A classic-BPF interpreter for the instructions the filter uses, over one seccomp_data."""
    data = {seccomp.OFFSET_NR: nr & 0xFFFFFFFF, seccomp.OFFSET_ARCH: arch}
    for i, value in enumerate(args):
        data[16 + 8 * i], data[20 + 8 * i] = value & 0xFFFFFFFF, (value >> 32) & 0xFFFFFFFF
    pc, acc = 0, 0
    while True:
        ins = program[pc]
        if ins.code == seccomp.BPF_LD_W_ABS:
            acc = data[ins.k]
            pc += 1
        elif ins.code == seccomp.BPF_JEQ_K:
            pc += 1 + (ins.jt if acc == ins.k else ins.jf)
        elif ins.code == seccomp.BPF_JSET_K:
            pc += 1 + (ins.jt if acc & ins.k else ins.jf)
        elif ins.code == seccomp.BPF_RET_K:
            return ins.k
        else:
            raise AssertionError(f"unexpected opcode {ins.code:#x} at {pc}")


ALLOW, KILL = seccomp.SECCOMP_RET_ALLOW, seccomp.SECCOMP_RET_KILL_PROCESS
EPERM, ENOSYS = seccomp.SECCOMP_RET_ERRNO | errno.EPERM, seccomp.SECCOMP_RET_ERRNO | errno.ENOSYS
AUDIT_ARCH_I386, AUDIT_ARCH_ARM = 0x40000003, 0x40000028
# numbers written out independently of the module's tables (same kernel sources)
GETPID = {"x86_64": 39, "aarch64": 172}
THREAD_FLAGS = 0x3D0F00  # what glibc's pthread_create passes to clone
FORK_FLAGS = 0x01200000 | signal.SIGCHLD  # CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID, fork()


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_the_filter_program_is_well_formed(arch):
    program = seccomp.build(arch)
    assert 0 < len(program) <= 4096  # BPF_MAXINSNS
    for pc, ins in enumerate(program):
        assert ins.code in (seccomp.BPF_LD_W_ABS, seccomp.BPF_JEQ_K, seccomp.BPF_JSET_K, seccomp.BPF_RET_K), pc
        if ins.code in (seccomp.BPF_JEQ_K, seccomp.BPF_JSET_K):
            assert 0 <= ins.jt <= 255 and 0 <= ins.jf <= 255, pc
            assert pc + 1 + max(ins.jt, ins.jf) < len(program), f"jump out of the program at {pc}"
        if ins.code == seccomp.BPF_LD_W_ABS:
            assert ins.k in (seccomp.OFFSET_NR, seccomp.OFFSET_ARCH, seccomp.OFFSET_ARG0_LOW), pc
        if ins.code == seccomp.BPF_RET_K:
            assert ins.k in (ALLOW, KILL, EPERM, ENOSYS), pc
    assert program[-1] == seccomp.Instruction(seccomp.BPF_RET_K, 0, 0, ALLOW)
    # the architecture is checked before anything else is read
    assert program[0] == seccomp.Instruction(seccomp.BPF_LD_W_ABS, 0, 0, seccomp.OFFSET_ARCH)
    assert program[1].code == seccomp.BPF_JEQ_K and program[1].k == seccomp.AUDIT_ARCH[arch]
    assert program[2 + program[1].jf].k == KILL
    # every instruction can be reached (no dead code left by a wrong label)
    reached, todo = set(), [0]
    while todo:
        pc = todo.pop()
        if pc in reached:
            continue
        reached.add(pc)
        ins = program[pc]
        if ins.code in (seccomp.BPF_JEQ_K, seccomp.BPF_JSET_K):
            todo += [pc + 1 + ins.jt, pc + 1 + ins.jf]
        elif ins.code != seccomp.BPF_RET_K:
            todo.append(pc + 1)
    assert reached == set(range(len(program)))


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_the_filter_program_decides_as_documented(arch):
    program = seccomp.build(arch)
    table, audit = seccomp.SYSCALLS[arch], seccomp.AUDIT_ARCH[arch]

    def verdict(name_or_nr, *args, arch_value=audit):
        nr = table[name_or_nr] if isinstance(name_or_nr, str) else name_or_nr
        return run_filter(program, nr, arch_value, tuple(args) + (0,) * (6 - len(args)))

    assert verdict(GETPID[arch]) == ALLOW
    assert verdict("seccomp") == ALLOW  # stacking a further filter is harmless
    for name in seccomp.DENIED:
        if name in table:
            assert verdict(name) == EPERM, name
    assert verdict("clone3") == ENOSYS
    assert arch == "x86_64" or "iopl" not in table
    # clone: threads and fork are allowed, any namespace flag is refused; only the low
    # 32 bits of the flags count (the kernel ignores the rest)
    assert verdict("clone", THREAD_FLAGS) == ALLOW
    assert verdict("clone", FORK_FLAGS) == ALLOW
    assert verdict("clone", FORK_FLAGS | (1 << 40)) == ALLOW
    for flag in (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000):
        assert verdict("clone", FORK_FLAGS | flag) == EPERM, hex(flag)
        assert verdict("clone", 0, flag) == ALLOW, "only the first argument is the flags"
    # personality: a query and plain Linux only
    assert verdict("personality", 0xFFFFFFFF) == ALLOW
    assert verdict("personality", 0) == ALLOW
    for persona in (0x0400000, 0x0040000, 0x0008, 0x0020000):  # READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, ...
        assert verdict("personality", persona) == EPERM, hex(persona)
    # any other ABI is killed, whatever the number
    other = AUDIT_ARCH_I386 if arch == "x86_64" else AUDIT_ARCH_ARM
    for nr in (0, 1, 20, table["clone"]):
        assert verdict(nr, arch_value=other) == KILL
    if arch == "x86_64":
        assert verdict(seccomp.X32_SYSCALL_BIT | GETPID[arch]) == KILL
        assert verdict(seccomp.X32_SYSCALL_BIT | 512) == KILL  # an x32-only number
    else:
        assert verdict(seccomp.X32_SYSCALL_BIT | GETPID[arch]) == ALLOW  # no x32 on arm64: an unknown number


def test_the_tables_match_the_kernel_headers_where_they_are_installed():
    headers = {"x86_64": [Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"), Path("/usr/include/asm/unistd_64.h")],
               "aarch64": [Path("/usr/include/asm-generic/unistd.h")]}
    checked = 0
    for arch, candidates in headers.items():
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            continue
        defined = {m[1]: int(m[2]) for m in re.finditer(r"#define __NR(?:3264)?_(\w+)\s+(\d+)", path.read_text())}
        for name, number in seccomp.SYSCALLS[arch].items():
            if name in defined:  # older headers lack the newest calls
                assert defined[name] == number, (arch, name)
                checked += 1
    if not checked:
        pytest.skip("no kernel headers installed")


def seccomp_status() -> list[str]:
    with open("/proc/self/status") as f:
        return [line for line in f if line.startswith("Seccomp")]


def test_an_unknown_architecture_gets_no_filter_and_says_so():
    def attempt():
        platform.machine = lambda: "riscv64"
        features = []
        return seccomp.install(features), features, seccomp_status()

    (installed, features, after), status = in_child(attempt)
    assert status == 0
    assert installed is False and after == seccomp_status()  # no filter more than this process has
    assert features == ["no seccomp filter (unsupported architecture riscv64)"]


def test_a_failing_kernel_is_reported_and_never_raises():
    def attempt():
        seccomp._load = lambda *a: errno.EINVAL
        features = []
        return seccomp.install(features), features

    (installed, features), status = in_child(attempt)
    assert status == 0 and installed is False
    assert features == ["no seccomp filter (EINVAL: Invalid argument)"]


def test_the_installed_filter_refuses_with_eperm_and_lets_the_rest_through():
    needs_filter()

    def attempt():
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        features = []
        seccomp.install(features)
        out = {"features": features, "pid": os.getpid() == libc.getpid()}
        out["unshare"] = (libc.unshare(0x10000000), ctypes.get_errno())
        out["clone3"] = (libc.syscall(ctypes.c_long(435), ctypes.c_long(0), ctypes.c_long(0)), ctypes.get_errno())
        pid = os.fork()  # clone without namespace flags
        if pid == 0:
            os._exit(7)
        out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        out["mode"] = [line.split()[1] for line in seccomp_status() if line.startswith("Seccomp:")]
        return out

    out, status = in_child(attempt)
    assert status == 0, status
    assert out["features"] == [kernel_filter()] and out["pid"]
    assert out["unshare"] == [-1, errno.EPERM]
    assert out["clone3"] == [-1, errno.ENOSYS]
    assert out["fork"] == 7
    assert out["mode"] == ["2"]  # SECCOMP_MODE_FILTER


INT80_GETPID = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax, 20 (i386 getpid); int 0x80; ret


def _int80() -> int:
    import mmap

    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(INT80_GETPID)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    return ctypes.CFUNCTYPE(ctypes.c_long)(address)()


def needs_i386():
    """The i386 ABI through int 0x80 from a 64-bit process: only where the kernel offers it."""
    if platform.machine() != "x86_64":
        pytest.skip("x86_64 only")
    result, status = in_child(lambda: _int80() == os.getpid())
    if status != 0 or not result:
        pytest.skip("this kernel has no i386 emulation")


def test_another_abi_or_x32_kills_the_process():
    needs_filter()
    needs_i386()
    _, status = in_child(lambda: (seccomp.install([]), _int80()))
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS, status

    def x32():
        seccomp.install([])
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        return libc.syscall(ctypes.c_long(seccomp.X32_SYSCALL_BIT | GETPID["x86_64"]))

    _, status = in_child(x32)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS, status


# ------------------------------------------------------------------ through the engine
TRICKS = '''
import ctypes, errno, json, os, platform, signal
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long
NR = {"x86_64": dict(clone=56, clone3=435, setns=308, ptrace=101, process_vm_readv=310, keyctl=250, bpf=321,
                     perf_event_open=298, io_uring_setup=425, personality=135),
      "aarch64": dict(clone=220, clone3=435, setns=268, ptrace=117, process_vm_readv=270, keyctl=219, bpf=280,
                      perf_event_open=241, io_uring_setup=425, personality=92)}[platform.machine()]
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
results = {}

def named(ret):
    return "succeeded" if ret != -1 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))

def raw(name, *args):
    return libc.syscall(L(NR[name]), *[L(a) for a in args])

def new_process(name, ret):
    """clone and clone3 behave like fork when they succeed: the child leaves at once."""
    if ret == 0:
        os._exit(0)
    if ret > 0:
        os.waitpid(ret, 0)
    results[name] = named(ret)

new_process("clone CLONE_NEWNS", raw("clone", CLONE_NEWNS | signal.SIGCHLD, 0, 0, 0, 0))
new_process("clone CLONE_NEWUSER|CLONE_NEWNS", raw("clone", CLONE_NEWUSER | CLONE_NEWNS | signal.SIGCHLD, 0, 0, 0, 0))
clone_args = (ctypes.c_uint64 * 8)(CLONE_NEWUSER, 0, 0, 0, signal.SIGCHLD, 0, 0, 0)
new_process("clone3", raw("clone3", ctypes.addressof(clone_args), ctypes.sizeof(clone_args)))
try:  # without the filter: EINVAL (its own namespace), or EBADF where there is no /proc
    fd = os.open("/proc/self/ns/user", os.O_RDONLY)
except OSError:
    fd = -1
results["setns"] = named(raw("setns", fd, CLONE_NEWUSER))
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
results["mount"] = named(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
results["ptrace attach parent"] = named(raw("ptrace", 16, os.getppid(), 0, 0))  # PTRACE_ATTACH
read_end, write_end = os.pipe()
child = os.fork()
if child == 0:  # PTRACE_TRACEME in a child of its own: the worker's parent must not become a tracer
    os.write(write_end, named(raw("ptrace", 0, 0, 0, 0)).encode())
    os._exit(0)
os.close(write_end)
os.waitpid(child, 0)
results["ptrace traceme"] = os.read(read_end, 100).decode()

class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

secret, copy = ctypes.create_string_buffer(b"secret", 16), ctypes.create_string_buffer(16)
local, remote = iovec(ctypes.addressof(copy), 16), iovec(ctypes.addressof(secret), 16)
results["process_vm_readv"] = named(raw("process_vm_readv", os.getpid(), ctypes.addressof(local), 1,
                                        ctypes.addressof(remote), 1, 0))
results["keyctl"] = named(raw("keyctl", 0, -3, 0))  # KEYCTL_GET_KEYRING_ID of the session keyring
results["bpf"] = named(raw("bpf", 0, 0, 0))
results["perf_event_open"] = named(raw("perf_event_open", 0, 0, -1, -1, 0))
results["io_uring_setup"] = named(raw("io_uring_setup", 1, 0))
try:
    os.sched_setaffinity(0, range(os.cpu_count()))
    results["sched_setaffinity"] = "succeeded"
except OSError as exc:
    results["sched_setaffinity"] = errno.errorcode[exc.errno]
results["personality READ_IMPLIES_EXEC"] = named(raw("personality", 0x0400000))
results["personality query"] = named(raw("personality", 0xFFFFFFFF))
# last: without the filter this one succeeds, and the process is then in a namespace of its own
results["unshare"] = named(libc.unshare(CLONE_NEWUSER))
if hasattr(os, "unshare"):
    try:
        os.unshare(os.CLONE_NEWUSER)
        results["os.unshare"] = "succeeded"
    except OSError as exc:
        results["os.unshare"] = errno.errorcode[exc.errno]
print("SECCOMP", json.dumps(results))
'''

CONTROL = '''
import json
print("SECCOMP", json.dumps({}))
'''

DENIED_WITH_EPERM = ["unshare", "clone CLONE_NEWNS", "clone CLONE_NEWUSER|CLONE_NEWNS", "setns", "mount",
                     "ptrace attach parent", "ptrace traceme", "process_vm_readv", "keyctl", "bpf", "perf_event_open",
                     "io_uring_setup", "sched_setaffinity", "personality READ_IMPLIES_EXEC"]


def test_namespaces_tracing_and_the_rest_are_refused_with_a_clear_error(tmp_path):
    needs_filter()
    path = write_submission(tmp_path, notebook(TRICKS, CORRECT_TENSOR_OPS), "nb.ipynb")
    result = grade(path, "tensor_ops", limits=small())
    got = printed(result, "SECCOMP")
    assert result["cells"] == [], result["cells"]  # every refusal was an ordinary error return
    assert {k: got[k] for k in DENIED_WITH_EPERM} == {k: "EPERM" for k in DENIED_WITH_EPERM}, got
    assert got.get("os.unshare", "EPERM") == "EPERM"
    assert got["clone3"] == "ENOSYS"
    assert got["personality query"] == "succeeded"
    assert filter_entries(result) == [kernel_filter()], result["sandbox"]
    assert score_beside_machinery(result, "tensor_ops") == 10

    control = write_submission(tmp_path, notebook(CONTROL, CORRECT_TENSOR_OPS), "control.ipynb")
    plain = grade(control, "tensor_ops", limits=small())
    assert exercise_result(plain, "tensor_ops")["score"] == score_beside_machinery(result, "tensor_ops")


WORKLOAD = '''
import concurrent.futures, json, subprocess, sys, threading, torch
torch.set_num_threads(4)  # intra-op threads: pthread_create, clone3 refused, clone without namespaces
a = torch.randn(512, 512)
product = (a @ a.T).trace().item()
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    sums = list(pool.map(lambda i: float(torch.full((64,), float(i)).sum()), range(8)))
seen = []
thread = threading.Thread(target=lambda: seen.append(threading.get_ident()))
thread.start()
thread.join()
child = subprocess.run([sys.executable, "-c", "import os; print(6 * 7, os.getpid() > 1)"], capture_output=True,
                       text=True, timeout=20)
torch.set_num_threads(1)
print("WORKLOAD", json.dumps({"product": product > 0, "sums": sums, "thread": len(seen), "child": child.stdout.strip(),
                               "child_rc": child.returncode, "threads": torch.get_num_threads()}))
'''


def test_torch_threads_and_subprocesses_still_work_under_the_filter(tmp_path):
    needs_filter()
    path = write_submission(tmp_path, notebook(WORKLOAD, CORRECT_TENSOR_OPS), "nb.ipynb")
    result = grade(path, "tensor_ops", limits=small(unit_seconds=20))
    assert result["cells"] == [], result["cells"]
    work = printed(result, "WORKLOAD")
    assert work == {"product": True, "sums": [64.0 * i for i in range(8)], "thread": 1, "child": "42 True",
                    "child_rc": 0, "threads": 1}
    assert filter_entries(result) == [kernel_filter()]
    assert exercise_result(result, "tensor_ops")["score"] == 10


def test_a_freshly_started_worker_is_filtered_too(tmp_path):
    """Without the warm pool (a new interpreter per submission), the same layer is in force."""
    needs_filter()
    path = write_submission(tmp_path, notebook(TRICKS, CORRECT_TENSOR_OPS), "nb.ipynb")
    result = grade(path, "tensor_ops", limits=small(unit_seconds=20, startup_seconds=120), fresh=True)
    got = printed(result, "SECCOMP")
    assert got["unshare"] == got["clone CLONE_NEWUSER|CLONE_NEWNS"] == "EPERM" and got["clone3"] == "ENOSYS", got
    assert filter_entries(result) == [kernel_filter()]
    assert score_beside_machinery(result, "tensor_ops") == 10


OTHER_ABI = '''
import ctypes, mmap
page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3]))  # mov eax, 20 (i386 getpid); int 0x80; ret
ctypes.CFUNCTYPE(ctypes.c_long)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()
'''


def test_a_system_call_through_another_abi_costs_only_its_cell(tmp_path):
    needs_filter()
    needs_i386()
    path = write_submission(tmp_path, notebook(OTHER_ABI, CORRECT_TENSOR_OPS), "nb.ipynb")
    result = grade(path, "tensor_ops", limits=small())
    first = cell(result, "cell 1")
    assert first["status"] == "stopped", result["cells"]
    assert f"signal {int(signal.SIGSYS)}" in first["message"] or "system call" in first["message"], first
    assert exercise_result(result, "tensor_ops")["score"] == 10
    assert filter_entries(result) == [kernel_filter()]
