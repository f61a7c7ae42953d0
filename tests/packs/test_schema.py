"""The JSON Schema editors use: draft 2020-12, from the models, and the starter fits it."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest
import yaml

from sagetutor.packs import plan
from sagetutor.packs.paths import STARTER
from sagetutor.packs.requirements import FACTS
from sagetutor.packs.schema import pack_schema, requirement_pattern


@pytest.fixture(scope="module")
def schema():
    return pack_schema()


def test_schema_header(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["pack", "questions"] and schema["additionalProperties"] is False
    json.dumps(schema)
    for name in ("SingleQuestion", "MultiQuestion", "OrderingQuestion", "MatchingQuestion", "CaseStudy"):
        assert schema["$defs"][name]["additionalProperties"] is False
    assert "grammar" not in schema["description"] and "cost.total" in schema["description"]


def test_every_step_kind_has_a_definition_with_shorthands(schema):
    for kind, args in plan.ARGS.items():
        step = schema["$defs"][plan.STEP_MODELS[kind].__name__]
        assert step["required"] == [kind] and step["maxProperties"] == 1
        members = step["properties"][kind]["anyOf"]
        assert {"$ref": f"#/$defs/{args.__name__}"} in members
        assert any(m.get("type") == "null" for m in members)
        assert len(members) == (3 if args.PRIMARY else 2)
        assert step["properties"][kind]["description"].endswith(plan.STEP_DOCS[kind][2])


def test_placeholders_may_stand_for_numbers(schema):
    count = schema["$defs"]["TrainArgs"]["properties"]["count"]
    assert any(m.get("type") == "integer" for m in count["anyOf"])
    assert any("pattern" in m and re.match(m["pattern"], "${n}") for m in count["anyOf"])
    qtype = schema["$defs"]["SingleQuestion"]["properties"]["type"]
    assert qtype["const"] == "single"


def test_requirement_pattern():
    rx = re.compile(requirement_pattern())
    for ok in ["cost.total <= $5", "not survived_interruption", "(time.total < 6h)", 'metric["x"] > 1',
               "${deadline_check}", *FACTS]:
        assert rx.search(ok), ok
    for bad in ["cost.totl <= 5", "costs", "time.totally < 1h", "5 < cost.total"]:
        assert not rx.search(bad), bad


def _check(value, schema, defs, path="$"):
    """A small JSON Schema checker for what the pack schema uses (when jsonschema is not installed)."""
    if "$ref" in schema:
        return _check(value, defs[schema["$ref"].split("/")[-1]], defs, path)
    if "anyOf" in schema or "oneOf" in schema:
        errors = [_check(value, s, defs, path) for s in schema.get("anyOf", schema.get("oneOf"))]
        ok = [e for e in errors if not e]
        if "oneOf" in schema and len(ok) != 1:
            return [f"{path}: {len(ok)} of oneOf match"]
        return [] if ok else min(errors, key=len)
    t = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    if t == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        return [f"{path}: not an integer"]
    if t == "number" and not (isinstance(value, int | float) and not isinstance(value, bool)):
        return [f"{path}: not a number"]
    if t in types and not isinstance(value, types[t]):
        return [f"{path}: not {t}"]
    if "const" in schema and value != schema["const"]:
        return [f"{path}: not {schema['const']}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: not in enum"]
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return [f"{path}: pattern"]
    errors = []
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key}")
        for key, v in value.items():
            if key in props:
                errors += _check(v, props[key], defs, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unknown {key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += _check(v, schema["additionalProperties"], defs, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            errors += _check(v, schema["items"], defs, f"{path}[{i}]")
    return errors


def test_starter_and_good_packs_validate_against_the_schema(schema):
    from .conftest import GOOD

    for path in [STARTER, *GOOD]:
        data = yaml.safe_load(path.read_text())
        if importlib.util.find_spec("jsonschema"):
            import jsonschema

            jsonschema.Draft202012Validator(schema).validate(data)
        assert _check(data, schema, schema["$defs"]) == [], path


def test_schema_rejects_what_an_editor_should_flag(schema):
    data = yaml.safe_load(STARTER.read_text())
    data["questions"][0]["optons"] = data["questions"][0].pop("options")
    assert _check(data, schema, schema["$defs"])
    data = yaml.safe_load(STARTER.read_text())
    data["questions"][0]["run"][0] = {"trian": {}}
    assert _check(data, schema, schema["$defs"])
