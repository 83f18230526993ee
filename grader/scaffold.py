"""``grader new ID``: scaffold an exercise plugin package that works after ``pip install -e``.

The package (rendered from the Jinja2 templates in ``templates/new/``)::

    grader-<id>/
        pyproject.toml            [project.entry-points.grader] <id> = "grader_<id>.exercise:exercise"
        README.md
        src/grader_<id>/__init__.py
        src/grader_<id>/exercise.py     the Exercise: probes, checks, hints
        src/grader_<id>/reference.py    the reference solution
        src/grader_<id>/starter.py      the student's stubs (for ``grader starter``)
        src/grader_<id>/mutants/whole_tensor_norm.py
        tests/test_<id>.py        grades the reference, the mutant and the starter
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

import grader
from grader.errors import GraderError

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

#: template (in ``templates/new/``) -> path in the package, ``{id}`` and ``{package}`` filled in
FILES = {
    "pyproject.toml.j2": "pyproject.toml",
    "README.md.j2": "README.md",
    "__init__.py.j2": "src/{package}/__init__.py",
    "exercise.py.j2": "src/{package}/exercise.py",
    "reference.py.j2": "src/{package}/reference.py",
    "starter.py.j2": "src/{package}/starter.py",
    "mutant.py.j2": "src/{package}/mutants/whole_tensor_norm.py",
    "test_exercise.py.j2": "tests/test_{id}.py",
}


def package_names(exercise_id: str) -> tuple[str, str]:
    """(import package, distribution name) for an exercise id: ``grader_<id>``, ``grader-<id>``."""
    return f"grader_{exercise_id}", "grader-" + exercise_id.replace("_", "-")


def check_id(exercise_id: str, known: set[str] | None = None) -> None:
    if not ID_PATTERN.match(exercise_id) or keyword.iskeyword(exercise_id):
        raise GraderError(f"invalid exercise id {exercise_id!r}: use lowercase letters, digits and underscores, "
                          "starting with a letter (e.g. attention_masks)")
    if known and exercise_id in known:
        raise GraderError(f"an exercise with the id {exercise_id!r} already exists (see `grader list`)")


def new_exercise(exercise_id: str, directory: Path | str | None = None, *, title: str | None = None,
                 known: set[str] | None = None) -> list[Path]:
    """Write the plugin package for ``exercise_id`` into ``directory`` (default:
    ``./grader-<id>``), which must not exist or be empty. Returns the files written."""
    check_id(exercise_id, known)
    package, dist = package_names(exercise_id)
    root = Path(directory) if directory is not None else Path.cwd() / dist
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise GraderError(f"{root} already exists and is not an empty folder")
    title = title or exercise_id.replace("_", " ").capitalize()
    if '"' in title or "\\" in title or "\n" in title:
        raise GraderError("the title must not contain quotes, backslashes or line breaks")
    from grader.report import environment

    env = environment()
    major, minor = (int(x) for x in grader.__version__.split(".")[:2])
    context = dict(id=exercise_id, package=package, dist=dist, title=title, grader_version=grader.__version__,
                   grader_next=f"{major}.{minor + 1}" if major == 0 else f"{major + 1}")
    written = []
    for template, target in FILES.items():
        path = root / target.format(id=exercise_id, package=package)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(f"new/{template}").render(**context), encoding="utf-8")
        written.append(path)
    return written
