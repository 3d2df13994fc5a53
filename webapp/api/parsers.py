"""The API's JSON parser: DRF's, with nesting bounded by webapp.json_input, so a body nested thousands of levels
deep is a 400 with the documented error body (code `too_deep`) instead of a RecursionError and a 500."""

from __future__ import annotations

import codecs

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils import json

from webapp.json_input import JsonTooDeepError, json_loads


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            return json_loads(text, parse_constant=json.strict_constant if self.strict else None)
        except JsonTooDeepError as error:
            raise ParseError(error.message, code=error.code) from None
        except ValueError as exc:  # malformed JSON or bytes: worded as DRF words it
            raise ParseError(f"JSON parse error - {exc}") from None
