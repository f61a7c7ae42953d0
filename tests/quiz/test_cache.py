"""Outcomes are deterministic and cached; a changed pack or engine never serves a stale one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sagetutor.quiz import cache as cache_mod
from sagetutor.quiz.cache import OutcomeCache
from sagetutor.quiz.runtime import QuizRuntime
from tests.quiz.conftest import PACKS

ROOT = Path(__file__).resolve().parents[2]

ANSWER = """
import json, sys
from sagetutor.quiz.runtime import QuizRuntime
rt = QuizRuntime.from_file(sys.argv[1], use_cache=False)
result = rt.answer(sys.argv[2], sys.argv[3], seed=int(sys.argv[4]))
sys.stdout.write(json.dumps(result, sort_keys=True))
sys.stdout.write("\\n" + json.dumps(sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))))
"""


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", ANSWER, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONHASHSEED": "random", **(env or {})}, timeout=600, check=True)


def test_same_question_twice_in_two_processes_gives_the_same_bytes():
    args = (str(PACKS / "spot.yaml"), "spot-checkpoints", "spot", "7")
    first, second = _run(*args), _run(*args, env={"PYTHONHASHSEED": "12345"})
    one, textual = first.stdout.split("\n")
    assert one == second.stdout.split("\n")[0]
    result = json.loads(one)
    assert set(result["runs"]) == {"spot-checkpoints", "spot", "on-demand", "short-wait"}
    assert json.loads(textual) == []  # the quiz runtime never imports Textual


def test_a_question_answered_twice_does_not_simulate_twice(private_cache):
    rt = QuizRuntime.from_file(PACKS / "nightly.yaml", cache=OutcomeCache(private_cache))
    first = rt.answer("nightly-scoring", "endpoint")
    assert rt.simulated == 4
    assert rt.answer("nightly-scoring", "transform")["runs"]["endpoint"]["outcome"] == \
        first["runs"]["endpoint"]["outcome"]
    assert rt.simulated == 4  # from memory
    again = QuizRuntime.from_file(PACKS / "nightly.yaml", cache=OutcomeCache(private_cache))
    assert json.dumps(again.answer("nightly-scoring", "endpoint"), sort_keys=True) == \
        json.dumps(first, sort_keys=True)
    assert again.simulated == 0  # from disk
    files = list((private_cache / "outcomes").rglob("*.json"))
    assert len(files) == 1
    entry = json.loads(files[0].read_text())
    assert entry["meta"]["question"] == "nightly-scoring" and entry["meta"]["seed"] == 7
    assert set(entry["plans"]) == {"transform", "endpoint", "single-record", "big-fleet"}


def test_other_seeds_and_variants_are_other_entries(private_cache):
    rt = QuizRuntime.from_file(PACKS / "training-time.yaml", cache=OutcomeCache(private_cache))
    a = rt.answer("train-within-the-hour", "m5-4xlarge", params={"rows": 150000000})
    b = rt.answer("train-within-the-hour", "m5-4xlarge", params={"rows": 200000000})
    assert a["runs"]["m5-4xlarge"]["outcome"]["facts"]["time.training"] < \
        b["runs"]["m5-4xlarge"]["outcome"]["facts"]["time.training"]
    rt.answer("train-within-the-hour", "m5-4xlarge", seed=8, params={"rows": 150000000})
    assert len(list((private_cache / "outcomes").rglob("*.json"))) == 3


def test_a_changed_pack_is_never_served_a_stale_outcome(private_cache, tmp_path):
    text = (PACKS / "nightly.yaml").read_text()
    path = tmp_path / "nightly.yaml"
    path.write_text(text)
    c = OutcomeCache(private_cache)
    before = QuizRuntime.from_file(path, cache=c).answer("nightly-scoring", "transform")
    # The author moves the job to a bigger instance: same ids, new content.
    path.write_text(text.replace("transform: {instance: ml.m5.xlarge, nominal_rows: 10000000}",
                                 "transform: {instance: ml.m5.4xlarge, nominal_rows: 10000000}"))
    rt = QuizRuntime.from_file(path, cache=c)
    after = rt.answer("nightly-scoring", "transform")
    assert rt.simulated == 4
    line = after["runs"]["transform"]["outcome"]["bill"]["lines"][-1]
    assert line["instance_type"] == "ml.m5.4xlarge"
    assert after["runs"]["transform"]["outcome"]["facts"]["cost.total"] != \
        before["runs"]["transform"]["outcome"]["facts"]["cost.total"]
    # Even a comment is new content (the key is the file's bytes).
    path.write_text(path.read_text() + "\n# a comment\n")
    rt = QuizRuntime.from_file(path, cache=c)
    rt.answer("nightly-scoring", "transform")
    assert rt.simulated == 4


def test_a_changed_engine_is_never_served_a_stale_outcome(private_cache, monkeypatch):
    c = OutcomeCache(private_cache)
    rt = QuizRuntime.from_file(PACKS / "spot.yaml", cache=c)
    rt.answer("spot-two", ["spot", "checkpoints"])
    assert rt.simulated == 2
    monkeypatch.setattr(cache_mod, "engine_version", lambda: "9.9.9+changed")
    rt = QuizRuntime.from_file(PACKS / "spot.yaml", cache=c)
    result = rt.answer("spot-two", ["spot", "checkpoints"])
    assert rt.simulated == 2 and result["engine"] == "9.9.9+changed"


def test_engine_version_digests_the_engine_sources():
    version = cache_mod.engine_version()
    assert "+" in version and len(version.split("+")[1]) == 16
    assert cache_mod.engine_version() == version  # once per process


def test_engine_version_changes_when_an_engine_file_changes(tmp_path, monkeypatch):
    import engine

    fake = tmp_path / "engine"
    fake.mkdir()
    (fake / "__init__.py").write_text("x = 1\n")
    monkeypatch.setattr(engine, "__file__", str(fake / "__init__.py"))
    cache_mod.engine_version.cache_clear()
    try:
        one = cache_mod.engine_version()
        (fake / "timing.py").write_text("SPEED = 2\n")
        cache_mod.engine_version.cache_clear()
        two = cache_mod.engine_version()
        assert one != two
    finally:
        cache_mod.engine_version.cache_clear()


@pytest.mark.parametrize("garbage", [b"", b"{not json", b'{"format": 1, "key": "other", "plans": {}}',
                                     b'{"format": 1, "key": "KEY", "plans": [1, 2]}', b"\xff\xfe\x00", b"[]"])
def test_a_damaged_entry_is_ignored_and_rewritten(private_cache, garbage):
    c = OutcomeCache(private_cache)
    rt = QuizRuntime.from_file(PACKS / "spot.yaml", cache=c)
    r = rt.resolve("spot-two")
    key, _ = rt._key(r, 7)
    path = c.path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(garbage.replace(b"KEY", key.encode()))
    result = rt.answer("spot-two", ["spot", "checkpoints"])  # no traceback
    assert result["score"] == 1.0 and rt.simulated == 2
    assert c.damaged == 1
    entry = json.loads(path.read_text())
    assert entry["key"] == key and set(entry["plans"]) == {"spot", "checkpoints"}


def test_an_unwritable_cache_is_no_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    c = OutcomeCache(blocker)
    rt = QuizRuntime.from_file(PACKS / "spot.yaml", cache=c)
    assert rt.answer("spot-two", ["spot"])["score"] == 0.5  # net_correct: one of two right, none wrong
    assert c.write_errors == 1 and c.load("0" * 64) == {}


def test_default_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("SAGETUTOR_CACHE_DIR", str(tmp_path))
    assert OutcomeCache().root == tmp_path / "outcomes"
    monkeypatch.delenv("SAGETUTOR_CACHE_DIR")
    import platformdirs

    assert OutcomeCache().root == Path(platformdirs.user_cache_dir("sagetutor", appauthor=False)) / "outcomes"
