"""Resource limits for one sandboxed run, with the defaults used by ``grader check``.

Time limits of cells and probes are CPU time of the whole sandbox, measured by the runner
(a busy machine slows the wall clock, not the CPU time a computation needs); each also
has a wall-clock backstop of twice the limit plus 5 s, for code that sleeps or blocks.
The whole submission's limit (``total_seconds``) counts the CPU time of all its attempts,
with a wall-clock backstop of twice it plus 5 s.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

MiB = 1024 * 1024


@dataclass
class Limits:
    startup_seconds: float = 60.0  # starting the worker and entering the sandbox (wall)
    unit_seconds: float = 30.0  # each top-level statement of a cell or module while loading (CPU)
    probe_seconds: float | None = None  # overrides every probe's own time limit when set
    exercise_probe_seconds: dict[str, float] = field(default_factory=dict)  # exercise id -> its probes' limit
    total_seconds: float = 600.0  # the whole submission, restarts included (CPU)
    memory_bytes: int = 3072 * MiB  # resident memory of everything in the sandbox
    address_space_bytes: int = 8192 * MiB  # RLIMIT_AS per process (not set on CUDA)
    processes: int = 64  # tasks (processes and threads) of the sandbox user
    file_bytes: int = 64 * MiB  # largest file the student may write
    tmp_bytes: int = 256 * MiB  # private /tmp and /dev/shm, each
    output_bytes: int = 1 * MiB  # stdout + stderr of the student's code
    channel_bytes: int = 256 * MiB  # observations sent back
    open_files: int = 256
    max_restarts: int = 4  # a crash or hang skips the culprit and runs the rest again
    cpus: float = 1.0  # the CPU time per second a sandbox may use (its cgroup's quota)

    def to_dict(self) -> dict:
        return asdict(self)

    def limit_total(self, seconds: float) -> None:
        """Set the whole submission's time limit (``--timeout``). A cell or statement may
        then run for at most half of it, so that one that hangs is skipped and the rest
        of the submission is still graded within the limit."""
        self.total_seconds = seconds
        self.unit_seconds = min(self.unit_seconds, max(1.0, seconds / 2))


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:g} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n} GiB"
