"""The prometheus plugin against a real Prometheus, backfilled with two hours of requests."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from engine.errors import PluginError, StepFailed, TemplateError
from engine.plugins import StepContext, parse_params
from plugins._table import RESULT_ARTIFACT, read_table
from plugins.prometheus import PrometheusPlugin, parse_duration, parse_time
from tests.support.prometheus import (  # noqa: F401  (fixtures)
    PrometheusServer,
    free_port,
    openmetrics_document,
    prometheus_binary,
    prometheus_factory,
    rising_counter,
    start_prometheus,
)

PASSWORD = "planted-S3cret!"


@pytest.fixture(scope="module")
def prom(prometheus_binary, tmp_path_factory) -> Iterator[PrometheusServer]:  # noqa: F811
    # 500s rise at 0.5/s and 200s at 10/s over the last two hours
    doc = openmetrics_document({"http_requests": ("counter", [
        *rising_counter("http_requests_total", {"code": "500", "job": "api"}, per_second=0.5),
        *rising_counter("http_requests_total", {"code": "200", "job": "api"}, per_second=10),
    ])})
    server = start_prometheus(tmp_path_factory.mktemp("prom"), openmetrics=doc)
    yield server
    server.stop()


def ctx(url: str, *, deadline_s: float = 10.0, secrets: dict | None = None) -> StepContext:
    return StepContext(run_id="r1", step_id="error_rate", attempt=1, idempotency_key="k",
                       deadline_s=deadline_s,
                       data_source={"type": "prometheus", "url": url, "secrets": secrets or {}})


async def query(url: str, **params):
    plugin = PrometheusPlugin()
    return await plugin.run(params=parse_params(PrometheusPlugin, params), ctx=ctx(url))


async def test_instant_query_gives_a_single_value_a_condition_can_test(prom) -> None:
    result = await query(prom.url, query='sum(rate(http_requests_total{code="500"}[5m]))')
    assert result.outputs["value"] == pytest.approx(0.5, rel=0.01)
    assert result.outputs["value"] > 0.05
    assert result.outputs["count"] == 1


async def test_instant_query_by_label_gives_values_by_label(prom) -> None:
    result = await query(prom.url, query="sum by (code) (rate(http_requests_total[5m]))")
    out = result.outputs
    assert out["count"] == 2 and out["value"] is None
    assert out["values_by"]['{code="500"}'] == pytest.approx(0.5, rel=0.01)
    assert out["series"][0]["labels"] == {"code": "200"}  # the largest first


async def test_instant_query_at_a_past_time(prom) -> None:
    result = await query(prom.url, query='http_requests_total{code="500"}', time="90m")
    # Half an hour into the series, the counter stood at about 1800s * 0.5
    assert result.outputs["value"] == pytest.approx(1800 * 0.5, rel=0.02)


async def test_range_query_summarizes_series_and_keeps_samples_as_artifact(prom) -> None:
    result = await query(prom.url, query='rate(http_requests_total{code="500"}[5m])',
                         type="range", start="1h", end="now", step="1m")
    out = result.outputs
    assert out["result_type"] == "matrix"
    entry = out["series"][0]
    assert entry["mean"] == pytest.approx(0.5, rel=0.01)
    assert entry["samples"] == pytest.approx(61, abs=1)
    lines = [json.loads(line) for line in result.artifacts["samples"].splitlines()]
    assert len(lines[0]["values"]) == entry["samples"]


async def test_a_vector_is_kept_whole_as_a_table_of_labels_time_and_value(prom) -> None:
    result = await query(prom.url, query="sum by (code) (rate(http_requests_total[5m]))")
    rows = read_table(result.artifacts[RESULT_ARTIFACT]).to_pylist()
    assert sorted(r["code"] for r in rows) == ["200", "500"]
    by_code = {r["code"]: r["value"] for r in rows}
    assert by_code["500"] == pytest.approx(0.5, rel=0.01)
    assert all(r["time"].tzinfo is not None for r in rows)
    assert "cut" not in result.outputs


async def test_a_matrix_is_a_row_per_sample_and_the_table_is_cut_at_the_setting(prom) -> None:
    params = {"query": "rate(http_requests_total[5m])", "type": "range", "start": "1h",
              "end": "now", "step": "1m"}
    plugin = PrometheusPlugin()
    result = await plugin.run(params=parse_params(PrometheusPlugin, params), ctx=ctx(prom.url))
    table = read_table(result.artifacts[RESULT_ARTIFACT])
    assert table.column_names == ["code", "job", "time", "value"]
    assert table.num_rows == pytest.approx(2 * 61, abs=2)
    small = dataclasses.replace(ctx(prom.url), result_cap_rows=10)
    cut = await plugin.run(params=parse_params(PrometheusPlugin, params), ctx=small)
    assert read_table(cut.artifacts[RESULT_ARTIFACT]).num_rows == 10
    assert cut.outputs["cut"] == "kept the first 10 rows (result_cap_rows = 10)"
    assert cut.outputs["count"] == 2  # the summary in memory is of the whole result


async def test_bad_promql_is_not_retried(prom) -> None:
    with pytest.raises(StepFailed) as err:
        await query(prom.url, query="sum(rate(http_requests_total[5m])")
    assert err.value.message.startswith("bad PromQL: ")
    assert err.value.retryable is False


async def test_nan_fails_unless_kept(prom) -> None:
    with pytest.raises(StepFailed, match=r"non-finite value \(NaN for \{\}\)"):
        await query(prom.url, query="vector(0) / vector(0)")
    result = await query(prom.url, query="vector(0) / vector(0)", non_finite="keep")
    assert result.outputs["value"] == "NaN"


async def test_oversized_response_is_cut_off(prom) -> None:
    with pytest.raises(StepFailed, match="more than 1024 bytes"):
        await query(prom.url, query="http_requests_total", type="range", start="2h",
                    step="15s", max_bytes=1024)


async def test_stopped_server_is_a_retryable_failure_naming_the_masked_url(
        prometheus_factory) -> None:  # noqa: F811
    server = prometheus_factory()
    server.stop()
    url = f"http://mendflow:{PASSWORD}@127.0.0.1:{server.port}"
    with pytest.raises(StepFailed) as err:
        await query(url, query="up")
    assert err.value.retryable is True
    assert f"http://mendflow:***@127.0.0.1:{server.port}" in str(err.value)
    assert PASSWORD not in str(err.value)


async def test_credentials_never_reach_outputs_or_artifacts(prom) -> None:
    url = prom.url.replace("http://", f"http://mendflow:{PASSWORD}@")
    result = await query(url, query="http_requests_total", type="range", start="10m")
    # the table (binary Parquet) is read as a table; the other artifacts are text
    table = read_table(result.artifacts.pop(RESULT_ARTIFACT))
    dumped = result.model_dump_json() + b"".join(result.artifacts.values()).decode() + \
        str(table.to_pylist())
    assert result.outputs["count"] == 2
    assert PASSWORD not in dumped


class _Stub(http.server.BaseHTTPRequestHandler):
    body = b""
    content_type = "text/html"
    delay_s = 0.0

    def do_POST(self) -> None:  # noqa: N802
        time.sleep(self.delay_s)
        self.send_response(200)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[type[_Stub]]:
    handler = type("Handler", (_Stub,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler
    server.shutdown()
    server.server_close()


async def test_html_instead_of_json_says_so(stub) -> None:
    stub.body = b"<html><body>Please log in</body></html>"
    with pytest.raises(StepFailed) as err:
        await query(stub.url, query="up")
    assert "text/html, not JSON" in err.value.message
    assert "Prometheus server itself" in str(err.value)


@pytest.mark.parametrize("data", [
    {"resultType": "vector", "result": None},
    {"resultType": "vector", "result": [{"metric": {}, "value": "7"}]},
    {"resultType": "matrix", "result": [{"metric": {}, "values": [[1]]}]},
    {"resultType": "scalar", "result": None},
    {"resultType": "string"},
], ids=["no-result", "value-not-a-pair", "sample-not-a-pair", "no-scalar", "no-string"])
async def test_a_success_whose_result_is_malformed_says_so_in_one_line(stub, data) -> None:
    # a proxy or another server that answers "success" with a body of another shape: the
    # step fails naming the server (it was a TypeError from inside the plugin)
    stub.content_type = "application/json"
    stub.body = json.dumps({"status": "success", "data": data}).encode()
    with pytest.raises(StepFailed) as err:
        await query(stub.url, query="up")
    assert "malformed" in err.value.message and stub.url in err.value.message
    assert err.value.retryable is False and "\n" not in err.value.message


async def test_slow_server_times_out(stub) -> None:
    stub.delay_s, stub.content_type = 2.0, "application/json"
    stub.body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
    with pytest.raises(StepFailed, match="timed out after 0.3s") as err:
        await query(stub.url, query="up", timeout_s=0.3)
    assert err.value.retryable is True


def test_params_are_checked_before_anything_runs() -> None:
    with pytest.raises(PluginError, match="'time'"):
        parse_params(PrometheusPlugin, {"query": "up", "time": "yesterday"})
    with pytest.raises(PluginError, match="step applies to range"):
        parse_params(PrometheusPlugin, {"query": "up", "step": "1m"})


def test_times_and_durations() -> None:
    assert parse_duration("1h30m") == 5400
    assert parse_time("now-5m", now=1000.0) == 700.0
    assert parse_time("1h", now=7200.0) == 3600.0
    assert parse_time("2024-05-01T00:00:00Z", now=0) == 1714521600.0


# -- a value never changes the query's structure (checked by a real Prometheus) ---------------

LABEL_ATTACKS = ["0+up", "0/0", ".+", '"} or vector(1)', '"} or vector(1) #', "a\\b", "\\",
                 "x\ny", "it's", "`raw`", "{{ 7 * 7 }}", 'a"} or probe{who=~".+', "v1.2", ""]


def _om_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@pytest.fixture(scope="module")
def labelled(prometheus_binary, tmp_path_factory) -> Iterator[PrometheusServer]:  # noqa: F811
    # One `probe` series per attack, its `who` label holding the attack's exact text
    now = time.time()
    lines = [f'probe{{who="{_om_label(v)}"}} 1 {t:.3f}'
             for v in [*LABEL_ATTACKS, "other", "shop"] if v
             for t in (now - 60, now - 30)]
    doc = "# TYPE probe gauge\n" + "\n".join(lines) + "\n# EOF\n"
    server = start_prometheus(tmp_path_factory.mktemp("labelled"), openmetrics=doc)
    yield server
    server.stop()


async def render_and_query(url: str, template: str, value) -> tuple[str, Any]:  # noqa: ANN001
    """Render `template` the way the executor does (guard, then Jinja), then run it."""
    from engine.runtime.steps import _render_params

    params = _render_params(PrometheusPlugin, {"query": template}, {"inputs": {"v": value}})
    result = await PrometheusPlugin().run(params=parse_params(PrometheusPlugin, params),
                                          ctx=ctx(url))
    return params["query"], result


def formatted(url: str, query_text: str) -> str:
    """Prometheus's own reading of a query: its canonical text (the parsed structure)."""
    response = httpx.get(f"{url}/api/v1/format_query", params={"query": query_text})
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.mark.parametrize("attack", [a for a in LABEL_ATTACKS if a])
@pytest.mark.parametrize("op", ["=", "=~"])
async def test_a_label_value_matches_only_itself_whatever_it_holds(labelled, attack, op):
    # Given a hand-written template (no filter: the plugin's guard adds the right one)
    rendered, result = await render_and_query(
        labelled.url, f'count(probe{{who{op}"{{{{ inputs.v }}}}"}})', attack)
    # Then Prometheus parses the query the author wrote with the attack as one literal value
    intended = f"count(probe{{who{op}{json.dumps(attack if op == '=' else _quote_meta(attack))}}})"
    assert formatted(labelled.url, rendered) == formatted(labelled.url, intended)
    # And it matches exactly the one series whose label is that text (.+ does not match all)
    assert result.outputs["value"] == 1


def _quote_meta(text: str) -> str:  # Go's regexp.QuoteMeta, written out independently
    return "".join("\\" + c if c in "\\.+*?()|[]{}^$" else c for c in text)


@pytest.mark.parametrize("attack", ["0+up", "0/0", "1 or vector(1)", "1) or (vector(1)",
                                    "-1 or probe", "probe", "5m", ""])
async def test_a_threshold_is_only_ever_a_number(labelled, attack):
    with pytest.raises(TemplateError, match="where a number belongs"):
        await render_and_query(labelled.url, "count(probe > {{ inputs.v }})", attack)
    rendered, result = await render_and_query(labelled.url, "count(probe > {{ inputs.v }})",
                                              "0.5")
    assert formatted(labelled.url, rendered) == formatted(labelled.url, "count(probe > 0.5)")
    assert result.outputs["value"] == len([a for a in LABEL_ATTACKS if a]) + 2


@pytest.mark.parametrize("attack", ["5m] or vector(1) #", "5m:1m", "1h offset 1d", "300"])
async def test_a_range_is_only_ever_a_duration(labelled, attack):
    with pytest.raises(TemplateError, match="where a duration belongs"):
        await render_and_query(labelled.url, "count(max_over_time(probe[{{ inputs.v }}]))",
                               attack)


async def test_a_prometheus_error_that_echoes_the_basic_header_is_redacted(stub) -> None:
    # Given a proxy in front of Prometheus that echoes the Authorization header in its error
    import base64

    header = "Basic " + base64.b64encode(f"mendflow:{PASSWORD}".encode()).decode()
    stub.content_type = "application/json"
    stub.body = json.dumps({"status": "error", "errorType": "bad_data",
                            "error": "x" * 290 + f" rejected Authorization: {header}"}).encode()
    url = stub.url.replace("http://", f"http://mendflow:{PASSWORD}@")
    with pytest.raises(StepFailed) as err:
        await query(url, query="up")
    text = str(err.value)
    b64 = header.split(" ", 1)[1]
    assert PASSWORD not in text and b64 not in text and b64[4:-4] not in text, text


async def test_an_empty_result_of_a_metric_that_is_not_there_is_no_evidence(prom) -> None:
    """A misspelt metric (or one no target exports) returns nothing, as a healthy one with no
    5xx does: "no 5xx" must not be read from a query that could never find one."""
    with pytest.raises(StepFailed) as err:
        await query(prom.url, query='sum(rate(http_request_total{code="500"}[5m]))')
    assert "no series of http_request_total" in err.value.message
    assert not err.value.retryable and "or vector(0)" in (err.value.hint or "")
    with pytest.raises(StepFailed):  # a range query too
        await query(prom.url, query="rate(http_request_total[5m])", type="range", start="1h")
    with pytest.raises(StepFailed):  # a fallback inside the query does not save its divisor
        await query(prom.url, query="(sum(rate(http_request_total[5m])) or vector(0)) / "
                                    "sum(rate(http_request_total[5m]))")


async def test_an_empty_result_of_metrics_that_are_there_is_an_answer(prom) -> None:
    for text in ('sum(rate(http_requests_total{code="503"}[5m]))',  # no 503s: a true answer
                 'http_requests_total{job="web"}',
                 'absent(http_requests_total{job="api"})',  # empty while the series is there
                 "sum(rate(http_request_total[5m])) or vector(0)"):  # the guide's own fallback
        result = await query(prom.url, query=text)
        assert result.ok, text
    result = await query(prom.url, query='http_requests_total{code="503"}', type="range",
                         start="1h")
    assert result.ok and result.outputs["count"] == 0


def test_the_metrics_a_query_reads() -> None:
    from engine.promql import selected_metrics
    assert selected_metrics('sum(rate(http_requests_total{code=~"5.."}[5m])) by (job)') == \
        {"http_requests_total"}
    assert selected_metrics("node_filesystem_avail_bytes / node_filesystem_size_bytes "
                            "< 0.1 offset 5m") == {"node_filesystem_avail_bytes",
                                                   "node_filesystem_size_bytes"}
    assert selected_metrics("count by (instance) (up unless on(instance) node_up)") == \
        {"up", "node_up"}
    assert selected_metrics("job:request_rate:5m > 10") == {"job:request_rate:5m"}
    assert selected_metrics('(sum(rate(a_total{code=~"5.."}[5m])) or vector(0)) / '
                            "sum(rate(a_total[5m]))") == {"a_total"}
    for answered in ('ALERTS{alertname="X"}', '{__name__=~"a.*"}'):
        assert selected_metrics(answered) == frozenset(), answered


class _Recorder(http.server.BaseHTTPRequestHandler):
    """An origin that records each request it gets; with `to` set, answers with a redirect."""

    seen: list[dict[str, str]]
    to = ""

    def do_POST(self) -> None:  # noqa: N802
        self.seen.append(dict(self.headers))
        body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
        self.send_response(307 if self.to else 200)
        if self.to:
            self.send_header("Location", self.to)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("auth", ["basic", "bearer"])
async def test_a_redirect_is_not_followed_and_credentials_stay_with_the_source(auth) -> None:
    # Given a Prometheus url that redirects (a proxy sending to a login host) to another origin
    servers, handlers = [], []
    for _ in range(2):
        handler = type("Handler", (_Recorder,), {"seen": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        handlers.append(handler)
    here, there = handlers
    there_url = f"http://127.0.0.1:{servers[1].server_address[1]}"
    here.to = f"{there_url}/api/v1/query"
    url = f"http://127.0.0.1:{servers[0].server_address[1]}"
    secrets = {"token": PASSWORD} if auth == "bearer" else {}
    if auth == "basic":
        url = url.replace("http://", f"http://mendflow:{PASSWORD}@")
    try:
        with pytest.raises(StepFailed) as err:
            await PrometheusPlugin().run(params=parse_params(PrometheusPlugin, {"query": "up"}),
                                         ctx=ctx(url, secrets=secrets))
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    # Then the step fails naming the redirect; the other origin got nothing, no credential
    assert there.seen == [] and "Authorization" in here.seen[0]
    assert f"answered HTTP 307, a redirect to {here.to}: not followed" in err.value.message
    assert err.value.retryable is False and PASSWORD not in str(err.value)
