"""The committed JSON Schemas agree with the validator on real documents."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from snavc.load import load_file

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
