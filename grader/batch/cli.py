"""The ``grader batch`` and ``grader gradescope`` subcommands (wired in by grader.cli)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader.errors import GraderError
from grader.options import add_grading_options
from grader.states import ExitCode


def add_parsers(commands) -> None:
    _add_batch_parser(commands)
    _add_gradescope_parsers(commands)


def _add_batch_parser(commands) -> None:
    from grader.batch.layouts import LAYOUTS

    batch = commands.add_parser("batch", help="grade a class: a folder or .zip exported by an LMS")
    batch.add_argument("submissions",
                       help="folder or .zip (Canvas, Moodle, Gradescope export, or one file per student)")
    batch.add_argument("--out", "-o", required=True, metavar="DIR",
                       help="output folder (grades.csv, results/, feedback/, summary.html)")
    add_grading_options(batch, each="each submission")
    batch.add_argument("--jobs", "-j", type=int, metavar="N",
                       help="submissions graded at once (default: the CPU count, at most one per 3 GiB of memory)")
    batch.add_argument("--layout", choices=LAYOUTS, default="auto",
                       help="how the export names students (default: auto)")
    batch.add_argument("--executor", default="local", metavar="NAME",
                       help="what runs the submissions: local, or dask (a Dask cluster; default: local)")
    batch.add_argument("--scheduler", metavar="ADDRESS",
                       help="with --executor dask: the scheduler to connect to, e.g. tcp://host:8786 (default: "
                            "start a local cluster of --jobs workers)")
    batch.add_argument("--assignment", metavar="FILE",
                       help="the assignment.toml: exercises, points, deadline, late policy, extensions, and the "
                            "Canvas column title (docs/assignments.md); DIR/adjustments.csv is always read")
    batch.add_argument("--force", action="store_true", help="grade everything again, ignoring the cache")
    batch.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto",
                       help="progress on stderr: a bar on a terminal, lines otherwise (default: auto)")


def _add_gradescope_parsers(commands) -> None:
    gradescope = commands.add_parser("gradescope", help="Gradescope autograder: build the zip, or run inside it")
    actions = gradescope.add_subparsers(dest="gradescope_command", required=True, parser_class=type(gradescope))
    build = actions.add_parser("build",
                               help="write an autograder zip (setup.sh, run_autograder) that grades with this grader")
    build.add_argument("--out", "-o", default="autograder.zip", metavar="FILE",
                       help="the zip (default: autograder.zip)")
    add_grading_options(build, each="each submission")
    build.add_argument("--visibility", default="visible", help="visible, after_due_date, after_published or hidden")
    build.add_argument("--requirement", action="append", default=[], metavar="SPEC",
                       help="another pip requirement for setup.sh (repeatable)")
    build.add_argument("--assignment", metavar="FILE",
                       help="the assignment.toml: its exercises, points, limits, deadline and late policy go into "
                            "the zip")
    run = actions.add_parser("run", help="grade /autograder/submission into results/results.json "
                                         "(run_autograder does this)")
    run.add_argument("--root", default=None, metavar="DIR",
                     help="the autograder root (default: $GRADER_AUTOGRADER_ROOT or /autograder)")
    run.add_argument("--exercise", "-e", action="append", metavar="ID", help="override the zip's exercises")
    run.add_argument("--timeout", type=float, metavar="S", help="override the zip's time limit")


def cmd_batch(args: argparse.Namespace) -> int:
    from grader.batch.core import BatchOptions, run_batch

    report = run_batch(BatchOptions(source=Path(args.submissions), out=Path(args.out), exercises=args.exercise,
                                    jobs=args.jobs, timeout=args.timeout, cell_timeout=args.cell_timeout,
                                    layout=args.layout, device=args.device,
                                    executor=args.executor, scheduler=args.scheduler,
                                    assignment=args.assignment, force=args.force,
                                    progress=args.progress))
    counts = ", ".join(f"{n} {status}" for status, n in report.counts.items())
    print(f"{report.total} submission(s): {counts}", file=sys.stderr)
    print(f"graded {report.graded} now, {report.unchanged} unchanged, in {report.seconds:.1f} s"
          + (f"; {report.strays} stray file(s) listed in summary.html" if report.strays else ""), file=sys.stderr)
    print(f"wrote {report.out / 'grades.csv'}, {report.out / 'summary.html'}, results/ and feedback/", file=sys.stderr)
    if report.interrupted:
        print("grader: interrupted; run the same command again to grade the rest", file=sys.stderr)
        return ExitCode.INTERRUPTED
    return ExitCode.BELOW_THRESHOLD if report.counts.get("grader_error") else ExitCode.OK


def cmd_gradescope(args: argparse.Namespace) -> int:
    import os

    from grader.batch.gradescope import DEFAULT_ROOT, build_autograder, run_autograder

    if args.gradescope_command == "build":
        path = build_autograder(Path(args.out), args.exercise, timeout=args.timeout, cell_timeout=args.cell_timeout,
                                device=args.device, visibility=args.visibility, extra_requirements=args.requirement,
                                assignment=args.assignment)
        print(f"wrote {path}: upload it as the Gradescope autograder (Ubuntu base image)")
        return 0
    root = Path(args.root or os.environ.get("GRADER_AUTOGRADER_ROOT") or DEFAULT_ROOT)
    if not root.is_dir():
        raise GraderError(f"{root}: no such folder")
    data = run_autograder(root, args.exercise, args.timeout)
    print(f"score {data['score']}: wrote {root / 'results' / 'results.json'}")
    return 0
