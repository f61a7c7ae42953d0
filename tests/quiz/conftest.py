"""Fixtures for the quiz runtime: the fixture packs, a private outcome cache, plans from YAML-like data."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter

from sagetutor.packs.plan import Plan
from sagetutor.quiz.cache import OutcomeCache
from sagetutor.quiz.runtime import QuizRuntime

PACKS = Path(__file__).parent / "packs"
PLAN = TypeAdapter(Plan)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets its own cache folder (never the learner's)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("SAGETUTOR_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def runtime(private_cache):
    def make(name: str, **kw) -> QuizRuntime:
        kw.setdefault("cache", OutcomeCache(private_cache))
        return QuizRuntime.from_file(PACKS / name, **kw)
    return make


def plan(*steps: dict) -> list:
    """Plan steps as a pack writes them: ``plan({"train": {"spot": True}}, {"interrupt_spot": "10min"})``."""
    return PLAN.validate_python(list(steps))
