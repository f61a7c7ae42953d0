"""`sagetutor validate --simulate`: the simulator checks the answer key, at file:line:column."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sagetutor.cli import main
from tests.quiz.conftest import PACKS

ROOT = Path(__file__).resolve().parents[2]


def test_a_wrong_answer_key_fails_at_the_options_line(capsys):
    path = PACKS / "broken" / "wrong-key.yaml"
    assert main(["validate", "--simulate", str(path)]) == 1
    out = capsys.readouterr()
    lines = out.out.splitlines()
    text = path.read_text().splitlines()
    correct = next(i for i, ln in enumerate(text, 1) if "- id: endpoint" in ln)
    real = next(i for i, ln in enumerate(text, 1) if "- id: transform" in ln)
    assert lines[0].startswith(f"{path}:{correct}:9: question nightly-wrong: option endpoint is marked correct but "
                               "does not meet requirement 'cost.total is minimal' (cost.total = $3.")
    assert "among the options that meet the rest: endpoint: $3." in lines[0] and "transform: $0.0" in lines[0]
    assert lines[0].endswith("(at seed 7 and 2 more runs)")  # the pack seed and the two after it
    assert lines[1] == (f"{path}:{real}:9: question nightly-wrong: option transform is marked wrong but meets every "
                        "requirement, so the simulator cannot tell it from the answer: add a requirement it fails or "
                        "fix the answer key (at seed 7 and 2 more runs)")
    assert len(lines) == 2 and "1 of 1 pack not valid (2 problems)" in out.err
    assert main(["validate", str(path)]) == 0  # the format itself is fine


def test_good_packs_pass_with_every_answer_key_confirmed(capsys):
    paths = [str(PACKS / "flows.yaml"), str(PACKS / "training-time.yaml")]
    assert main(["validate", "--simulate", *paths]) == 0
    out = capsys.readouterr().out
    assert [ln for ln in out.splitlines() if ": warning: " in ln] == []
    assert f"{paths[0]}: ok, 5 questions; answer keys confirmed on the engine" in out
    assert f"{paths[1]}: ok, 1 question; answer keys confirmed on the engine" in out


def test_the_quiz_runtime_never_imports_textual():
    code = ("import sys\n"
            "import sagetutor.quiz.runtime, sagetutor.quiz.runner, sagetutor.quiz.outcome, sagetutor.quiz.cache\n"
            "import sagetutor.quiz.shared, sagetutor.quiz.scoring\n"
            "from sagetutor.quiz.runtime import QuizRuntime\n"
            f"rt = QuizRuntime.from_file({str(PACKS / 'spot.yaml')!r}, use_cache=False)\n"
            "rt.answer('spot-two', ['spot', 'checkpoints'])\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
            "print(bad)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
