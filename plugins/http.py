"""The `http` plugin: one HTTP request, a bounded response, fields extracted from its JSON.

This module is the only httpx importer among the plugins and translates httpx's exceptions
into StepFailed. It owns: building the request URL so that no value can change where it goes,
joining a relative `url` onto the step's data source, the bearer token, the response size
bound, JSON decoding, `extract` paths, and keeping credentials out of everything it reports.

Where a request goes is fixed text. `url` is never a template (the executor passes it
unrendered, and a template there is refused): the scheme, host and port come from it or from
the data source, never from a value. Values go in `path`, a list of segments appended to the
url's path, each percent-encoded as ONE segment (`/`, `?`, `#` and `%` cannot change the path;
a segment that is `.` or `..`, or holds one between its slashes once decoded, as a proxy
that decodes `%2F` would read it, is refused), and in `query`, a mapping that httpx encodes
(`q=x&admin=true#` stays the value of `q`). A `Host` header is refused for the same reason.

Data source: the executor resolves `source` into `ctx.data_source`, a mapping that may carry
`url` (base URL, possibly with user and password: HTTP Basic auth), `headers` and `token`
(from `token_env`: `Authorization: Bearer <token>`). A relative `url` ("api/v1/query") is
appended to the base URL with one slash between them; credentials are sent only to the data
source's own origin (scheme, host, port), never to an absolute URL elsewhere.

`extract` maps an output name to a path into the JSON body: keys separated by dots, list
indexes as numbers, e.g. "data.result.0.value.1" (or "data.result[0].value[1]"). A path that
does not resolve yields None (a Prometheus query with no series is an answer, not an error).

Redirects are never followed: a 3xx answer is the step's result like any other status
(`ok=False` unless `expect_status` lists it; `headers.location` says where it points, and
the error names it). So the request goes only to the scheme, host and port the url says, as
a `url` input was checked for, and credentials (the data source's, the step's own headers)
are never sent to another origin by a redirect; a redirect to the same origin is not
followed either (point `url` at where the answer is).

Outcomes: a status outside `expect_status` (default: any 2xx) is the world's answer,
`ok=False` with the outputs kept; a network error or timeout raises StepFailed (retryable);
a body over `max_bytes`, or non-JSON where JSON is expected, raises StepFailed (not
retryable). Outputs: `status`, `headers` (a fixed, credential-free subset), `json` (only if
it serialises to at most ~4000 chars; otherwise None and `json_truncated`), each `extract`
name under `extracted`, `bytes`, `duration_s`; artifact `body`.

Mutating: the class says `read_only = False` because a POST/PUT/PATCH/DELETE changes the
world; a guide step using any method other than GET or HEAD must be marked mutating.

Credentials (the data source's secrets from `ctx.secrets`, and the step's own: Authorization,
Cookie and API-key header values, URL user info, secret-like query values) never appear in
outputs, errors, the body artifact or log records, in any form they travel in (a Basic header's
base64 included): everything is redacted before it is cut. httpx itself logs each request URL
at INFO on the "httpx" logger; importing this module adds a filter there that masks
secret-looking query values (`?api_key=***`) and the running step's secrets.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import re
import ssl
import time
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import quote, unquote

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine import files
from engine.datasources import Redactor
from engine.errors import StepFailed
from engine.plugins import MAX_SUMMARY_CHARS, PluginBase, StepContext, StepResult

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
KEPT_HEADERS = ("content-type", "content-length", "content-encoding", "date", "etag",
                "last-modified", "location", "retry-after", "x-request-id")
SECRET_NAME = re.compile(r"auth|token|secret|password|passwd|api[-_]?key|cookie|session|sig",
                         re.IGNORECASE)
PATH_TOKEN = re.compile(r"[^.\[\]]+|\[(\d+)\]")
SECRET_QUERY = re.compile(
    r"([?&][^=&#\s]*(?:auth|token|secret|password|passwd|api[-_]?key|session|sig)[^=&#\s]*=)"
    r"[^&#\s\"']*", re.IGNORECASE)


_RUNNING: contextvars.ContextVar[Redactor | None] = contextvars.ContextVar("http_redactor",
                                                                          default=None)
"""The redactor of the request this task is making (httpx logs from inside it)."""

_UPSTREAM_LOST = frozenset({502, 504})
"""A gateway's answers that it lost its upstream's (502 Bad Gateway, 504 Gateway Timeout): the
request may have reached the upstream and been acted on, so a change's effect is unknown."""
_AFTER_SENDING = (httpx.WriteError, httpx.ReadError, httpx.RemoteProtocolError)
"""Errors after a request began to go out: whether the server acted on it is unknown."""


class _RedactQueryFilter(logging.Filter):
    """httpx logs every request URL at INFO; secret-looking query values become '***', and so
    does every secret of the step making the request."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = SECRET_QUERY.sub(r"\1***", record.getMessage())
        redactor = _RUNNING.get()
        record.msg = redactor.redact(text) if redactor is not None else text
        record.args = None
        return True


if not any(isinstance(f, _RedactQueryFilter) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_RedactQueryFilter())

Scalar = str | int | float | bool


class HttpParams(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    url: str = Field(min_length=1, description="Fixed text (never a template): absolute, or "
                     "relative to the data source url. Values go in `path` and `query`.")
    path: list[str | int] = Field(default_factory=list, description="Segments appended to the "
                                  "url's path, each percent-encoded as one segment.")
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict, alias="params",
        description="Query string parameters (also accepted as `params`), encoded by httpx.")
    json_body: Any = Field(default=None, alias="json", description="JSON request body.")
    timeout_s: float | None = Field(default=None, gt=0, description="Capped by the step's.")
    verify_tls: bool = True
    ca_file: str | None = None
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] | None = Field(
        default=None, description="Statuses that count as success; default any 2xx.")
    expect_json: bool | None = Field(
        default=None, description="Require a JSON body; default: only if `extract` is set.")
    extract: dict[str, str] = Field(default_factory=dict,
                                    description='Output name -> path, e.g. "data.result.0".')
    max_bytes: int = Field(default=DEFAULT_MAX_BYTES, gt=0)
    source: str | None = Field(default=None, description="Data source name.")

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @field_validator("url")
    @classmethod
    def _fixed_url(cls, v: str) -> str:
        if "{{" in v or "{%" in v:
            raise ValueError("the url must be fixed text, not a template: a value could change "
                             "the host or the path. Put values in `path` (segments) and "
                             "`query` (parameters)")
        return v

    @field_validator("path")
    @classmethod
    def _whole_segments(cls, v: list[str | int]) -> list[str | int]:
        for segment in v:
            text = str(segment)
            if not text:
                raise ValueError("a path segment is empty")
            if _moves(text):
                raise ValueError(f"path segment {text!r} would move up or stay in the path; "
                                 "a segment names one thing")
        return v

    @field_validator("headers")
    @classmethod
    def _no_host(cls, v: dict[str, str]) -> dict[str, str]:
        if any(name.strip().lower() == "host" for name in v):
            raise ValueError("a Host header is not allowed: where a request goes comes from "
                             "the url or the data source")
        return v

    @field_validator("extract")
    @classmethod
    def _paths_parse(cls, v: dict[str, str]) -> dict[str, str]:
        for path in v.values():
            parse_path(path)
        return v


def _moves(segment: str) -> bool:
    """Whether a segment, decoded as a server or a proxy in front of it may decode it (twice,
    `%2F` and `\\` as slashes, Tomcat's `;params` dropped), holds a `.` or `..` step: nginx
    resolves `..%2F..%2Fadmin` to `/admin` before it passes the request on."""
    text = segment
    for _ in range(3):
        text = unquote(text)
    return any(part.split(";", 1)[0] in (".", "..") for part in re.split(r"[/\\]", text))


def parse_path(path: str) -> list[str | int]:
    """'data.result[0].value.1' -> ['data', 'result', 0, 'value', 1]."""
    if not path or path.strip() != path or ".." in path or path.startswith("."):
        raise ValueError(f"bad extract path {path!r}: use keys and indexes like 'data.items.0'")
    parts: list[str | int] = []
    for m in PATH_TOKEN.finditer(path):
        tok = m.group(1) if m.group(1) is not None else m.group(0)
        parts.append(int(tok) if tok.isdigit() else tok)
    return parts


def extract_path(doc: Any, path: str) -> Any:
    """The value at `path` in `doc`, or None if any step of the path is missing."""
    cur = doc
    for part in parse_path(path):
        if isinstance(cur, Mapping):
            key = str(part)
            if key not in cur:
                return None
            cur = cur[key]
        elif isinstance(cur, list) and isinstance(part, int):
            if part >= len(cur):
                return None
            cur = cur[part]
        else:
            return None
    return cur


def _secrets_in(url: httpx.URL, headers: Mapping[str, str], query: Mapping[str, Any],
                token: str | None) -> list[str]:
    """The step's own credentials: what it sends that is secret, beyond the data source's."""
    found = [token] if token else []
    for name, value in headers.items():
        if SECRET_NAME.search(name):  # "Bearer abc" leaks "abc" on its own too
            found += [value, value.split(" ", 1)[-1]]
    if url.password:
        found += [url.password, f"{url.username}:{url.password}"]
    for k, v in list(url.params.multi_items()) + [(k, str(v)) for k, v in query.items()]:
        if SECRET_NAME.search(k):
            found.append(str(v))
    return found


def _target(params: HttpParams, ds: Mapping[str, Any] | None) -> tuple[httpx.URL, bool]:
    """The URL to request, and whether the data source's credentials may go with it.

    Only fixed text (the url, the data source's url) decides the scheme, host, port and the
    path up to the step's `path` segments; each segment is encoded whole."""
    base = str(ds.get("url") or "") if ds else ""
    if "://" in params.url:
        url = httpx.URL(params.url)
        same_origin = bool(base) and _origin(url) == _origin(httpx.URL(base))
    elif not base:
        raise StepFailed(f"relative url {params.url!r} needs a data source with a url",
                         retryable=False, hint="Set `source` on the step, or use a full URL")
    else:
        url, same_origin = httpx.URL(base.rstrip("/") + "/" + params.url.lstrip("/")), True
    if params.path:
        segments = "/".join(quote(str(s), safe="") for s in params.path)
        url = url.copy_with(path=url.path.rstrip("/") + "/" + segments)
    return url, same_origin


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


class HttpPlugin(PluginBase):
    name: ClassVar[str] = "http"
    Params: ClassVar[type[BaseModel]] = HttpParams
    read_only: ClassVar[bool] = False  # GET/HEAD read; any other method must be `mutating`

    untemplated_params: ClassVar[frozenset[str]] = frozenset({"url"})
    """The url is fixed text: the executor passes it unrendered (and a template is refused)."""

    def describe(self, *, params: HttpParams) -> str:
        segments = "".join("/" + quote(str(s), safe="") for s in params.path)
        return f"{params.method} {params.url.rstrip('/') if segments else params.url}{segments}"

    async def run(self, *, params: HttpParams, ctx: StepContext) -> StepResult:
        ds = ctx.data_source or {}
        url, with_credentials = _target(params, ds)
        headers: dict[str, str] = {}
        token = None
        if with_credentials:
            headers.update({str(k): str(v) for k, v in (ds.get("headers") or {}).items()})
            token = str(ds["token"]) if ds.get("token") else None
            if token:
                headers["Authorization"] = f"Bearer {token}"
        headers.update(params.headers)
        redact = ctx.secrets.with_secrets(_secrets_in(url, headers, params.query, token))
        shown_url = redact.redact(str(url.copy_with(username=None, password=None)))
        timeout = min(params.timeout_s or ctx.deadline_s, ctx.deadline_s)
        ca_file = params.ca_file or ds.get("ca_file")
        check_tls = params.verify_tls and ds.get("verify_tls", True) is not False
        ctx.logger.debug("step %s: %s %s", ctx.step_id, params.method, shown_url)
        started = time.monotonic()

        def failed(message: str, *, retryable: bool, sent: bool = False) -> StepFailed:
            return StepFailed(redact.redact(message), retryable=retryable, step=ctx.step_id,
                              effect_unknown=sent)

        running = _RUNNING.set(redact)
        try:
            verify: ssl.SSLContext | bool = check_tls
            if check_tls and ca_file:
                verify = ssl.create_default_context(cafile=str(ca_file))
            async with asyncio.timeout(timeout):
                async with httpx.AsyncClient(verify=verify, timeout=timeout,
                                             follow_redirects=False) as client:
                    request = client.build_request(
                        params.method, url, headers=headers, params=params.query or None,
                        json=params.json_body)
                    response = await client.send(request, stream=True)
                    try:
                        body = await _read_bounded(response, params.max_bytes)
                    finally:
                        await response.aclose()
        except TimeoutError:
            raise failed(f"{params.method} {shown_url} timed out after {timeout:g}s",
                         retryable=True, sent=True) from None
        except httpx.TimeoutException as exc:
            raise failed(f"{params.method} {shown_url} timed out after {timeout:g}s",
                         retryable=True, sent=not isinstance(exc, httpx.ConnectTimeout)) \
                from None
        except _TooLarge:
            raise failed(f"response larger than {params.max_bytes} bytes from "
                         f"{params.method} {shown_url}; raise max_bytes or narrow the query",
                         retryable=False) from None
        except (httpx.HTTPError, OSError) as exc:  # OSError: a bad ca_file, TLS, DNS
            # Lost while the request was written or its answer read: the server may have it
            # and have acted on it (a proxy's reset, a server that restarted itself).
            raise failed(f"{params.method} {shown_url} failed: {type(exc).__name__}: {exc}",
                         retryable=True, sent=isinstance(exc, _AFTER_SENDING)) from None
        finally:
            _RUNNING.reset(running)
        duration = time.monotonic() - started
        return _result(params, response, body, shown_url, duration, redact, failed)


class _TooLarge(Exception):
    pass


async def _read_bounded(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body, or _TooLarge as soon as it passes `max_bytes` (memory stays bounded)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes \
            and "content-encoding" not in response.headers:
        raise _TooLarge
    chunks = bytearray()
    async for chunk in response.aiter_bytes():
        chunks += chunk
        if len(chunks) > max_bytes:
            raise _TooLarge
    return bytes(chunks)


def _result(params: HttpParams, response: httpx.Response, body: bytes, shown_url: str,
            duration: float, redact: Redactor, failed: Any) -> StepResult:
    """Outputs from the response; every text is redacted before it is cut or summarised."""
    text = redact.redact(body.decode("utf-8", errors="replace"))
    content_type = response.headers.get("content-type", "")
    mime = content_type.split(";", 1)[0].strip().lower()
    is_json_type = mime == "application/json" or mime.endswith("+json")
    want_json = params.expect_json if params.expect_json is not None else bool(params.extract)
    doc: Any = None
    parsed = False
    if body and (is_json_type or want_json) and params.method != "HEAD":
        try:
            doc = files.loads(body)  # nested past a bound: invalid, not a RecursionError
            parsed = True
        except ValueError:
            if want_json or is_json_type:
                snippet = text[:200]
                what = f"invalid JSON ({mime or 'no content type'})" if is_json_type else \
                    f"{mime or 'no content type'}"
                raise failed(f"expected JSON, got {what} from {params.method} {shown_url} "
                             f"(first 200 chars: {snippet!r})", retryable=False) from None
    elif want_json and params.method != "HEAD":
        raise failed(f"expected JSON, got an empty body from {params.method} {shown_url}",
                     retryable=False)
    doc = redact.redact_obj(doc)
    shown_json = doc if parsed and len(json.dumps(doc)) <= MAX_SUMMARY_CHARS else None
    outputs: dict[str, Any] = {
        "status": response.status_code,
        "headers": {k: redact.redact(response.headers[k]) for k in KEPT_HEADERS
                    if k in response.headers},
        "json": shown_json,
        "json_truncated": parsed and shown_json is None,
        "extracted": {name: extract_path(doc, path) for name, path in params.extract.items()},
        "bytes": len(body),
        "duration_s": round(duration, 3),
        "url": shown_url,
    }
    expected = params.expect_status
    ok = response.status_code in expected if expected else 200 <= response.status_code < 300
    error = None
    if not ok:
        snippet = text[:200].strip()
        error = (f"{params.method} {shown_url} returned {response.status_code} "
                 f"{response.reason_phrase}".rstrip())
        if 300 <= response.status_code < 400:  # never followed: said, with where it points
            location = redact.redact(response.headers.get("location", ""))
            error += f" (a redirect{' to ' + location if location else ''}, not followed)"
        if snippet:
            error += f": {snippet}"
    return StepResult(ok=ok, outputs=outputs, artifacts={"body": redact.redact_bytes(body)},
                      summary=f"{params.method} {shown_url} -> {response.status_code}",
                      error=error, effect_unknown=not ok and response.status_code in
                      _UPSTREAM_LOST)
