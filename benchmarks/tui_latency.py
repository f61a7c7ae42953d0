"""The TUI's two waits: launch to the first interactive screen, and submit to the outcome view.

* **launch**: a fresh Python process imports SageTutor, finds the packs (the bundled ones),
  builds the app and runs it headless until the Home screen is mounted and idle; measured from
  outside, from spawning the process to the line it prints when Home is ready (so interpreter
  start and imports count). Median of ``--launches`` runs. Target: under 1 s. The launches share
  one empty temporary cache folder, so the first one finds no catalog summaries (it parses every
  pack and writes them, as on the first launch after an install or an edit) and the others find
  them; the first launch is also reported on its own.
* **submit -> outcome**: for every question of every bundled pack, Practice is opened on it;
  as in the app, showing the question starts simulating its options in a worker, and the
  benchmark waits for that warm-up to finish (the learner's reading time) before it submits
  the correct answer with ctrl+s, then times until the OutcomeView is mounted. The outcome
  cache starts empty (a temporary folder). Target: p95 under 300 ms.

Headless (``App.run_test``) stands in for a terminal; the answer is injected instead of being
clicked (reading a widget's value costs nothing next to running and rendering).

    python benchmarks/tui_latency.py [--launches 5] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAUNCH = r"""
import asyncio, os, sys
sys.path.insert(0, {root!r})
from sagetutor.tui.app import SageTutorApp

async def main():
    app = SageTutorApp()
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        print("ready " + type(app.screen).__name__, flush=True)
        os._exit(0)

asyncio.run(main())
"""


def launch_seconds(runs: int, env: dict) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", LAUNCH.format(root=str(ROOT))], stdout=subprocess.PIPE,
                                text=True, env=env, cwd=ROOT)
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - t0
        proc.wait(timeout=60)
        if not line.startswith("ready HomeScreen"):
            raise SystemExit(f"the app did not reach Home: {line!r}")
        out.append(elapsed)
    return out


async def submit_times(limit: int | None) -> list[tuple[float, str]]:
    from sagetutor.quiz.scoring import correct_answer
    from sagetutor.tui.app import SageTutorApp
    from sagetutor.tui.catalog import discover
    from sagetutor.tui.widgets import question as qmod
    from sagetutor.tui.widgets.outcome import OutcomeView

    answers: dict[str, object] = {}
    qmod.QuestionView.answer = property(lambda self: answers[self.question.id])  # the learner's click
    packs = [p for p in discover() if p.ok and p.origin == "bundled"]
    app = SageTutorApp(packs)
    out: list[tuple[float, str]] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for entry in packs:
            for qid in entry.question_ids[:limit]:
                q = entry.runtime().resolve(qid).question
                answers[qid] = correct_answer(q)
                app.open_mode("practice", entry, question_ids=[qid])
                await pilot.pause()
                await app.workers.wait_for_complete()  # the warm-up: the learner reads the question
                await pilot.pause()
                t0 = time.perf_counter()
                await pilot.press("ctrl+s")
                while not app.screen.query(OutcomeView):
                    await asyncio.sleep(0.002)
                out.append((time.perf_counter() - t0, f"{entry.pack_id}/{qid}"))
                app.pop_screen()
                await pilot.pause()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--launches", type=int, default=5)
    ap.add_argument("--limit", type=int, default=None, help="questions per pack (default: all)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as data, tempfile.TemporaryDirectory() as cache:
        os.environ.update(SAGETUTOR_DATA_DIR=data, SAGETUTOR_CACHE_DIR=cache)
        env = dict(os.environ)
        launches = launch_seconds(args.launches, env)
        times = asyncio.run(submit_times(args.limit))
    ms = sorted(t * 1000 for t, _ in times)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    print(f"launch to Home (fresh process, headless): median {statistics.median(launches):.2f} s "
          f"(runs: {', '.join(f'{x:.2f}' for x in launches)}; the first with an empty catalog cache); "
          f"target < 1 s: {'met' if statistics.median(launches) < 1 else 'NOT met'}")
    print(f"submit -> outcome view, {len(ms)} questions after the warm-up: median {statistics.median(ms):.0f} ms, "
          f"p95 {p95:.0f} ms, max {ms[-1]:.0f} ms; target p95 < 300 ms: {'met' if p95 < 300 else 'NOT met'}")
    slow = sorted(times, reverse=True)[:5]
    print("slowest:", ", ".join(f"{name} {t * 1000:.0f} ms" for t, name in slow))


if __name__ == "__main__":
    main()
