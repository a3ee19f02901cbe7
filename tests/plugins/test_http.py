"""The http plugin against a real local HTTP server (http.server in a thread)."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from engine.datasources import DataSource, Redactor
from engine.errors import PluginError, StepFailed
from engine.plugins import Registry, StepContext, parse_params
from plugins.http import HttpPlugin, extract_path

TOKEN = "tok-s3cr3t-PLANTED-0123456789"

PROM = {"status": "success", "data": {"resultType": "vector", "result": [
    {"metric": {"pod": "api-1"}, "value": [1732584714.5, "0.93"]}]}}


class Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict]] = []
    body_override: ClassVar[bytes] = b""

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def send(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "session=should-not-leak")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Handler.seen.append({"path": self.path, "headers": dict(self.headers)})
        path = self.path.split("?", 1)[0]
        if path.startswith("/rec/"):  # records the exact request line's target
            self.send(200, json.dumps({"target": self.path}).encode(), "application/json")
        elif path.endswith("/api/v1/query"):
            self.send(200, json.dumps(PROM).encode(), "application/json")
        elif path == "/html":
            self.send(200, b"<html><body>Login required</body></html>", "text/html")
        elif path == "/broken-json":
            self.send(200, b'{"data": [1, 2', "application/json")
        elif path == "/deep-json":  # deeper than Python's reader recurses
            self.send(200, b"[" * 5000 + b"]" * 5000, "application/json")
        elif path == "/error":
            self.send(500, b'{"error": "boom"}', "application/json")
        elif path == "/slow":
            time.sleep(3)
            self.send(200, b"{}", "application/json")
        elif path == "/huge":  # 50 MB, streamed with no Content-Length
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for _ in range(50):
                    self.wfile.write(b"x" * 1_000_000)
            except OSError:
                pass
        elif path == "/echo-auth":  # a server that echoes what it was sent, token included
            body = {"you_sent": self.headers.get("Authorization"), "big": "y" * 5000}
            self.send(200, json.dumps(body).encode(), "application/json")
        elif path == "/override":  # an error whose body the test chose
            self.send(500, Handler.body_override, "text/plain")
        elif path == "/query-echo":
            self.send(200, json.dumps({"path": self.path}).encode(), "application/json")
        else:
            self.send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        self.send(201, json.dumps({"received": body}).encode(), "application/json")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that time out or stop reading are what some tests do on purpose


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def ctx(data_source: dict | None = None, deadline_s: float = 10.0,
        secrets: Redactor | None = None) -> StepContext:
    return StepContext(run_id="r1", step_id="s1", attempt=1, idempotency_key="k",
                       deadline_s=deadline_s, data_source=data_source,
                       logger=logging.getLogger("mendflow.plugin.test"),
                       secrets=secrets or Redactor())


async def run(params: dict, **kw):
    return await HttpPlugin().run(params=parse_params(HttpPlugin, params), ctx=ctx(**kw))


async def test_json_response_and_extraction(server):
    res = await run({"url": f"{server}/api/v1/query", "query": {"query": "up == 0"},
                     "extract": {"value": "data.result.0.value.1",
                                 "pod": "data.result[0].metric.pod",
                                 "absent": "data.result.5.value"}})
    assert res.ok
    assert res.outputs["status"] == 200
    assert res.outputs["extracted"] == {"value": "0.93", "pod": "api-1", "absent": None}
    assert res.outputs["json"] == PROM
    assert json.loads(res.artifacts["body"]) == PROM
    assert res.outputs["headers"]["content-type"] == "application/json"
    assert "set-cookie" not in res.outputs["headers"]
    assert Handler.seen[-1]["path"] == "/api/v1/query?query=up+%3D%3D+0"


async def test_html_where_json_expected_is_a_clear_failure(server):
    with pytest.raises(StepFailed) as err:
        await run({"url": f"{server}/html", "extract": {"x": "data"}})
    assert "expected JSON, got text/html" in str(err.value)
    assert "Login required" in str(err.value)
    assert err.value.retryable is False


async def test_html_is_fine_when_no_json_is_expected(server):
    res = await run({"url": f"{server}/html"})
    assert res.ok and res.outputs["json"] is None
    assert b"Login required" in res.artifacts["body"]


async def test_malformed_json_is_named(server):
    with pytest.raises(StepFailed, match="invalid JSON"):
        await run({"url": f"{server}/broken-json"})


async def test_json_nested_past_what_a_reader_recurses_is_invalid_json(server):
    # a RecursionError escaped the plugin: the step failed as a plugin bug, retried
    with pytest.raises(StepFailed, match="invalid JSON") as err:
        await run({"url": f"{server}/deep-json"})
    assert err.value.retryable is False


async def test_unexpected_status_is_a_failed_result_with_the_body(server):
    res = await run({"url": f"{server}/error"})
    assert not res.ok
    assert res.outputs["status"] == 500
    assert "500" in res.error and "boom" in res.error
    assert res.outputs["json"] == {"error": "boom"}


async def test_expect_status_accepts_listed_statuses(server):
    res = await run({"url": f"{server}/missing", "expect_status": [404]})
    assert res.ok and res.outputs["status"] == 404


async def test_slow_response_times_out(server):
    started = time.monotonic()
    with pytest.raises(StepFailed, match="timed out after 0.5s") as err:
        await run({"url": f"{server}/slow", "timeout_s": 0.5})
    assert err.value.retryable is True
    assert time.monotonic() - started < 2.5  # gave up before the server answered (3 s)


async def test_step_deadline_caps_the_request_timeout(server):
    with pytest.raises(StepFailed, match="timed out after 0.5s"):
        await run({"url": f"{server}/slow", "timeout_s": 30}, deadline_s=0.5)


async def test_huge_body_stops_at_max_bytes(server):
    with pytest.raises(StepFailed, match="response larger than 1000000 bytes") as err:
        await run({"url": f"{server}/huge", "max_bytes": 1_000_000})
    assert err.value.retryable is False


async def test_connection_refused_is_retryable():
    with pytest.raises(StepFailed, match="failed: ConnectError") as err:
        await run({"url": "http://127.0.0.1:9/"})
    assert err.value.retryable is True


async def test_post_sends_json(server):
    res = await run({"method": "post", "url": f"{server}/items", "json": {"a": [1, 2]},
                     "expect_status": [201]})
    assert res.ok and res.outputs["json"] == {"received": {"a": [1, 2]}}


async def test_relative_url_joins_the_data_source_and_sends_its_token(server):
    ds = {"url": f"{server}/prom/", "token": TOKEN, "headers": {"X-Org": "7"}}
    res = await run({"url": "/api/v1/query", "extract": {"v": "data.result.0.value.1"}},
                    data_source=ds)
    assert res.outputs["extracted"]["v"] == "0.93"
    sent = Handler.seen[-1]
    assert sent["path"] == "/prom/api/v1/query"
    assert sent["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert sent["headers"]["X-Org"] == "7"


async def test_token_is_not_sent_to_another_origin(server):
    ds = {"url": "http://prometheus.invalid:9090", "token": TOKEN}
    await run({"url": f"{server}/query-echo"}, data_source=ds)
    assert "Authorization" not in Handler.seen[-1]["headers"]


async def test_relative_url_without_data_source_is_explained():
    with pytest.raises(StepFailed, match="needs a data source"):
        await run({"url": "api/v1/query"})


async def test_planted_token_never_leaks(server, caplog):
    # Given a server that echoes the token back, and requests that fail in several ways
    caplog.set_level(logging.DEBUG)
    ds = {"url": server, "token": TOKEN}
    reports: list[str] = []
    res = await run({"url": "echo-auth", "extract": {"auth": "you_sent"}}, data_source=ds)
    echoed = res.outputs["extracted"]["auth"]
    reports += [json.dumps(res.outputs), res.artifacts["body"].decode(), res.summary]
    res = await run({"url": "error", "query": {"api_key": TOKEN}}, data_source=ds)
    reports += [json.dumps(res.outputs), res.error]
    for params in ({"url": "slow", "timeout_s": 0.3}, {"url": "html", "extract": {"x": "y"}}):
        with pytest.raises(StepFailed) as err:
            await run(params, data_source=ds)
        reports.append(str(err.value))
    with pytest.raises(StepFailed) as err:  # a credential in the URL itself
        await run({"url": f"http://user:{TOKEN}@127.0.0.1:9/?api_key={TOKEN}"})
    reports.append(str(err.value))
    reports += [r.getMessage() for r in caplog.records]
    # Then the token appears nowhere, and the echoed one was replaced
    assert all(TOKEN not in r for r in reports), [r for r in reports if TOKEN in r]
    assert echoed == "***"
    assert any("api_key=***" in r for r in reports)  # httpx's own request log, masked


async def test_large_json_is_kept_out_of_memory_but_extractable(server):
    res = await run({"url": f"{server}/echo-auth", "extract": {"n": "big"}})
    assert res.outputs["json"] is None and res.outputs["json_truncated"] is True
    assert res.outputs["extracted"]["n"] == "y" * 5000


def test_extract_path_semantics():
    doc = {"a": [{"b": 1}, {"b": [10, 20]}], "0": "key-zero"}
    assert extract_path(doc, "a.1.b.1") == 20
    assert extract_path(doc, "a[1].b[0]") == 10
    assert extract_path(doc, "0") == "key-zero"  # a number names a key inside an object
    assert extract_path(doc, "a.9") is None
    assert extract_path(doc, "a.0.b.c") is None


@pytest.mark.parametrize("bad", ["", ".a", "a..b", " a"])
def test_bad_extract_path_is_rejected_at_validation(bad):
    with pytest.raises(PluginError, match="extract"):
        parse_params(HttpPlugin, {"url": "http://x", "extract": {"v": bad}})


def test_registered_by_name():
    assert Registry(extra={"http": HttpPlugin}, discover=False).get("http") is HttpPlugin


# -- where a request goes is fixed text; values are one segment or one parameter -------------

PATH_ATTACKS = ["x#frag", "x?admin=true", "a/b", "%2fadmin", "group/project", "50%",
                "caf\u00e9 bar", "x\nHost: evil", "v1.2..3"]


@pytest.mark.parametrize("value", PATH_ATTACKS)
async def test_a_value_is_one_path_segment_whatever_it_holds(server, value):
    # Given a step whose url is fixed and whose last segment comes from an alert label
    res = await run({"url": "rec/services", "path": [value, "status"]},
                    data_source={"url": server})
    # Then the server got exactly one segment holding the value, under the fixed path
    target = Handler.seen[-1]["path"]
    assert res.outputs["json"]["target"] == target
    assert target == "/rec/services/" + quote(value, safe="") + "/status"
    assert "?" not in target and "#" not in target


@pytest.mark.parametrize("value", [
    ".", "..", "%2E%2E", "",
    # sent encoded (..%2F..%2Fadmin), but a proxy that decodes %2F (nginx, when it passes a
    # normalised path on) resolves it to /admin
    "../../admin", "a/../../admin", "..\\admin", "%252e%252e/admin", "..;/admin", "x/./y",
])
def test_a_segment_that_moves_in_the_path_is_refused(value):
    with pytest.raises(PluginError, match="path"):
        parse_params(HttpPlugin, {"url": "http://x/", "path": [value]})


async def test_a_query_value_stays_one_parameter(server):
    res = await run({"url": "rec/search", "params": {"q": "x&admin=true#", "n": 2}},
                    data_source={"url": server})
    target = res.outputs["json"]["target"]
    assert target == "/rec/search?q=x%26admin%3Dtrue%23&n=2"
    assert parse_qs(urlsplit(target).query) == {"q": ["x&admin=true#"], "n": ["2"]}


@pytest.mark.parametrize("url", ["http://{{ inputs.host }}/x", "/api/{{ inputs.svc }}/status",
                                 "{{ alert.annotations.runbook_url }}"])
def test_a_templated_url_is_refused_with_advice(url):
    # The executor passes url unrendered; a template there could choose the host or the path
    assert "url" in HttpPlugin.untemplated_params
    with pytest.raises(PluginError, match="fixed text.*`path`.*`query`"):
        parse_params(HttpPlugin, {"url": url})


def test_a_host_header_is_refused():
    with pytest.raises(PluginError, match="Host header"):
        parse_params(HttpPlugin, {"url": "http://x/", "headers": {"host": "evil"}})


# -- credentials: Basic (base64) and Bearer never leak, whole or cut -------------------------

SECRET = "Zx7-planted-k9Q-4471"


async def test_a_basic_auth_header_echoed_back_never_leaks(server, caplog):
    # Given a data source with user and password (HTTP Basic), and a server echoing the header
    caplog.set_level(logging.DEBUG)
    source = DataSource("api", "http", server.replace("://", "://alice@"),
                        secrets={"password": SECRET})
    info = source.connect_info()
    secrets = Redactor(source.secret_values())
    res = await run({"url": "echo-auth", "extract": {"auth": "you_sent"}}, data_source=info,
                    secrets=secrets)
    sent = Handler.seen[-1]["headers"]["Authorization"]
    assert sent == "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
    seen = [json.dumps(res.outputs), res.artifacts["body"].decode(), res.summary]
    seen += [r.getMessage() for r in caplog.records]
    b64 = sent.split(" ", 1)[1]
    for text in seen:
        assert SECRET not in text and b64 not in text and b64[4:-4] not in text, text
    assert res.outputs["extracted"]["auth"] == "***"


async def test_a_token_source_sends_a_bearer_token(server, tmp_path):
    # Given a token-authenticated source declared in mendflow.toml, the token in the environment
    from engine.datasources import load_datasources
    from engine.settings import Settings

    config = tmp_path / "mendflow.toml"
    config.write_text(f'[datasources.api]\ntype = "http"\nurl = "{server}"\n'
                      'token_env = "API_TOKEN"\nauth = "bearer"\n')
    sources = load_datasources(Settings(config_file=config), {"API_TOKEN": SECRET})
    info = sources.resolve_for_plugin("api", "http")
    res = await run({"url": "echo-auth", "extract": {"auth": "you_sent"}}, data_source=info,
                    secrets=sources.redactor())
    assert Handler.seen[-1]["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert res.outputs["extracted"]["auth"] == "***"
    assert SECRET not in json.dumps(res.outputs) + res.artifacts["body"].decode()


async def test_an_error_body_is_redacted_before_its_200_character_cut(server):
    # A secret straddling the 200th character of an error body leaves no piece at the cut
    for before in range(185, 201, 3):
        Handler.body_override = b"e" * before + SECRET.encode()
        res = await run({"url": "override"}, data_source={"url": server},
                        secrets=Redactor([SECRET]))
        assert not res.ok
        assert not any(SECRET[i:i + 4] in res.error for i in range(len(SECRET) - 3)), res.error


# -- redirects ----------------------------------------------------------------------------------


class Elsewhere(BaseHTTPRequestHandler):
    """Another origin (another port of 127.0.0.1): records every request that reaches it."""

    seen: ClassVar[list[dict]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen.append({"path": self.path, "headers": dict(self.headers)})
        body = b'{"stolen": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815


class Redirecting(Elsewhere):
    """The origin a step asks: answers every request with a redirect to `to`."""

    status: ClassVar[int] = 302
    to: ClassVar[str] = ""

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen.append({"path": self.path, "headers": dict(self.headers)})
        self.send_response(type(self).status)
        self.send_header("Location", type(self).to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET  # noqa: N815


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[QuietServer, str]:
    srv = QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


@pytest.fixture(scope="module")
def redirect_servers() -> Iterator[tuple[type[Redirecting], type[Elsewhere], str, str]]:
    here = type("Here", (Redirecting,), {"seen": []})
    there = type("There", (Elsewhere,), {"seen": []})
    servers = [serve(here), serve(there)]
    yield here, there, servers[0][1], servers[1][1]
    for srv, _ in servers:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def redirect(redirect_servers) -> tuple[type[Redirecting], type[Elsewhere], str, str]:
    """A server that redirects, and another origin, each with its own record of requests."""
    here, there, _, _ = redirect_servers
    here.seen, there.seen, here.status = [], [], 302
    return redirect_servers


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("auth", ["basic", "bearer", "header"])
async def test_a_redirect_to_another_origin_is_not_followed_and_no_credential_goes_there(
        redirect, status: int, auth: str) -> None:
    # Given a data source (or a step's own header) whose server redirects to another origin,
    # the way a compromised or misconfigured proxy would send a request, and its credentials,
    # to a host no `url` check saw
    here, there, here_url, there_url = redirect
    here.status, here.to = status, f"{there_url}/collect?from=redirect"
    ds: dict = {"url": here_url}
    params: dict = {"url": "api/items", "method": "POST" if status == 307 else "GET"}
    if auth == "basic":
        ds["url"] = here_url.replace("http://", f"http://alice:{SECRET}@")
    elif auth == "bearer":
        ds["token"] = SECRET
    else:
        params["headers"] = {"X-Api-Key": SECRET}
    if params["method"] == "POST":
        params["json"] = {"a": 1}
    res = await run(params, data_source=ds, secrets=Redactor([SECRET]))
    # Then the redirect is the step's answer, not followed: nothing reaches the other origin
    assert there.seen == []
    sent = here.seen[0]["headers"]  # (the credentials did go to the data source's origin)
    assert len(here.seen) == 1 and {
        "basic": sent.get("Authorization") == "Basic " + base64.b64encode(
            f"alice:{SECRET}".encode()).decode(),
        "bearer": sent.get("Authorization") == f"Bearer {SECRET}",
        "header": sent.get("X-Api-Key") == SECRET}[auth]
    assert not res.ok and res.outputs["status"] == status
    assert res.outputs["headers"]["location"] == here.to
    assert f"a redirect to {here.to}, not followed" in res.error


async def test_a_redirect_to_the_same_origin_is_not_followed_either(redirect) -> None:
    here, _, here_url, _ = redirect
    here.to = f"{here_url}/elsewhere/on/this/host"
    res = await run({"url": "api/items"}, data_source={"url": here_url, "token": SECRET})
    assert len(here.seen) == 1 and not res.ok and res.outputs["status"] == 302
    assert "not followed" in res.error


async def test_a_redirect_a_step_expects_is_its_result_with_where_it_points(redirect) -> None:
    # A guide that checks a login redirect lists 302 and reads `headers.location`
    here, there, here_url, there_url = redirect
    here.to = f"{there_url}/login?next=%2F&token={SECRET}"
    res = await run({"url": f"{here_url}/app", "expect_status": [302]},
                    secrets=Redactor([SECRET]))
    assert res.ok and res.error is None and there.seen == []
    assert res.outputs["headers"]["location"] == f"{there_url}/login?next=%2F&token=***"
