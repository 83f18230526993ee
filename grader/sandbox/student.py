"""Inside the sandbox: run the prelude probes, the student's units, then the probes, and
send what was observed, frame by frame, in the order :mod:`grader.sandbox.protocol`
checks.

Before each probe, every function of torch, NumPy, the standard library and the worker
that the submission replaced is put back (:mod:`grader.sandbox.originals`), and the
probe's calls are watched by :mod:`grader.sandbox.recorder`. No verdict is formed here.
"""

from __future__ import annotations

import ast
import builtins
import linecache
import os
import random
from typing import Any

from grader.sandbox import audit, originals, watching
from grader.sandbox.channel import write_frame
from grader.sandbox.recorder import FAILED, CallTimeout, Channel, Recorder, Student, Trimmer
from grader.sandbox.stubs import Stub, StudentImport, noop
from grader.states import Frame

__all__ = ["FAILED", "Recorder", "Student", "run_job"]


def _reset_state(torch: Any, seed: int) -> None:
    """Global state a previous cell or probe may have changed."""
    random.seed(seed)
    try:
        import numpy

        numpy.random.seed(seed)
    except Exception:  # noqa: BLE001
        pass
    torch.manual_seed(seed)
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
    torch.set_num_threads(1)


def _eof_input(prompt: str = "") -> str:
    raise EOFError("input() is not available while grading (no keyboard)")


def student_builtins(real_import: Any) -> tuple[dict[str, Any], StudentImport]:
    """The builtins of the student's namespace: the real ones, with Jupyter's ``display``
    and ``get_ipython``, an ``input`` that answers end-of-file, and an ``__import__``
    that gives stand-ins for missing display libraries to the student's imports only."""
    importer = StudentImport(real_import)
    names = dict(vars(builtins))
    names.update(__import__=importer, display=noop, get_ipython=lambda: Stub("get_ipython()"), input=_eof_input)
    return names, importer


def _run_unit(unit: dict[str, Any], namespace: dict[str, Any], trimmer: Trimmer) -> dict[str, Any] | None:
    try:
        tree = ast.parse(unit["source"], filename=unit["filename"])
        ast.increment_lineno(tree, unit["first_line"] - 1)
        code = compile(tree, unit["filename"], "exec")
        exec(code, namespace)  # noqa: S102 - this is the sandbox
    except SyntaxError as exc:
        exc.lineno = (exc.lineno or 1) + unit["first_line"] - 1
        exc.filename = unit["filename"]
        return trimmer.describe(exc)
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
        return trimmer.describe(exc)
    return None


class Job:
    """One request: the student's namespace, the probes to run, the channel."""

    def __init__(self, request: dict[str, Any], channel: Channel, torch: Any, probes: dict) -> None:
        self.request = request
        self.channel = channel
        self.torch = torch
        self.probes = probes
        self.seed = int(request.get("seed", 0))
        submission = request["submission"]
        files: dict[str, str] = submission["files"]
        for filename, text in files.items():
            linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        self.trimmer = Trimmer(files)
        names, self.importer = student_builtins(builtins.__import__)
        self.namespace: dict[str, Any] = {"__name__": submission["module_name"], "__builtins__": names}
        self.student = Student(self.namespace)

    def run_probe(self, spec: dict[str, Any]) -> None:
        key = (spec["exercise"], spec["probe"])
        if not spec.get("prelude") and not any(name in self.namespace for name in spec.get("names", ())):
            self.channel.send({"type": Frame.PROBE_DONE.value, "exercise": key[0], "probe": key[1],
                               "observations": {}, "failure": None})
            return
        self.channel.send({"type": Frame.PROBE_START.value, "exercise": key[0], "probe": key[1]})
        restored = originals.restore()
        _reset_state(self.torch, self.seed)
        recorder = Recorder(self.student, self.trimmer, self.torch, self.request["device"], float(spec["timeout"]),
                            spec.get("inputs"), self.channel)
        failure = None
        try:
            self.probes[key](self.student, recorder)
            recorder.reporter.finish()
        except CallTimeout:
            failure = {"$": "raised", "type": "TimeoutError", "timed_out": True, "traceback": "",
                       "message": f"time limit of {spec['timeout']:.3g} s exceeded"}
        except BaseException as exc:  # noqa: BLE001
            failure = self.trimmer.describe(exc)
        finally:
            Recorder.disarm()
        self.channel.send({"type": Frame.PROBE_DONE.value, "exercise": key[0], "probe": key[1],
                           "observations": recorder.observations, "failure": failure, "restored": restored[:64]})

    def _finish_forked_cell(self, units: list[dict[str, Any]], index: int) -> None:
        """A child the student's code forked returned here: like the rest of a notebook cell
        after os.fork(), it runs the remaining statements of its cell, silently, then ends."""
        for unit in units[index + 1:]:
            if unit["label"] != units[index]["label"]:
                break
            _run_unit(unit, self.namespace, self.trimmer)
        os._exit(0)

    def run(self) -> None:
        skip = {int(k) for k in self.request.get("skip_units", {})}
        specs = self.request["probes"]
        originals.snapshot(tuple(sorted({s["module"] for s in specs})),
                           names=tuple(sorted({n for s in specs for n in s.get("forbidden", ())})))
        for spec in (s for s in specs if s.get("prelude")):
            self.run_probe(spec)
        _reset_state(self.torch, self.seed)
        units = self.request["submission"]["units"]
        for index, unit in enumerate(units):
            if index in skip:
                continue
            self.channel.send({"type": Frame.UNIT_START.value, "index": index})
            error = _run_unit(unit, self.namespace, self.trimmer)
            if self.channel.forked():
                self._finish_forked_cell(units, index)
            self.channel.send({"type": Frame.UNIT_DONE.value, "index": index, "error": error})
        wanted = self.request.get("names", [])
        self.channel.send({"type": Frame.LOADED.value, "defined": [n for n in wanted if n in self.namespace],
                           "stand_ins": list(self.importer.handed_out)})
        for spec in (s for s in specs if not s.get("prelude")):
            self.run_probe(spec)
        self.channel.send({"type": Frame.DONE.value})


def run_job(request: dict[str, Any], channel: Channel, torch: Any, probes: dict) -> None:
    frames, pid = channel.frames, os.getpid()

    def notice(message: dict[str, Any]) -> None:
        if os.getpid() == pid:  # a child the student forked never writes frames
            write_frame(frames, message)

    watching.capture(torch)
    audit.install(notice, frozenset(request["submission"]["files"]))
    Job(request, channel, torch, probes).run()
