"""The docs the project owns: current with the code, complete, and self-contained."""

from __future__ import annotations

import re

import pytest

from conftest import REPO
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


@pytest.mark.parametrize("path", [p for p in DOCS if p.exists()], ids=lambda p: p.name)
def test_the_docs_point_only_at_files_of_the_repository(path):
    text = path.read_text(encoding="utf-8")
    assert "EXERCISES.md" not in text and "INTERFACES.md" not in text and "../shared" not in text
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (path.parent / target).exists(), f"{path.name} links to {target}, which does not exist"
