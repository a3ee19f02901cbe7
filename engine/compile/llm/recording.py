"""Recorded responses: chat-completion exchanges with any OpenAI-compatible server, kept as files.

`MENDFLOW_LLM_RECORD=DIR` (with the `openai` provider: OpenAI, vLLM, Ollama's /v1, llama.cpp)
sends every request as usual and writes the exchange to `DIR/<key>.json`:

    {"key": ..., "request": <the request, normalised>, "response": <the server's JSON reply,
     as sent: id, choices, finish_reason, usage>, "status": 200, "recorded_from": <base URL>}

`request_key` is a hash of the *normalised* request (the messages' roles and text, the
response format and the temperature; not the model name, not the transport's own fields), in
which what differs between two machines running the same guide is blanked: absolute paths
(and a guide's relative path) are cut to their last component; timestamps, run ids and
durations are replaced by a mark; whitespace runs become one space. Tests replay the files
through a real local HTTP server (tests/support/openai_server.py, `Replay`), so the whole LLM
path, HTTP included, runs in CI without a model. A fixture may be written by hand: the key is
recomputed from its `request` when it is loaded.

It never records credentials: only the request body and the response body are written.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import httpx

KEY_FIELDS = ("messages", "response_format", "temperature", "tools", "tool_choice")
# Blanked in the key only (the request sent is unchanged)
_ABS_PATH = re.compile(r"(?<![\w.:/])(?:/[\w.@+~-]+)+/([\w.@+~-]+)")
_REL_GUIDE = re.compile(r"(?<![\w/])(?:[\w.@+~-]+/)+([\w.@+~-]+\.(?:md|markdown|json))\b")
_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
_RUN_ID = re.compile(r"\b(?:run[-_ ]?)?[0-9a-f]{32}\b|\b\d{8}-\d{6}-[0-9a-f]{4,}\b")
_DURATION = re.compile(r"\b\d+\.\d+ ?(?:s|ms)\b")


def normalise_text(text: str) -> str:
    text = _ABS_PATH.sub(r"\1", text)
    text = _REL_GUIDE.sub(r"\1", text)
    text = _TIME.sub("<time>", text)
    text = _RUN_ID.sub("<run>", text)
    text = _DURATION.sub("<duration>", text)
    return " ".join(text.split())


def normalise(body: dict[str, Any]) -> dict[str, Any]:
    """The parts of a chat-completions request that decide its answer, machine-neutral."""
    out: dict[str, Any] = {}
    for key in KEY_FIELDS:
        if key not in body:
            continue
        value = body[key]
        if key == "messages":
            value = [{"role": m.get("role"), "content": normalise_text(_content(m))}
                     for m in value]
        out[key] = value
    return out


def request_key(body: dict[str, Any]) -> str:
    data = json.dumps(normalise(body), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:24]


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return "" if content is None else str(content)


def write_exchange(directory: Path, body: dict[str, Any], status: int, response: Any,
                   base_url: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    key = request_key(body)
    path = directory / f"{key}.json"
    record = {"key": key, "request": normalise(body), "status": status, "response": response,
              "recorded_from": base_url}
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_exchanges(directory: Path) -> dict[str, dict[str, Any]]:
    """key -> recorded exchange, for every `*.json` in `directory`."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(record, dict) and "request" in record and "response" in record:
            # the key is recomputed: a fixture edited by hand (or written by a person) counts
            out[request_key(record["request"])] = record
    return out


class RecordingTransport(httpx.BaseTransport):
    """An httpx transport that forwards every request and writes each chat completion's
    request and reply to `directory`."""

    def __init__(self, directory: Path, inner: httpx.BaseTransport | None = None) -> None:
        self.directory = directory
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not request.url.path.endswith("/chat/completions"):
            return response
        response.read()
        try:
            body = json.loads(request.content)
            reply = json.loads(response.content)
        except ValueError:
            return response  # not JSON either way: nothing worth replaying
        base = str(request.url).rsplit("/chat/completions", 1)[0]
        write_exchange(self.directory, body, response.status_code, reply, base)
        return response

    def close(self) -> None:
        self.inner.close()


def recording_client(directory: Path, timeout_s: float) -> httpx.Client:
    return httpx.Client(transport=RecordingTransport(directory), timeout=timeout_s)
