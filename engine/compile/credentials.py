"""Credentials written into a guide's commands: `mysql -p'S3cret'`, `PGPASSWORD=hunter2 psql`,
`curl -H "Authorization: Bearer ghp_..."`, `https://user:pass@host`, a token in a known shape.

A plan never holds a secret (it is stored, shown in approvals, reports and the web UI): a command
line holding one is a person's step whose script shows the secret masked (they type their own),
and lint reports the line, so the author can read it from the environment instead. What is
plainly a placeholder (`<password>`, `$PGPASSWORD`, `{{ token }}`, `xxxx`, `****`,
`YOUR_TOKEN`) is no secret."""

from __future__ import annotations

import re
from typing import Any

from engine.guide import Guide
from engine.plan import Plan

MASK = "********"

_NAMES = r"(?:[A-Z][A-Z0-9_]*_)?(?:PASSWORD|PASSWD|PWD|PASS|TOKEN|SECRET|API_KEY|APIKEY|AUTH)"
_VALUE = r"""(?P<v>'[^'\s]{4,}'|"[^"\s]{4,}"|(?!-)[^\s'"`;|&]{4,})"""
# Each pattern with the words (lower-case) a line holds wherever the pattern matches it: most
# command lines hold none, and are not scanned by the pattern (of every line of every guide).
_SECRET_NAMES = ("pass", "pwd", "token", "secret", "key", "auth")
_WRITTEN: list[tuple[tuple[str, ...], re.Pattern[str]]] = [
    # PGPASSWORD=hunter2 psql, export GITHUB_TOKEN=..., REDISCLI_AUTH=...
    (_SECRET_NAMES, re.compile(rf"(?<![\w$]){_NAMES}={_VALUE}")),
    (_SECRET_NAMES,
     re.compile(rf"(?:MYSQL_PWD|PGPASSWORD|REDISCLI_AUTH|AWS_SECRET_ACCESS_KEY)={_VALUE}")),
    # --password=x, --password x, --token x, --api-key=x, --secret x
    (_SECRET_NAMES,
     re.compile(rf"(?<!\S)--(?:password|passwd|token|api-key|apikey|secret|auth-token|"
                rf"client-secret)(?:=|\s+){_VALUE}")),
    # mysql -pS3cret, -p'S3cret' (mysql's own: no space between)
    (("mysql", "mariadb"),
     re.compile(rf"(?<!\S)(?:mysql|mysqladmin|mysqldump|mariadb)\b[^|;&]{{0,400}}?(?<!\S)"
                rf"-p{_VALUE}")),
    # redis-cli -a S3cret
    (("redis-cli",), re.compile(rf"(?<!\S)redis-cli\b[^|;&]{{0,400}}?(?<!\S)-a\s+{_VALUE}")),
    # Authorization headers (caseless: "auth", as no other letter folds to a, u, t or h, as
    # "ı" does to "i")
    (("auth",), re.compile(r"(?i)authorization:\s*(?:bearer|basic|token)\s+"
                           r"(?P<v>[A-Za-z0-9._~+/=-]{8,})")),
    # userinfo in a URL, curl -u user:pass
    # (a scheme starts a word and is short: scanning a 200 kB word from each of its letters
    # for "://" took time growing with its square)
    (("://",), re.compile(r"(?<![A-Za-z0-9+.-])[a-z][a-z0-9+.-]{0,15}://[^/\s:@]{1,256}:"
                          r"(?P<v>[^@\s/]{4,256})@")),
    (("curl", "wget"),
     re.compile(r"(?<!\S)(?:curl|wget)\b[^|;&]{0,400}?(?<!\S)(?:-u|--user)\s+['\"]?"
                r"[^:\s'\"/]+:(?P<v>[^\s'\"]{4,})")),
    # tokens in the shapes their issuers give them
    (("gh", "glpat-", "xox", "sk_live_", "akia"),
     re.compile(r"(?P<v>\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|"
                r"glpat-[A-Za-z0-9_-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|"
                r"sk_live_[A-Za-z0-9]{16,}|AKIA[0-9A-Z]{16})\b)")),
]
_PLACEHOLDER = re.compile(
    r"^(?:<.*|\$\{?\w+\}?|(?i:.*(?:password|passwd|token|secret|api-?key).*)|\{\{.*\}\}|\{[\w.-]+\}|\[[^\]]*\]|(.)\1{3,}|"
    r"(?i:(?:your|my|the|some|new|old|db|user|admin)?[_-]?(?:password|passwd|pass|pwd|secret|"
    r"token|api[_-]?key|key|changeme|redacted|example|placeholder|x+)[_-]?(?:here|value)?)|"
    r".*(?:\*{3,}|X{4,}|x{4,}|\.\.\.).*|\$\(.*)$")


def written(line: str) -> list[str]:
    """The secret values a command line holds, as written (quotes stripped)."""
    found: list[str] = []
    low = line.lower()
    for words, rx in _WRITTEN:
        if not any(word in low for word in words):
            continue
        for m in rx.finditer(line):
            value = m.group("v").strip("'\"")
            if len(value) >= 4 and not _PLACEHOLDER.match(value) and value not in found:
                found.append(value)
    return found


def masked(line: str) -> str:
    """The line with every secret it holds masked."""
    for value in sorted(written(line), key=len, reverse=True):
        line = line.replace(value, MASK)
    return line


def without_credentials(plan: Plan, guide: Guide) -> Plan:
    """`plan` with every credential the guide's commands hold masked wherever its words were
    carried (a step's text, a guard, an ignored record); the commands themselves are already
    a person's steps (`outline._commands`)."""
    secrets: set[str] = set()
    for el in guide.elements:
        for text in ([el.text] if el.kind == "code" else []) + list(el.inline_code):
            for line in text.splitlines():
                secrets.update(written(line))
    if not secrets:
        return plan
    order = sorted(secrets, key=len, reverse=True)

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            for secret in order:
                value = value.replace(secret, MASK)
            return value
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value

    return Plan.model_validate(scrub(plan.model_dump()))
