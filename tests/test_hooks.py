"""Every hook of grader/hookspecs.py is called by the product: for each hookspec, one test
plugin (:class:`HookProbe`, which implements them all and records every call) is
registered, the real entry point that should call the hook is driven (``grader list``,
``grader check``, ``run_batch``), and the hook's effect is asserted where a user sees it,
beside what the same entry point does without the plugin.

A hookspec added without a case here fails :func:`test_every_hookspec_has_a_case` (and its
own parametrized case). That every hook is documented in docs/authoring.md is
tests/test_docs.py's check.

Nothing here runs student code: the submissions do not parse, so the engine grades them
without a sandbox, and the batch's executor is the probe's own, which grades each task in
this process with :func:`grader.batch.executor.grade_task`.
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

import grader
from grader import cli, hookspecs, plugins
from grader.errors import GraderError

NAME = "hook_probe"  #: the probe's plugin name, and the name of its exercise, format, device, executor and policy
DEVICE = "cpu:0"  #: what the probe's device name resolves to
BROKEN = "def mask_mean(mask) return mask.mean()\n"  #: mentions tensor_ops' function; does not parse

#: every hook of grader.hookspecs (what pluggy's ``add_hookspecs`` registers)
HOOKS = sorted(name for name, value in vars(hookspecs).items()
               if callable(value) and hasattr(value, f"{plugins.ENTRY_POINT_GROUP}_spec"))


# ------------------------------------------------------------------ the probe plugin
class ProbeExecutor:
    """Grades each task in this process, through the probe's plugin manager."""

    name = NAME
    description = "grades in the test process (tests/test_hooks.py)"

    def __init__(self, probe: HookProbe):
        self.probe = probe
        self.graded: list[str] = []

    def run(self, tasks, jobs):
        from grader.batch.executor import grade_task

        for index in range(len(tasks)):
            task = tasks[index]
            self.graded.append(task.id)
            yield grade_task(task, pm=self.probe.pm, worker=f"{NAME}/1")


class HookProbe:
    """One implementation of every hook; ``calls[hook]`` holds the arguments of each call."""

    def __init__(self):
        from grader.api import Exercise

        self.calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.exercise = Exercise(id=NAME, title="Hook probe", names=("hook_probe_function",), reference=__file__)
        self.executor = ProbeExecutor(self)
        self.pm = None

    @grader.hookimpl
    def grader_exercises(self):
        self.calls["grader_exercises"].append({})
        return [self.exercise]

    @grader.hookimpl
    def grader_load_submission(self, path):
        from grader.submission import load_module

        self.calls["grader_load_submission"].append({"path": path})
        return load_module(path) if path.suffix == f".{NAME}" else None  # read as a Python module

    @grader.hookimpl
    def grader_select_device(self, requested):
        self.calls["grader_select_device"].append({"requested": requested})
        return DEVICE if requested == NAME else None

    @grader.hookimpl
    def grader_report_formats(self):
        self.calls["grader_report_formats"].append({})
        return [NAME]

    @grader.hookimpl
    def grader_render_report(self, result, fmt, color):
        self.calls["grader_render_report"].append({"fmt": fmt, "color": color})
        return json.dumps({"rendered_by": NAME, "result": result}) if fmt == NAME else None

    @grader.hookimpl
    def grader_export_batch(self, results, out_dir):
        self.calls["grader_export_batch"].append({"results": results, "out_dir": out_dir})
        rows = [{"student": r["student"], "status": r["batch"]["status"], "lateness": r["batch"]["lateness"]}
                for r in results]
        path = Path(out_dir) / f"{NAME}_export.json"
        path.write_text(json.dumps(rows))
        return [path]

    @grader.hookimpl
    def grader_executors(self):
        self.calls["grader_executors"].append({})
        return [self.executor]

    @grader.hookimpl
    def grader_late_policies(self):
        self.calls["grader_late_policies"].append({})
        return [NAME]

    @grader.hookimpl
    def grader_late_penalty(self, policy, lateness):
        self.calls["grader_late_penalty"].append({"policy": policy, "lateness": lateness})
        if policy["policy"] != NAME:
            return None
        return {"fraction": policy["share"], "message": f"{NAME}: a quarter off"}  # the policy's own key


def probe_pm():
    """(the probe, a plugin manager of the built-ins and the probe)."""
    probe = HookProbe()
    pm = plugins.make_plugin_manager(autoload=False)
    pm.register(probe, name=NAME)
    probe.pm = pm
    return probe, pm


def test_the_probe_implements_every_hookspec():
    probe, pm = probe_pm()
    for hook in HOOKS:
        assert probe in [impl.plugin for impl in getattr(pm.hook, hook).get_hookimpls()], hook


# ------------------------------------------------------------------ the scenarios
@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """``grader check homework.hook_probe -e tensor_ops --device hook_probe --format hook_probe``,
    in this process, with the probe registered."""
    tmp = tmp_path_factory.mktemp("hook-check")
    submission, report = tmp / f"homework.{NAME}", tmp / "report.out"
    submission.write_text(BROKEN)
    probe, pm = probe_pm()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plugins, "get_plugin_manager", lambda: pm)
        code = cli.main(["check", str(submission), "-e", "tensor_ops", "--device", NAME, "--format", NAME,
                         "--color", "never", "-o", str(report)])
    return {"code": code, "probe": probe, "submission": submission,
            "report": json.loads(report.read_text()) if report.exists() else None}


ASSIGNMENT = f"""\
title = "Hook probe"
deadline = "2025-03-01 23:59"
timezone = "UTC"
device = "{NAME}"

[late]
policy = "{NAME}"
share = 0.25

[exercises.tensor_ops]
"""
#: Canvas file name -> the time in the zip (UTC): ann on time, bob two days late
CANVAS = {"ann_101_9101_hw1.py": (2025, 3, 1, 20, 0, 0), "bob_late_102_9102_hw1.py": (2025, 3, 3, 10, 0, 0)}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """``grader batch canvas.zip --assignment assignment.toml --executor hook_probe`` (the
    assignment's device and late policy are the probe's too)."""
    from grader.batch.core import BatchOptions, run_batch

    tmp = tmp_path_factory.mktemp("hook-batch")
    source, out, toml = tmp / "canvas.zip", tmp / "out", tmp / "assignment.toml"
    with zipfile.ZipFile(source, "w") as zf:
        for name, when in CANVAS.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=when), BROKEN)
    toml.write_text(ASSIGNMENT)
    probe, pm = probe_pm()
    report = run_batch(BatchOptions(source=source, out=out, assignment=str(toml), executor=NAME, jobs=1,
                                    progress="none"), pm=pm)
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    results = {key: json.loads((out / "results" / f"{key}.json").read_text()) for key in rows}
    return {"probe": probe, "report": report, "out": out, "toml": toml, "rows": rows, "results": results}


def plain_pm():
    return plugins.make_plugin_manager(autoload=False)


# ------------------------------------------------------------------ one case per hook
def case_exercises(request):
    """``grader list`` shows the plugin's exercise, registered by code, after the built-ins."""
    from grader.engine import exercise_registry

    monkeypatch, capsys = request.getfixturevalue("monkeypatch"), request.getfixturevalue("capsys")
    probe, pm = probe_pm()
    monkeypatch.setattr(plugins, "get_plugin_manager", lambda: pm)
    assert cli.main(["list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    row = next((line for line in listed if line.startswith(NAME + " ")), None)
    assert row is not None and "Hook probe" in row and row.rstrip().endswith("registered"), listed
    assert probe.calls["grader_exercises"]
    registry = exercise_registry(pm)
    assert list(registry)[-1] == NAME and registry[NAME] is probe.exercise
    assert NAME not in exercise_registry(plain_pm())


def case_load_submission(request):
    """``grader check`` reads a file of the plugin's own suffix through its loader (here: as
    a Python module, whose syntax error the report then shows)."""
    from grader.submission import load_submission

    run = request.getfixturevalue("checked")
    assert run["code"] == 0, run
    assert [c["path"].name for c in run["probe"].calls["grader_load_submission"]] == [run["submission"].name]
    result = run["report"]["result"]
    assert result["notes"] and result["notes"][0].startswith(f"SyntaxError in homework.{NAME}, line 1")
    (exercise,) = result["exercises"]
    assert exercise["status"] == "error" and "nothing in the file could run" in exercise["message"]
    with pytest.raises(GraderError, match="not a submission the grader can read"):
        load_submission(run["submission"], plain_pm())


def case_select_device(request):
    """A device name of the plugin's own is graded on what it resolves to, by ``grader check
    --device`` and by the assignment's ``device`` in a batch."""
    from grader.options import resolve_device

    run, done = request.getfixturevalue("checked"), request.getfixturevalue("batch")
    assert run["report"]["result"]["device"] == DEVICE
    assert {"requested": NAME} in run["probe"].calls["grader_select_device"]
    assert {"requested": NAME} in done["probe"].calls["grader_select_device"]
    assert {r["device"] for r in done["results"].values()} == {DEVICE}
    with pytest.raises(GraderError, match=f"unknown device '{NAME}'"):
        resolve_device(plain_pm(), NAME)


def case_report_formats(request):
    """``grader check --format`` accepts the plugin's format, and only because it names it."""
    monkeypatch, capsys = request.getfixturevalue("monkeypatch"), request.getfixturevalue("capsys")
    run = request.getfixturevalue("checked")
    assert run["code"] == 0 and run["probe"].calls["grader_report_formats"]
    pm = plain_pm()
    monkeypatch.setattr(plugins, "get_plugin_manager", lambda: pm)
    assert cli.main(["check", str(run["submission"]), "--format", NAME]) == 2
    assert f"unknown format '{NAME}'" in capsys.readouterr().err


def case_render_report(request):
    """``grader check`` writes what the plugin rendered; a batch asks every renderer for each
    row's JSON and HTML (the probe passes: the built-ins write them)."""
    run, done = request.getfixturevalue("checked"), request.getfixturevalue("batch")
    assert {"fmt": NAME, "color": False} in run["probe"].calls["grader_render_report"]
    report = run["report"]
    assert report["rendered_by"] == NAME and report["result"]["submission"] == str(run["submission"])
    assert report["result"]["score"] == 0 and report["result"]["max_score"] == 10
    asked = [c["fmt"] for c in done["probe"].calls["grader_render_report"]]
    assert {"html", "json"} <= set(asked) and asked.count("html") == len(done["rows"])
    assert all((done["out"] / "feedback" / f"{key}.html").is_file() for key in done["rows"])


def case_export_batch(request):
    """A batch hands every row to the plugin's exporter and lists the file it wrote."""
    done = request.getfixturevalue("batch")
    (call,) = done["probe"].calls["grader_export_batch"]
    assert Path(call["out_dir"]) == done["out"]
    assert sorted(r["student"] for r in call["results"]) == sorted(done["rows"]) == ["ann", "bob"]
    path = done["out"] / f"{NAME}_export.json"
    assert path in done["report"].written
    exported = {r["student"]: r for r in json.loads(path.read_text())}
    assert exported["ann"]["status"] == "graded" and exported["bob"]["lateness"]["fraction"] == 0.25


def case_executors(request):
    """``--executor hook_probe`` picks the plugin's executor: it grades every submission, and
    each row says so."""
    from grader.batch.core import find_executor

    done = request.getfixturevalue("batch")
    probe = done["probe"]
    assert probe.calls["grader_executors"] and sorted(probe.executor.graded) == ["ann", "bob"]
    assert done["report"].graded == 2 and done["report"].counts == {"graded": 2}
    assert {r["resources"]["worker"] for r in done["results"].values()} == {f"{NAME}/1"}
    with pytest.raises(GraderError, match=f"unknown executor '{NAME}'"):
        find_executor(plain_pm(), NAME)


def case_late_policies(request):
    """An assignment.toml may name the plugin's late policy (and keep its own keys)."""
    from grader.assignment import load_assignment
    from grader.engine import exercise_registry
    from grader.lateness import known_policies

    done = request.getfixturevalue("batch")
    probe, pm = probe_pm()
    assignment = load_assignment(done["toml"], exercise_registry(pm), pm)
    assert assignment.late["policy"] == NAME and assignment.late["share"] == 0.25
    assert probe.calls["grader_late_policies"] and done["probe"].calls["grader_late_policies"]
    assert NAME in known_policies(pm) and NAME not in known_policies(plain_pm())
    with pytest.raises(GraderError, match=f"not '{NAME}'"):
        load_assignment(done["toml"], exercise_registry(plain_pm()), plain_pm())


def case_late_penalty(request):
    """The late row of a batch gets the plugin's penalty, in its result and in grades.csv;
    the row on time never asks."""
    done = request.getfixturevalue("batch")
    calls = [c for c in done["probe"].calls["grader_late_penalty"] if c["policy"]["policy"] == NAME]
    assert calls and all(c["lateness"]["deadline"] == "2025-03-01T23:59:00+00:00" for c in calls)
    assert all(c["lateness"]["submitted_at"] == "2025-03-03T10:00:00+00:00" for c in calls)  # bob only
    assert all(c["lateness"]["seconds_late"] > 86400 and not c["lateness"]["extended"] for c in calls)
    bob, ann = (done["results"][key]["assignment"]["lateness"] for key in ("bob", "ann"))
    assert bob["status"] == "late" and bob["fraction"] == 0.25 and bob["message"].endswith(f"{NAME}: a quarter off")
    assert ann["status"] == "on_time" and ann["fraction"] == 0
    assert f"{NAME}: a quarter off" in done["rows"]["bob"]["lateness"]


CASES = {
    "grader_exercises": case_exercises,
    "grader_load_submission": case_load_submission,
    "grader_select_device": case_select_device,
    "grader_report_formats": case_report_formats,
    "grader_render_report": case_render_report,
    "grader_export_batch": case_export_batch,
    "grader_executors": case_executors,
    "grader_late_policies": case_late_policies,
    "grader_late_penalty": case_late_penalty,
}


def test_every_hookspec_has_a_case():
    assert len(HOOKS) >= len(CASES) > 0
    missing = sorted(set(HOOKS) - set(CASES))
    assert not missing, (f"hooks without a case in tests/test_hooks.py: {missing}; implement each in HookProbe, "
                         f"drive the entry point that calls it and add the case to CASES")
    assert not sorted(set(CASES) - set(HOOKS)), "CASES names a hook that grader/hookspecs.py no longer has"


@pytest.mark.parametrize("hook", HOOKS)
def test_the_product_calls_the_hook(hook, request):
    if hook not in CASES:
        pytest.fail(f"{hook} has no case in tests/test_hooks.py (see test_every_hookspec_has_a_case)")
    CASES[hook](request)


def test_the_local_executor_grades_with_the_batch_plugin_manager(tmp_path, monkeypatch):
    """``run_batch(options, pm)`` with the built-in ``local`` executor: every task is loaded
    and graded through ``pm``, not through a plugin manager of the executor's own (here any
    other one fails the row), and the probe's loader reads its own suffix."""
    from grader.batch.core import BatchOptions, run_batch

    def no_other(*args, **kwargs):
        raise AssertionError("the executor made a plugin manager of its own")

    source, out = tmp_path / "submissions", tmp_path / "out"
    source.mkdir()
    (source / "ann.py").write_text(BROKEN)
    probe, pm = probe_pm()
    monkeypatch.setattr(plugins, "get_plugin_manager", no_other)
    report = run_batch(BatchOptions(source=source, out=out, exercises=["tensor_ops"], executor="local", jobs=1,
                                    progress="none"), pm=pm)
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        (row,) = csv.DictReader(f)
    assert report.graded == 1 and row["status"] == "graded", row
    assert row["score"] == "0" and "SyntaxError" in json.dumps(json.loads((out / "results" / "ann.json").read_text()))
    assert [c["path"].name for c in probe.calls["grader_load_submission"]] == ["ann.py"]
