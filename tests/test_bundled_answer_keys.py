"""Every bundled question's answer key, confirmed by running its options on the engine.

What ``sagetutor validate --simulate`` checks for a pack (there at three seeds, here at the pack's
own seed to keep the suite quick): the declared correct options meet every requirement and no
wrong option meets them all. A plan the engine cannot run would show up here as a warning.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from sagetutor.packs.loader import load_file
from sagetutor.quiz.cache import content_hash
from sagetutor.quiz.runtime import QuizRuntime, check_answer_key

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
PACKS = sorted(SCENARIOS.glob("*.yaml"))


@cache
def _runtime(path: Path) -> QuizRuntime:
    result = load_file(path)
    assert result.ok, result.problems
    return QuizRuntime(result.pack, content_hash(path.read_bytes()), source=str(path), use_cache=False)


def _questions() -> list[tuple[Path, str]]:
    return [(p, item.id) for p in PACKS for item in load_file(p).pack.items()]


@pytest.mark.parametrize("path, question", _questions(), ids=lambda v: v.stem if isinstance(v, Path) else v)
def test_the_engine_confirms_the_bundled_answer_key(path: Path, question: str):
    rt = _runtime(path)
    problems = check_answer_key(rt, question, [rt.pack.pack.seed])
    assert [p.message for p in problems] == []


def test_every_bundled_pack_is_covered():
    assert {p.name for p in PACKS} >= {"saa-c03-sagemaker.yaml", "sagemaker-hands-on.yaml"}
    assert len(_questions()) >= 80
