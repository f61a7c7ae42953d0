"""Fixtures for the pack format: the starter, the all-features pack, the broken corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagetutor.packs import load_file
from sagetutor.packs.paths import STARTER

HERE = Path(__file__).parent
BROKEN = sorted((HERE / "broken").glob("*.yaml"))
GOOD = sorted((HERE / "good").glob("*.yaml"))


@pytest.fixture(scope="session")
def starter():
    result = load_file(STARTER)
    assert result.ok, [str(p) for p in result.problems]
    return result.pack


@pytest.fixture(scope="session")
def variants_pack():
    result = load_file(HERE / "good" / "variants.yaml")
    assert result.ok, [str(p) for p in result.problems]
    return result.pack
