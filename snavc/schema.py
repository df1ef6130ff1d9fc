"""JSON Schemas of the input language, for editors (yaml-language-server) and tools.

Generated from the pydantic models of :mod:`snavc.model`, so they cannot drift from what
``snavc validate`` accepts; ``schemas/`` in the repository holds the committed copy and a
test fails when it is stale.
"""

from __future__ import annotations

import json
from typing import Annotated, Union

from pydantic import Field, TypeAdapter

from .model import AT_KINDS, MODELS, OVERRIDABLE

DOCUMENT_SCHEMA = "snavc.json"


def kind_file(kind: str) -> str:
    return f"{kind}.json"


def _repository_rules(kind: str, schema: dict) -> dict:
    """What validate checks beyond the model, where JSON Schema can say it too: in a
    repository `at` is required (only catalogue documents go without), and a service
    template that duplicates nothing gives all five fields of T2."""
    if kind in AT_KINDS:
        schema["required"] = sorted({*schema.get("required", []), "at"})
    if kind == "ServiceTemplate":
        schema["if"] = {"not": {"required": ["duplicate_of"]}}
        schema["then"] = {"required": list(OVERRIDABLE)}
    return schema


def schemas() -> dict[str, dict]:
    """File name -> JSON Schema: one per kind, and ``snavc.json`` for any document."""
    out = {}
    for kind, model in MODELS.items():
        schema = _repository_rules(kind, model.model_json_schema())
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        out[kind_file(kind)] = schema
    # One $defs entry per kind, dispatched with if/then on a `kind` const: the form
    # yaml-language-server follows for completion, hover and validation (it ignores the
    # OpenAPI `discriminator` of a pydantic union: on an Equipment it offered another
    # kind's fields). The definitions are pydantic's, nested models included.
    any_doc = Annotated[Union[tuple(MODELS.values())], Field(discriminator="kind")]  # noqa: UP007
    defs = TypeAdapter(any_doc).json_schema().get("$defs", {})
    for kind, definition in defs.items():
        if kind in MODELS:
            _repository_rules(kind, definition)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "snavc document",
        "description": (
            "Any document of a snavc configuration repository (INTERFACE §1); "
            "each YAML document of a file is checked on its own."
        ),
        "type": "object",
        "required": ["kind"],
        "properties": {
            "kind": {
                "description": "what the document defines; its other fields depend on it",
                "enum": list(MODELS),
            }
        },
        "allOf": [
            {
                # the pattern too: while completing, the server takes a const as met by
                # any prefix of it (`Equipment` would meet EquipmentTemplate's `if`)
                "if": {
                    "properties": {"kind": {"const": kind, "pattern": f"^{kind}$"}},
                    "required": ["kind"],
                },
                "then": {"$ref": f"#/$defs/{kind}"},
            }
            for kind in MODELS
        ],
        "$defs": defs,
    }
    out[DOCUMENT_SCHEMA] = schema
    return out


def dumps(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
