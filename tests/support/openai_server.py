"""A local server that speaks the OpenAI chat-completions protocol, for the LLM path's tests.

It is a real HTTP server on 127.0.0.1 (the client, its retries, timeouts and JSON mode all
run as they would against vLLM or Ollama's /v1); what it answers is scripted per request:
a dict (sent as the reply's JSON content), a string (sent as content as is), an int (that
HTTP status, an error), ("hang", seconds), ("length", text) (a reply cut at max tokens) or
("status", code, message) (an API error with that message), or ("recorded", status, body) (that
JSON body as sent by a real server: usage, finish_reason and all). Every request body is kept
in `requests`.

`Replay(DIR, ...)` is a script that answers from recorded exchanges (fixtures written by
`MENDFLOW_LLM_RECORD=DIR`, `engine.compile.llm.recording`, or by hand in the same shape),
keyed by the hash of the normalised request; a request with no recording is answered 400
"no recorded reply" and kept in `misses`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from engine.compile.llm.recording import load_exchanges, request_key

Script = Callable[[dict[str, Any]], Any]


class Replay:
    def __init__(self, *directories: Path) -> None:
        self.directory = ", ".join(map(str, directories))
        self.exchanges: dict[str, dict[str, Any]] = {}
        for directory in directories:
            self.exchanges.update(load_exchanges(directory))
        self.misses: list[str] = []
        self.hits: list[str] = []

    def __call__(self, body: dict[str, Any]) -> Any:
        key = request_key(body)
        recorded = self.exchanges.get(key)
        if recorded is None:
            self.misses.append(key)
            return ("status", 400, f"no recorded reply for request {key} in {self.directory} "
                    "(record it with MENDFLOW_LLM_RECORD)")
        self.hits.append(key)
        return ("recorded", recorded.get("status", 200), recorded["response"])


class OpenAIServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                reply = server.script(body)
                if isinstance(reply, tuple) and reply[0] == "hang":
                    time.sleep(reply[1])
                    reply = {"holds": None, "rationale": "too late"}
                if isinstance(reply, tuple) and reply[0] == "recorded":
                    self._send(reply[1], reply[2])
                    return
                if isinstance(reply, int):
                    self._send(reply, {"error": {"message": "scripted failure",
                                                 "type": "server_error"}})
                    return
                finish = "stop"
                if isinstance(reply, tuple) and reply[0] == "length":  # cut at max tokens
                    finish, reply = "length", reply[1]
                if isinstance(reply, tuple) and reply[0] == "status":  # (status, message)
                    self._send(reply[1], {"error": {"message": reply[2],
                                                    "type": "invalid_request_error"}})
                    return
                content = reply if isinstance(reply, str) else json.dumps(reply)
                self._send(200, {
                    "id": f"chatcmpl-{len(server.requests)}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", "m"),
                    "choices": [{"index": 0, "finish_reason": finish,
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20,
                              "total_tokens": 120},
                })

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"

    def prompts(self) -> list[str]:
        """The last user message of each request."""
        return [next((m["content"] for m in reversed(r["messages"]) if m["role"] == "user"), "")
                for r in self.requests]


@contextmanager
def openai_server(script: Script) -> Iterator[OpenAIServer]:
    server = OpenAIServer(script)
    thread = threading.Thread(target=server.http.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.http.shutdown()
        server.http.server_close()
