"""The worker process tree: ``python -s -P -m grader.sandbox.worker`` reads one request
on stdin and grades it in a sandbox.

W0 (this module's ``main``, or a fork of a zygote) imports torch and the probe code,
then forks W1; W1 enters new namespaces and builds the filesystem view (an allow-list:
:mod:`grader.sandbox.view`), then forks W2, PID 1 of the new PID namespace, which drops
privileges, applies resource limits, installs the seccomp filter and runs the student's
code.
When W2 ends, the kernel kills everything left in its namespace; when the parent kills
W0, the parent-death signal brings down W1 and W2 with it.
"""

from __future__ import annotations

import importlib
import json
import os
import sys


def _exit_status(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


def _wait_and_exit(pid: int) -> None:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
    os._exit(_exit_status(status))


def find_exercise(module_name: str, exercise_id: str):
    """The Exercise ``exercise_id`` that module ``module_name`` declares: a module-level
    name bound to it (or to a list of exercises), or the module's ``grader_exercises``."""
    from grader.exercise import Exercise

    module = importlib.import_module(module_name)
    candidates: list = []
    for value in vars(module).values():
        if isinstance(value, Exercise):
            candidates.append(value)
        elif isinstance(value, (list, tuple)):
            candidates.extend(v for v in value if isinstance(v, Exercise))
    if not any(e.id == exercise_id for e in candidates) and callable(getattr(module, "grader_exercises", None)):
        candidates.extend(module.grader_exercises() or ())
    for exercise in candidates:
        if exercise.id == exercise_id:
            return exercise
    raise LookupError(f"the exercise {exercise_id!r} is not declared in the module {module_name!r} (bind it to a "
                      f"module-level name, or return it from the module's grader_exercises hook)")


def _load_probes(request: dict) -> dict:
    probes = {}
    for spec in request["probes"]:
        exercise = find_exercise(spec["module"], spec["exercise"])
        probes[(spec["exercise"], spec["probe"])] = exercise.probes[spec["probe"]].function
    return probes


def warm_up(torch) -> None:
    """Run, on one thread, the torch code paths that import lazily (an optimiser step,
    autograd, tensor printing, save/load), so that forked workers do not pay for them."""
    import io

    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    for optimizer in (torch.optim.SGD(model.parameters(), lr=0.1), torch.optim.Adam(model.parameters())):
        loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 8)), torch.tensor([0, 1, 2, 3]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    repr(torch.randn(2, 2))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    torch.load(buffer, weights_only=True)


def _extend_path(entries: list[str]) -> None:
    """The trusted side's PYTHONPATH (plugins installed there), which the worker's clean
    environment does not carry."""
    for entry in entries:
        if entry and entry not in sys.path:
            sys.path.append(entry)


def _import_everything(modules: list[str] | tuple[str, ...] = ()):
    import torch

    torch.set_num_threads(1)
    import grader.api  # noqa: F401 - what probes import lazily must be in memory before the sandbox
    from grader.sandbox import isolation, originals, rootfs, seccomp, student, view  # noqa: F401

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module that fails here fails again, visibly, per request
            pass
    originals.snapshot()  # imports the modules it watches, once, here
    view.warm()
    return torch


def _freeze_imports() -> None:
    """Move everything imported so far out of the garbage collector's sight: a probe's
    collection (the watch takes one at its end) then scans only what the request made,
    microseconds instead of 90 ms over torch's objects, and forked workers share the
    pages of the frozen objects instead of copying them when the collector touches them."""
    import gc

    gc.collect()
    gc.freeze()


def _enter_sandbox(request: dict, features: list[str]) -> bool:
    """In W1: new namespaces and the filesystem view. True when namespaces are in place."""
    from grader.sandbox import isolation, rootfs, view

    if not isolation.available() or not isolation.unshare_namespaces(features):
        return False
    owner = request.get("sandbox_uid") if os.geteuid() == 0 else None
    owner = owner if owner is not None else os.geteuid()
    plan = view.plan(request.get("view", {}), owner, request["device"].startswith("cuda"))
    rootfs.build_root(plan, request["limits"]["tmp_bytes"], owner, features)
    return True


def _join_cgroup(procs_files: list[str]) -> None:
    """Enter the sandbox's cgroup before forking anything, so that every process of the
    tree is born inside it (the runner adds stragglers too)."""
    for path in procs_files:
        try:
            with open(path, "w") as f:
                f.write(str(os.getpid()))
        except OSError:
            pass


def serve_request(torch) -> None:
    """Grade the one request that arrives on stdin (this process is W0); never returns."""
    from grader.sandbox import isolation, seccomp, student
    from grader.sandbox.recorder import Channel

    isolation.set_parent_death_signal()
    isolation.become_subreaper()  # without namespaces, orphans stay below W0, where the runner finds them
    request = json.loads(sys.stdin.buffer.read())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    frames_fd, control_fd = int(request["channel_fd"]), int(request["control_fd"])
    _join_cgroup(request.get("cgroup_procs", []))
    _extend_path(request.get("python_path", []))
    probes = _load_probes(request)
    sandboxed = request.get("sandbox", True)
    features: list[str] = []
    if sandboxed and request.get("cpu_affinity"):
        isolation.pin_cpus(request["cpu_affinity"], features)
    sandbox_uid = request.get("sandbox_uid") if os.geteuid() == 0 and sandboxed else None
    uid_for_limits = sandbox_uid if sandbox_uid is not None else os.geteuid()
    base_tasks = isolation.own_task_count(uid_for_limits) if sandbox_uid is None else 0

    w1 = os.fork()
    if w1:
        _wait_and_exit(w1)
    # ---- W1: new namespaces, filesystem view
    isolation.set_parent_death_signal()
    namespaces = _enter_sandbox(request, features) if sandboxed else False
    w2 = os.fork()
    if w2:
        _wait_and_exit(w2)
    # ---- W2: PID 1 of the sandbox
    isolation.set_parent_death_signal()
    if namespaces:
        isolation.mount_proc(features)
        os.chdir(isolation.WORKDIR)
    if sandboxed:
        limits = dict(request["limits"], cpu_seconds=request["limits"]["total_seconds"] + 10)  # a last resort
        isolation.apply_rlimits(limits, request["device"].startswith("cuda"), base_tasks, features)
        isolation.drop_privileges(sandbox_uid, features)
        seccomp.install(features)
        if not namespaces:
            features.append("no filesystem or network isolation on this system")
    os.environ["HOME"] = os.getcwd()
    channel = Channel(frames_fd, control_fd)  # here, in W2: its own pid is the one that may write frames
    low, high = sorted((frames_fd, control_fd))
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, 1 << 16)
    channel.send({"type": "hello", "sandbox": features, "torch": torch.__version__,
                  "cuda": bool(torch.cuda.is_available()) if request["device"].startswith("cuda") else False})
    try:
        student.run_job(request, channel, torch, probes)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(0)


def _into_place(fds: list[int]) -> None:
    """Move the five descriptors a zygote child receives onto 0, 1, 2, 3 and 4."""
    import fcntl

    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]
    for fd in fds:
        os.close(fd)
    for target, fd in enumerate(high):
        os.dup2(fd, target)
        os.close(fd)


def zygote(control_fd: int) -> None:
    """Import once, then fork one W0 per request (see :mod:`grader.sandbox.launch`).

    Protocol on the control socket: ``preload`` (module names, warm-up flag) -> ``ready``;
    then per worker: ``spawn`` with stdin, stdout, stderr and channel descriptors ->
    ``spawned`` (pid); ``reap`` -> ``exited`` (wait status). The child is reaped only when
    the runner says so, after it has killed the child's process group, so its pid cannot
    be reused by another process in between."""
    import socket

    from grader.sandbox import isolation
    from grader.sandbox.launch import _recv, _send

    isolation.set_parent_death_signal()
    sock = socket.socket(fileno=control_fd)
    message, _ = _recv(sock)
    if message is None:
        os._exit(0)
    _extend_path(message.get("python_path", []))
    torch = _import_everything(message.get("modules", []))
    if message.get("warm"):
        warm_up(torch)
    _freeze_imports()
    _send(sock, {"type": "ready"})
    while True:
        message, fds = _recv(sock, max_fds=5)
        if message is None:
            os._exit(0)
        if message.get("type") != "spawn" or len(fds) != 5:
            for fd in fds:
                os.close(fd)
            continue
        pid = os.fork()
        if pid == 0:
            sock.close()
            os.setsid()
            _into_place(fds)
            serve_request(torch)
        for fd in fds:
            os.close(fd)
        _send(sock, {"type": "spawned", "pid": pid})
        message, _ = _recv(sock)
        if message is None:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        if message is None:
            os._exit(0)
        _send(sock, {"type": "exited", "status": status})


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--zygote":
        zygote(int(sys.argv[2]))
        return
    from grader.sandbox import isolation

    isolation.set_parent_death_signal()
    torch = _import_everything()
    _freeze_imports()
    serve_request(torch)


if __name__ == "__main__":
    main()
