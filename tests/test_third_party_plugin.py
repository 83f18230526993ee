"""`grader new` scaffolds an exercise plugin package that works after `pip install -e`
with no further edits: grader finds it through its entry point (unless autoload is
disabled), grades its reference to full marks and its mutant below, and its own tests pass.

The package is installed into a fresh virtual environment whose dependencies (torch,
grader itself...) come from the running test environment through a `.pth` file, so that
the sandboxed worker, started as `sys.executable -s -P` with a clean environment, finds
the plugin too (a PYTHONPATH would not reach it)."""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import run_cli

ID = "demo_ex"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of the venv the plugin is installed in, the package folder, env for it)."""
    root = tmp_path_factory.mktemp("third_party")
    package = root / "grader-demo-ex"
    made = run_cli("new", ID, "--dir", str(package), "--title", "Demo exercise")
    assert made.returncode == 0, made.stderr
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # addsitedir, not a bare path: it also runs the .pth files there (grader's own editable install)
    deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "zz_test_dependencies.pth").write_text("".join(f"import site; site.addsitedir({d!r})\n" for d in deps))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_"))}
    env.pop("GRADER_DISABLE_PLUGIN_AUTOLOAD", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # with its dependencies (torch-grader and numpy, found installed; nothing may be downloaded)
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-build-isolation", "--no-index",
                          "-e", str(package)], capture_output=True, text=True, env=env, cwd=root, timeout=300)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return python, package, env


def grader_in(installed, *args, autoload=True):
    python, package, env = installed
    env = dict(env, **({} if autoload else {"GRADER_DISABLE_PLUGIN_AUTOLOAD": "1"}))
    return subprocess.run([str(python), "-m", "grader", *args], capture_output=True, text=True, env=env,
                          cwd=package.parent, timeout=300)


def test_the_package_layout_and_entry_point(installed):
    _, package, _ = installed
    src = package / "src" / "grader_demo_ex"
    for part in ("exercise.py", "reference.py", "starter.py", "__init__.py", "mutants/whole_tensor_norm.py"):
        assert (src / part).is_file(), part
    assert (package / "tests" / f"test_{ID}.py").is_file()
    pyproject = (package / "pyproject.toml").read_text()
    assert '[project.entry-points.grader]\ndemo_ex = "grader_demo_ex.exercise:exercise"' in pyproject
    assert '"torch-grader>=0.2.0,<0.3"' in pyproject


def test_grader_list_shows_it_with_its_distribution_unless_autoload_is_disabled(installed):
    listed = grader_in(installed, "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(ID + " "))
    assert "Demo exercise" in row and row.rstrip().endswith("grader-demo-ex 0.1.0")
    assert any(line.startswith("tensor_ops ") and line.rstrip().endswith("builtin")
               for line in listed.stdout.splitlines())

    hidden = grader_in(installed, "list", autoload=False)
    assert hidden.returncode == 0 and "tensor_ops" in hidden.stdout and ID not in hidden.stdout
    refused = grader_in(installed, "check", str(installed[1] / "src/grader_demo_ex/reference.py"), "-e", ID,
                        autoload=False)
    assert refused.returncode == 2 and "unknown exercise" in refused.stderr


def test_its_reference_scores_full_marks_and_its_mutant_loses_points(installed):
    src = installed[1] / "src" / "grader_demo_ex"
    reference = grader_in(installed, "check", str(src / "reference.py"), "-e", ID, "--format", "json")
    assert reference.returncode == 0, reference.stderr
    result = json.loads(reference.stdout)
    assert result["score"] == result["max_score"] == 10, reference.stdout

    mutant = grader_in(installed, "check", str(src / "mutants" / "whole_tensor_norm.py"), "-e", ID, "--format", "json")
    assert mutant.returncode == 0, mutant.stderr
    (exercise,) = json.loads(mutant.stdout)["exercises"]
    assert exercise["score"] < 10
    values = next(c for c in exercise["checks"] if c["id"] == "normalize_rows.values")
    assert values["points"] == 0 and "keepdim=True" in values["hint"]


def test_the_generated_tests_pass(installed):
    python, package, env = installed
    run = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], capture_output=True, text=True,
                         env=env, cwd=package, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout


def test_grader_new_user_errors(tmp_path, capsys):
    from grader.cli import main

    assert main(["new", "tensor_ops", "--dir", str(tmp_path / "a")]) == 2  # a built-in's id
    assert main(["new", "Bad-Id", "--dir", str(tmp_path / "b")]) == 2
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "keep.txt").write_text("mine")
    assert main(["new", "fresh_one", "--dir", str(tmp_path / "c")]) == 2  # never writes into a non-empty folder
    err = capsys.readouterr().err
    assert "already exists" in err and "invalid exercise id" in err and "not an empty folder" in err
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["keep.txt"]
