"""The JSON Schema (draft 2020-12) of the pack format, for editors.

Generated from the pydantic models, then adjusted for what YAML authors write: a step's
arguments may be left out (``- deploy:``) or given as one value (``- wait: train``); a
whole ``${name}`` may stand in for a number, a yes/no or a constrained value; and each
requirement carries the grammar in its description and a pattern that checks it starts
with a known fact. Use it with yaml-language-server::

    sagetutor schema > sagetutor-pack.schema.json
    # yaml-language-server: $schema=./sagetutor-pack.schema.json   (first line of a pack)

The loader (``sagetutor validate``) remains the authority: the schema cannot check what
needs the whole file (duplicate ids, answer keys, references).
"""

from __future__ import annotations

import re
from typing import Any

from sagetutor.packs import plan
from sagetutor.packs.model import Pack
from sagetutor.packs.params import WHOLE_PLACEHOLDER
from sagetutor.packs.requirements import FACTS, grammar_description

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:sagetutor:pack-format:1"
#: Definitions whose values are never params placeholders (the pack's own description).
_NO_PLACEHOLDERS = {"PackInfo", "Blueprint"}


def requirement_pattern() -> str:
    """A regex a requirement must match: it starts with a known fact (after 'not' or '(')."""
    facts = sorted((re.escape(f) for f in FACTS), key=len, reverse=True)
    return rf"^\s*(?:(?:not\s+|\(\s*)*)(?:(?:{'|'.join(facts)})(?![A-Za-z0-9_.])|metric\s*\[|\$\{{)"


def _placeholder() -> dict[str, Any]:
    return {"type": "string", "pattern": WHOLE_PLACEHOLDER, "description": "a ${name} from params"}


def _free_text(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and not ({"pattern", "enum", "const", "format"} & set(schema))


def _allow_placeholder(schema: dict[str, Any]) -> dict[str, Any]:
    """Let a whole ${name} stand where a number, yes/no or constrained text goes."""
    if "$ref" in schema or schema.get("type") in ("object", "array") or _free_text(schema):
        return schema
    if "anyOf" in schema:
        members = schema["anyOf"]
        if all(m.get("type") == "null" or _free_text(m) for m in members):
            return schema
        out = dict(schema)
        out["anyOf"] = [*members, _placeholder()]
        return out
    keep = {k: schema[k] for k in ("title", "description", "default", "examples") if k in schema}
    inner = {k: v for k, v in schema.items() if k not in keep}
    return {**keep, "anyOf": [inner, _placeholder()]}


def pack_schema() -> dict[str, Any]:
    """The JSON Schema of a pack file."""
    schema = Pack.model_json_schema()
    defs = schema["$defs"]
    for name, d in defs.items():
        if name in _NO_PLACEHOLDERS or name.endswith("Step"):
            continue
        props = d.get("properties", {})
        for key, prop in list(props.items()):
            if key == "type" and "const" in prop:
                continue  # the question type selects the shape: never a placeholder
            props[key] = _allow_placeholder(prop)
    for kind, args in plan.ARGS.items():
        step = defs[plan.STEP_MODELS[kind].__name__]
        prop = step["properties"][kind]
        ref = {"$ref": prop.pop("$ref")}
        members: list[dict[str, Any]] = [ref, {"type": "null", "description": "all defaults"}]
        if args.PRIMARY is not None:
            alias = args.model_fields[args.PRIMARY].alias or args.PRIMARY
            primary = dict(defs[args.__name__]["properties"][alias])
            primary.pop("default", None)
            primary.pop("title", None)
            members.append({**primary, "description": f"shorthand for {{{alias}: ...}}"})
        prop["anyOf"] = members
        step["maxProperties"] = 1
    info = defs["PackInfo"]["properties"]
    info["version"] = {"anyOf": [{"type": "string"}, {"type": "integer"}], "title": "Version",
                       "description": info["version"].get("description", "")}
    for qname in ("SingleQuestion", "MultiQuestion", "OrderingQuestion", "MatchingQuestion", "CaseStudy"):
        req = defs[qname]["properties"]["requirements"]
        req["items"]["pattern"] = requirement_pattern()
    ordered: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "SageTutor scenario pack (format 1)",
        "description": ("Exam-style questions whose options run on SageTutor's simulated SageMaker. "
                        "docs/pack-format.md describes every field. Requirements: " + grammar_description()),
    }
    ordered.update({k: v for k, v in schema.items() if k not in ("title", "description")})
    ordered["patternProperties"] = {"^x-": {"description": "free keys for YAML anchors (&name) to reuse"}}
    return ordered
