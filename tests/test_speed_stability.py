"""The speed check gives the same verdict on every run, also beside a CPU-hogging neighbour:
it is measured in CPU time by the runner, against a baseline timed in the same sandbox
before the student's code ran, with a limit far from both the honest styles and the loops."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from conftest import checks_by_id, grade, write_submission
from grader.sandbox import Limits

pytestmark = [pytest.mark.skipif(not os.path.exists("/proc/self/mountinfo"), reason="the sandbox needs Linux"),
              pytest.mark.slow]

STYLES = {
    "explicit (n, m, d) broadcasting": ("def pairwise_sq_dists(a, b):\n"
                                        "    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(dim=-1)\n", True),
    "a loop over rows": ("import torch\n\ndef pairwise_sq_dists(a, b):\n"
                         "    return torch.stack([((row - b) ** 2).sum(dim=1) for row in a])\n", True),
    "cdist squared": ("import torch\n\ndef pairwise_sq_dists(a, b):\n    return torch.cdist(a, b) ** 2\n", True),
    "a double Python loop": ("import torch\n\ndef pairwise_sq_dists(a, b):\n"
                             "    out = torch.empty(a.shape[0], b.shape[0])\n"
                             "    for i in range(a.shape[0]):\n        for j in range(b.shape[0]):\n"
                             "            out[i, j] = ((a[i] - b[j]) ** 2).sum()\n    return out\n", False),
}


def _spin() -> None:
    while True:
        pass


@pytest.fixture
def cpu_hog():
    """Busy processes on every core, outside the grader (a neighbour on a shared machine)."""
    hogs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(os.cpu_count() or 2)]
    for hog in hogs:
        hog.start()
    yield
    for hog in hogs:
        hog.kill()
        hog.join()


def test_every_style_gets_the_same_speed_verdict_on_every_run_beside_a_cpu_hog(tmp_path, cpu_hog):
    verdicts: dict[str, list[bool]] = {}
    for name, (source, _) in STYLES.items():
        path = write_submission(tmp_path, source, name.replace(" ", "_").replace("(", "").replace(")", "")
                                .replace(",", "") + ".py")
        for _ in range(3):
            result = grade(path, "broadcasting", limits=Limits(probe_seconds=20))
            check = checks_by_id(result, "broadcasting")["pairwise_sq_dists.speed"]
            verdicts.setdefault(name, []).append(check["status"] == "passed")
    assert verdicts == {name: [passes] * 3 for name, (_, passes) in STYLES.items()}, verdicts
