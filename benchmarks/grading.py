"""Grading a class: attempt files on the bundled SAA pack into the gradebook.

The benchmark writes N attempt files (``write_attempt``) in a temporary folder: student
``s0000``... with seed i, each exam drawn by ``student_exam`` from the bundled
``scenarios/saa-c03-sagemaker.yaml`` (65 of its questions), answers seeded at random (about 9
in 10 questions answered, about 7 in 10 of those right). Then it grades them from the files
in a fresh process per measurement, so each figure includes reading every file:

* **csv**: ``write_gradebook`` into ``gradebook.csv`` only, for 100 and 1,000 attempts, in one
  process (``--jobs 1``) and in the command's default worker processes;
* **all but feedback**: csv, gradescope and junit at once, 1,000 attempts;
* **memory**: the peak resident set size of the grading process, 100 against 1,000 attempts
  (flat means the difference is small and does not grow with N), and tracemalloc's peak of
  the grading itself;
* **feedback** (measured apart, ``--feedback N``, default 10 attempts): feedback reports with
  an empty outcome cache, then again with the cache it filled.

Times are wall-clock seconds for grading and writing (the pack is loaded before the clock
starts; its load is reported apart). Target on the development machine (2 cores): 1,000
attempts in under 5 s.

    python benchmarks/grading.py [--attempts 1000] [--feedback 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PACK = ROOT / "scenarios" / "saa-c03-sagemaker.yaml"


def make_attempts(folder: Path, n: int, seed: int = 1) -> float:
    """Write ``n`` attempt files into ``folder``; returns the seconds it took."""
    from sagetutor.grading.attempt import FORMAT, Attempt, write_attempt
    from sagetutor.grading.draw import pack_hash, student_exam
    from sagetutor.packs import read_pack

    t0 = time.perf_counter()
    pack = read_pack(PACK)
    digest = pack_hash(pack)
    rng = random.Random(seed)
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    for i in range(n):
        student = f"s{i:04d}"
        exam = student_exam(pack, student, i)
        answers: dict = {}
        for qid in exam.question_ids:
            if rng.random() > 0.9:
                continue
            q = pack.question(qid)
            right = rng.random() < 0.7
            ids = [o.id for o in q.options]
            if q.type == "single":
                answers[qid] = q.correct_ids[0] if right else rng.choice(ids)
            elif q.type == "multi":
                answers[qid] = list(q.correct_ids) if right else rng.sample(ids, q.select)
            elif q.type == "ordering":
                answers[qid] = list(q.correct_order) if right else rng.sample(ids, len(ids))
            else:
                answers[qid] = dict(q.answer_key) if right else {p.id: rng.choice(ids) for p in q.prompts}
        seconds = {qid: round(rng.uniform(20, 180), 3) for qid in exam.question_ids}
        attempt = Attempt(format=FORMAT, pack_id=pack.pack.id, pack_version=pack.pack.version, pack_hash=digest,
                          student=student, seed=i, questions=list(exam.question_ids), answers=answers,
                          flags=[q for q in exam.question_ids if rng.random() < 0.05], seconds=seconds,
                          started_at=start, ended_at=start + timedelta(seconds=sum(seconds.values())))
        write_attempt(attempt, folder / f"{student}.attempt.yaml")
    return time.perf_counter() - t0


def child(args: argparse.Namespace) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    import tracemalloc

    from sagetutor.grading.grade import ClassGrader, attempt_files, default_jobs
    from sagetutor.grading.gradebook import Book, write_gradebook
    from sagetutor.packs import read_pack

    t0 = time.perf_counter()
    pack = read_pack(PACK)
    grader = ClassGrader(pack)
    load = time.perf_counter() - t0
    files, _ = attempt_files([args.folder])
    files = files[: args.n]
    jobs = default_jobs() if args.jobs == 0 else args.jobs
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if args.trace:
        tracemalloc.start()
    cpu0 = time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        summary = write_gradebook(grader.grade_class(files, jobs=jobs), Path(out), args.formats.split(","),
                                  Book(grader, pack_file=PACK))
    seconds = time.perf_counter() - t0
    cpu = time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - cpu0
    traced = tracemalloc.get_traced_memory()[1] if args.trace else None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"n": len(files), "formats": args.formats, "jobs": jobs, "seconds": seconds, "cpu": cpu, "load": load,
                      "rss_kb": rss, "rss_before_kb": rss_before, "traced_peak": traced,
                      "passed": summary.passed, "failed": summary.failed,
                      "not_gradable": len(summary.not_gradable)}))


def measure(folder: Path, n: int, formats: str, jobs: int, trace: bool = False, env: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", "--folder", str(folder), "-n", str(n), "--formats", formats,
           "--jobs", str(jobs)] + (["--trace"] if trace else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attempts", type=int, default=1000)
    ap.add_argument("--feedback", type=int, default=10, help="attempts graded with feedback reports (0: skip)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    ap.add_argument("-n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--formats", default="csv", help=argparse.SUPPRESS)
    ap.add_argument("--jobs", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    rows = []
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="sagetutor-grading-bench-") as tmp:
        folder = Path(tmp) / "attempts"
        folder.mkdir()
        made = make_attempts(folder, args.attempts)
        print(f"wrote {args.attempts} attempt files in {made:.1f} s", file=sys.stderr)
        small = min(100, args.attempts)
        plan = [("csv", small, 1), ("csv", args.attempts, 1), ("csv", small, 0), ("csv", args.attempts, 0),
                ("csv,gradescope,junit", args.attempts, 1), ("csv,gradescope,junit", args.attempts, 0)]
        for formats, n, jobs in plan:
            r = measure(folder, n, formats, jobs)
            rows.append(r)
            print(f"{formats:<22} n={r['n']:>5} jobs={r['jobs']} grading {r['seconds']:6.2f} s, CPU {r['cpu']:6.2f} s "
                  f"(pack load {r['load']:.2f} s)  peak RSS {r['rss_kb'] / 1024:6.1f} MiB  "
                  f"[{r['passed']} passed, {r['failed']} below, {r['not_gradable']} not gradable]")
        for n in (small, args.attempts):
            r = measure(folder, n, "csv,gradescope,junit", 1, trace=True)
            rows.append({**r, "traced": True})
            print(f"tracemalloc peak while grading n={n:>5} (csv,gradescope,junit, jobs=1): "
                  f"{r['traced_peak'] / 1024 / 1024:.2f} MiB")
        if args.feedback:
            env = dict(os.environ, SAGETUTOR_CACHE_DIR=str(Path(tmp) / "cache"))
            for label in ("cold cache", "warm cache"):
                r = measure(folder, args.feedback, "feedback", 1, env=env)
                rows.append({**r, "cache": label})
                print(f"feedback n={r['n']} ({label}): {r['seconds']:.1f} s, {r['seconds'] / r['n']:.2f} s per attempt")
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
