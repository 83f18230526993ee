"""The plugin manager: built-in and third-party plugins, found through entry points."""

from __future__ import annotations

import functools
import importlib
import os
from importlib import metadata

import pluggy

from grader import hookspecs
from grader.errors import GraderError

#: Environment switch: set to a non-empty value to load only the built-in plugins.
DISABLE_AUTOLOAD_ENV = "GRADER_DISABLE_PLUGIN_AUTOLOAD"
ENTRY_POINT_GROUP = "grader"
OWN_DISTRIBUTION = "grader"

#: The built-ins, exactly as pyproject.toml declares them in the ``grader`` group. Used
#: when the package runs without its metadata installed (a test suite asserts the match).
DEFAULT_PLUGINS = {
    "tensor_ops": "grader.exercises.tensor_ops",
    "broadcasting": "grader.exercises.broadcasting",
    "manual_backprop": "grader.exercises.manual_backprop",
    "mlp": "grader.exercises.mlp",
    "digits_classifier": "grader.exercises.digits_classifier",
    "checkpoint": "grader.exercises.checkpoint",
    "gpu_transfer": "grader.exercises.gpu_transfer",
    "minibatch": "grader.exercises.minibatch",
    "early_stopping": "grader.exercises.early_stopping",
    "regularization": "grader.exercises.regularization",
    "kfold_cv": "grader.exercises.kfold_cv",
    "loaders": "grader.submission",
    "devices": "grader.devices",
    "reports": "grader.report",
    "batch_executor": "grader.batch.executor",
    "export_grades": "grader.batch.export_grades",
    "export_canvas": "grader.batch.export_canvas",
    "export_moodle": "grader.batch.export_moodle",
}


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _is_builtin(ep: metadata.EntryPoint) -> bool:
    dist = getattr(ep, "dist", None)
    return dist is not None and dist.metadata["Name"] == OWN_DISTRIBUTION


def make_plugin_manager(autoload: bool | None = None) -> pluggy.PluginManager:
    """A fresh plugin manager with the built-ins and (unless disabled) third-party plugins."""
    if autoload is None:
        autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    for ep in _entry_points():
        if not autoload and not _is_builtin(ep):
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin is the user's to fix
            raise GraderError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        pm.register(plugin, name=ep.name)
    for name, module in DEFAULT_PLUGINS.items():
        if pm.get_plugin(name) is None:
            pm.register(importlib.import_module(module), name=name)
    pm.check_pending()
    return pm


@functools.lru_cache(maxsize=None)
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (built once)."""
    return make_plugin_manager()


def plugin_origin(pm: pluggy.PluginManager, plugin: object) -> str:
    """Where a plugin comes from, for ``grader list``: ``builtin`` or its distribution."""
    name = pm.get_name(plugin)
    for ep in _entry_points():
        if ep.name == name and getattr(ep, "dist", None) is not None:
            dist = ep.dist.metadata["Name"]
            return "builtin" if dist == OWN_DISTRIBUTION else f"{dist} {ep.dist.version}"
    return "builtin" if name in DEFAULT_PLUGINS else "registered"


def builtin_order() -> dict[str, int]:
    """Built-in plugin name -> its place in the catalogue (the order they are declared)."""
    return {name: i for i, name in enumerate(DEFAULT_PLUGINS)}
