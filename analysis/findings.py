"""What a model must answer for a playbook (a JSON schema), and the check that its answer is that.

The schema goes to the engine (constrained decoding locally, `response_format` remotely); the same rules
are checked again here because a remote engine may ignore them and a reply may be cut off. Checking is
plain Python over a small fixed shape, with one message per problem for the repair retry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import partial_json_parser as partial_json

from analysis.errors import QuireError
from analysis.playbooks import Playbook

RISK_LEVELS = ("none", "low", "medium", "high")
# Bounds the grammar enforces, so a reply always ends: a finding is at most a short answer, a few passages
# (a quote is a passage, not a chapter) and a risk note.
MAX_ANSWER_CHARS = 1000
MAX_QUOTE_CHARS = 1000
MAX_NOTE_CHARS = 500
MAX_QUOTES = 6


class ModelOutputError(QuireError):
    """The model's reply is not the JSON the playbook asks for."""

    code = "model_output_invalid"


@dataclass(frozen=True)
class RawFinding:
    item: str
    present: bool
    answer: str
    quotes: tuple[str, ...]
    risk: str
    risk_note: str


def output_schema(playbook: Playbook) -> dict:
    finding = {
        "type": "object",
        "properties": {
            "item": {"enum": [item.key for item in playbook.items]},
            "present": {"type": "boolean"},
            "answer": {"type": "string", "maxLength": MAX_ANSWER_CHARS},
            "quotes": {"type": "array", "items": {"type": "string", "maxLength": MAX_QUOTE_CHARS}, "maxItems": MAX_QUOTES},
            "risk": {"enum": list(RISK_LEVELS)},
            "risk_note": {"type": "string", "maxLength": MAX_NOTE_CHARS},
        },
        "required": ["item", "present", "answer", "quotes", "risk", "risk_note"],
        "additionalProperties": False,
    }
    return {"type": "object", "properties": {"findings": {"type": "array", "items": finding, "maxItems": len(playbook.items)}},
            "required": ["findings"], "additionalProperties": False}


def followup_schema() -> dict:
    return {"type": "object", "properties": {
        "answer": {"type": "string", "maxLength": MAX_ANSWER_CHARS},
        "quotes": {"type": "array", "items": {"type": "string", "maxLength": MAX_QUOTE_CHARS}, "maxItems": MAX_QUOTES}},
        "required": ["answer", "quotes"], "additionalProperties": False}


def parse_findings(text: str, playbook: Playbook) -> tuple[RawFinding, ...]:
    """The findings in a reply, or ModelOutputError saying what is wrong (for the repair retry)."""
    data = _json_object(text)
    findings = data.get("findings")
    if not isinstance(findings, list):
        raise ModelOutputError('The reply has no "findings" list.')
    keys = {item.key for item in playbook.items}
    out, seen = [], set()
    for number, raw in enumerate(findings, 1):
        if not isinstance(raw, dict):
            raise ModelOutputError(f"Finding {number} is not an object.")
        item = raw.get("item")
        if item not in keys:
            raise ModelOutputError(f"Finding {number} names an item that is not in the playbook: {str(item)[:60]!r}.")
        if item in seen:
            continue  # a repeated item: the first answer stands
        seen.add(item)
        present, answer, quotes = raw.get("present"), raw.get("answer", ""), raw.get("quotes", [])
        risk, note = raw.get("risk", "none"), raw.get("risk_note", "")
        if not isinstance(present, bool):
            raise ModelOutputError(f'Finding {item!r}: "present" must be true or false.')
        if not isinstance(answer, str) or not isinstance(note, str):
            raise ModelOutputError(f'Finding {item!r}: "answer" and "risk_note" must be strings.')
        if not isinstance(quotes, list) or not all(isinstance(q, str) for q in quotes):
            raise ModelOutputError(f'Finding {item!r}: "quotes" must be a list of strings.')
        if risk not in RISK_LEVELS:
            raise ModelOutputError(f'Finding {item!r}: "risk" must be one of {", ".join(RISK_LEVELS)}.')
        quotes = tuple(q[:MAX_QUOTE_CHARS] for q in quotes if q.strip())[:MAX_QUOTES]
        out.append(RawFinding(item, present, answer[:MAX_ANSWER_CHARS], quotes, risk, note[:MAX_NOTE_CHARS]))
    return tuple(out)


def parse_followup(text: str) -> tuple[str, tuple[str, ...]]:
    data = _json_object(text)
    answer, quotes = data.get("answer"), data.get("quotes", [])
    if not isinstance(answer, str) or not isinstance(quotes, list) or not all(isinstance(q, str) for q in quotes):
        raise ModelOutputError('The reply needs "answer" (a string) and "quotes" (a list of strings).')
    return answer[:MAX_ANSWER_CHARS], tuple(q for q in quotes if q.strip())[:MAX_QUOTES]


def partial_answer(text: str) -> str:
    """The "answer" of a follow-up reply still being written ('{"answer": "The term is thr' gives 'The term is
    thr'), for showing it as it streams; "" until the answer has begun or when the text is not JSON so far."""
    start = text.find("{")
    if start < 0:
        return ""
    try:
        data = partial_json.loads(text[start:])
    except (partial_json.JSONDecodeError, partial_json.MalformedJSON, ValueError, IndexError):
        return ""
    answer = data.get("answer") if isinstance(data, dict) else None
    return answer[:MAX_ANSWER_CHARS] if isinstance(answer, str) else ""


def _json_object(text: str) -> dict:
    # strict=False: a raw tab or line break inside a string (which grammars and models do emit) is read as that
    # character rather than failing the whole reply.
    stripped = text.strip()
    if stripped.startswith("```"):  # a fenced block: take what is inside
        stripped = stripped.strip("`")
        stripped = stripped[stripped.find("{"):] if "{" in stripped else stripped
    try:
        data = json.loads(stripped, strict=False)
    except json.JSONDecodeError as error:
        start, end = stripped.find("{"), stripped.rfind("}")
        if 0 <= start < end:
            try:
                data = json.loads(stripped[start:end + 1], strict=False)
            except json.JSONDecodeError:
                raise ModelOutputError(f"The reply is not valid JSON ({error.msg} at character {error.pos}).") from None
        else:
            raise ModelOutputError(f"The reply is not valid JSON ({error.msg} at character {error.pos}).") from None
    if not isinstance(data, dict):
        raise ModelOutputError("The reply is JSON but not an object.")
    return data
