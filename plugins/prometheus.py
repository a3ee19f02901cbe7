"""The `prometheus` query plugin: a PromQL instant or range query, summarized for memory.

    - id: error_rate
      plugin: prometheus
      params:
        query: sum(rate(http_requests_total{code=~"5..", job="{{ inputs.job }}"}[5m]))
        type: instant            # or range, with start: 1h (ago), end: now, step: 1m

Outputs (see `engine.summaries.summarize_series`): `result_type`, `count`, `series` (the
largest first, bounded), `values_by` (label string -> value), and `value` when exactly one
series came back, so a guide can branch on `steps.error_rate.value > 0.05`. Range queries
keep per-series last/min/max/mean; every sample goes to the artifact `samples` (JSON lines).
The result is also kept as a table, `rows.parquet` (a column per label, `time`, `value`; a
row per sample), bounded by the settings `result_cap_rows`/`_bytes` (`cut` in memory says
where), for compute steps to read as `steps.<name>`.

This is the only module that imports httpx, and it translates httpx's exceptions and
Prometheus's error responses into `StepFailed` with a message a person can act on. It never
puts credentials in a message: URLs are shown masked. A redirect is never followed (the
credentials go only to the data source's own url): it fails the step, naming where it points.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine import files, promql
from engine.datasources import mask_url
from engine.errors import PluginError, StepFailed
from engine.plugins import PluginBase, StepContext, StepResult
from engine.summaries import label_string, summarize_series, to_jsonable
from plugins._table import RESULT_ARTIFACT, TableBuilder

MAX_POINTS = 11_000  # Prometheus refuses range queries with more points per series

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


def parse_duration(text: str) -> float:
    """Prometheus durations ("90s", "1h30m") in seconds; a bare number is seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    if not _DURATION.match(text):
        raise ValueError(f"{text!r} is not a duration (e.g. 30s, 5m, 1h30m)")
    return sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))


def parse_time(text: str, *, now: float) -> float:
    """A point in time as Unix seconds: "now", "now-1h", "1h" (an hour ago), a Unix time, or
    RFC 3339 ("2024-05-01T12:00:00Z")."""
    text = text.strip()
    if text == "now":
        return now
    if text.startswith("now-"):
        return now - parse_duration(text[4:])
    try:
        return float(text)
    except ValueError:
        pass
    if _DURATION.match(text):
        return now - parse_duration(text)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time (now, now-1h, 1h, a Unix time, or "
                         "RFC 3339)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


class PrometheusParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, description="PromQL; templates rendered by the executor.")
    type: Literal["instant", "range"] = "instant"
    time: str | None = Field(default=None, description="Instant queries: when (default now).")
    start: str = Field(default="1h", description="Range start: '1h' (ago), now-1h, RFC 3339.")
    end: str = Field(default="now", description="Range end.")
    step: str | None = Field(default=None, description="Range resolution; default ~250 points.")
    source: str | None = Field(default=None, description="Data source name (resolved upstream).")
    timeout_s: float | None = Field(default=None, gt=0, description="Query timeout.")
    max_bytes: int = Field(default=20_000_000, ge=1024, description="Largest response read.")
    max_series: int = Field(default=20, ge=1, le=1000, description="Series kept in memory.")
    non_finite: Literal["fail", "keep"] = Field(
        default="fail", description="An instant result of NaN/Inf: fail the step, or keep it "
        "as the string 'NaN'/'+Inf'.")

    @field_validator("time", "start", "end")
    @classmethod
    def _valid_time(cls, value: str | None) -> str | None:
        if value is not None:
            parse_time(value, now=0.0)
        return value

    @field_validator("step")
    @classmethod
    def _valid_step(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) <= 0:
            raise ValueError("step must be positive")
        return value

    @model_validator(mode="after")
    def _range_only(self) -> PrometheusParams:
        if self.type == "instant" and self.step is not None:
            raise ValueError("step applies to range queries; set type: range")
        return self


class PrometheusPlugin(PluginBase):
    name: ClassVar[str] = "prometheus"
    Params: ClassVar[type[BaseModel]] = PrometheusParams
    read_only: ClassVar[bool] = True
    template_guards: ClassVar[dict[str, Any]] = {"query": promql.guard}
    """Before the query renders, every value in it is sent through the `promql` filter for
    where it sits (a label value, a duration, a number), or the step fails: whatever wrote
    the plan (the compiler, an LLM, a person), a value never changes the query's structure."""

    async def run(self, *, params: PrometheusParams, ctx: StepContext) -> StepResult:
        base, auth, shown, sent = _endpoint(ctx.data_source)
        # What the server says (an error that echoes the Authorization header, say) is
        # redacted before any of it is cut: the data source's secrets and what was sent.
        redactor = ctx.secrets.with_secrets(sent)
        timeout = min(params.timeout_s or ctx.deadline_s, ctx.deadline_s)
        form = _query_form(params, now=time.time(), timeout=timeout)
        path = "/api/v1/query_range" if params.type == "range" else "/api/v1/query"
        try:
            body = await _post(base + path, form, auth=auth, shown=shown, timeout=timeout,
                               max_bytes=params.max_bytes, redact=redactor.redact)
        except StepFailed as exc:
            exc.message = redactor.redact(exc.message)
            raise
        result = _result(params, redactor.redact_obj(body), shown=shown, ctx=ctx)
        if result.outputs.get("count") == 0 and result.outputs.get("result_type") in (
                "vector", "matrix"):
            await _metrics_are_there(params, form, base=base, auth=auth, shown=shown,
                                     timeout=timeout, redact=redactor.redact)
        return result


async def _metrics_are_there(params: PrometheusParams, form: dict[str, str], *, base: str,
                             auth: httpx.Auth | None, shown: str, timeout: float,
                             redact: Callable[[str], str]) -> None:
    """An empty result is evidence only if the metrics the query reads are there: Prometheus
    answers a misspelt metric, or one no target exports, with nothing at all, and "no 5xx"
    would then be read from a query that could never find one. Fails the step naming the
    metrics with no series in the hour up to the query's time (or over its range)."""
    names = promql.selected_metrics(params.query)
    if not names:
        return
    end = float(form.get("end") or form["time"])
    start = min(float(form.get("start") or end), end - 3600)
    known = await _post(
        f"{base}/api/v1/label/__name__/values",
        {"match[]": "{__name__=~\"" + "|".join(sorted(names)) + "\"}",
         "start": f"{start:.3f}", "end": f"{end:.3f}"},
        auth=auth, shown=shown, timeout=timeout, max_bytes=params.max_bytes, redact=redact,
        method="GET")
    missing = sorted(names - {str(n) for n in known.get("data") or []})
    if missing:
        raise StepFailed(
            f"the query returned nothing, and Prometheus at {shown} has no series of "
            f"{', '.join(missing)} in the hour before: an empty result of a metric that is not "
            "there proves nothing", retryable=False,
            hint="Check the metric's name and that its target is scraped; where the metric "
                 "may rightly not exist yet, write the query as `(...) or vector(0)`")


def _endpoint(source: Mapping[str, Any] | None) -> tuple[str, httpx.Auth | None, str, list[str]]:
    """Base URL without credentials, the auth to send, the URL to show in messages, and the
    secrets sent (password, `user:password`, token)."""
    if not source or not source.get("url"):
        raise PluginError("the prometheus step has no data source",
                          hint="Configure a [datasources.<name>] of type prometheus, or name "
                          "one with `source`")
    url = str(source["url"]).rstrip("/")
    secrets = source.get("secrets") or {}
    parts = urlsplit(url)
    shown = mask_url(url)
    auth: httpx.Auth | None = None
    sent: list[str] = []
    if parts.username is not None or parts.password is not None:
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        auth = httpx.BasicAuth(user, password)
        url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        sent += [password, f"{user}:{password}"] if password else []
    elif secrets.get("token"):
        auth = _Bearer(str(secrets["token"]))
        sent.append(str(secrets["token"]))
    return url, auth, shown, sent


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def _query_form(params: PrometheusParams, *, now: float, timeout: float) -> dict[str, str]:
    form = {"query": params.query, "timeout": f"{max(timeout, 0.001):.3f}"}  # seconds
    if params.type == "instant":
        form["time"] = f"{parse_time(params.time or 'now', now=now):.3f}"
        return form
    start, end = parse_time(params.start, now=now), parse_time(params.end, now=now)
    if end <= start:
        raise PluginError(f"range query start ({params.start}) is not before end ({params.end})")
    step = parse_duration(params.step) if params.step else max(1.0, math.ceil((end - start) / 250))
    if (end - start) / step > MAX_POINTS:
        raise PluginError(f"range {params.start}..{params.end} at step {step:g}s is more than "
                          f"{MAX_POINTS} points", hint="Use a larger step or a shorter range")
    form.update(start=f"{start:.3f}", end=f"{end:.3f}", step=f"{step:g}")
    return form


async def _post(url: str, form: dict[str, str], *, auth: httpx.Auth | None, shown: str,
                timeout: float, max_bytes: int, redact: Callable[[str], str],
                method: Literal["POST", "GET"] = "POST") -> dict[str, Any]:
    """POST the query (or GET, the form as the URL's query) and read a bounded JSON body;
    every failure becomes a StepFailed whose text was redacted before it was cut."""
    sent: dict[str, Any] = {"data": form} if method == "POST" else {"params": form}
    try:
        async with httpx.AsyncClient(timeout=timeout, auth=auth, follow_redirects=False) as client:
            async with client.stream(method, url, **sent,
                                     headers={"Accept": "application/json"}) as response:
                raw = await _read_bounded(response, max_bytes=max_bytes, shown=shown)
                return _decode(response, raw, shown=shown, redact=redact)
    except httpx.TimeoutException as exc:
        kind = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "querying"
        raise StepFailed(f"timed out after {timeout:g}s {kind} Prometheus at {shown}",
                         retryable=True, hint="Raise timeout_s, or narrow the query") from None
    except httpx.ConnectError as exc:
        raise StepFailed(f"Prometheus at {shown} is unreachable: {_reason(exc, redact)}",
                         retryable=True,
                         hint="Check the data source url and that Prometheus is up") from None
    except httpx.HTTPError as exc:
        raise StepFailed(f"HTTP error talking to Prometheus at {shown}: {_reason(exc, redact)}",
                         retryable=True) from None


def _reason(exc: Exception, redact: Callable[[str], str]) -> str:
    text = redact(str(exc) or type(exc).__name__)
    return text.splitlines()[0][:300]


async def _read_bounded(response: httpx.Response, *, max_bytes: int, shown: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        _too_large(int(declared), max_bytes, shown)
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            _too_large(size, max_bytes, shown)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, max_bytes: int, shown: str) -> None:
    raise StepFailed(f"Prometheus at {shown} sent more than {max_bytes} bytes (at least {size})",
                     retryable=False,
                     hint="Aggregate the query (sum by, topk) or raise max_bytes")


def _decode(response: httpx.Response, raw: bytes, *, shown: str,
            redact: Callable[[str], str]) -> dict[str, Any]:
    status = response.status_code
    content_type = response.headers.get("content-type", "")
    if 300 <= status < 400:
        location = redact(response.headers.get("location", ""))[:300]
        raise StepFailed(f"Prometheus at {shown} answered HTTP {status}, a redirect"
                         f"{' to ' + location if location else ''}: not followed",
                         retryable=False, hint="Point the data source url at where Prometheus "
                         "answers: a redirect is never followed, so credentials go only to "
                         "the url configured")
    try:
        body = files.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError:
        what = content_type.split(";")[0] or "a non-JSON body"
        raise StepFailed(f"Prometheus at {shown} answered HTTP {status} with {what}, not JSON",
                         retryable=status >= 500,
                         hint="Is the data source url the Prometheus server itself (not its "
                         "UI, a login page or a proxy)?") from None
    if body.get("status") == "success" and status < 400:
        return body
    error_type = redact(str(body.get("errorType", "")))[:100]
    message = redact(str(body.get("error") or f"HTTP {status}"))[:2000]
    if error_type == "bad_data":
        raise StepFailed(f"bad PromQL: {message}", retryable=False,
                         hint="Fix the query; try it in the Prometheus UI first")
    if error_type in ("timeout", "canceled"):
        raise StepFailed(f"Prometheus gave up on the query ({error_type}): {message}",
                         retryable=True, hint="Raise timeout_s, or narrow the query")
    if error_type == "execution":
        raise StepFailed(f"Prometheus could not run the query: {message}", retryable=False)
    if status in (401, 403):
        raise StepFailed(f"Prometheus at {shown} refused the credentials (HTTP {status})",
                         retryable=False, hint="Check the data source password or token")
    raise StepFailed(f"Prometheus at {shown} failed: {error_type or 'error'}: {message}",
                     retryable=status >= 500 or status == 429)


def _result(params: PrometheusParams, body: dict[str, Any], *, shown: str,
            ctx: StepContext | None = None) -> StepResult:
    data = body.get("data") or {}
    result_type = data.get("resultType") if isinstance(data, dict) else None
    if result_type not in ("scalar", "string", "vector", "matrix"):
        raise StepFailed(f"Prometheus at {shown} returned an unknown result type "
                         f"{result_type!r}", retryable=False)
    result: Any = data.get("result")
    try:
        series, outputs, artifacts = _read(params, result_type, result)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # a proxy or another server answering "success" with a body of another shape
        said = " ".join(str(exc).split())[:200]
        raise StepFailed(f"Prometheus at {shown} sent a malformed {result_type} result "
                         f"({said})", retryable=False,
                         hint="Is the data source url the Prometheus server itself?") from None
    if result_type in ("vector", "scalar") and params.non_finite == "fail":
        _refuse_non_finite(series)
    if body.get("warnings"):
        outputs["warnings"] = [str(w)[:300] for w in body["warnings"][:5]]
    if ctx is not None and result_type in ("vector", "matrix", "scalar"):
        table = _table(result_type, result, ctx)
        artifacts[RESULT_ARTIFACT] = table.parquet()
        if table.cut:
            outputs["cut"] = table.cut
    summary = _one_line(params, outputs)
    return StepResult(outputs=outputs, artifacts=artifacts, summary=summary)


def _table(result_type: str, result: Any, ctx: StepContext) -> TableBuilder:
    """The result as rows: a column per label, then `time` and `value`; a matrix has a row
    per sample. A label named `time` or `value` is the column `label_time`/`label_value`."""
    if result_type == "scalar":
        items: list[dict[str, Any]] = [{"metric": {}, "values": [result]}]
    elif result_type == "vector":
        items = [{"metric": item.get("metric") or {}, "values": [item["value"]]}
                 for item in result]
    else:
        items = [{"metric": item.get("metric") or {}, "values": item.get("values") or []}
                 for item in result]
    names = sorted({str(k) for item in items for k in item["metric"]})
    columns = [f"label_{n}" if n in ("time", "value") else n for n in names]
    table = TableBuilder([*columns, "time", "value"], cap_rows=ctx.result_cap_rows,
                         cap_bytes=ctx.result_cap_bytes)
    for item in items:
        labels = [item["metric"].get(n) for n in names]
        for ts, value in item["values"]:
            at = dt.datetime.fromtimestamp(float(ts), tz=dt.UTC)
            if not table.add([*labels, at, _number(value)]):
                return table
    return table


def _read(params: PrometheusParams, result_type: str,
          result: Any) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, bytes]]:
    """The series of a result of its type, their summary and what is kept beside it."""
    artifacts: dict[str, bytes] = {}
    series: list[dict[str, Any]]
    if result_type in ("scalar", "string"):
        value: Any = _number(_pair(result)[1]) if result_type == "scalar" else _pair(result)[1]
        series = [{"labels": {}, "value": value}] if result_type == "scalar" else []
        outputs = summarize_series(result_type, series, max_series=params.max_series)
        outputs["value"] = to_jsonable(value)
    elif result_type == "vector":
        series = [{"labels": item.get("metric", {}), "value": _number(_pair(item["value"])[1])}
                  for item in result]
        outputs = summarize_series("vector", series, max_series=params.max_series)
        if outputs["series_truncated"]:
            artifacts["series"] = _json_lines(
                {"labels": s["labels"], "value": to_jsonable(s["value"])} for s in series)
    else:
        series = [{"labels": item.get("metric", {}),
                   "samples": [(float(ts), _number(v))
                               for ts, v in map(_pair, item.get("values", []))]}
                  for item in result]
        outputs = summarize_series("matrix", series, max_series=params.max_series)
        artifacts["samples"] = _json_lines(
            {"labels": s["labels"], "values": [[ts, to_jsonable(v)] for ts, v in s["samples"]]}
            for s in series)
    return series, outputs, artifacts


def _pair(sample: Any) -> tuple[Any, Any]:
    if not isinstance(sample, list) or len(sample) != 2:
        raise ValueError(f"{str(sample)[:40]!r} is not a [time, value] pair")
    return sample[0], sample[1]


def _number(text: Any) -> float:
    return float(text)  # Prometheus sends "NaN", "+Inf", "-Inf" as strings; float() reads them


def _refuse_non_finite(series: list[dict[str, Any]]) -> None:
    bad = [s for s in series if not math.isfinite(s["value"])]
    if bad:
        first = f"{to_jsonable(bad[0]['value'])} for {label_string(bad[0]['labels'])}"
        more = f" and {len(bad) - 1} more series" if len(bad) > 1 else ""
        raise StepFailed(f"the query returned a non-finite value ({first}){more}",
                         retryable=False,
                         hint="NaN usually means 0/0 (no traffic): guard the query, e.g. "
                         "`... > 0 or vector(0)`, or set non_finite: keep")


def _json_lines(items: Any) -> bytes:
    return b"".join(json.dumps(item, allow_nan=False).encode() + b"\n" for item in items)


def _one_line(params: PrometheusParams, outputs: dict[str, Any]) -> str:
    kind = "range" if params.type == "range" else "instant"
    if outputs.get("value") is not None:
        return f"{kind} query: value {outputs['value']}"
    return f"{kind} query: {outputs['count']} series ({outputs['result_type']})"
