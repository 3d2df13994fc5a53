"""An OpenAI-compatible server for the browser tests that answers like a careful reader would, from the prompt alone:
for a review it says the first few playbook items are present and quotes real sentences of the document; for a
follow-up it answers with a quote. It lets a test click a finding and see its passage, which a random-weight model
cannot give. A test double: the product never uses it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_MARKER = re.compile(r"\[Page (\d+)\]")
MODEL = "scripted-reader"
STREAM_PIECE_CHARS = 12
STREAM_PAUSE_SECONDS = 0.3  # only follow-ups stream slowly enough to watch; a review is sent whole


def _sentences(prompt: str) -> list[str]:
    """Whole sentences of 8 to 30 words from the document part of the prompt (after its first page marker)."""
    start = prompt.find("[Page 1]")
    body = prompt[start:] if start >= 0 else prompt
    found = []
    for raw in re.split(r"(?<=[.;:])\s+", _MARKER.sub(" ", body)):
        words = raw.split()
        if 8 <= len(words) <= 30 and raw[:1].isupper():
            found.append(" ".join(words))
    return found


def _schema(body: dict) -> dict:
    return ((body.get("response_format") or {}).get("json_schema") or {}).get("schema") or {}


def _is_review(body: dict) -> bool:
    return "findings" in _schema(body).get("properties", {})


def answer(body: dict) -> dict:
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    schema = _schema(body)
    sentences = _sentences(prompt) or ["(no sentence found)"]
    if _is_review(body):
        keys = schema["properties"]["findings"]["items"]["properties"]["item"]["enum"]
        findings = [{"item": key, "present": True, "answer": f"Stated in the document ({n + 1}).",
                     "quotes": [sentences[n % len(sentences)], "Words this document does not contain at all."][: 1 + (n == 0)],
                     "risk": ("high", "medium", "low")[n % 3], "risk_note": "Read it closely."}
                    for n, key in enumerate(keys[:3])]
        content = json.dumps({"findings": findings})
    else:
        content = json.dumps({"answer": "The document says so here.", "quotes": [sentences[min(3, len(sentences) - 1)]]})
    return {"id": "chatcmpl-scripted", "object": "chat.completion", "created": 0, "model": MODEL,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(content) // 4, "total_tokens": 0}}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "max_model_len": 1 << 20}]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": "not found"}})
        elif body.get("stream"):
            self._stream(answer(body), pause=0.0 if _is_review(body) else STREAM_PAUSE_SECONDS)
        else:
            self._send(200, answer(body))

    def _stream(self, whole: dict, pause: float) -> None:
        """Server-sent events as OpenAI's API sends them, a few characters at a time with a pause between, so a
        page can be seen showing an answer before it is finished."""
        content = whole["choices"][0]["message"]["content"]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.close_connection = True
        chunk = {"id": whole["id"], "object": "chat.completion.chunk", "created": 0, "model": MODEL}
        for at in range(0, len(content), STREAM_PIECE_CHARS):
            delta = {"index": 0, "delta": {"content": content[at:at + STREAM_PIECE_CHARS]}, "finish_reason": None}
            self._event({**chunk, "choices": [delta]})
            time.sleep(pause)
        self._event({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        self._event({**chunk, "choices": [], "usage": whole["usage"]})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, payload: dict) -> None:
        self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
        self.wfile.flush()


class ScriptedServer:
    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
