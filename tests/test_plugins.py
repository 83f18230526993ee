"""The plugin manager: built-ins come through the entry-point group like anyone else's."""

import sys
import tomllib
from importlib import metadata

import pytest

import grader
from grader import plugins
from grader.errors import GraderError
from conftest import REPO


def test_builtins_in_pyproject_and_the_fallback_list_agree():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["grader"]
    assert declared == plugins.DEFAULT_PLUGINS


def test_hookimpl_is_exported():
    assert isinstance(grader.hookimpl, plugins.pluggy.HookimplMarker)
    assert grader.hookimpl.project_name == plugins.ENTRY_POINT_GROUP


CATALOGUE = ["tensor_ops", "broadcasting", "manual_backprop", "mlp", "digits_classifier", "checkpoint",
             "gpu_transfer", "minibatch", "early_stopping", "regularization", "kfold_cv"]
MIN_MUTANTS = {"manual_backprop": 4, "digits_classifier": 4}  # the others: 3


def test_the_builtin_catalogue_in_order():
    from grader.engine import exercise_registry

    assert list(exercise_registry(plugins.make_plugin_manager(autoload=False))) == CATALOGUE


@pytest.mark.parametrize("exercise_id", CATALOGUE)
def test_builtin_exercise_definition_is_valid(exercise_id):
    from grader.engine import exercise_registry
    from grader.verify import read_mutants

    exercise = exercise_registry(plugins.make_plugin_manager(autoload=False))[exercise_id]
    assert exercise.validate() == []
    assert exercise.max_points == 10
    assert len(read_mutants(exercise)) >= MIN_MUTANTS.get(exercise_id, 3)


def _fake_entry_point(tmp_path, monkeypatch, body):
    (tmp_path / "fake_grader_plugin.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("fake_grader_plugin", None)
    fake = metadata.EntryPoint(name="fake", value="fake_grader_plugin", group="grader")
    real = plugins._entry_points
    monkeypatch.setattr(plugins, "_entry_points", lambda: real() + [fake])


FAKE_FORMAT = '''
import grader

@grader.hookimpl
def grader_report_formats():
    return ["shout"]

@grader.hookimpl
def grader_render_report(result, fmt, color):
    return "SCORE %s" % result["score"] if fmt == "shout" else None
'''


def test_third_party_plugins_load_unless_autoload_is_disabled(tmp_path, monkeypatch):
    _fake_entry_point(tmp_path, monkeypatch, FAKE_FORMAT)
    pm = plugins.make_plugin_manager(autoload=True)
    assert pm.hook.grader_render_report(result={"score": 3}, fmt="shout", color=False) == "SCORE 3"
    monkeypatch.setenv(plugins.DISABLE_AUTOLOAD_ENV, "1")
    pm = plugins.make_plugin_manager()
    assert pm.get_plugin("fake") is None
    assert pm.hook.grader_render_report(result={"score": 3}, fmt="shout", color=False) is None


def test_a_plugin_with_an_unknown_hook_is_rejected(tmp_path, monkeypatch):
    _fake_entry_point(tmp_path, monkeypatch, "import grader\n\n@grader.hookimpl\ndef grader_no_such_hook():\n    pass\n")
    with pytest.raises(Exception, match="unknown hook"):
        plugins.make_plugin_manager(autoload=True)


def test_a_broken_plugin_is_a_user_error(tmp_path, monkeypatch):
    _fake_entry_point(tmp_path, monkeypatch, "raise ImportError('missing dependency')\n")
    with pytest.raises(GraderError, match="failed to load"):
        plugins.make_plugin_manager(autoload=True)
