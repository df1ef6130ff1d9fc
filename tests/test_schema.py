"""The committed JSON Schemas agree with the validator on real documents."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from snavc.engine.load import load_file

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "schemas" / "snavc.json").read_text(encoding="utf-8"))
SEED = sorted((ROOT / "samples" / "seed").rglob("*.yaml"))


@pytest.mark.parametrize("path", SEED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_seed_document_validates_against_the_schema(path):
    docs, diags = load_file(path, path.name)
    assert not diags
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for doc in docs:
        errors = [e.message for e in validator.iter_errors(doc.data)]
        assert not errors, (doc.line, errors)


@pytest.mark.parametrize(
    "doc",
    [
        {"kind": "Contact", "id": "noc", "name": "NOC"},  # no `at` in a repository
        {"kind": "ServiceTemplate", "id": "t", "at": "p", "criticality": 3},  # T7: five fields
        {"kind": "Contact", "id": "noc", "name": "NOC", "at": "p", "nmae": "x"},  # unknown field
        {"kind": "Client", "id": "c", "name": "C", "parent": "p", "mode": "managd"},  # M1
    ],
)
def test_the_schema_refuses_what_validate_refuses(doc):
    assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc))


def _fields(schema: dict):
    """``(where, name, definition)`` of every property of every object of a schema."""
    for where, definition in [("", schema), *schema.get("$defs", {}).items()]:
        for name, prop in definition.get("properties", {}).items():
            yield where, name, prop


def test_every_field_has_a_description():
    """docs/editors.md promises a description on hover for every field (issue 11: 21 of
    118 had one)."""
    from snavc.schema import schemas

    for file, schema in schemas().items():
        missing = [f"{w}.{n}" for w, n, p in _fields(schema) if not p.get("description")]
        assert missing == [], file


def test_the_document_schema_dispatches_on_kind_with_if_then():
    """yaml-language-server ignores the OpenAPI discriminator (it offered another kind's
    fields); it follows if/then on a const. The pattern keeps a kind that is a prefix of
    another (Equipment, EquipmentTemplate) from meeting the other's `if` while completing."""
    from snavc.model import MODELS
    from snavc.schema import schemas

    schema = schemas()["snavc.json"]
    assert "discriminator" not in json.dumps(schema) and "oneOf" not in schema
    assert schema["properties"]["kind"]["enum"] == list(MODELS)
    assert schema["allOf"][list(MODELS).index("Equipment")] == {
        "if": {
            "properties": {"kind": {"const": "Equipment", "pattern": "^Equipment$"}},
            "required": ["kind"],
        },
        "then": {"$ref": "#/$defs/Equipment"},
    }
    assert [b["then"]["$ref"] for b in schema["allOf"]] == [f"#/$defs/{k}" for k in MODELS]
