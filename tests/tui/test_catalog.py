"""The catalog's summary cache: Home lists packs without parsing them, never from a stale summary."""

from __future__ import annotations

import shutil

from sagetutor.tui.catalog import load_entry

from .conftest import PACKS


def test_second_load_lists_from_the_summary_and_parses_on_demand(tmp_path):
    path = tmp_path / "spot.yaml"
    shutil.copy(PACKS / "spot.yaml", path)
    first = load_entry(path, "yours")
    assert first.ok and first.loaded
    again = load_entry(path, "yours")
    assert again.ok and not again.loaded  # from the summary: nothing parsed yet
    assert (again.pack_id, again.title, again.exam, again.question_ids) == \
        (first.pack_id, first.title, first.exam, first.question_ids)
    assert [(q.domain, q.topics, q.scope) for q in again.questions] == \
        [(q.domain, tuple(q.topics), q.scope) for q in first.pack.items()]
    assert again.pack is not None and again.loaded  # parsed when asked for
    assert again.runtime().resolve(again.question_ids[0]).question.id == again.question_ids[0]


def test_an_edited_pack_is_a_new_key_and_a_broken_one_keeps_its_problems(tmp_path):
    path = tmp_path / "spot.yaml"
    shutil.copy(PACKS / "spot.yaml", path)
    load_entry(path, "yours")
    path.write_text(path.read_text("utf-8").replace("questions:", "questionz:", 1), "utf-8")
    broken = load_entry(path, "yours")
    assert not broken.ok and broken.problems
    cached = load_entry(path, "yours")
    assert not cached.ok and [str(p) for p in cached.problems] == [str(p) for p in broken.problems]


def test_a_pack_edited_after_discovery_is_reloaded_from_disk(tmp_path):
    path = tmp_path / "spot.yaml"
    shutil.copy(PACKS / "spot.yaml", path)
    load_entry(path, "yours")
    entry = load_entry(path, "yours")
    assert not entry.loaded
    path.write_text("pack: {}\n", "utf-8")
    assert entry.pack is None and not entry.ok and entry.problems
