"""The plugin manager: built-ins come through the entry-point group like anyone else's."""

import sys
import tomllib
from importlib import metadata

import pytest

import grader
from grader import plugins
from grader.errors import GraderError
from conftest import REPO


def test_the_builtins_are_the_grader_distributions_own_entry_points():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["grader"]
    builtins = {e.name: e.value for e in plugins.entries(autoload=False)}
    assert builtins == declared
    assert all(e.builtin and e.origin == "builtin" for e in plugins.entries(autoload=False))
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["name"] == plugins.DISTRIBUTION


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


def _fake_entry_point(tmp_path, monkeypatch, body, name="fake", value="fake_grader_plugin"):
    (tmp_path / "fake_grader_plugin.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("fake_grader_plugin", None)
    fake = metadata.EntryPoint(name=name, value=value, group="grader")
    real = metadata.entry_points

    def entry_points(**selection):
        found = real(**selection)
        return list(found) + [fake] if selection.get("group") == "grader" else found

    monkeypatch.setattr(plugins.metadata, "entry_points", entry_points)


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
    assert plugins.plugin_origin(pm, pm.get_plugin("fake")) != "builtin"
    monkeypatch.setenv(plugins.DISABLE_AUTOLOAD_ENV, "1")
    pm = plugins.make_plugin_manager()
    assert pm.get_plugin("fake") is None
    assert pm.hook.grader_render_report(result={"score": 3}, fmt="shout", color=False) is None


def test_a_plugin_named_like_a_builtin_is_a_clear_error_not_a_silent_replacement(tmp_path, monkeypatch):
    _fake_entry_point(tmp_path, monkeypatch, FAKE_FORMAT, name="reports")
    with pytest.raises(GraderError, match="two plugins are named 'reports'.*grader.report.*fake_grader_plugin"):
        plugins.make_plugin_manager(autoload=True)


def test_a_misspelled_hook_names_the_plugin_and_the_hook_it_meant(tmp_path, monkeypatch):
    _fake_entry_point(tmp_path, monkeypatch,
                      "import grader\n\n@grader.hookimpl\ndef grader_exercise():\n    return []\n")
    with pytest.raises(GraderError, match="plugin 'fake'.*'grader_exercise'.*did you mean 'grader_exercises'"):
        plugins.make_plugin_manager(autoload=True)


def test_a_broken_plugin_is_a_user_error(tmp_path, monkeypatch):
    _fake_entry_point(tmp_path, monkeypatch, "raise ImportError('missing dependency')\n")
    with pytest.raises(GraderError, match="plugin 'fake'.*failed to load.*missing dependency"):
        plugins.make_plugin_manager(autoload=True)


def test_a_plugin_can_be_blocked_by_name_in_the_environment_and_on_the_command_line(tmp_path, monkeypatch):
    from conftest import run_cli

    _fake_entry_point(tmp_path, monkeypatch, FAKE_FORMAT)
    monkeypatch.setenv(plugins.BLOCK_ENV, "fake,export_canvas")
    pm = plugins.make_plugin_manager(autoload=True)
    assert pm.get_plugin("fake") is None and pm.get_plugin("export_canvas") is None
    assert pm.get_plugin("export_grades") is not None
    monkeypatch.delenv(plugins.BLOCK_ENV)
    listed = run_cli("-p", "no:exercises", "list")
    assert listed.returncode == 0, listed.stderr
    assert "tensor_ops" not in listed.stdout
    assert "tensor_ops" in run_cli("list").stdout


def test_an_exercise_object_can_be_the_plugin_itself(tmp_path, monkeypatch):
    body = ("from grader.api import Exercise\n"
            "exercise = Exercise(id='lonely', title='Lonely', names=('f',), reference=__file__)\n")
    _fake_entry_point(tmp_path, monkeypatch, body, name="lonely", value="fake_grader_plugin:exercise")
    from grader.engine import exercise_registry

    registry = exercise_registry(plugins.make_plugin_manager(autoload=True))
    assert list(registry)[-1] == "lonely" and list(registry)[:len(CATALOGUE)] == CATALOGUE
