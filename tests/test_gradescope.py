"""`grader gradescope build`: the autograder zip's run_autograder, run against a fake
/autograder root with the grader wheel the zip carries installed into a fresh venv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, notebook, run_cli

REFERENCE = (REPO / "reference" / "tensor_ops.py").read_text()


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gradescope")
    zip_path = tmp / "autograder.zip"
    proc = run_cli("gradescope", "build", "--out", str(zip_path), "-e", "tensor_ops", "--timeout", "60",
                   "--cell-timeout", "20")
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        wheel = next(n for n in names if n.endswith(".whl"))
        assert {"setup.sh", "run_autograder", "grader_config.json", "requirements.txt"} <= names
        assert zf.getinfo("run_autograder").external_attr >> 16 & 0o111
        source = tmp / "source"
        zf.extractall(source)
    config = json.loads((source / "grader_config.json").read_text())
    assert (config["timeout"], config["cell_timeout"]) == (60, 20)
    # a venv with the zip's wheel installed (as setup.sh does), its dependencies from the test environment
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    with zipfile.ZipFile(source / wheel) as zf:
        zf.extractall(site)
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return {"source": source, "python": python, "site": site, "tmp": tmp}


def run_autograder(autograder, name: str, files: dict[str, str | bytes]) -> dict:
    root = autograder["tmp"] / name
    (root / "submission").mkdir(parents=True)
    os.symlink(autograder["source"], root / "source")
    for rel, data in files.items():
        path = root / "submission" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(GRADER_AUTOGRADER_ROOT=str(root), GRADER_PYTHON=str(autograder["python"]))
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_the_zip_carries_the_grader_and_a_valid_setup_script(autograder):
    source = autograder["source"]
    assert subprocess.run(["bash", "-n", str(source / "setup.sh")]).returncode == 0
    setup = (source / "setup.sh").read_text()
    assert "torch==" in setup and "grader-" in setup and ".whl" in setup
    assert json.loads((source / "grader_config.json").read_text())["exercises"] == ["tensor_ops"]
    where = subprocess.run([str(autograder["python"]), "-c", "import grader, grader.batch; print(grader.__file__)"],
                           capture_output=True, text=True, cwd=autograder["tmp"],
                           env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")})
    assert where.stdout.startswith(str(autograder["site"])), where.stderr
    installed = autograder["site"]
    for required in ("grader/exercises/tensor_ops.py", "grader/reference/tensor_ops.py",
                     "grader/templates/report.md.j2", "grader/sandbox/worker.py"):
        assert (installed / required).exists(), required


def test_run_autograder_writes_gradescope_results(autograder):
    buggy = notebook(REFERENCE.replace("correction=0", "correction=1"))
    results = run_autograder(autograder, "buggy", {"hw1.ipynb": buggy, ".DS_Store": b"\0"})
    assert 0 < results["score"] < 10
    tests = results["tests"]
    assert tests and all({"name", "score", "max_score", "output", "visibility"} <= set(t) for t in tests)
    assert sum(t["max_score"] for t in tests) == 10
    assert abs(sum(t["score"] for t in tests) - results["score"]) < 1e-6
    failed = [t for t in tests if t["status"] == "failed"]
    assert any("unbiased" in t["output"] for t in failed)  # the hint reaches the student
    assert all(t["visibility"] == "visible" for t in tests)
    assert results["output_format"] == "md" and "tensor_ops" in results["output"]


def test_run_autograder_reports_unreadable_and_missing_submissions(autograder):
    broken = run_autograder(autograder, "broken", {"hw1.ipynb": "{not json"})
    assert broken["score"] == 0 and "invalid JSON" in broken["output"]
    assert broken["tests"][0]["max_score"] == 10 and "invalid JSON" in broken["tests"][0]["output"]
    nothing = run_autograder(autograder, "nothing", {})
    assert nothing["score"] == 0 and "No file was submitted" in nothing["output"]


def test_a_device_the_machine_lacks_is_said_never_replaced(tmp_path, monkeypatch):
    """An autograder built for a GPU that runs where there is none says so in its results;
    it does not grade on the CPU instead. An unknown device is refused at build time."""
    from grader.batch.gradescope import build_autograder
    from grader.batch.gradescope import run_autograder as run_here
    from grader.devices import cuda_present
    from grader.errors import GraderError

    if cuda_present():
        pytest.skip("this machine has a GPU")
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "grader_config.json").write_text(json.dumps({"exercises": ["tensor_ops"], "device": "cuda"}))
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "hw.py").write_text(REFERENCE)
    data = run_here(tmp_path)
    assert data["score"] == 0 and "no CUDA GPU" in data["output"], data
    with pytest.raises(GraderError, match="unknown device"):
        build_autograder(tmp_path / "a.zip", ["tensor_ops"], device="tpu")


def test_the_statement_limit_of_the_zip_is_applied(tmp_path):
    """``gradescope build --cell-timeout S`` is what each top-level statement gets on
    Gradescope: a statement that never ends is stopped at S seconds and named by its line;
    the functions are still graded."""
    from grader.batch.gradescope import run_autograder as run_here

    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "grader_config.json").write_text(
        json.dumps({"exercises": ["tensor_ops"], "timeout": 60, "cell_timeout": 1}))
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "hw.py").write_text(REFERENCE + "\nwhile True:\n    pass\n")
    data = run_here(tmp_path)
    line = len(REFERENCE.splitlines()) + 2
    assert data["score"] == 10 and f"time limit of 1 s exceeded while running line {line}" in data["output"], data
