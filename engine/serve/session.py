"""Who is using the web UI, and whether a form they post is really theirs.

A browser cannot send the API's bearer header from a page, so a person pastes their token
once on the login page and it is kept in a cookie: `HttpOnly` (no script reads it),
`SameSite=Strict` (no other site's page sends it), `Secure` when served over HTTPS, `Path=/`.
The cookie holds the token itself, not a session of this process: every `serve` process
behind a load balancer reads it alike, and a token removed from `MENDFLOW_API_TOKENS`
stops working at once.

Forms that change something (approve, deny, answer, cancel, log out) are defended twice:
the cookie is `SameSite=Strict`, and each form carries a CSRF token, an HMAC of the caller's
token (stateless, so any process checks it; a page of another site can neither read nor
compute it). A request whose `Origin` header names another host is refused as well.

This module owns the cookie and the CSRF check; which role may do what is `engine.serve.auth`.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response

from engine.serve.auth import Caller, Tokens

COOKIE = "mendflow_token"
MAX_AGE_S = 12 * 3600


class LoginNeeded(Exception):
    """A page was asked for without a valid token: the UI answers with the login page."""


def token_of(request: Request) -> str:
    """The caller's token: the UI's cookie, else an `Authorization: Bearer` header (so the
    same pages and event streams serve scripts)."""
    cookie = request.cookies.get(COOKIE, "")
    if cookie:
        return cookie
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def caller_of(request: Request) -> Caller:
    """The UI's caller, or LoginNeeded; a caller of the `alerts` role sees no pages."""
    tokens: Tokens = request.app.state.config.tokens
    token = token_of(request)
    who = tokens.caller(token) if token else None
    if who is None:
        raise LoginNeeded()
    if not who.may("read"):
        raise HTTPException(403, f"{who.name} ({who.role}) may not read runs")
    return who


def csrf_token(request: Request) -> str:
    return _csrf_for(token_of(request))


def _csrf_for(token: str) -> str:
    return hmac.new(token.encode(), b"mendflow-ui-csrf", hashlib.sha256).hexdigest()


def check_origin(request: Request) -> None:
    """403 if the request says it comes from a page of another origin."""
    origin = request.headers.get("origin")
    if origin == "null":
        raise HTTPException(403, "the form came from an opaque origin")
    try:
        netloc = urlsplit(origin).netloc if origin is not None else None
    except ValueError:  # `http://[`: no origin a browser sends
        raise HTTPException(403, "the form's Origin header is not a URL") from None
    if netloc is not None and netloc != request.headers.get("host", ""):
        raise HTTPException(403, "the form came from another site")


def check_form(request: Request, form: dict[str, str]) -> None:
    """403 unless the form's CSRF token is this caller's and the Origin (when sent) is us."""
    check_origin(request)
    given = form.get("csrf", "")
    # as bytes: compare_digest refuses a str with a character beyond ASCII (a TypeError)
    if not given or not hmac.compare_digest(given.encode(), csrf_token(request).encode()):
        raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page")


def set_login(response: Response, request: Request, token: str) -> None:
    response.set_cookie(COOKIE, token, max_age=MAX_AGE_S, path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def clear_login(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
