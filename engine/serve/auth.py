"""Bearer tokens with roles, for `mendflow serve`.

Tokens come from the environment only: `MENDFLOW_API_TOKENS` = comma-separated
`name:role:token` (a token's value never sits in a file Mendflow reads). Roles, each
including the one before it except `alerts`:

- `viewer`: read runs, alerts, guides, reports;
- `operator`: and cancel and resume runs, answer judgments and confirm manual steps;
- `approver`: and approve or deny gated steps (through the API or the web UI);
- `alerts`: only post Alertmanager notifications (what Alertmanager's webhook is given).

Tokens are compared in constant time; an unknown or missing token is 401, a known token
without the role is 403. Nothing about the tokens is logged.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from engine.errors import ConfigError

Role = Literal["viewer", "operator", "approver", "alerts"]
ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "operator": frozenset({"read", "act"}),
    "approver": frozenset({"read", "act", "approve"}),
    "alerts": frozenset({"alerts"}),
}
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_TOKEN = 16


@dataclass(frozen=True)
class Caller:
    name: str
    role: str

    def may(self, right: str) -> bool:
        return right in ROLES[self.role]


class Tokens:
    def __init__(self, entries: Mapping[str, Caller]) -> None:
        self._entries = dict(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def caller(self, token: str) -> Caller | None:
        found = None
        for value, caller in self._entries.items():  # every entry compared: constant time
            if hmac.compare_digest(value.encode(), token.encode()):
                found = caller
        return found


def parse_tokens(spec: str) -> Tokens:
    """`name:role:token,...` -> Tokens; ConfigError naming the entry (never its token)."""
    entries: dict[str, Caller] = {}
    for n, item in enumerate(filter(None, (s.strip() for s in spec.split(","))), start=1):
        parts = item.split(":", 2)
        if len(parts) != 3:
            raise ConfigError(f"MENDFLOW_API_TOKENS entry {n} is not name:role:token",
                              hint="e.g. MENDFLOW_API_TOKENS=am:alerts:<secret>,ann:viewer:"
                                   "<secret>")
        name, role, token = parts
        if not _NAME.match(name):
            raise ConfigError(f"MENDFLOW_API_TOKENS entry {n}: the name must be letters, "
                              "digits, _ . @ -", hint="Rename the entry")
        if role not in ROLES:
            raise ConfigError(f"MENDFLOW_API_TOKENS entry {n} ({name}): unknown role "
                              f"{role!r}", hint=f"Use one of {', '.join(ROLES)}")
        if len(token) < MIN_TOKEN:
            raise ConfigError(f"MENDFLOW_API_TOKENS entry {n} ({name}): the token is shorter "
                              f"than {MIN_TOKEN} characters",
                              hint="Use a random token, e.g. `openssl rand -hex 24`")
        if token in entries:
            raise ConfigError(f"MENDFLOW_API_TOKENS entry {n} ({name}) repeats another "
                              "entry's token", hint="Give each caller its own token")
        entries[token] = Caller(name, role)
    return Tokens(entries)
