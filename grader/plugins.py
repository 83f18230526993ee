"""The plugin manager: the built-ins and third-party plugins, all found through the
``grader`` entry-point group.

The built-ins are declared once, as entry points of the grader's own distribution
(``pyproject.toml``); a plugin is built-in exactly when its entry point belongs to that
distribution. ``GRADER_DISABLE_PLUGIN_AUTOLOAD=1`` loads only the built-ins;
``GRADER_BLOCK_PLUGINS=name,name`` (or ``grader -p no:NAME``) leaves out the plugins of
those names, built-ins included; ``grader -p MODULE`` loads one more plugin module.
Two plugins of the same name, a plugin that fails to import, and a hook implementation
that no specification knows (a misspelled hook) are user errors that name the plugin.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import cast

import pluggy

from grader import hookspecs
from grader.errors import GraderError

DISTRIBUTION = "torch-grader"  #: the grader's own distribution on the package index
ENTRY_POINT_GROUP = "grader"
DISABLE_AUTOLOAD_ENV = "GRADER_DISABLE_PLUGIN_AUTOLOAD"
BLOCK_ENV = "GRADER_BLOCK_PLUGINS"
EXTRA_ENV = "GRADER_PLUGINS"  #: more plugin modules to load (comma-separated), what ``-p MODULE`` sets


@dataclass(frozen=True)
class PluginEntry:
    name: str
    value: str  # "module" or "module:attribute"
    distribution: str  # "" for a plugin loaded by name (-p MODULE)
    version: str = ""

    @property
    def builtin(self) -> bool:
        return self.distribution == DISTRIBUTION

    @property
    def origin(self) -> str:
        if self.builtin:
            return "builtin"
        return f"{self.distribution} {self.version}".strip() or "loaded by name"


def _env_names(variable: str) -> list[str]:
    return [n.strip() for n in os.environ.get(variable, "").split(",") if n.strip()]


def entries(autoload: bool = True) -> list[PluginEntry]:
    """Every plugin to register, in a stable order: the built-ins, then the others by name."""
    found: dict[str, PluginEntry] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        entry = PluginEntry(ep.name, ep.value, dist.metadata["Name"] if dist else "", dist.version if dist else "")
        if not autoload and not entry.builtin:
            continue
        clash = found.get(ep.name)
        if clash is not None and clash.value != entry.value:
            raise GraderError(f"two plugins are named {ep.name!r}: {clash.value} ({clash.origin}) and "
                              f"{entry.value} ({entry.origin}); rename one of the entry points in the "
                              f"[project.entry-points.grader] table of its pyproject.toml, or block one with "
                              f"-p no:{ep.name}")
        found[ep.name] = entry
    if not any(e.builtin for e in found.values()):
        raise GraderError(f"the grader's own plugins are not installed (no {DISTRIBUTION!r} distribution with "
                          f"'grader' entry points): install it, e.g. pip install -e .")
    for module in _env_names(EXTRA_ENV):
        found.setdefault(module, PluginEntry(module, module, ""))
    blocked = set(_env_names(BLOCK_ENV))
    return sorted((e for e in found.values() if e.name not in blocked), key=lambda e: (not e.builtin, e.name))


def _load(entry: PluginEntry) -> object:
    module_name, _, attribute = entry.value.partition(":")
    try:
        plugin: object = importlib.import_module(module_name.strip())
        for part in filter(None, attribute.strip().split(".")):
            plugin = getattr(plugin, part)
    except Exception as exc:  # a broken third-party plugin is the user's to fix
        raise GraderError(f"plugin {entry.name!r} ({entry.value}, {entry.origin}) failed to load: "
                          f"{type(exc).__name__}: {exc}") from exc
    return plugin


def _register(pm: pluggy.PluginManager, entry: PluginEntry, plugin: object) -> None:
    try:
        pm.register(plugin, name=entry.name)
    except ValueError as exc:  # the same object registered twice under two names
        raise GraderError(f"plugin {entry.name!r} ({entry.value}) is already registered: {exc}") from None
    known = [h for h in dir(hookspecs) if h.startswith("grader_")]
    for impl_name in dir(plugin):
        marked = getattr(getattr(plugin, impl_name, None), f"{ENTRY_POINT_GROUP}_impl", None) is not None
        if marked and impl_name not in known:
            close = difflib.get_close_matches(impl_name, known, n=1)
            pm.unregister(plugin)
            raise GraderError(f"plugin {entry.name!r} ({entry.value}, {entry.origin}) implements {impl_name!r}, "
                              f"which is no hook of the grader" + (f"; did you mean {close[0]!r}?" if close else
                                                                   f" (the hooks: {', '.join(known)})"))


def make_plugin_manager(autoload: bool | None = None) -> pluggy.PluginManager:
    """A fresh plugin manager with the built-ins and (unless disabled) third-party plugins."""
    if autoload is None:
        autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    for entry in entries(autoload):
        _register(pm, entry, _load(entry))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise GraderError(f"plugin {pm.get_name(exc.plugin)!r}: {exc}") from None
    return pm


@functools.cache
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (built once)."""
    return make_plugin_manager()


def plugin_entry(pm: pluggy.PluginManager, plugin: object) -> PluginEntry:
    """The entry a registered plugin came from (a plugin registered by code: "registered")."""
    name = pm.get_name(plugin) or ""
    for entry in entries(autoload=True):
        if entry.name == name:
            return entry
    return PluginEntry(name, getattr(plugin, "__name__", type(plugin).__name__), "registered")


def plugin_origin(pm: pluggy.PluginManager, plugin: object) -> str:
    """Where a plugin comes from, for ``grader list``: ``builtin`` or its distribution."""
    return plugin_entry(pm, plugin).origin


def exercises_by_plugin(pm: pluggy.PluginManager) -> list[tuple[object, list]]:
    """(plugin, the exercises it provides, in its own order), the built-ins first."""
    found = []
    for impl in reversed(pm.hook.grader_exercises.get_hookimpls()):  # in registration order
        provided = cast("Iterable[object] | None", impl.function())  # grader_exercises: exercises or None
        found.append((impl.plugin, list(provided or ())))
    builtin = {pm.get_name(p) for p, _ in found if plugin_entry(pm, p).builtin}
    return sorted(found, key=lambda item: pm.get_name(item[0]) not in builtin)
