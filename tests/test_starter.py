"""`grader starter`: the student notebook for every built-in exercise is a valid notebook
whose stubs, left as they are, grade cleanly at 0 points with "not implemented" messages."""

import ast
import json
import textwrap

import nbformat
import pytest

from conftest import grade
from grader.cli import main
from grader.engine import exercise_registry
from grader.exercise import Exercise
from grader.plugins import make_plugin_manager
from grader.starter import builtin_starters, generated_starter, parse_starter, starter_for, starter_path

#: the student contract (docs/exercises.md): what each built-in exercise's starter must define
CONTRACT = {
    "tensor_ops": {"to_float_tensor", "column_standardize", "mask_mean", "batched_transpose"},
    "broadcasting": {"broadcast_shape", "outer_sum", "center_rows", "pairwise_sq_dists"},
    "manual_backprop": {"linear_mse_grads", "two_layer_backward", "fit_cubic"},
    "mlp": {"build_mlp", "TwoLayerNet", "count_parameters"},
    "digits_classifier": {"train_digits_classifier", "predict"},
    "checkpoint": {"save_checkpoint", "load_checkpoint"},
    "gpu_transfer": {"pick_device", "to_device", "train_step"},
}


@pytest.fixture(scope="module")
def registry():
    return exercise_registry(make_plugin_manager(autoload=False))


def _top_level(code: str) -> dict[str, ast.AST]:
    return {n.name: n for n in ast.parse(code).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def _stub_bodies_raise(node: ast.AST) -> bool:
    functions = ([node] if isinstance(node, ast.FunctionDef)
                 else [n for n in node.body if isinstance(n, ast.FunctionDef)])
    return bool(functions) and all(
        any(isinstance(s, ast.Raise) and "NotImplementedError" in ast.unparse(s) for s in f.body) for f in functions)


@pytest.mark.parametrize("exercise_id", sorted(CONTRACT))
def test_each_builtin_starter_file_defines_its_contract_as_stubs(exercise_id, registry):
    path = builtin_starters() / f"{exercise_id}.py"
    starter = parse_starter(path.read_text(), exercise_id, "builtin")
    assert starter.contract.strip() and all(f"`{name}(" in starter.contract for name in CONTRACT[exercise_id])
    defined = _top_level(starter.code)
    assert set(defined) == CONTRACT[exercise_id]
    for name, node in defined.items():
        assert ast.get_docstring(node), f"{name} has no docstring"
        assert _stub_bodies_raise(node), f"{name} does not raise NotImplementedError"
    if exercise_id in registry:  # registered: the exercise looks its stubs up by id
        assert set(registry[exercise_id].names) == CONTRACT[exercise_id]
        assert starter_path(registry[exercise_id]) == (path, "builtin")


def test_the_starter_notebook_of_every_builtin_grades_at_zero_with_not_implemented(tmp_path, registry, capsys):
    path = tmp_path / "assignment.ipynb"
    assert main(["starter", "-o", str(path), "--title", "Week 3"]) == 0
    assert "wrote" in capsys.readouterr().out
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# Week 3")
    ids = ", ".join(f'"{e}"' for e in registry)
    assert nb.cells[-1].cell_type == "code" and nb.cells[-1].source == f"import grader\n\ngrader.check({ids})"
    assert "`grader check assignment.ipynb`" in nb.cells[-2].source  # the terminal way, named too
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for exercise in registry.values():
        assert f"`{exercise.id}`" in markdown
        cell = next(c for c in code if all(f" {name}(" in c for name in exercise.names))
        assert set(exercise.names) <= set(_top_level(cell))

    result = grade(path)
    assert result["score"] == 0
    assert {e["id"] for e in result["exercises"]} == set(registry)
    for ex in result["exercises"]:
        assert ex["status"] == "graded", (ex["id"], ex["status"], ex["message"])  # attempted, never "error"
        assert ex["score"] == 0 and ex["checks"]
        for check in ex["checks"]:
            assert check["status"] != "passed", (ex["id"], check)
            if check["status"] in ("failed", "error"):
                assert "not implemented" in check["message"], (ex["id"], check["id"], check["message"])
    assert any("skipped `grader.check(" in note and "live check" in note for note in result["notes"])
    assert not result["cells"], result["cells"]  # no cell raised


def test_stubs_generated_from_the_reference_also_grade_at_zero(tmp_path, registry):
    """The fallback for exercises without a starter file: the reference's signatures and
    docstrings, never its bodies."""
    module = "\n\n\n".join(generated_starter(e).code for e in registry.values())
    for exercise in registry.values():
        assert set(exercise.names) <= set(_top_level(module))
    path = tmp_path / "stubs.py"
    path.write_text(module)
    result = grade(path, "tensor_ops", "broadcasting")
    assert result["score"] == 0
    for ex in result["exercises"]:
        assert ex["status"] == "graded"
        assert all("not implemented" in c["message"] for c in ex["checks"] if c["status"] in ("failed", "error"))


def test_a_generated_starter_keeps_signatures_and_docstrings_but_not_the_solution(tmp_path):
    reference = tmp_path / "ref.py"
    reference.write_text(textwrap.dedent('''
        """Reference."""
        from __future__ import annotations
        import torch
        from torch import nn
        from grader.judging import compare_tensors

        def scale(x, factor: float = 2.0) -> torch.Tensor:
            """Multiply x by factor."""
            return x * factor * SECRET

        class Net(nn.Module):
            """A tiny network."""

            def __init__(self, width):
                super().__init__()
                self.secret_layer = nn.Linear(width, width)

            def forward(self, x):
                return self.secret_layer(x)
    '''))
    exercise = Exercise(id="gen_demo", title="Generated", names=("scale", "Net", "undefined_one"), reference=reference)
    starter = starter_for(exercise)
    assert starter.origin == "generated"
    assert "`scale(x, factor: float=2.0)`" in starter.contract and "Multiply x by factor." in starter.contract
    defined = _top_level(starter.code)
    assert set(defined) == {"scale", "Net", "undefined_one"}
    assert all(_stub_bodies_raise(node) for node in defined.values())
    assert "SECRET" not in starter.code and "secret_layer" not in starter.code
    assert "import torch" in starter.code and "grader" not in starter.code and "__future__" not in starter.code
    assert "class Net(nn.Module):" in starter.code and "def __init__(self, width):" in starter.code


def test_an_exercise_can_bring_its_own_starter_file(tmp_path):
    own = tmp_path / "mine.py"
    own.write_text('"""Do **this**."""\n\nimport torch\n\n\ndef f(x):\n    """Doc."""\n    raise NotImplementedError\n')
    exercise = Exercise(id="own_demo", title="Own", names=("f",), reference=own, starter=own)
    starter = starter_for(exercise)
    assert (starter.origin, starter.contract) == ("exercise", "Do **this**.")
    assert starter.code.startswith("import torch") and "Do **this**" not in starter.code


def test_user_errors(tmp_path, capsys):
    path = tmp_path / "a.ipynb"
    assert main(["starter", "tensor_ops", "-o", str(path)]) == 0
    nb = json.loads(path.read_text())
    assert "".join(nb["cells"][-1]["source"]) == 'import grader\n\ngrader.check("tensor_ops")'
    assert "grader check a.ipynb -e tensor_ops" in "".join(nb["cells"][-2]["source"])
    assert main(["starter", "tensor_ops", "-o", str(path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["starter", "tensor_ops", "-o", str(path), "--force"]) == 0
    assert main(["starter", "no_such_exercise", "-o", str(tmp_path / "b.ipynb")]) == 2
    assert main(["starter", "-o", str(tmp_path / "b.txt")]) == 2
    assert "unknown exercise" in capsys.readouterr().err
