"""The command line: ``grader check`` for students; ``list``, ``verify``, ``starter``,
``docs``, ``new``, ``sandbox``, ``batch`` and ``gradescope`` for instructors.

User errors (:class:`grader.GraderError`) are caught once, here: one line on stderr,
exit status 2, no traceback. Anything else is a bug in the grader: one line on stderr and
exit status 3 (the traceback too with ``GRADER_DEBUG=1``). Exit status 1 means "done, but
not good": ``check`` below ``--fail-under``, ``verify`` with a finding, ``sandbox`` without a
protection, ``batch`` with grader errors (:class:`grader.states.ExitCode`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import grader
from grader.errors import GraderError
from grader.options import add_grading_options
from grader.states import ExitCode
from grader.text import printable

DEBUG_ENV = "GRADER_DEBUG"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors: one line, exit 2, like GraderError
        raise GraderError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="grader", description="Sandboxed autograder for PyTorch exercises.")
    parser.add_argument("--version", action="version", version=f"grader {grader.__version__}")
    parser.add_argument("-p", dest="plugins", action="append", default=[], metavar="no:NAME|MODULE",
                        help="leave out the plugin NAME (no:NAME), or load the plugin module MODULE (repeatable)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_check_parser(commands)
    commands.add_parser("list", help="list the exercises the grader knows")
    _add_authoring_parsers(commands)

    sandbox = commands.add_parser("sandbox", help="show what this machine's sandbox does (runs an empty submission)")
    sandbox.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    sandbox.add_argument("--format", "-f", choices=("text", "json"), default="text", help="text or json")

    from grader.batch.cli import add_parsers as add_batch_parsers

    add_batch_parsers(commands)  # batch; gradescope build / run
    return parser


def _add_check_parser(commands) -> None:
    """``grader check``: grade one submission."""
    check = commands.add_parser("check", help="grade one submission (.py or .ipynb)")
    check.add_argument("submission", help="the student's .py module or .ipynb notebook")
    add_grading_options(check, each="the whole submission")
    check.add_argument("--format", "-f", default="text", help="text, json, html or md (default: text)")
    check.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    check.add_argument("--fail-under", type=float, metavar="N", help="exit 1 when the score is below N")
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour in text reports")
    check.add_argument("--assignment", metavar="FILE",
                       help="grade as this assignment.toml says: its exercises, points, limits and device "
                            "(docs/assignments.md)")
    check.add_argument("--submitted-at", metavar="WHEN",
                       help="with --assignment: when it was handed in, e.g. '2025-03-02 10:00', to apply the late "
                            "policy")
    check.add_argument("--student", metavar="ID", help="with --assignment: the student, for their extension")


def _add_authoring_parsers(commands) -> None:
    """The commands of an exercise's author: ``verify``, ``starter``, ``docs`` and ``new``."""
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
    starter.add_argument("--assignment", metavar="FILE",
                         help="the assignment.toml: its exercises, in its order, its title and its points")

    docs = commands.add_parser("docs", help="write the students' page of the exercises (docs/exercises.md)")
    docs.add_argument("exercise", nargs="*", metavar="ID", help="exercise ids (default: all)")
    docs.add_argument("--output", "-o", default="docs/exercises.md", metavar="FILE",
                      help="the Markdown file to write (default: docs/exercises.md); - for stdout")

    new = commands.add_parser("new", help="scaffold an exercise plugin package (pip install -e it, then grader list)")
    new.add_argument("id", help="the new exercise's id (lowercase letters, digits, underscores)")
    new.add_argument("--dir", metavar="PATH", help="the package folder to create (default: ./grader-<id>)")
    new.add_argument("--title", help="the exercise's title (default: from the id)")


def _write_report(text: str, output: str | None) -> None:
    if output is None:
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(errors="replace")  # a terminal that cannot show ✓ gets "?", not a crash
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from grader.cache import write_text_atomic

    write_text_atomic(Path(output), text)


def cmd_check(args: argparse.Namespace) -> int:
    from grader.assignment import limits_for, open_assignment, select_for
    from grader.engine import exercise_registry, grade_path
    from grader.plugins import get_plugin_manager
    from grader.sandbox.launch import WorkerPool

    pm = get_plugin_manager()
    formats = {f for fs in pm.hook.grader_report_formats() for f in fs}
    if args.format not in formats:
        raise GraderError(f"unknown format {args.format!r} (choose from {', '.join(sorted(formats))})")
    assignment = open_assignment(args.assignment, pm)
    if assignment is None and (args.submitted_at or args.student):
        raise GraderError("--submitted-at and --student need --assignment FILE (its deadline and extensions)")
    limits = limits_for(assignment, args.timeout, args.cell_timeout)
    exercises = select_for(assignment, exercise_registry(pm), args.exercise)
    device = args.device or (assignment.device if assignment else None) or "cpu"
    # the warm worker imports torch while this process reads the submission
    with WorkerPool(1, preload=sorted({e.module for e in exercises})) as pool:
        result = grade_path(args.submission, [e.id for e in exercises], device=device, limits=limits, pm=pm,
                            pool=pool).to_dict()
    if assignment is not None:
        from grader.scoring import assess_and_apply

        result = assess_and_apply(result, assignment, args.submitted_at, args.student, pm)
    color = args.color == "always" or (args.color == "auto" and args.output is None and sys.stdout.isatty()
                                       and not os.environ.get("NO_COLOR"))
    text = pm.hook.grader_render_report(result=result, fmt=args.format, color=color)
    _write_report(text, args.output)
    if args.fail_under is not None and result["score"] < args.fail_under:
        return ExitCode.BELOW_THRESHOLD
    return ExitCode.OK


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
    return ExitCode.OK


def cmd_verify(args: argparse.Namespace) -> int:
    from grader.engine import exercise_registry, select_exercises
    from grader.options import resolve_device
    from grader.plugins import get_plugin_manager
    from grader.verify import verify

    pm = get_plugin_manager()
    exercises = select_exercises(exercise_registry(pm), args.exercise)
    findings = verify(exercises, device=resolve_device(pm, args.device), jobs=args.jobs)
    for f in findings:
        print(f"{'ok  ' if f.ok else 'FAIL'}  {f.exercise:<18} {f.subject:<28} {f.detail}")
    failed = sum(not f.ok for f in findings)
    print(f"{len(findings) - failed} passed, {failed} failed")
    return ExitCode.BELOW_THRESHOLD if failed else ExitCode.OK


def cmd_starter(args: argparse.Namespace) -> int:
    from grader.engine import exercise_registry, select_exercises
    from grader.plugins import get_plugin_manager
    from grader.starter import notebook_order, write_starter

    from grader.assignment import open_assignment, select_for

    registry = exercise_registry(get_plugin_manager())
    assignment = open_assignment(args.assignment)
    if assignment is not None:
        exercises = select_for(assignment, registry, args.exercise)
    else:
        exercises = select_exercises(registry, args.exercise) if args.exercise else notebook_order(registry)
    path = write_starter(exercises, Path(args.output), title=args.title, force=args.force,
                         only_these=bool(args.exercise), assignment=assignment)
    print(f"wrote {path}: {len(exercises)} exercise(s): {', '.join(e.id for e in exercises)}")
    return ExitCode.OK


def cmd_docs(args: argparse.Namespace) -> int:
    from grader import catalogue_docs
    from grader.engine import exercise_registry, select_exercises
    from grader.plugins import get_plugin_manager

    exercises = select_exercises(exercise_registry(get_plugin_manager()), args.exercise)
    if args.output == "-":
        sys.stdout.write(catalogue_docs.render(exercises))
    else:
        print(f"wrote {catalogue_docs.write(exercises, Path(args.output))}: {len(exercises)} exercise(s)")
    return ExitCode.OK


def cmd_new(args: argparse.Namespace) -> int:
    from grader.engine import exercise_registry
    from grader.plugins import get_plugin_manager
    from grader.scaffold import new_exercise, package_names

    files = new_exercise(args.id, args.dir, title=args.title, known=set(exercise_registry(get_plugin_manager())))
    root = Path(args.dir) if args.dir else Path(package_names(args.id)[1])
    print(f"created the exercise plugin {args.id!r} in {root}/ ({len(files)} files). Next:")
    print(f"  pip install -e {root}      # then: grader list, grader verify {args.id}, pytest {root}")
    return ExitCode.OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Exit 1 when a protection a cluster worker needs is missing (the report says which)."""
    import json

    from grader.options import resolve_device
    from grader.plugins import get_plugin_manager
    from grader.sandbox.diagnose import describe, diagnose, missing_protections

    pm = get_plugin_manager()
    report = diagnose(device=resolve_device(pm, args.device), pm=pm)
    sys.stdout.write(json.dumps(report, indent=2) + "\n" if args.format == "json" else describe(report))
    return ExitCode.BELOW_THRESHOLD if missing_protections(report) or report.get("problem") else ExitCode.OK


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
                   "new": cmd_new, "docs": cmd_docs, "sandbox": cmd_sandbox, "batch": cmd_batch,
                   "gradescope": cmd_gradescope}[args.command]
        return handler(args)
    except GraderError as exc:
        print(f"grader: error: {printable(str(exc), keep='')}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # `grader check ... | head`: the reader has gone; nothing to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except Exception as exc:  # noqa: BLE001 - a bug in the grader: one line, never a traceback
        return _internal_error(exc)


def _internal_error(exc: Exception) -> int:
    if os.environ.get(DEBUG_ENV):
        import traceback

        traceback.print_exc(file=sys.stderr)
    detail = printable(f"{type(exc).__name__}: {exc}", keep="")[:300]
    hint = "" if os.environ.get(DEBUG_ENV) else f"; run again with {DEBUG_ENV}=1 for the traceback"
    print(f"grader: internal error: {detail} (a bug in the grader, not in the submission{hint})", file=sys.stderr)
    return ExitCode.INTERNAL
