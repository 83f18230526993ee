"""A wheel built from the repo, installed into a fresh virtual environment, grades the
bundled example exactly like the editable install (exercises, references and templates
ship inside it)."""

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    (path,) = out.glob("torch_grader-*.whl")
    return path


def test_wheel_ships_exercises_references_templates_and_example(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("grader/exercises/tensor_ops.py", "grader/reference/tensor_ops.py",
                     "grader/reference/broadcasting.py", "grader/templates/report.html.j2",
                     "grader/examples/submission.ipynb", "grader/sandbox/worker.py",
                     "grader/exercises/mutants/tensor_ops/unbiased_std.py"):
        assert required in names, required
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "[grader]" in entry_points and "exercises = grader.exercises" in entry_points


def test_installed_wheel_grades_the_example_like_the_editable_install(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # the dependencies (torch...) come from the test environment; grader itself only from the wheel
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    deps = sysconfig.get_paths()["purelib"]
    (site / "zz_test_dependencies.pth").write_text(deps + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    example = str(REPO / "examples" / "submission.ipynb")
    args = ["check", example, "--format", "json", "-e", "tensor_ops", "-e", "broadcasting"]
    installed = subprocess.run([str(python), "-m", "grader", *args], capture_output=True, text=True, env=env,
                               cwd=tmp_path, timeout=300)
    assert installed.returncode == 0, installed.stderr
    where = subprocess.run([str(python), "-c", "import grader; print(grader.__file__)"], capture_output=True,
                           text=True, env=env, cwd=tmp_path).stdout
    assert where.startswith(str(site)), where
    editable = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                              cwd=tmp_path, timeout=300)
    strip = lambda r: [(e["id"], e["status"], e["score"], [(c["id"], c["status"], c["points"]) for c in e["checks"]])
                       for e in json.loads(r)["exercises"]]
    assert strip(installed.stdout) == strip(editable.stdout)
    assert json.loads(installed.stdout)["score"] == 20
