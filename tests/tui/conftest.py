"""Fixtures for the TUI's functional tests: private data and cache folders, the small quiz
fixture packs, and ``make_app`` to build the real app around them.

The outcome cache folder is shared by the whole session (still a temporary folder, never the
learner's), so each fixture question is simulated once per test run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sagetutor.tui.app import SageTutorApp
from sagetutor.tui.catalog import PackEntry, load_entry

PACKS = Path(__file__).resolve().parent.parent / "quiz" / "packs"


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("outcome-cache")


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch, session_cache) -> Path:
    """``SAGETUTOR_DATA_DIR`` per test (progress, errata) and a temporary outcome cache."""
    data = tmp_path / "data"
    monkeypatch.setenv("SAGETUTOR_DATA_DIR", str(data))
    monkeypatch.setenv("SAGETUTOR_CACHE_DIR", str(session_cache))
    monkeypatch.delenv("SAGETUTOR_SEED", raising=False)
    return data


@pytest.fixture
def pack_entry():
    """A fixture pack as the catalog lists it: ``pack_entry("spot")``."""
    def make(name: str, origin: str = "command line") -> PackEntry:
        return load_entry(PACKS / f"{name}.yaml", origin)
    return make


@pytest.fixture
def make_app(pack_entry):
    """The real app on fixture packs: ``make_app(packs=["spot"], start="home", seed=7)``."""
    def make(packs=("spot", "nightly", "flows"), start: str = "home", seed: int = 7, **kw) -> SageTutorApp:
        entries = [p if isinstance(p, PackEntry) else pack_entry(p) for p in packs]
        return SageTutorApp(entries, start=start, seed=seed, **kw)
    return make
