"""Seeded question variants: ``params`` and ``${name}`` substitution.

A question's ``params`` maps a name to a list of values. A variant picks one value per name
from a seed, deterministically (the same seed, question and name always pick the same value,
in any process), and every ``${name}`` in the question's text, requirements and plans is
replaced by it. So each learner can get a different but equivalent question.

* ``${name}`` alone as a whole value keeps the value's type (``count: ${n}`` gives a number);
  inside text it is formatted; ``${name:,}`` applies a Python format spec (``2,000,000``).
* A list of mappings keeps related values together: ``size: [{rows: 1000, hours: 1}, ...]``
  is used as ``${size.rows}`` and ``${size.hours}``.
* ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Any

#: ``${name}``, ``${group.key}``, ``${name:format}``; group 1 is the reference, group 2 the spec.
PLACEHOLDER = re.compile(r"(?<!\$)\$\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\s*(?::([^}]*))?\}")
#: A whole value that is exactly one placeholder (what the JSON Schema allows in place of a number).
WHOLE_PLACEHOLDER = r"^\$\{\s*[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?\s*(:[^}]*)?\}$"
_WHOLE = re.compile(WHOLE_PLACEHOLDER)
_OPENING = re.compile(r"(?<!\$)\$\{")

Values = dict[str, Any]


def references(text: str) -> list[tuple[str, str | None, int]]:
    """Every placeholder in ``text``: (reference, format spec or None, offset of the ``$``)."""
    return [(m.group(1), m.group(2), m.start()) for m in PLACEHOLDER.finditer(text)]


def broken(text: str) -> int | None:
    """The offset of a ``${`` that does not start a well-formed placeholder, else None."""
    good = {m.start() for m in PLACEHOLDER.finditer(text)}
    for m in _OPENING.finditer(text):
        if m.start() not in good:
            return m.start()
    return None


def pick(params: Mapping[str, list], seed: int, question_id: str) -> Values:
    """One value per name, chosen from the seed, the question id and the name alone."""
    out: Values = {}
    for name in sorted(params):
        values = params[name]
        digest = hashlib.sha256(f"{seed}\x1f{question_id}\x1f{name}".encode()).digest()
        out[name] = values[int.from_bytes(digest[:8], "big") % len(values)]
    return out


def all_variants(params: Mapping[str, list]) -> Iterator[Values]:
    """Every combination of values, names in sorted order (what ``validate --simulate`` runs)."""
    names = sorted(params)
    for combo in itertools.product(*(params[n] for n in names)):
        yield dict(zip(names, combo))


def covering_variants(params: Mapping[str, list]) -> list[Values]:
    """Few variants that between them use every value of every name at least once."""
    names = sorted(params)
    if not names:
        return [{}]
    width = max(len(params[n]) for n in names)
    return [{n: params[n][min(i, len(params[n]) - 1)] for n in names} for i in range(width)]


def resolve(values: Mapping[str, Any], ref: str) -> Any:
    """The value ``${ref}`` stands for; KeyError when it is not defined."""
    name, _, key = ref.partition(".")
    value = values[name]
    if key:
        if not isinstance(value, Mapping) or key not in value:
            raise KeyError(ref)
        return value[key]
    return value


def _format(value: Any, spec: str | None) -> str:
    if spec:
        return format(value, spec)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


def substitute_text(text: str, values: Mapping[str, Any]) -> Any:
    """``text`` with its placeholders filled in; a lone placeholder returns the value itself."""
    whole = _WHOLE.match(text)
    if whole:
        m = PLACEHOLDER.match(text)
        assert m is not None
        value = resolve(values, m.group(1))
        return _format(value, m.group(2)) if m.group(2) else value
    if "${" not in text:
        return text
    out = PLACEHOLDER.sub(lambda m: _format(resolve(values, m.group(1)), m.group(2)), text)
    return out.replace("$${", "${")


def substitute(data: Any, values: Mapping[str, Any], skip: frozenset[str] = frozenset({"params"})) -> Any:
    """A copy of ``data`` (dicts, lists, scalars) with every string substituted; keys in ``skip`` are kept."""
    if isinstance(data, str):
        return substitute_text(data, values)
    if isinstance(data, list):
        return [substitute(v, values, skip) for v in data]
    if isinstance(data, dict):
        return {k: (v if k in skip else substitute(v, values, skip)) for k, v in data.items()}
    return data


def question_variant(raw: Mapping[str, Any], seed: int) -> tuple[dict[str, Any], Values]:
    """A question's raw data (as in the file) with its seeded variant substituted.

    A case study's own params apply to the case and its children; a child's params (picked
    with the child's id) add to them and win on a shared name. Returns the substituted data and
    the values picked for the question (for a case study, its own).
    """
    params = raw.get("params") or {}
    values = pick(params, seed, str(raw.get("id", ""))) if params else {}
    if raw.get("type") == "case_study" and isinstance(raw.get("questions"), list):
        children = []
        for child in raw["questions"]:
            if isinstance(child, Mapping):
                cparams = child.get("params") or {}
                cvalues = {**values, **(pick(cparams, seed, str(child.get("id", ""))) if cparams else {})}
                children.append(substitute(dict(child), cvalues))
            else:
                children.append(child)
        out = substitute({k: v for k, v in raw.items() if k != "questions"}, values)
        out["questions"] = children
        return out, values
    return substitute(dict(raw), values), values


def has_params(raw: Mapping[str, Any]) -> bool:
    if raw.get("params"):
        return True
    children = raw.get("questions") if raw.get("type") == "case_study" else None
    return isinstance(children, list) and any(isinstance(c, Mapping) and c.get("params") for c in children)


def variant(question: Any, seed: int) -> Any:
    """The question as a learner with ``seed`` sees it: placeholders filled, validated again.

    ``question`` is a top-level question of a loaded pack (a case study varies as a whole,
    its questions with it). A question without params is returned as it is.
    """
    raw = getattr(question, "raw", None)
    if raw is None or not has_params(raw):
        return question
    from sagetutor.packs.loader import QUESTION

    data, _ = question_variant(raw, seed)
    out = QUESTION.validate_python(data)
    out._raw = raw
    return out
