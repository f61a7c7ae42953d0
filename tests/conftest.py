"""Shared fixtures: one per concept (a fresh seeded engine, its clients, a training request)."""

from __future__ import annotations

import pytest

from engine import Engine


@pytest.fixture
def eng() -> Engine:
    return Engine(seed=7)


@pytest.fixture
def sm(eng):
    return eng.client("sagemaker")


@pytest.fixture
def s3(eng):
    c = eng.client("s3")
    c.create_bucket(Bucket="my-bucket")
    return c
