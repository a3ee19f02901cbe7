"""A real HTTP webhook receiver for the notification tests: a threaded `http.server` on a free
port that records every POST (path, JSON body) and answers with the statuses it is given, in
turn (then 200), optionally after a delay."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, statuses: list[int] | None = None, *, always: int | None = None,
                 delay_s: float = 0.0) -> None:
        self.statuses = list(statuses or [])
        self.always = always
        self.delay_s = delay_s
        self.posts: list[tuple[str, Any]] = []  # every POST, answered or not
        self._log: list[tuple[str, Any, int]] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def received(self, ok_only: bool = True) -> list[Any]:
        """The bodies received (those answered 2xx, with `ok_only`)."""
        with self.lock:
            return [body for _, body, status in self._log if not ok_only or status < 300]

    def wait_for(self, test: Any, timeout: float = 60) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received()
            if test(got):
                return got
            time.sleep(0.05)
        raise AssertionError(f"the receiver got {self.received(ok_only=False)!r}")

    def _answer(self) -> int:
        with self.lock:
            if self.always is not None:
                return self.always
            return self.statuses.pop(0) if self.statuses else 200


@contextmanager
def receiving(receiver: Receiver) -> Iterator[Receiver]:

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("content-length", "0"))
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            if receiver.delay_s:
                time.sleep(receiver.delay_s)
            status = receiver._answer()
            with receiver.lock:
                receiver.posts.append((self.path, body))
                receiver._log.append((self.path, body, status))
            try:
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:  # the sender gave up waiting (a timeout test): nothing to say
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    receiver.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(timeout=5)
