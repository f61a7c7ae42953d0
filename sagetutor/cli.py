"""The ``sagetutor`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sagetutor", description="Learn Amazon SageMaker on a simulated SageMaker that "
                                                              "really runs: real models, virtual time, an itemized bill. "
                                                              "With no arguments (or with pack files) it opens the "
                                                              "terminal app.",
                                usage="sagetutor [PACK ...] | sagetutor COMMAND ...")
    sub = p.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="run a Spot training job with an injected interruption, resume it from its "
                                       "checkpoint, deploy the model, and print the timeline and the bill")
    demo.add_argument("--seed", type=int, default=7, help="the engine seed (default 7)")

    sub.add_parser("schema", help="print the JSON Schema of the pack format (for editors: yaml-language-server)")

    val = sub.add_parser("validate", help="check pack files; prints file:line:column: message for every problem "
                                          "(exit 0 only if all are valid)")
    val.add_argument("paths", nargs="+", metavar="PATH", help="pack files, or folders of *.yaml packs")
    val.add_argument("--simulate", action="store_true",
                     help="also run every option's plan on the engine (every params variant, at the pack seed and "
                          "the two after it) and check the answer key against the question's own requirements")
    val.add_argument("-q", "--quiet", action="store_true", help="print problems only")

    pack = sub.add_parser("pack", help="author packs")
    pack_sub = pack.add_subparsers(dest="pack_command")
    new = pack_sub.add_parser("new", help="write a commented starter pack to FILE (never overwrites)")
    new.add_argument("file", metavar="FILE")
    pack_sub.add_parser("dir", help="print the folder for your own packs")
    pexport = pack_sub.add_parser("export", help="write a student pack: PACK without its answer key, feedback, "
                                                 "explanations, topics, references or plans (never overwrites)")
    pexport.add_argument("--for-students", action="store_true", required=True,
                         help="remove everything that gives the answer key away (docs/classroom.md)")
    pexport.add_argument("file", metavar="PACK", help="the full pack")
    pexport.add_argument("-o", "--out", metavar="FILE", required=True, help="the student pack to write")

    exam = sub.add_parser("exam", help="open the TUI straight into a timed exam on PACK")
    exam.add_argument("pack", metavar="PACK", help="a pack file")
    exam.add_argument("--headless", action="store_true",
                      help="take the exam in a plain terminal (one question at a time, answers from stdin) and "
                           "write an attempt file; no score is shown")
    exam.add_argument("--student", metavar="ID", help="your student id (required with --headless)")
    exam.add_argument("--seed", metavar="S", type=int, help="the exam's seed (default: the pack's seed)")
    exam.add_argument("--out", metavar="FILE", help="the attempt file (default ./<student>-<pack id>.attempt.yaml)")
    exam.add_argument("--answers", metavar="FILE", help="answer from a YAML mapping of question id to answer "
                                                        "(pack ids: b | a,c | c,a,b | p1=kmeans,p2=xgboost)")

    grade = sub.add_parser("grade", help="grade a class: attempt files on PACK (the teacher's pack, with its key) "
                                         "into a gradebook CSV, Gradescope results, JUnit XML and feedback "
                                         "(exit 0 only if every attempt is gradable and passes; docs/classroom.md)")
    grade.add_argument("pack", metavar="PACK", help="the full pack the student pack was exported from")
    grade.add_argument("attempts", nargs="+", metavar="ATTEMPT_OR_DIR",
                       help="attempt files, or folders searched for *.yaml attempt files")
    grade.add_argument("--out", metavar="DIR", required=True, help="the folder to write into (created if needed)")
    grade.add_argument("--format", metavar="LIST", dest="formats",
                       help="comma-separated: csv,gradescope,junit,feedback (default: all)")
    grade.add_argument("--pass-mark", metavar="N", type=int,
                       help="passing estimated scaled score, 100-1000 (default: the pack blueprint's)")

    serve = sub.add_parser("serve", help="serve the simulated account over HTTP to unmodified boto3 code "
                                         "(AWS_ENDPOINT_URL=http://127.0.0.1:4566; docs/serve.md)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, loopback)")
    serve.add_argument("--port", type=int, default=4566, help="port (default 4566; 0 picks a free one)")
    serve.add_argument("--speed", type=float, default=600.0,
                       help="virtual seconds per real second (default 600; 0: the clock moves only through "
                            "POST /_sagetutor/advance?seconds=N)")
    serve.add_argument("--seed", type=int, default=7, help="the engine seed (default 7)")
    serve.add_argument("--state", metavar="FILE", help="load S3 and IAM resources from this JSON file on start "
                                                       "(if it exists) and save them to it on exit")
    serve.add_argument("-v", "--verbose", action="store_true", help="log every request")

    progress = sub.add_parser("progress", help="your saved progress (answers, exams, review schedule)")
    progress_sub = progress.add_subparsers(dest="progress_command")
    export = progress_sub.add_parser("export", help="write all your progress to a new JSON file FILE "
                                                    "(never overwrites)")
    export.add_argument("file", metavar="FILE")
    reset = progress_sub.add_parser("reset", help="delete all your progress (asks first)")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return p


def _pack_paths(paths: list[str]) -> tuple[list[Path], list[str]]:
    files: list[Path] = []
    missing: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(x for x in p.rglob("*") if x.is_file() and x.suffix in (".yaml", ".yml"))
            if not found:
                missing.append(f"{raw}: no *.yaml packs in this folder")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            missing.append(f"{raw}: no such file or folder")
    return files, missing


def _question_paths(pack) -> dict[str, tuple]:
    """Question id -> its path in the file (``("questions", i)`` or a case study's child's)."""
    out: dict[str, tuple] = {}
    for i, q in enumerate(pack.questions):
        out[q.id] = ("questions", i)
        for j, c in enumerate(getattr(q, "questions", None) or []):
            out[c.id] = ("questions", i, "questions", j)
    return out


def _mark(marks: dict, path: tuple) -> tuple[int, int]:
    while path:
        if path in marks:
            return marks[path]
        path = path[:-1]
    return marks.get((), (1, 1))


def _simulate(path: Path, result) -> tuple[list[str], list[str]]:
    """Problems and warnings (``file:line:column: message``) from running every plan of a valid pack."""
    from sagetutor.quiz.cache import content_hash
    from sagetutor.quiz.runtime import QuizRuntime, check_answer_key

    pack = result.pack
    rt = QuizRuntime(pack, content_hash(path.read_bytes()), source=str(path))
    seed = pack.pack.seed
    seeds = [seed, seed + 1, seed + 2]
    qpaths = _question_paths(pack)
    problems: list[str] = []
    warnings: list[str] = []
    for item in pack.items():
        qpath = qpaths.get(item.id, ())
        option_index = {o.id: k for k, o in enumerate(getattr(item, "options", []))}
        for p in check_answer_key(rt, item.id, seeds):
            where = qpath
            if p.option in option_index:
                where = (*qpath, "options", option_index[p.option])
            line, col = _mark(result.marks, where)
            text = f"{path}:{line}:{col}: question {item.id}: {p.message}"
            if p.warning:
                warnings.append(f"{path}:{line}:{col}: warning: question {item.id}: {p.message}")
            else:
                problems.append(text)
    return problems, warnings


def _validate(args: argparse.Namespace) -> int:
    from sagetutor.packs import load_file

    files, missing = _pack_paths(args.paths)
    for m in missing:
        print(m)
    bad = len(missing)
    problems = len(missing)  # an unreadable path is its own problem
    for f in files:
        result = load_file(f)
        for problem in result.problems:
            print(problem)
        warnings: list[str] = []
        if result.ok and args.simulate:
            simulated, warnings = _simulate(Path(f), result)
            for line in warnings:
                print(line)
            if simulated:
                for line in simulated:
                    print(line)
                bad += 1
                problems += len(simulated)
                continue
        if result.ok:
            if not args.quiet:
                assert result.pack is not None
                items = result.pack.items()
                what = "answer keys confirmed on the engine" if args.simulate else ""
                if warnings:
                    what += f" ({len(warnings)} warning{'s' if len(warnings) != 1 else ''}: plans not simulated)"
                print(f"{f}: ok, {len(items)} question{'s' if len(items) != 1 else ''}"
                      + (f"; {what}" if what else ""))
        else:
            bad += 1
            problems += len(result.problems)
    checked = len(files)
    if bad:
        print(f"{bad} of {checked + len(missing)} pack{'s' if checked + len(missing) != 1 else ''} not valid "
              f"({problems} problem{'s' if problems != 1 else ''})", file=sys.stderr)
        return 1
    return 0


def _pack(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from sagetutor.packs import paths

    if args.pack_command == "dir":
        print(paths.user_packs_dir())
        return 0
    if args.pack_command == "export":
        return _export_for_students(args)
    if args.pack_command == "new":
        from sagetutor.newfile import NotWritten, write_new

        target = Path(args.file)
        try:
            write_new(target, paths.starter_text())
        except NotWritten as e:
            why = {"exists": "already exists; not overwriting it (choose another name)",
                   "no folder": f"the folder {target.parent} does not exist"}.get(e.reason, f"cannot write it: {e.detail}")
            print(f"{target}: {why}", file=sys.stderr)
            return 1
        print(f"wrote {target}: edit it, then run `sagetutor validate {target}`")
        return 0
    parser.parse_args(["pack", "--help"])
    return 2


def _export_for_students(args: argparse.Namespace) -> int:
    """`pack export --for-students PACK -o FILE`."""
    from sagetutor.grading.student_pack import ExportError, export_for_students
    from sagetutor.packs import load_file

    result = load_file(args.file)
    if not result.ok or result.pack is None:
        for problem in result.problems:
            print(problem, file=sys.stderr)
        print(f"{args.file}: not a valid pack; nothing written", file=sys.stderr)
        return 1
    try:
        written = export_for_students(result.pack, Path(args.out))
    except ExportError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"wrote the student pack {written} (no answer key, feedback, explanations, topics, references or plans)")
    return 0


def _progress(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """`progress export` and `progress reset`. A damaged or newer database: its message, exit 2."""
    from sagetutor.progress import ProgressError, ProgressStore, default_path

    try:
        if args.progress_command == "export":
            target = Path(args.file)
            if target.exists():
                print(f"{target}: already exists; not overwriting it (choose another file name)", file=sys.stderr)
                return 1
            with ProgressStore.open() as store:
                written = store.export(target)
            print(f"wrote your progress to {written}")
            return 0
        if args.progress_command == "reset":
            path = default_path()
            if not path.exists():
                print(f"no progress saved yet ({path} does not exist); nothing to delete")
                return 0
            with ProgressStore.open(path) as store:
                if not args.yes:
                    try:
                        reply = input(f"Delete all progress in {path}? [y/N] ")
                    except EOFError:
                        reply = ""
                    if reply.strip().lower() not in ("y", "yes"):
                        print("nothing deleted")
                        return 0
                store.reset()
            print(f"deleted all progress in {path}")
            return 0
    except ProgressError as e:
        print(e, file=sys.stderr)
        return 2
    parser.parse_args(["progress", "--help"])
    return 2


#: Words that name a subcommand; anything else given first is a pack path for the TUI.
SUBCOMMANDS = ("demo", "schema", "validate", "pack", "progress", "exam", "grade", "serve")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and not argv[0].startswith("-")):
        from sagetutor.tui.app import run as run_tui  # `sagetutor` or `sagetutor PACK...`: the TUI

        return run_tui(argv)
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "exam" and args.headless:
        from sagetutor.grading.headless import sit

        return sit(args.pack, args.student, args.seed, args.out, args.answers)
    if args.command == "exam" and any(v is not None for v in (args.student, args.seed, args.out, args.answers)):
        parser.error("--student, --seed, --out and --answers go with --headless")
    if args.command == "exam":
        from sagetutor.tui.app import run as run_tui

        return run_tui([args.pack], start="exam")
    if args.command == "demo":
        from sagetutor.demo import run

        return run(seed=args.seed, out=sys.stdout)
    if args.command == "schema":
        from sagetutor.packs.schema import pack_schema

        try:
            print(json.dumps(pack_schema(), indent=2))
            sys.stdout.flush()
        except BrokenPipeError:  # `sagetutor schema | head`
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (stdout must stay open until exit)
        return 0
    if args.command == "validate":
        return _validate(args)
    if args.command == "pack":
        return _pack(args, parser)
    if args.command == "progress":
        return _progress(args, parser)
    if args.command == "grade":
        from sagetutor.grading.gradebook import grade_command

        return grade_command(args.pack, args.attempts, args.out, args.formats, args.pass_mark)
    if args.command == "serve":
        from sagetutor.serve import run as run_serve

        return run_serve(args.host, args.port, args.speed, args.seed, args.state, args.verbose)
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
