"""``grader starter``: a student notebook with each exercise's contract and stubs.

Where an exercise's stubs come from, first match wins:

1. ``Exercise(..., starter=PATH)``: the exercise's own starter file;
2. ``exercises/starters/<id>.py`` inside the grader: the built-in exercises' starters;
3. a stub generated from the reference solution's signatures and docstrings (only
   ``def``/``class`` headers and docstrings are read, with :mod:`ast`; nothing runs),
   or ``name(*args, **kwargs)`` for a name the reference does not define at top level.

A starter file is a plain ``.py`` module: its docstring is the contract, in Markdown (the
exercise's Markdown cell), the rest is the code cell: imports and stubs whose bodies
``raise NotImplementedError``. Each starter file is itself a valid submission that
grades at 0 points with "not implemented" messages. The notebook's cells are rendered from
the Jinja2 templates in ``templates/starter/``.
"""

from __future__ import annotations

import ast
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.exercise import Exercise

DEFAULT_TITLE = "PyTorch exercises"
DEFAULT_OUTPUT = "assignment.ipynb"


@dataclass
class Starter:
    """One exercise's part of the notebook."""

    exercise_id: str
    contract: str  # Markdown
    code: str  # Python: imports and stubs
    origin: str  # "exercise", "builtin" or "generated"


def builtin_starters() -> Path:
    """The built-in exercises' starter files (``exercises/starters/<id>.py``, shipped as package data)."""
    import grader.exercises

    return Path(grader.exercises.__file__).resolve().parent / "starters"


def parse_starter(text: str, exercise_id: str = "", origin: str = "exercise") -> Starter:
    """Split a starter file into its Markdown contract (the docstring) and its code."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise GraderError(f"the starter of {exercise_id or 'an exercise'} does not parse: {exc}") from None
    contract, code_lines = "", text.splitlines()
    first = tree.body[0] if tree.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        contract = ast.get_docstring(tree) or ""
        code_lines = code_lines[first.end_lineno:]
    return Starter(exercise_id, contract.strip(), "\n".join(code_lines).strip("\n"), origin)


def starter_path(exercise: Exercise) -> tuple[Path | None, str]:
    """The starter file of ``exercise`` and where it was found (``None``: generate one)."""
    own = getattr(exercise, "starter", None)
    if own is not None:
        if not Path(own).is_file():
            raise GraderError(f"the starter file of {exercise.id} does not exist: {own}")
        return Path(own), "exercise"
    builtin = builtin_starters() / f"{exercise.id}.py"
    if builtin.is_file():
        return builtin, "builtin"
    return None, "generated"


def starter_for(exercise: Exercise) -> Starter:
    path, origin = starter_path(exercise)
    if path is None:
        return generated_starter(exercise)
    return parse_starter(path.read_text(encoding="utf-8"), exercise.id, origin)


# --------------------------------------------------------------------------- generated stubs
_KEEP_DECORATORS = {"staticmethod", "classmethod", "property"}


def _stub_function(node: ast.FunctionDef | ast.AsyncFunctionDef, indent: str = "") -> list[str]:
    lines = [f"{indent}@{d.id}" for d in node.decorator_list if isinstance(d, ast.Name) and d.id in _KEEP_DECORATORS]
    keyword = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    lines.append(f"{indent}{keyword} {node.name}({ast.unparse(node.args)}){returns}:")
    doc = ast.get_docstring(node)
    if doc:
        lines.append(_docstring(doc, indent + "    "))
    lines += [f"{indent}    # TODO: your code here", f"{indent}    raise NotImplementedError"]
    return lines


def _stub_class(node: ast.ClassDef) -> list[str]:
    bases = [ast.unparse(b) for b in node.bases] + [ast.unparse(k) for k in node.keywords]
    lines = [f"class {node.name}" + (f"({', '.join(bases)})" if bases else "") + ":"]
    doc = ast.get_docstring(node)
    if doc:
        lines.append(_docstring(doc, "    "))
    methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for method in methods:
        lines.append("")
        lines += _stub_function(method, "    ")
    if not doc and not methods:
        lines.append("    pass  # TODO: your code here")
    return lines


def _docstring(text: str, indent: str) -> str:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    body = text.splitlines()
    if len(body) == 1:
        return f'{indent}"""{body[0]}"""'
    return "\n".join([f'{indent}"""{body[0]}'] + [f"{indent}{line}" if line else "" for line in body[1:]]
                     + [f'{indent}"""'])


def generated_starter(exercise: Exercise) -> Starter:
    """Stubs with the reference's signatures and docstrings (never its bodies)."""
    try:
        tree = ast.parse(exercise.reference.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        tree = ast.Module(body=[], type_ignores=[])
    own_root = exercise.module.split(".")[0] if exercise.module else ""
    imports = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            roots = {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots = {node.module.split(".")[0]}
        else:
            continue
        if not roots & {"__future__", "grader", own_root}:
            imports.append(ast.unparse(node))
    defined = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    blocks, signatures = [], []
    for name in exercise.names:
        definition = defined.get(name)
        if isinstance(definition, ast.ClassDef):
            blocks.append(_stub_class(definition))
            init = next((n for n in definition.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"),
                        None)
            args = ast.unparse(init.args).removeprefix("self").lstrip(", ") if init else ""
            signatures.append((f"class {name}({args})", ast.get_docstring(definition)))
        elif definition is not None:
            blocks.append(_stub_function(definition))
            signatures.append((f"{name}({ast.unparse(definition.args)})", ast.get_docstring(definition)))
        else:
            blocks.append([f"def {name}(*args, **kwargs):", '    """TODO: see the instructions above."""',
                           "    raise NotImplementedError"])
            signatures.append((f"{name}(...)", None))
    rows = [f"| `{sig}` | {(doc or '').splitlines()[0] if doc else ''} |" for sig, doc in signatures]
    contract = "\n\n".join(filter(None, [exercise.description,
                                       "| name | what it must do |\n| --- | --- |\n" + "\n".join(rows)]))
    code = "\n".join(imports) + ("\n\n\n" if imports else "") + "\n\n\n".join("\n".join(b) for b in blocks)
    return Starter(exercise.id, contract, code, "generated")


# --------------------------------------------------------------------------- the notebook
def notebook_order(registry: dict[str, Exercise]) -> list[Exercise]:
    """Every exercise in the registry's order: the built-ins in the order of the course,
    then the others."""
    return list(registry.values())


def render_notebook(exercises: Sequence[Exercise], *, title: str = DEFAULT_TITLE,
                    filename: str = DEFAULT_OUTPUT, check_command: str | None = None,
                    points: dict[str, float] | None = None):
    """The starter notebook (an ``nbformat`` v4 node) for ``exercises``, in that order; its
    last cell checks them live with ``grader.check(ID, ...)`` (the instructions also name
    ``check_command``, default ``grader check FILENAME``, for a terminal). ``points``: each
    exercise's points in the assignment (default: its own)."""
    import nbformat

    from grader.report import environment

    env = environment()

    def render(template: str, **context) -> str:
        return env.get_template(f"starter/{template}").render(**context).strip("\n")

    parts = [(e, starter_for(e)) for e in exercises]
    points = {e.id: (points or {}).get(e.id, e.points) for e in exercises}
    total = sum(points.values())
    context = dict(title=title, filename=filename, exercises=[e for e, _ in parts], total=total, points=points,
                   check_command=check_command or f"grader check {shlex.quote(filename)}")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    cells = [nbformat.v4.new_markdown_cell(render("intro.md.j2", **context)),
             nbformat.v4.new_code_cell(render("setup.py.j2", **context))]
    for number, (exercise, starter) in enumerate(parts, start=1):
        item = dict(context, number=number, exercise=exercise, starter=starter)
        cells.append(nbformat.v4.new_markdown_cell(render("exercise.md.j2", **item)))
        cells.append(nbformat.v4.new_code_cell(render("exercise.py.j2", **item)))
    cells.append(nbformat.v4.new_markdown_cell(render("check.md.j2", **context)))
    cells.append(nbformat.v4.new_code_cell(render("check.py.j2", **context)))
    for index, cell in enumerate(cells):  # stable ids: regenerating gives the same file
        cell["id"] = f"cell-{index}"
    nb.cells = cells
    nbformat.validate(nb)
    return nb


def write_starter(exercises: Sequence[Exercise], output: Path, *, title: str = DEFAULT_TITLE,
                  force: bool = False, only_these: bool = False, assignment=None) -> Path:
    """Write the starter notebook for ``exercises`` at ``output`` (atomically). With
    ``only_these``, the terminal command it names grades just these exercises (``-e ID``
    each). With an ``assignment`` (:class:`grader.assignment.Assignment`), the title
    (unless given) and the points are the assignment's."""
    import nbformat

    from grader.cache import write_text_atomic

    output = Path(output)
    if output.suffix != ".ipynb":
        raise GraderError(f"{output}: a starter notebook's name must end with .ipynb")
    if output.exists() and not force:
        raise GraderError(f"{output} already exists (use --force to overwrite it)")
    if not exercises:
        raise GraderError("no exercises to put in the starter notebook")
    command = f"grader check {shlex.quote(output.name)}" + "".join(f" -e {e.id}" for e in exercises if only_these)
    points = None
    if assignment is not None:
        title = assignment.title if title == DEFAULT_TITLE else title
        points = {e.id: e.points for e in assignment.exercises}
        if assignment.path is not None:
            command += f" --assignment {shlex.quote(assignment.path.name)}"
    nb = render_notebook(exercises, title=title, filename=output.name, check_command=command, points=points)
    write_text_atomic(output, nbformat.writes(nb) + "\n")
    return output
