"""What the sandbox's filesystem shows: an allow-list, computed in the worker before it
enters the sandbox.

The sandbox's root is an empty tmpfs on which exactly these are bound read-only:

- the Python interpreter, its standard library (with its own ``site-packages`` left
  empty) and the shared libraries it and the allowed packages load (the folders of the
  libraries mapped into this process, and the dynamic loader);
- the allowed distributions: torch, NumPy and scikit-learn, the display and exploration
  libraries a notebook may import when they are installed (matplotlib, pandas, tqdm...),
  what an exercise declares (``Exercise(packages=...)``), and everything they require;
  each by the top-level entries its ``RECORD`` lists, so other packages installed beside
  them (the grader itself, its plugins, pip's caches, other virtual environments) are
  not there;
- a minimal ``/etc`` (``passwd``, ``group``, ``hosts``, ``ld.so.cache``), ``/dev/null``,
  ``zero``, ``full``, ``random``, ``urandom``, a private ``/tmp`` and ``/dev/shm``, and a
  ``/proc`` of the sandbox's own PID namespace; for CUDA, the NVIDIA device files and a
  read-only ``/sys``.

Nothing else of the host exists inside. An exercise may also put a file of its own in
place of one of the view (``overrides``: the digits exercise shows scikit-learn's digits
data set as its training split only). :func:`plan` returns plain data, so the result's
``sandbox`` field can say what the view holds.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import sysconfig
from dataclasses import dataclass, field
from importlib import metadata

#: always shown (with what they require)
CORE_DISTRIBUTIONS = ("torch", "numpy", "scikit-learn")
#: shown when installed: what notebooks import to plot, explore or show progress
OPTIONAL_DISTRIBUTIONS = ("scipy", "matplotlib", "pandas", "seaborn", "tqdm", "ipython", "ipywidgets", "pillow",
                          "plotly", "torchvision", "torchaudio", "torchinfo", "torchsummary", "einops", "tabulate")
#: instructors add distributions with this (comma-separated names)
PACKAGES_ENV = "GRADER_SANDBOX_PACKAGES"
DEVICES = ("null", "zero", "full", "random", "urandom")
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Plan:
    """Host paths to bind, symbolic links and files to create, folders to leave empty."""

    binds: dict[str, str] = field(default_factory=dict)  # sandbox path -> host path (real)
    links: dict[str, str] = field(default_factory=dict)  # sandbox path -> link target
    empty: list[str] = field(default_factory=list)  # sandbox folders shown empty (over a bind)
    files: dict[str, str] = field(default_factory=dict)  # sandbox path -> content
    devices: list[str] = field(default_factory=list)  # /dev/... bound from the host
    distributions: list[str] = field(default_factory=list)

    def summary(self) -> str:
        core = [d for d in self.distributions if canonical(d) in CORE_DISTRIBUTIONS]
        named = core + [d for d in self.distributions if d not in core]
        shown = ", ".join(named[:6]) + (", ..." if len(named) > 6 else "")
        return (f"filesystem: an allow-list ({len(self.binds)} paths: Python {sys.version_info[0]}."
                f"{sys.version_info[1]} and its standard library, {len(self.distributions)} packages ({shown}), "
                f"system libraries); nothing else of the host")


# ------------------------------------------------------------------ paths
def _add(plan: Plan, path: str, seen: set[str] | None = None) -> None:
    """Show ``path`` at the same place: recreate every symbolic link on the way to it and
    bind what it finally resolves to."""
    seen = seen if seen is not None else set()
    if path in seen or len(seen) > 40:
        return
    seen.add(path)
    parts = [p for p in path.split("/") if p]
    current = ""
    for i, part in enumerate(parts):
        current += "/" + part
        if os.path.islink(current):
            target = os.readlink(current)
            plan.links[current] = target
            resolved = os.path.normpath(os.path.join(os.path.dirname(current), target))
            rest = "/".join(parts[i + 1:])
            _add(plan, resolved + ("/" + rest if rest else ""), seen)
            return
    if os.path.exists(current):
        real = os.path.realpath(current)
        if not any(current == b or current.startswith(b.rstrip("/") + "/") for b in plan.binds):
            plan.binds[current] = real


def _mapped_files() -> list[str]:
    found = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split(maxsplit=5)
                if len(parts) == 6 and parts[5].startswith("/"):
                    found.add(parts[5].strip())
    except OSError:
        pass
    return sorted(p for p in found if os.path.exists(p) and not p.endswith(" (deleted)"))


def _python(plan: Plan) -> list[str]:
    """The interpreter and the standard library; returns the site-packages folders."""
    _add(plan, sys.executable)
    _add(plan, os.path.realpath(sys.executable))
    config = os.path.join(sys.prefix, "pyvenv.cfg")
    if os.path.exists(config):
        _add(plan, config)
    paths = sysconfig.get_paths()
    stdlib = paths["stdlib"]
    _add(plan, stdlib)
    site_folders = {p for p in (paths.get("purelib"), paths.get("platlib")) if p}
    site_folders |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    for name in ("site-packages", "dist-packages"):
        inside = os.path.join(stdlib, name)
        if os.path.isdir(inside):
            plan.empty.append(inside)
            site_folders.add(inside)
    dynload = os.path.join(stdlib, "lib-dynload")
    if os.path.isdir(dynload):
        _add(plan, dynload)
    return sorted(site_folders)


def _libraries(plan: Plan, site_folders: list[str]) -> None:
    """The folders of the shared libraries this process has mapped (other libraries of
    those folders are loaded lazily: _ssl, sqlite3...) and the dynamic loader."""
    for path in _mapped_files():
        if any(path.startswith(s.rstrip("/") + "/") for s in site_folders):
            continue  # a package's own library: shown with its package
        folder = os.path.dirname(path)
        if os.path.basename(path).startswith(("libpython", "python")) or folder.endswith("/bin"):
            _add(plan, path)
        else:
            _add(plan, folder)
    for loader in ("/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"):
        if os.path.exists(loader):
            _add(plan, loader)


# ------------------------------------------------------------------ distributions
def _requirements(dist: metadata.Distribution) -> list[str]:
    names = []
    for requirement in dist.requires or ():
        if "extra ==" in requirement.replace(" ", " "):
            continue
        match = _REQUIREMENT_NAME.match(requirement)
        if match:
            names.append(canonical(match.group(1)))
    return names


@functools.cache
def _installed() -> dict[str, metadata.Distribution]:
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and canonical(name) not in found:
            found[canonical(name)] = dist
    return found


def closure(names: tuple[str, ...]) -> list[metadata.Distribution]:
    """The installed distributions named, and everything they require, recursively."""
    installed = _installed()
    todo = [canonical(n) for n in names]
    chosen: dict[str, metadata.Distribution] = {}
    while todo:
        name = todo.pop()
        if name in chosen or name not in installed:
            continue
        chosen[name] = installed[name]
        todo.extend(_requirements(installed[name]))
    return [chosen[n] for n in sorted(chosen)]


def _top_level_entries(dist: metadata.Distribution) -> list[str]:
    """The files and folders directly in site-packages that belong to ``dist``."""
    entries = set()
    for file in dist.files or ():
        parts = file.parts
        if parts and parts[0] != ".." and not str(file).startswith("/"):
            entries.add(parts[0])
    if not entries:  # no RECORD: its metadata folder and its top-level names
        top_level = dist.read_text("top_level.txt") or ""
        entries = {n.strip() for n in top_level.split() if n.strip()}
        info = getattr(dist, "_path", None)
        if info is not None:
            entries.add(os.path.basename(str(info)))
    return sorted(entries)


def _distributions(plan: Plan, names: tuple[str, ...]) -> None:
    for dist in closure(names):
        root = str(dist.locate_file(""))
        shown = False
        for entry in _top_level_entries(dist):
            path = os.path.join(root, entry)
            if os.path.exists(path) and not entry.endswith(".pth"):
                _add(plan, path)
                shown = True
        if shown:
            plan.distributions.append(dist.metadata["Name"])


def _system(plan: Plan, sandbox_uid: int, cuda: bool) -> None:
    plan.files["/etc/passwd"] = (f"root:x:0:0:root:/:/bin/false\n"
                                 f"student:x:{sandbox_uid}:{sandbox_uid}::/tmp/work:/bin/false\n")
    plan.files["/etc/group"] = f"root:x:0:\nstudent:x:{sandbox_uid}:\n"
    plan.files["/etc/hosts"] = "127.0.0.1 localhost\n::1 localhost\n"
    plan.files["/etc/nsswitch.conf"] = "passwd: files\ngroup: files\nhosts: files\n"
    if os.path.exists("/etc/ld.so.cache"):
        plan.binds["/etc/ld.so.cache"] = os.path.realpath("/etc/ld.so.cache")
    plan.devices = [f"/dev/{d}" for d in DEVICES if os.path.exists(f"/dev/{d}")]
    if cuda:
        plan.devices += sorted(f"/dev/{d}" for d in os.listdir("/dev") if d.startswith("nvidia"))
        plan.binds.setdefault("/sys", "/sys")


@functools.lru_cache(maxsize=8)
def _base_plan(names: tuple[str, ...]) -> Plan:
    plan = Plan()
    site_folders = _python(plan)
    _distributions(plan, names)
    _libraries(plan, site_folders)
    return plan


def requested_distributions(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    installed = _installed()
    from_env = tuple(n for n in os.environ.get(PACKAGES_ENV, "").split(",") if n.strip())
    optional = tuple(n for n in OPTIONAL_DISTRIBUTIONS if canonical(n) in installed)
    return tuple(sorted({canonical(n) for n in CORE_DISTRIBUTIONS + optional + tuple(extra) + from_env}))


def plan(view: dict, sandbox_uid: int, cuda: bool) -> Plan:
    """The whole view for one request. ``view``: ``packages`` (more distributions),
    ``overrides`` ({path shown: host file shown there instead}), ``hide`` (paths of the
    view to show empty)."""
    base = _base_plan(requested_distributions(tuple(view.get("packages", ()))))
    result = Plan(binds=dict(base.binds), links=dict(base.links), empty=list(base.empty),
                  distributions=list(base.distributions))
    _system(result, sandbox_uid, cuda)
    for shown, host in (view.get("overrides") or {}).items():
        if os.path.isfile(host) and any(shown.startswith(b.rstrip("/") + "/") or shown == b for b in result.binds):
            result.binds[os.path.normpath(shown)] = os.path.realpath(host)
    result.empty += [p for p in view.get("hide", ()) if isinstance(p, str)]
    return result


def warm() -> None:
    """Compute the default view once (a zygote does, so that its forks need not)."""
    _base_plan(requested_distributions())
