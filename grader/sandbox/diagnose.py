"""What this machine's sandbox can do, found by using it: an empty submission is run
through the sandbox exactly as a student's would be, and the report says which
protections the worker tree put in place, plus what a grade depends on here (the grader
and torch versions, each exercise's fingerprint).

A Dask worker sends this report before it is trusted with a submission
(:mod:`grader.batch.dask_worker`), and ``grader sandbox`` prints it (:func:`describe`).
The report is plain data (JSON-serialisable).
"""

from __future__ import annotations

import platform
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grader

#: The protections a worker must have to be trusted with student code, with what each
#: one means to a person (see :func:`missing_protections`).
REQUIRED = {
    "namespaces": "namespaces (private filesystem view, PID namespace and no network)",
    "memory_cgroup": "memory cgroup (the kernel's memory limit)",
    "seccomp": "seccomp filter (forbidden system calls)",
}


def _has(features: Sequence[str], prefix: str) -> bool:
    return any(f.startswith(prefix) for f in features)


def protections(features: Sequence[str]) -> dict[str, bool]:
    """Which required protections the sandbox's own feature list (the ``sandbox`` field
    of a result) shows. A test runs a real sandbox and checks these names, so a reworded
    feature cannot switch a protection off unnoticed."""
    cgroups = [f[len("cgroup ("):-1].split(", ") for f in features if f.startswith("cgroup (") and f.endswith(")")]
    return {
        "namespaces": all(_has(features, p) for p in ("private PID namespace", "private mounts", "network cut off")),
        "memory_cgroup": any("memory" in controllers for controllers in cgroups),
        "seccomp": _has(features, "seccomp filter"),
    }


def missing_protections(report: dict[str, Any]) -> list[str]:
    return [text for key, text in REQUIRED.items() if not report.get(key)]


def diagnose(exercise_ids: Sequence[str] | None = None, *, device: str = "cpu", pool=None, pm=None) -> dict[str, Any]:
    """Run an empty submission in the sandbox (forked from ``pool``'s warm zygote when
    given) and report what it could do. Never raises for a sandbox that does not work:
    the report's ``problem`` says why."""
    from grader.engine import exercise_registry, sandbox_view, select_exercises
    from grader.plugins import get_plugin_manager
    from grader.references import torch_version
    from grader.sandbox import Limits, run_in_sandbox
    from grader.submission import Submission

    started = time.monotonic()
    exercises = select_exercises(exercise_registry(pm or get_plugin_manager()), exercise_ids)
    report: dict[str, Any] = {
        "grader": grader.__version__, "torch": torch_version(), "python": platform.python_version(),
        "host": socket.gethostname(), "device": device,
        "fingerprints": {e.id: e.fingerprint() for e in exercises},
        "sandbox": [], "sandbox_torch": None, "cuda": False, "problem": None,
    }
    empty = Submission(path=Path("diagnose.py"), kind="module", units=[], files={}).to_request()
    try:
        outcome = run_in_sandbox(empty, [], names=[], device=device, limits=Limits(), view=sandbox_view(exercises),
                                 pool=pool)
    except Exception as exc:  # noqa: BLE001 - the report says why the sandbox does not work
        report["problem"] = f"the sandbox could not run ({type(exc).__name__}: {exc})"
    else:
        report.update(sandbox=list(outcome.sandbox), sandbox_torch=outcome.torch_version,
                      cuda=bool(outcome.cuda_available))
        if outcome.fatal is not None:
            report["problem"] = outcome.fatal.message
    report.update(protections(report["sandbox"]))
    report["seconds"] = round(time.monotonic() - started, 3)
    return report


def describe(report: dict[str, Any]) -> str:
    """The report as text, for a person."""
    yes = {True: "yes", False: "NO"}
    lines = [f"grader {report['grader']}, torch {report['torch']}, Python {report['python']} on {report['host']}",
             f"device {report['device']}" + (f" (CUDA available: {yes[report['cuda']]})"
                                             if str(report["device"]).startswith("cuda") else "")]
    lines += [f"{text}: {yes[bool(report.get(key))]}" for key, text in REQUIRED.items()]
    lines += ["sandbox features:"] + [f"  - {f}" for f in report["sandbox"] or ["(none)"]]
    lines += ["exercise fingerprints:"] + [f"  {k}: {v}" for k, v in report["fingerprints"].items()]
    if report.get("problem"):
        lines.append(f"problem: {report['problem']}")
    missing = missing_protections(report)
    lines.append("this machine cannot grade on a cluster: no " + "; no ".join(missing) if missing
                 else "this machine can grade on a cluster")
    return "\n".join(lines) + "\n"
