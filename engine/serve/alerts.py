"""Alertmanager's webhook, checked, and which guide an alert runs.

`Notification` is Alertmanager's webhook body (version 4), validated strictly: a payload that
is not one is refused whole with the reason, and nothing starts. Label and annotation values
are kept as the text they are; they reach a run only through its typed inputs
(`engine.runtime.memory.coerce_inputs`), never into a command.

Routing (`Router`) reads the `triggers` of every guide in the guides folder: an alert name and
optional label matchers (`labels: {severity: critical}` is an equality matcher; a value
`~regex` is a full-match regular expression, as Alertmanager's `=~`). The most specific match
wins, as in Alertmanager's routes: a trigger with more label matchers beats one with fewer; a
tie between guides is refused at load time, not decided by file order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import InputError
from engine.files import DuplicateKey, loads_strict
from engine.plan import Plan, Trigger

MAX_ALERTS = 1_000
"""Alerts in one notification (Alertmanager's `max_alerts` is 0 = all; a group is rarely
more than a few hundred)."""

_TEXT = 4_096  # a label or annotation value, in characters


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_max_length=_TEXT)


class Alert(_Strict):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime  # noqa: N815 - Alertmanager's field names
    endsAt: datetime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815
    fingerprint: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


class Notification(_Strict):
    """Alertmanager's webhook body, version 4."""

    version: Literal["4"]
    groupKey: str = Field(min_length=1)  # noqa: N815
    truncatedAlerts: int = 0  # noqa: N815
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    commonAnnotations: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    externalURL: str = ""  # noqa: N815
    alerts: list[Alert] = Field(min_length=1, max_length=MAX_ALERTS)


def duplicate_key(body: str | bytes) -> str | None:
    """The first key an object of the JSON `body` holds twice (None when none does, or when
    it is not JSON: the validation says why). Alertmanager never writes one; a payload that
    does means one thing to the reader that keeps the first value and another to the reader
    that keeps the last, so it is refused whole."""
    try:
        loads_strict(body)
    except DuplicateKey as twice:
        return twice.key
    except ValueError:
        return None
    return None


@dataclass(frozen=True)
class Route:
    """A guide an alert can run: its trigger and the compiled plan."""

    guide: Path
    plan: Plan
    trigger: Trigger

    @property
    def specificity(self) -> int:
        return len(self.trigger.labels)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.trigger.matches(labels)


class Router:
    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = sorted(routes, key=lambda r: -r.specificity)
        self._check_ties()

    def _check_ties(self) -> None:
        """Two guides with equally specific triggers that can match the same alert: which one
        runs would depend on file order. Refused, naming both."""
        for i, a in enumerate(self.routes):
            for b in self.routes[i + 1:]:
                if (a.guide != b.guide and a.specificity == b.specificity
                        and a.trigger.alert == b.trigger.alert
                        and a.trigger.labels == b.trigger.labels):
                    raise InputError(
                        f"guides {a.guide} and {b.guide} both trigger on "
                        f"{a.trigger.describe()}: which runs would depend on file order",
                        file=str(b.guide), hint="Add a label matcher to one of them "
                        "(triggers: - alert: X / labels: {severity: critical})")

    def route(self, alert: Alert) -> Route | None:
        """The most specific guide for the alert; None when no guide's trigger matches."""
        for candidate in self.routes:
            if candidate.matches(alert.labels):
                return candidate
        return None
