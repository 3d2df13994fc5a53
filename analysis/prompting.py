"""The messages a review sends: the document first (with page markers), the playbook's questions after.

The document comes first and is spelled the same way for every playbook and follow-up question, so an
engine that reuses a cached prompt prefix (engine.v4's document checkpoints, transformers' shared pages,
vLLM's prefix cache) reads each document once however many questions follow.
"""

from __future__ import annotations

import re

from analysis.playbooks import Playbook
from engine.api import ChatMessage

SYSTEM = ("You are Quire, a careful assistant for close reading of long documents. You answer only from the "
          "document you are given and you quote it word for word.")
PAGE_MARKER = "[Page {number}]"
_MARKER = re.compile(r"\s*\[Page \d+\]\s*")


def document_block(text: str, pages) -> str:
    """The document's text with a marker line before each page, so answers can say where things are."""
    if not pages:
        return f"<document>\n{text}\n</document>"
    parts = [f"{PAGE_MARKER.format(number=page.number)}\n{text[page.start:page.end]}" for page in pages]
    return "<document>\n" + "\n".join(parts) + "\n</document>"


def strip_page_markers(quote: str) -> str:
    """A quote copied across a page break may carry our marker; it is not the document's text."""
    return _MARKER.sub(" ", quote).strip()


def review_messages(block: str, playbook: Playbook, *, window: tuple[int, int] | None = None) -> tuple[ChatMessage, ...]:
    questions = "\n".join(f"- {item.key}: {item.title}. {item.question} (answer as {item.answer.replace('_', '/')})"
                          for item in playbook.items)
    scope = ""
    if window is not None:
        scope = (f"\nThis is part {window[0]} of {window[1]} of a document too long to read at once; answer from this "
                 "part only and mark an item absent if this part does not address it.")
    task = (f"{playbook.instructions}{scope}\n\nItems:\n{questions}\n\nReply with one JSON object only: "
            '{"findings": [{"item": KEY, "present": true or false, "answer": "...", "quotes": ["exact words", ...], '
            '"risk": "none" | "low" | "medium" | "high", "risk_note": "..."}]}, one entry per item, in the order above.')
    return (ChatMessage("system", SYSTEM), ChatMessage("user", f"{block}\n\n{task}"))


def followup_messages(block: str, question: str) -> tuple[ChatMessage, ...]:
    task = ("Answer this question about the document from the document alone, and quote the exact passages your "
            f"answer rests on, word for word.\n\nQuestion: {question}\n\nReply with one JSON object only: "
            '{"answer": "...", "quotes": ["exact words", ...]}.')
    return (ChatMessage("system", SYSTEM), ChatMessage("user", f"{block}\n\n{task}"))


def repair_messages(messages: tuple[ChatMessage, ...], bad_output: str, problem: str) -> tuple[ChatMessage, ...]:
    """One retry: the model sees its own answer (as much of it as the caller could fit) and what was wrong."""
    ask = f"could not be used: {problem} Reply again with the JSON object only, following the format exactly."
    if not bad_output:
        return (*messages, ChatMessage("user", f"Your previous reply {ask}"))
    shown = bad_output if len(bad_output) <= 4000 else bad_output[:4000] + "..."
    return (*messages, ChatMessage("assistant", shown), ChatMessage("user", f"That reply {ask}"))


def as_json_schema(schema: dict, name: str) -> dict:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
