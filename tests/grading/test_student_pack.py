"""Student packs: no key leaks, the same hash as the full pack, never an overwrite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sagetutor.cli import main
from sagetutor.grading.draw import pack_hash
from sagetutor.grading.student_pack import export_data, export_text
from sagetutor.packs import load_text, read_pack

ROOT = Path(__file__).resolve().parents[2]
PACKS = sorted((ROOT / "tests" / "quiz" / "packs").glob("*.yaml")) + [ROOT / "scenarios" / "saa-c03-sagemaker.yaml"]

#: Fields that carry the key, the reasoning behind it, or a way to compute it.
LEAKY = {"correct", "position", "answer", "feedback", "explanation", "run", "topics", "references"}


@pytest.fixture(scope="module")
def packs():
    return {p.name: read_pack(p) for p in PACKS}


def keys_anywhere(data, path=()):
    if isinstance(data, dict):
        for k, v in data.items():
            yield (*path, k), k
            yield from keys_anywhere(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from keys_anywhere(v, (*path, i))


@pytest.mark.parametrize("name", [p.name for p in PACKS])
def test_export_has_no_key_and_the_same_hash(packs, name):
    full = packs[name]
    text = export_text(full)
    data = yaml.safe_load(text)
    leaks = [(path, k) for path, k in keys_anywhere(data["questions"]) if k in LEAKY]
    assert leaks == []
    assert data["pack"]["student"] is True
    result = load_text(text, "student.yaml")
    assert result.ok, result.problems[:3]
    student = result.pack
    assert student.pack.student is True
    assert pack_hash(student) == pack_hash(full)
    # every question and option is still there, stems unchanged
    assert [q.id for q in student.items()] == [q.id for q in full.items()]
    for a, b in zip(student.items(), full.items()):
        assert a.stem == b.stem
        assert sorted(o.id for o in a.options) == sorted(o.id for o in b.options)
    # exporting the export changes nothing that counts
    again = load_text(export_text(student), "again.yaml")
    assert again.ok and pack_hash(again.pack) == pack_hash(full)


def test_hash_changes_when_what_students_see_changes(packs):
    full = packs["flows.yaml"]
    changed = full.model_copy(deep=True)
    changed.questions[-1]._raw = {**changed.questions[-1].raw, "stem": "Another stem."}
    assert pack_hash(changed) != pack_hash(full)


def test_option_order_does_not_reveal_the_key(packs):
    full = packs["saa-c03-sagemaker.yaml"]
    data = export_data(full)
    exported = {}
    for q in data["questions"]:
        for item in q.get("questions", [q]) if q["type"] == "case_study" else [q]:
            exported[item["id"]] = [o["id"] for o in item["options"]]
    singles = [q for q in full.items() if q.type == "single"]
    author_first = sum(q.options[0].correct for q in singles)
    export_first = sum(q.correct_ids[0] == exported[q.id][0] for q in singles)
    # the authors' habit (right option first, or in any fixed place) does not survive the export
    assert export_first / len(singles) < 0.45
    for slot in range(4):
        share = sum(q.correct_ids[0] == exported[q.id][slot] for q in singles) / len(singles)
        assert share < 0.5, (slot, share, author_first)
    same_as_author = sum(exported[q.id] == [o.id for o in q.options] for q in singles)
    assert same_as_author < len(singles) / 4


def test_ordering_items_never_in_the_right_order_and_matching_options_shuffled(packs):
    # a pack of ordering questions whose items' ids sort into the right order: the export still never
    # writes them in it
    text = ["pack: {format: 1, id: orders, title: Orders, version: '1', exam: SAA-C03}", "questions:"]
    for n in range(30):
        text.append(f"  - id: o{n}\n    type: ordering\n    stem: Order them.\n    options:")
        for k, name in enumerate(["a", "b", "c", "d"][: 3 + n % 2]):
            text.append(f"      - {{id: {name}, text: Step {name}, position: {k + 1}, feedback: why}}")
    full = load_text("\n".join(text) + "\n", "orders.yaml").pack
    data = export_data(full)
    for q, model in zip(data["questions"], full.questions):
        assert [o["id"] for o in q["options"]] != model.correct_order
    flows = export_data(packs["flows.yaml"])
    ordering = next(q for q in flows["questions"] if q["type"] == "ordering")
    assert [o["id"] for o in ordering["options"]] != ["train", "deploy", "invoke"]
    matching = next(q for q in flows["questions"] if q["type"] == "matching")
    assert [o["id"] for o in matching["options"]][:3] != ["rcf", "xgboost", "kmeans"]
    case = next(q for q in flows["questions"] if q["type"] == "case_study")
    assert all(c["options"][-1]["id"] == "none" for c in case["questions"])  # pin: last stays last


def test_export_command_refuses_to_overwrite(tmp_path, capsys):
    src = ROOT / "tests" / "quiz" / "packs" / "flows.yaml"
    out = tmp_path / "students.yaml"
    assert main(["pack", "export", "--for-students", str(src), "-o", str(out)]) == 0
    first = out.read_text()
    assert "wrote the student pack" in capsys.readouterr().out
    assert main(["pack", "export", "--for-students", str(src), "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert out.read_text() == first


def test_export_command_refuses_a_broken_pack(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pack: {format: 1}\n")
    assert main(["pack", "export", "--for-students", str(bad), "-o", str(tmp_path / "out.yaml")]) == 1
    assert not (tmp_path / "out.yaml").exists()
    assert "not a valid pack" in capsys.readouterr().err


STUDENT = """\
pack: {format: 1, id: s, title: S, version: '1', exam: SAA-C03, student: true}
questions:
  - id: q1
    type: single
    stem: Pick one.
    options:
      - {id: a, text: A%s}
      - {id: b, text: B}
      - {id: c, text: C}
      - {id: d, text: D}
"""


def test_loader_takes_a_keyless_pack_only_when_it_says_student():
    assert load_text(STUDENT % "", "s.yaml").ok
    plain = load_text((STUDENT % "").replace(", student: true", ""), "p.yaml")
    messages = [p.message for p in plain.problems]
    assert any("missing `feedback` (say why this option is right or wrong)" in m for m in messages)
    assert any("exactly one option must be correct" in m for m in messages)
    keyed = load_text(STUDENT % ", correct: true", "k.yaml")
    assert not keyed.ok
    assert "student pack (student: true) carries no answer key" in str(keyed.problems[0])
    assert keyed.problems[0].line == 7
