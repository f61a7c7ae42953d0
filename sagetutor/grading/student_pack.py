"""Student packs: a pack with its answer key, and everything that gives the key away, removed.

``sagetutor pack export --for-students PACK -o FILE`` writes ``export_text(pack)``: the same
pack marked ``student: true``, from which these fields are gone (docs/classroom.md,
"Student packs", says why each one goes):

* the key itself: options' ``correct``, ordering items' ``position``, matching prompts'
  ``answer``;
* the teaching that explains the key: every ``feedback`` and ``explanation``;
* what points at the right concept: ``topics`` (study-note keys) and ``references`` (the AWS
  page of the right service);
* every ``run`` (case, question, option and item plans): with a plan and the question's
  ``requirements`` anyone could run SageTutor's simulator and read off which option meets
  them, which is the key. ``requirements`` themselves stay: they restate the stem's
  constraints and give nothing away without the plans.

Options are written in a deterministic shuffled order (seeded by the pack and question ids
with sha256, never in the author's order, which often lists the right option first or the
items of an ordering question in their right order); an ordering question's items are never
written in their right order. A ``pin: last`` option stays last.

``key_free(pack)`` is the canonical form both a full pack and its export reduce to (options
sorted by id, ``student: true``): ``sagetutor.grading.draw.pack_hash`` hashes it, so a pack and
its export have the same hash and draw the same exams.
"""

from __future__ import annotations

import copy
import hashlib
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sagetutor.newfile import NotWritten, write_new

#: Question fields a student pack does not carry (a case study's and its questions').
STRIPPED_QUESTION = ("explanation", "topics", "references", "run")
#: Option and ordering item fields a student pack does not carry.
STRIPPED_OPTION = ("correct", "feedback", "position", "run")
#: Matching prompt fields a student pack does not carry.
STRIPPED_PROMPT = ("answer", "feedback")


class ExportError(Exception):
    """The student pack cannot be written (``str()`` says why)."""


def _raw(question: Any) -> dict:
    raw = getattr(question, "raw", None)
    if isinstance(raw, Mapping):
        return copy.deepcopy(dict(raw))
    return question.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _strip(q: Mapping) -> dict:
    out = {k: copy.deepcopy(v) for k, v in q.items() if k not in STRIPPED_QUESTION}
    if isinstance(out.get("options"), list):
        out["options"] = [{k: v for k, v in o.items() if k not in STRIPPED_OPTION} if isinstance(o, Mapping) else o
                          for o in out["options"]]
    if isinstance(out.get("prompts"), list):
        out["prompts"] = [{k: v for k, v in p.items() if k not in STRIPPED_PROMPT} if isinstance(p, Mapping) else p
                          for p in out["prompts"]]
    if out.get("type") == "case_study" and isinstance(out.get("questions"), list):
        out["questions"] = [_strip(c) if isinstance(c, Mapping) else c for c in out["questions"]]
    return out


def _info(pack: Any) -> dict:
    info = pack.pack.model_dump(mode="json", exclude_none=True)
    info["student"] = True
    return info


def _each_with_options(q: dict):
    if q.get("type") == "case_study":
        yield from q.get("questions") or []
    else:
        yield q


def _sorted_options(options: list) -> list:
    return sorted(options, key=lambda o: str(o.get("id")))


def key_free(pack: Any) -> dict:
    """The pack without its key, options sorted by id: what ``pack_hash`` hashes (see the module docstring)."""
    questions = []
    for q in pack.questions:
        data = _strip(_raw(q))
        for item in _each_with_options(data):
            if isinstance(item.get("options"), list):
                item["options"] = _sorted_options(item["options"])
        questions.append(data)
    return {"pack": _info(pack), "questions": questions}


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest, "big"))


def shuffled(ids: list[str], pinned: set[str], rng: random.Random) -> list[str]:
    """``ids`` sorted, then shuffled by ``rng``; pinned ids keep the end."""
    free = sorted(i for i in ids if i not in pinned)
    rng.shuffle(free)
    return free + sorted(i for i in ids if i in pinned)


def _export_order(pack_id: str, item: dict, model: Any) -> list:
    options = [o for o in item.get("options") or [] if isinstance(o, Mapping)]
    by_id = {str(o.get("id")): o for o in options}
    pinned = {i for i, o in by_id.items() if o.get("pin") == "last"}
    order = shuffled(list(by_id), pinned, _rng("export", pack_id, item.get("id")))
    if item.get("type") == "ordering" and model is not None:
        right = [o.id for o in sorted(model.options, key=lambda o: o.position or 0)]
        if all(o.position is not None for o in model.options) and order == right and len(order) > 1:
            order = order[1:] + order[:1]  # never the right order
    return [by_id[i] for i in order]


def export_data(pack: Any) -> dict:
    """The student pack as plain data: ``key_free(pack)`` with options in the export's order.

    A pack that is already a student pack keeps its options' order."""
    data = key_free(pack)
    if getattr(pack.pack, "student", False):
        data["questions"] = [_strip(_raw(q)) for q in pack.questions]
        return data
    models = {q.id: q for q in pack.items()}
    for q in data["questions"]:
        for item in _each_with_options(q):
            if isinstance(item.get("options"), list):
                item["options"] = _export_order(pack.pack.id, item, models.get(item.get("id")))
    return data


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value.strip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def export_text(pack: Any) -> str:
    """The student pack's YAML text, with a header saying what it is."""
    info = pack.pack
    head = (f"# Student pack of {info.id} {info.version}: the answer key, feedback, explanations, topics,\n"
            f"# references and plans are removed (sagetutor pack export --for-students).\n"
            f"# Take it with `sagetutor exam --headless THIS-FILE --student YOUR-ID`.\n")
    body = yaml.dump(export_data(pack), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False)
    return head + body


def export_for_students(pack: Any, path: Path) -> Path:
    """Write the student pack to ``path``; never overwrites (``ExportError``). Returns the path."""
    path = Path(path)
    try:
        return write_new(path, export_text(pack))
    except NotWritten as e:
        if e.reason == "exists":
            raise ExportError(f"{path}: already exists; not overwriting it (choose another file name)") from None
        if e.reason == "no folder":
            raise ExportError(f"{path}: the folder {path.parent} does not exist") from None
        raise ExportError(f"{path}: cannot write it: {e.detail}") from None
