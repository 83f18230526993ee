"""The command line: ``grader check`` for students; ``list``, ``verify``, ``starter``,
``new``, ``batch`` and ``gradescope`` for instructors.

User errors (:class:`grader.GraderError`) are caught once, here: one line on stderr,
exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import grader
from grader.errors import GraderError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors: one line, exit 2, like GraderError
        raise GraderError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="grader", description="Sandboxed autograder for PyTorch exercises.")
    parser.add_argument("--version", action="version", version=f"grader {grader.__version__}")
    parser.add_argument("-p", dest="plugins", action="append", default=[], metavar="no:NAME|MODULE",
                        help="leave out the plugin NAME (no:NAME), or load the plugin module MODULE (repeatable)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser("check", help="grade one submission (.py or .ipynb)")
    check.add_argument("submission", help="the student's .py module or .ipynb notebook")
    check.add_argument("--exercise", "-e", action="append", metavar="ID", help="grade only this exercise (repeatable)")
    check.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    check.add_argument("--format", "-f", default="text", help="text, json, html or md (default: text)")
    check.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    check.add_argument("--fail-under", type=float, metavar="N", help="exit 1 when the score is below N")
    check.add_argument("--timeout", type=float, metavar="S", help="time limit for the whole submission, in seconds")
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour in text reports")

    commands.add_parser("list", help="list the exercises the grader knows")

    verify = commands.add_parser("verify", help="check exercises: references score full marks, mutants lose points")
    verify.add_argument("exercise", nargs="*", metavar="ID", help="exercise ids (default: all)")
    verify.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    verify.add_argument("--jobs", "-j", type=int, help="parallel gradings (default: the CPU count)")

    starter = commands.add_parser("starter", help="write a student notebook with the exercises' contracts and stubs")
    starter.add_argument("exercise", nargs="*", metavar="ID", help="exercise ids, in notebook order (default: all)")
    starter.add_argument("--output", "-o", default="assignment.ipynb", metavar="FILE",
                         help="the notebook to write (default: assignment.ipynb)")
    starter.add_argument("--title", default="PyTorch exercises", help="the notebook's title")
    starter.add_argument("--force", action="store_true", help="overwrite FILE if it exists")

    new = commands.add_parser("new", help="scaffold an exercise plugin package (pip install -e it, then grader list)")
    new.add_argument("id", help="the new exercise's id (lowercase letters, digits, underscores)")
    new.add_argument("--dir", metavar="PATH", help="the package folder to create (default: ./grader-<id>)")
    new.add_argument("--title", help="the exercise's title (default: from the id)")

    from grader.batch.cli import add_parsers as add_batch_parsers

    add_batch_parsers(commands)  # batch; gradescope build / run
    return parser


def _write_report(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from grader.cache import write_text_atomic

    write_text_atomic(Path(output), text)


def cmd_check(args: argparse.Namespace) -> int:
    from grader.engine import exercise_registry, grade_path, select_exercises
    from grader.plugins import get_plugin_manager
    from grader.sandbox import Limits
    from grader.sandbox.launch import WorkerPool

    pm = get_plugin_manager()
    formats = {f for fs in pm.hook.grader_report_formats() for f in fs}
    if args.format not in formats:
        raise GraderError(f"unknown format {args.format!r} (choose from {', '.join(sorted(formats))})")
    limits = Limits()
    if args.timeout is not None:
        if args.timeout <= 0:
            raise GraderError("--timeout must be positive")
        limits.limit_total(args.timeout)
    exercises = select_exercises(exercise_registry(pm), args.exercise)
    # the warm worker imports torch while this process reads the submission
    with WorkerPool(1, preload=sorted({e.module for e in exercises})) as pool:
        result = grade_path(args.submission, args.exercise, device=args.device, limits=limits, pm=pm,
                            pool=pool).to_dict()
    color = args.color == "always" or (args.color == "auto" and args.output is None and sys.stdout.isatty()
                                       and not os.environ.get("NO_COLOR"))
    text = pm.hook.grader_render_report(result=result, fmt=args.format, color=color)
    _write_report(text, args.output)
    if args.fail_under is not None and result["score"] < args.fail_under:
        return 1
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from grader.engine import exercise_registry
    from grader.plugins import get_plugin_manager, plugin_origin

    pm = get_plugin_manager()
    origins = {}
    for plugin in pm.get_plugins():
        impl = getattr(plugin, "grader_exercises", None)
        if impl is not None:
            for exercise in impl() or ():
                origins[exercise.id] = plugin_origin(pm, plugin)
    rows = [(e.id, e.title, f"{e.points:g}", origins.get(e.id, "?")) for e in exercise_registry(pm).values()]
    widths = [max(len(r[i]) for r in rows + [("id", "title", "points", "from")]) for i in range(4)]
    for row in [("id", "title", "points", "from")] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from grader.engine import exercise_registry, select_exercises
    from grader.plugins import get_plugin_manager
    from grader.verify import verify

    pm = get_plugin_manager()
    exercises = select_exercises(exercise_registry(pm), args.exercise)
    device = pm.hook.grader_select_device(requested=args.device)
    if device is None:
        raise GraderError(f"unknown device {args.device!r}")
    findings = verify(exercises, device=device, jobs=args.jobs)
    for f in findings:
        print(f"{'ok  ' if f.ok else 'FAIL'}  {f.exercise:<18} {f.subject:<28} {f.detail}")
    failed = sum(not f.ok for f in findings)
    print(f"{len(findings) - failed} passed, {failed} failed")
    return 1 if failed else 0


def cmd_starter(args: argparse.Namespace) -> int:
    from grader.engine import exercise_registry, select_exercises
    from grader.plugins import get_plugin_manager
    from grader.starter import notebook_order, write_starter

    registry = exercise_registry(get_plugin_manager())
    exercises = select_exercises(registry, args.exercise) if args.exercise else notebook_order(registry)
    path = write_starter(exercises, Path(args.output), title=args.title, force=args.force,
                         only_these=bool(args.exercise))
    print(f"wrote {path}: {len(exercises)} exercise(s): {', '.join(e.id for e in exercises)}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from grader.engine import exercise_registry
    from grader.plugins import get_plugin_manager
    from grader.scaffold import new_exercise, package_names

    files = new_exercise(args.id, args.dir, title=args.title, known=set(exercise_registry(get_plugin_manager())))
    root = Path(args.dir) if args.dir else Path(package_names(args.id)[1])
    print(f"created the exercise plugin {args.id!r} in {root}/ ({len(files)} files). Next:")
    print(f"  pip install -e {root}      # then: grader list, grader verify {args.id}, pytest {root}")
    return 0


def _select_plugins(options: list[str]) -> None:
    """``-p no:NAME`` / ``-p MODULE``, passed on as the plugin manager's environment."""
    from grader.plugins import BLOCK_ENV, EXTRA_ENV

    for option in options:
        variable, name = (BLOCK_ENV, option[3:]) if option.startswith("no:") else (EXTRA_ENV, option)
        os.environ[variable] = ",".join(filter(None, [os.environ.get(variable, ""), name.strip()]))


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        _select_plugins(args.plugins)
        from grader.batch.cli import cmd_batch, cmd_gradescope

        handler = {"check": cmd_check, "list": cmd_list, "verify": cmd_verify, "starter": cmd_starter,
                   "new": cmd_new, "batch": cmd_batch, "gradescope": cmd_gradescope}[args.command]
        return handler(args)
    except GraderError as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130
