"""The grader's own wheel, for shipping it elsewhere (a Gradescope image, a cluster).

From a source checkout (an editable install), the wheel is the normal build of the
project (``pip wheel``, reading ``pyproject.toml``: the package list, the data files and
the entry points are declared only there). From an installed wheel, the installed files
are packed again from the distribution's ``RECORD``: the same files, the same metadata.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from grader.errors import GraderError
from grader.plugins import DISTRIBUTION

_INSTALL_ONLY = ("INSTALLER", "REQUESTED", "direct_url.json", "RECORD")


def _distribution() -> metadata.Distribution:
    """The installed distribution (a ``.dist-info``), not the ``.egg-info`` a build leaves
    in a checkout that happens to be the working folder."""
    found = sorted(metadata.distributions(name=DISTRIBUTION),
                   key=lambda d: not str(getattr(d, "_path", "")).endswith(".dist-info"))
    if not found:
        raise GraderError(f"the grader is not installed as {DISTRIBUTION!r}; install it (pip install -e .)")
    return found[0]


def source_tree() -> Path | None:
    """The checkout an editable install runs from, or None."""
    info = _distribution().read_text("direct_url.json")
    if not info:
        return None
    try:
        url = json.loads(info)
    except ValueError:
        return None
    if not url.get("dir_info", {}).get("editable") or not str(url.get("url", "")).startswith("file:"):
        return None
    tree = Path(unquote(urlparse(url["url"]).path))
    return tree if (tree / "pyproject.toml").is_file() else None


def requirements() -> list[str]:
    """The grader's runtime requirements, pinned to the versions installed here."""
    pinned = []
    for requirement in _distribution().requires or ():
        if "extra ==" in requirement:
            continue
        name = requirement.split(";")[0].split("[")[0]
        for sign in "<>=!~ ":
            name = name.split(sign)[0]
        try:
            pinned.append(f"{name}=={metadata.version(name).split('+')[0]}")
        except metadata.PackageNotFoundError:
            pinned.append(requirement)
    return pinned


def build_wheel(out_dir: Path) -> Path:
    """Build (from a checkout) or repack (from an installed wheel) the grader's wheel into
    ``out_dir``; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tree = source_tree()
    if tree is None:
        return _repack(out_dir)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out_dir), str(tree)]
    if importlib.util.find_spec("setuptools") is not None:
        command.insert(4, "--no-build-isolation")  # this machine may have no index to fetch setuptools from
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(out_dir.glob("torch_grader-*.whl"))
    if done.returncode != 0 or not wheels:
        raise GraderError(f"building the grader's wheel from {tree} failed: {done.stderr.strip()[-800:]}")
    return wheels[-1]


def _repack(out_dir: Path) -> Path:
    dist = _distribution()
    root = Path(str(dist.locate_file("")))
    info = f"{DISTRIBUTION.replace('-', '_')}-{dist.version}.dist-info"
    files: dict[str, bytes] = {}
    for file in dist.files or ():
        name = file.as_posix()
        if name.startswith("..") or "__pycache__" in name or name.split("/")[-1] in _INSTALL_ONLY:
            continue
        files[name] = (root / file).read_bytes()
    record = [f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
              f"{len(data)}" for name, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = out_dir / f"{DISTRIBUTION.replace('-', '_')}-{dist.version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path
