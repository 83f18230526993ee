"""The built-in device plugin: ``cpu``, ``cuda`` and ``auto``.

Deciding does not import torch (that costs seconds in the trusted process): CUDA counts
as present when the NVIDIA driver is loaded; the worker confirms with torch and a
``--device cuda`` run on a machine whose torch cannot use the GPU fails clearly.
"""

from __future__ import annotations

import os

import grader
from grader.errors import GraderError


def cuda_present() -> bool:
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0")


@grader.hookimpl(trylast=True)
def grader_select_device(requested: str) -> str | None:
    if requested == "cpu":
        return "cpu"
    if requested == "auto":
        return "cuda" if cuda_present() else "cpu"
    if requested == "cuda" or requested.startswith("cuda:"):
        if not cuda_present():
            raise GraderError(f"--device {requested}: no CUDA GPU is available on this machine "
                              f"(use --device cpu or auto)")
        return requested
    return None
