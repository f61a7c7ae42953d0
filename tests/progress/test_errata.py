"""Disputed questions: one JSON line per dispute in data_dir()/errata/<pack_id>.jsonl."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from sagetutor.progress import add_dispute, disputes

from .conftest import T0


def test_add_dispute_appends_one_json_line_to_the_packs_file(data_folder):
    path = add_dispute("saa-c03", "q7", " The key says B, but C is cheaper. ", pack_title="SAA", pack_version="1.2",
                       at=T0)
    assert path == data_folder / "errata" / "saa-c03.jsonl"
    add_dispute("saa-c03", "q9", "typo\nin option A", at=T0 + timedelta(minutes=1))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0]) == {"at": "2025-03-01T09:00:00.000000+00:00", "pack_id": "saa-c03",
                                    "pack_title": "SAA", "pack_version": "1.2", "question_id": "q7",
                                    "comment": "The key says B, but C is cheaper."}
    assert json.loads(lines[1])["comment"] == "typo\nin option A"


def test_disputes_lists_one_pack_or_all_oldest_first(data_folder):
    add_dispute("pack-b", "q1", "second", at=T0 + timedelta(minutes=2))
    add_dispute("pack-a", "q1", "first", at=T0)
    add_dispute("pack-a", "q2", "third", at=T0 + timedelta(minutes=3))
    assert [d["comment"] for d in disputes()] == ["first", "second", "third"]
    assert [d["comment"] for d in disputes("pack-a")] == ["first", "third"]
    assert disputes("pack-z") == []


def test_an_interrupted_last_line_is_skipped_and_the_next_dispute_still_reads(data_folder):
    path = add_dispute("pack-a", "q1", "ok", at=T0)
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"at": "2025-03-01T09:0')  # killed mid-write
    add_dispute("pack-a", "q2", "after the crash", at=T0 + timedelta(minutes=1))
    assert [d["comment"] for d in disputes("pack-a")] == ["ok", "after the crash"]


@pytest.mark.parametrize("pack_id", ["../escape", "a/b", "", ".hidden"])
def test_a_pack_id_that_is_not_a_plain_file_name_is_refused(data_folder, pack_id):
    with pytest.raises(ValueError, match="file name"):
        add_dispute(pack_id, "q1", "x")
