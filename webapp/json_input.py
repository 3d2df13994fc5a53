"""JSON that a client sent, parsed with a bound on nesting: every request body or form field of JSON goes
through `json_loads` (the API's parser, the playbook editor), so no input can reach the decoder's recursion
limit. It never logs: a body nested too deep is the client's mistake, answered 400 at the edge."""

from __future__ import annotations

import json
import re

from webapp.errors import AppError

MAX_JSON_DEPTH = 64

# A string (skipped whole, so brackets inside it are text) or one bracket.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonTooDeepError(AppError):
    code = "too_deep"

    def __init__(self, limit: int = MAX_JSON_DEPTH):
        super().__init__(f"JSON nested deeper than {limit} levels is refused.")
        self.limit = limit


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether the arrays and objects in `text` nest deeper than `limit`, without parsing it (one linear scan)."""
    depth = 0
    for match in _TOKEN.finditer(text):
        depth += _STEP.get(match.group(), 0)  # a string counts 0
        if depth > limit:
            return True
    return False


def json_loads(text: str | bytes, *, limit: int = MAX_JSON_DEPTH, **kwargs):
    """json.loads, refusing nesting deeper than `limit` with JsonTooDeepError; malformed JSON still raises
    json.JSONDecodeError (a ValueError), for the caller to word."""
    if isinstance(text, bytes | bytearray):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    if json_depth_exceeds(text, limit):
        raise JsonTooDeepError(limit)
    try:
        return json.loads(text, **kwargs)
    except RecursionError:  # only if the stack was already deep when we were called
        raise JsonTooDeepError(limit) from None
