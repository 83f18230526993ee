"""The docs the project owns: current with the code, complete, and self-contained."""

from __future__ import annotations

import json
import re

import pytest

from conftest import REPO, run_cli
from grader import catalogue_docs, hookspecs
from grader.engine import exercise_registry
from grader.plugins import make_plugin_manager

DOCS = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]


def test_the_committed_exercise_catalogue_is_what_grader_docs_writes():
    registry = exercise_registry(make_plugin_manager(autoload=False))
    committed = (REPO / "docs" / "exercises.md").read_text(encoding="utf-8")
    assert committed == catalogue_docs.render(list(registry.values())), "run `grader docs` and commit the result"


def test_every_hook_is_documented():
    authoring = (REPO / "docs" / "authoring.md").read_text(encoding="utf-8")
    hooks = [name for name in dir(hookspecs) if name.startswith("grader_")]
    assert hooks
    for name in hooks:
        assert f"`{name}" in authoring, f"{name} is not documented in docs/authoring.md"


def test_the_authoring_guide_s_examples_parse_and_import_only_what_grader_api_exports():
    import ast
    import textwrap

    from grader import api

    authoring = (REPO / "docs" / "authoring.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", authoring, re.S)
    assert blocks
    for block in blocks:
        try:
            tree = ast.parse(textwrap.dedent(block))
        except SyntaxError as exc:
            pytest.fail(f"the example starting {block.strip().splitlines()[0]!r} does not parse: {exc}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "grader.api":
                unknown = [a.name for a in node.names if a.name not in api.__all__]
                assert not unknown, f"docs/authoring.md imports {unknown} from grader.api, which does not export them"


@pytest.mark.parametrize("path", [p for p in DOCS if p.exists()], ids=lambda p: p.name)
def test_the_docs_point_only_at_files_of_the_repository(path):
    text = path.read_text(encoding="utf-8")
    assert "EXERCISES.md" not in text and "INTERFACES.md" not in text and "../shared" not in text
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (path.parent / target).exists(), f"{path.name} links to {target}, which does not exist"


def test_the_interfaces_page_names_every_field_column_and_status(tmp_path):
    from datetime import UTC, datetime, timedelta

    from grader import states
    from grader.adjustments import Adjustment
    from grader.assignment import Assignment, ExercisePoints
    from grader.batch import export_grades
    from grader.batch.gradescope import results_json
    from grader.lateness import assess
    from grader.results import Stop
    from grader.scoring import apply_assignment

    text = (REPO / "docs" / "interfaces.md").read_text(encoding="utf-8")
    named = {word for span in re.findall(r"`([^`\n]+)`", text) for word in re.findall(r"\w+", span)}

    proc = run_cli("check", "examples/submission.ipynb", "-e", "tensor_ops", "--format", "json", cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    deadline = datetime(2025, 3, 1, 23, 59, tzinfo=UTC)
    assignment = Assignment(title="HW", exercises=(ExercisePoints("tensor_ops", 20.0),), deadline=deadline,
                            late={"policy": "per_day", "penalty": 0.1})
    final = apply_assignment(result, assignment, adjustments=[Adjustment("s", "tensor_ops", -1, "add", "why", 2)],
                             lateness=assess(deadline + timedelta(hours=3), deadline, assignment.late))
    exercise, gradescope = final["exercises"][0], results_json(result, "visible", "")
    fields = {"result": [*final, *result["resources"], *Stop(states.StopKind.CRASH, "", "").to_dict()],
              "exercise": [*exercise, *exercise["checks"][0], *exercise["adjustments"][0]],
              "assignment": [*final["assignment"], *final["assignment"]["lateness"]],
              "gradescope": [*gradescope, *gradescope["tests"][0]]}
    for part, keys in fields.items():
        missing = sorted(set(keys) - named)
        assert not missing, f"docs/interfaces.md does not name these {part} fields: {missing}"

    header = export_grades.grader_export_batch(results=[], out_dir=tmp_path)[0].read_text().splitlines()[0]
    listed = re.search(r"Columns, in this order: (.*?)\. New columns", text, re.S).group(1)
    assert re.findall(r"`(\w+)`", listed) == header.split(","), "the grades.csv columns of docs/interfaces.md"

    for enum in (states.CheckStatus, states.ExerciseStatus, states.StopKind, states.RowStatus, states.LateStatus):
        assert f"`{enum.__name__}`" in text, enum.__name__
        missing = [s.value for s in enum if f"| `{s.value}` |" not in text]
        assert not missing, f"docs/interfaces.md does not explain these {enum.__name__} values: {missing}"
