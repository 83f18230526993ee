"""Starting worker process trees: a fresh interpreter each time, or a fork of a warm zygote.

A *zygote* is a trusted process that has imported torch, NumPy, scikit-learn and the
probe code and warmed torch's lazy imports on one thread, and then only ever forks: each
fork becomes a worker (W0 in :mod:`grader.sandbox.worker`) that enters the sandbox and
runs one submission, so a submission starts in milliseconds instead of paying the
interpreter's and torch's start-up. The zygote never runs student code and holds no
secret (no expected values, no test labels): every child inherits its memory.

Both launchers give the runner the same thing: a process group to watch and kill, the
read ends of its stdout, stderr and result channel, and its exit status.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

WORKER_MODULE = "grader.sandbox.worker"
CHANNEL_FD_IN_ZYGOTE_CHILD = 3
CONTROL_FD_IN_ZYGOTE_CHILD = 4
_HEADER = struct.Struct(">I")
PASS_THROUGH_ENV = ("LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "CUDA_HOME", "NVIDIA_VISIBLE_DEVICES",
                    "NVIDIA_DRIVER_CAPABILITIES")


def clean_env() -> dict[str, str]:
    """The whole environment of a worker: nothing of the grader's own leaks in."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg", "TQDM_DISABLE": "1",
           "HOME": "/tmp"}
    env.update({k: os.environ[k] for k in PASS_THROUGH_ENV if k in os.environ})
    return env


def python_path() -> list[str]:
    """PYTHONPATH entries of the trusted side, handed to the worker explicitly."""
    return [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]


def worker_command(*extra: str) -> list[str]:
    # -s: no user site; -P: no script/working folder on sys.path (a torch.py beside the
    # submission cannot shadow torch); the environment is built from scratch by clean_env
    return [sys.executable, "-s", "-P", "-m", WORKER_MODULE, *extra]


@dataclass
class Launched:
    """A started worker: what the runner watches."""

    pid: int
    stdout: int  # read ends, owned by the runner (it closes them)
    stderr: int
    channel: int
    control: int  # write end: the runner's answers to the worker (timed calls)
    wait: Callable[[], int]  # blocks; returns an exit code, or -signal like Popen


def _feed(fd: int, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError:
        pass


class FreshLauncher:
    """A new interpreter per worker (slower: it imports torch each time)."""

    slot = None  # no CPU of its own

    def launch(self, make_request: Callable[[int, int], bytes]) -> Launched:
        channel_r, channel_w = os.pipe()
        control_r, control_w = os.pipe()
        try:
            proc = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, pass_fds=(channel_w, control_r), cwd="/", env=clean_env(),
                                    start_new_session=True)
        finally:
            os.close(channel_w)
            os.close(control_r)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None  # all PIPE
        threading.Thread(target=_feed, args=(os.dup(proc.stdin.fileno()), make_request(channel_w, control_r)),
                         daemon=True).start()
        proc.stdin.close()
        stdout, stderr = os.dup(proc.stdout.fileno()), os.dup(proc.stderr.fileno())
        proc.stdout.close()
        proc.stderr.close()
        return Launched(proc.pid, stdout, stderr, channel_r, control_w, proc.wait)


def _send(sock: socket.socket, message: dict, fds: Sequence[int] = ()) -> None:
    data = json.dumps(message).encode()
    payload = _HEADER.pack(len(data)) + data
    if fds:
        socket.send_fds(sock, [payload], list(fds))
    else:
        sock.sendall(payload)


def _recv(sock: socket.socket, max_fds: int = 0) -> tuple[dict | None, list[int]]:
    """One message (and any file descriptors sent with it); None at end of stream."""
    fds: list[int] = []
    head = b""
    while len(head) < _HEADER.size:
        if max_fds:
            chunk, new_fds, _, _ = socket.recv_fds(sock, _HEADER.size - len(head), max_fds)
            fds += new_fds
        else:
            chunk = sock.recv(_HEADER.size - len(head))
        if not chunk:
            return None, fds
        head += chunk
    (length,) = _HEADER.unpack(head)
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            return None, fds
        body += chunk
    return json.loads(body), fds


class Zygote:
    """The runner's handle on one zygote process (used by one thread at a time)."""

    def __init__(self, preload: list[str], warm: bool = False, slot: int | None = None):
        self.slot = slot  # which of the pool's zygotes: the CPU its sandboxes are pinned to, without cgroups
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock = ours
        self.proc = subprocess.Popen(worker_command("--zygote", str(theirs.fileno())), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(theirs.fileno(),),
                                     cwd="/", env=clean_env(), start_new_session=True)
        theirs.close()
        _send(self.sock, {"type": "preload", "modules": preload, "warm": warm, "python_path": python_path()})
        self.ready = False
        self.broken = False

    def wait_ready(self) -> None:
        if self.ready:
            return
        message, _ = _recv(self.sock)
        if not message or message.get("type") != "ready":
            err = ""
            if self.proc.poll() is not None:
                assert self.proc.stderr is not None  # stderr=PIPE
                err = self.proc.stderr.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"the warm worker did not start: {err}")
        self.ready = True

    def launch(self, make_request: Callable[[int, int], bytes]) -> Launched:
        """Fork a worker; a zygote that fails is marked broken and a fresh interpreter
        takes over, so a dead zygote costs time, never a submission."""
        try:
            return self._launch(make_request)
        except (OSError, RuntimeError, ValueError):
            self.broken = True
            return FreshLauncher().launch(make_request)

    def _launch(self, make_request: Callable[[int, int], bytes]) -> Launched:
        if self.broken:
            raise RuntimeError("broken zygote")
        self.wait_ready()
        stdin_r, stdin_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        chan_r, chan_w = os.pipe()
        ctl_r, ctl_w = os.pipe()
        try:
            _send(self.sock, {"type": "spawn"}, [stdin_r, out_w, err_w, chan_w, ctl_r])
        finally:
            for fd in (stdin_r, out_w, err_w, chan_w, ctl_r):
                os.close(fd)
        reply, _ = _recv(self.sock)
        if not reply or reply.get("type") != "spawned":
            for fd in (stdin_w, out_r, err_r, chan_r, ctl_w):
                os.close(fd)
            raise RuntimeError("the warm worker stopped answering")
        request = make_request(CHANNEL_FD_IN_ZYGOTE_CHILD, CONTROL_FD_IN_ZYGOTE_CHILD)
        threading.Thread(target=_feed, args=(stdin_w, request), daemon=True).start()
        pid = int(reply["pid"])

        def wait() -> int:  # called after the runner killed the process group
            _send(self.sock, {"type": "reap"})
            message, _ = _recv(self.sock)
            if not message:
                return -9
            status = int(message["status"])
            if os.WIFSIGNALED(status):
                return -os.WTERMSIG(status)
            return os.WEXITSTATUS(status)

        return Launched(pid, out_r, err_r, chan_r, ctl_w, wait)

    def alive(self) -> bool:
        return not self.broken and self.proc.poll() is None

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            if self.proc.stderr:
                self.proc.stderr.close()


class WorkerPool:
    """Warm zygotes, one per concurrent grading; a grading that finds none free (or a
    zygote that died) falls back to a fresh interpreter, never to waiting on a broken one."""

    def __init__(self, size: int, preload: list[str], warm: bool = False):
        self.preload = list(preload)
        self.warm = warm
        self.free: queue.Queue[Zygote] = queue.Queue()
        self.all = [Zygote(self.preload, warm, slot) for slot in range(max(1, size))]
        for zygote in self.all:
            self.free.put(zygote)

    @contextmanager
    def launcher(self) -> Iterator[object]:
        try:
            zygote = self.free.get_nowait()
        except queue.Empty:
            yield FreshLauncher()
            return
        try:
            if not zygote.alive():
                zygote.close()
                zygote = Zygote(self.preload, self.warm, zygote.slot)
                self.all.append(zygote)
            yield zygote
        finally:
            self.free.put(zygote)

    def close(self) -> None:
        for zygote in self.all:
            zygote.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
