"""The JSON export's schema (JSON Schema draft 2020-12). Bump SCHEMA_VERSION on any change a reader would notice;
additions of optional fields keep it."""

from __future__ import annotations

SCHEMA_VERSION = 1
RISKS = ["none", "low", "medium", "high"]
REVIEW_STATES = ["open", "reviewed", "disputed"]

_QUOTE = {
    "type": "object",
    "required": ["text", "verified", "start", "end", "pages"],
    "properties": {
        "text": {"type": "string", "description": "The document's words where verified, else the model's words."},
        "verified": {"type": "boolean", "description": "Found in the document; false: the model's words only."},
        "start": {"type": ["integer", "null"], "minimum": 0, "description": "Offset into the document's ingested text."},
        "end": {"type": ["integer", "null"], "minimum": 0},
        "pages": {"type": "array", "items": {"type": "integer", "minimum": 1}},
    },
    "additionalProperties": False,
}
_COMMENT = {
    "type": "object",
    "required": ["author", "text", "created_at"],
    "properties": {"author": {"type": "string"}, "text": {"type": "string"}, "created_at": {"type": "string"}},
    "additionalProperties": False,
}
_FINDING = {
    "type": "object",
    "required": ["item", "category", "present", "answer", "risk", "risk_note", "review_state", "quotes", "comments"],
    "properties": {
        "item": {"type": "string"},
        "category": {"type": "string"},
        "present": {"type": "boolean"},
        "answer": {"type": "string"},
        "risk": {"enum": RISKS},
        "risk_note": {"type": "string"},
        "review_state": {"enum": REVIEW_STATES},
        "quotes": {"type": "array", "items": _QUOTE},
        "comments": {"type": "array", "items": _COMMENT},
    },
    "additionalProperties": False,
}
REPORT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://quire.example/schemas/report-export-v1.json",
    "title": "Quire report export",
    "type": "object",
    "required": ["format", "version", "exported_at", "document", "analysis", "filters", "findings"],
    "properties": {
        "format": {"const": "quire-report"},
        "version": {"const": SCHEMA_VERSION},
        "exported_at": {"type": "string"},
        "document": {
            "type": "object",
            "required": ["id", "name", "kind", "pages", "sha256"],
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"},
                           "pages": {"type": ["integer", "null"]}, "sha256": {"type": "string"}},
            "additionalProperties": False,
        },
        "analysis": {
            "type": "object",
            "required": ["id", "playbook", "playbook_version", "model", "engine", "test_model", "windows",
                         "prompt_tokens", "generated_tokens", "seconds", "finished_at", "cited_pages",
                         "missed_by_model", "unanswered"],
            "properties": {
                "id": {"type": "string"}, "playbook": {"type": "string"}, "playbook_version": {"type": "integer"},
                "model": {"type": "string"}, "engine": {"type": "string"}, "test_model": {"type": "boolean"},
                "windows": {"type": "integer"}, "prompt_tokens": {"type": "integer"},
                "generated_tokens": {"type": "integer"}, "seconds": {"type": "number"},
                "finished_at": {"type": ["string", "null"]},
                "cited_pages": {"type": "array", "items": {"type": "integer"}},
                "missed_by_model": {"type": "array", "items": {"type": "string"}},
                "unanswered": {"type": "array", "items": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "filters": {
            "type": "object",
            "required": ["category", "risk", "verified_only"],
            "properties": {"category": {"type": ["string", "null"]}, "risk": {"enum": [*RISKS, None]},
                           "verified_only": {"type": "boolean"}},
            "additionalProperties": False,
        },
        "findings": {"type": "array", "items": _FINDING},
    },
    "additionalProperties": False,
}


def validate(report: dict) -> None:
    """Raise jsonschema.ValidationError if `report` is not a valid export."""
    import jsonschema

    jsonschema.validate(report, REPORT_SCHEMA, cls=jsonschema.Draft202012Validator)
