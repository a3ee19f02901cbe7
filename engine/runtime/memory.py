"""Run memory: what the incident gave us and what each step found, with provenance.

Memory is a tree of JSON values read by templates and conditions (see `engine.plan` for the
roots). The incident context (`inputs`, `alert`, `run`) is read-only: steps write only under
`steps.<id>` and the `vars.*` keys their `binds` declare. Every write is a `MemoryEntry` with
the step, attempt and time it came from, so a report can say where each value was found.

This module owns the in-process view; persistence is the store's (`Store.commit(memory=...)`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from engine import placement, values
from engine.errors import InputError, MendflowError, PlanError
from engine.plan import InputSpec, Plan
from engine.store.base import MemoryEntry

READ_ONLY_ROOTS = ("inputs", "alert", "run")
WRITABLE_ROOTS = ("steps", "vars")
MAX_VALUE_BYTES = 64_000
"""A single memory value larger than this is cut (with a marker); whole outputs are artifacts."""


class Memory:
    def __init__(self, context: Mapping[str, Any]) -> None:
        self._context = copy.deepcopy(dict(context))
        self._written: dict[str, dict[str, Any]] = {"steps": {}, "vars": {}}
        self._provenance: dict[str, MemoryEntry] = {}

    # -- writing ---------------------------------------------------------------------------

    def entry(self, key: str, value: Any, *, step_id: str, attempt: int,
              at: datetime | None = None) -> MemoryEntry:
        """Make (but do not apply) a write; the executor persists it, then applies it."""
        root = key.split(".", 1)[0]
        if root not in WRITABLE_ROOTS or "." not in key:
            raise ValueError(f"memory key {key!r} is not writable (use steps.<id> or vars.<NAME>)")
        return MemoryEntry(key=key, value=_bounded(value), step_id=step_id, attempt=attempt,
                           at=at or datetime.now(UTC))

    def apply(self, entries: Iterable[MemoryEntry]) -> None:
        for e in entries:
            root, rest = e.key.split(".", 1)
            self._written[root][rest] = e.value
            self._provenance[e.key] = e

    # -- reading ---------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        """The mapping templates and expressions see. Callers must not mutate it."""
        return {**self._context, "steps": self._written["steps"], "vars": self._written["vars"]}

    def provenance(self, key: str) -> MemoryEntry | None:
        return self._provenance.get(key)

    def entries(self) -> list[MemoryEntry]:
        return list(self._provenance.values())

    @classmethod
    def restore(cls, context: Mapping[str, Any], entries: Iterable[MemoryEntry]) -> Memory:
        mem = cls(context)
        mem.apply(sorted(entries, key=lambda e: e.at))
        return mem


def build_context(plan: Plan, *, run_id: str, inputs: Mapping[str, str],
                  alert: Mapping[str, Any] | None,
                  redact: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """The read-only part of memory: typed inputs (defaults applied), the alert, the run.
    An input's error shows its value, and a label may be a secret: `redact` masks it."""
    try:
        return _context(plan, run_id=run_id, inputs=inputs, alert=alert)
    except MendflowError as exc:
        if redact is not None:
            exc.message = str(redact(exc.message))
        raise


def _context(plan: Plan, *, run_id: str, inputs: Mapping[str, str],
             alert: Mapping[str, Any] | None) -> dict[str, Any]:
    misplaced = placement.problems(plan)
    if misplaced:
        first = misplaced[0]
        raise PlanError(first.message, file=plan.source.path, step=first.step,
                        line=plan.step(first.step).source.start, hint=first.hint)
    alert = dict(alert or {})
    labels = _strings(alert.get("labels"), "labels")
    annotations = _strings(alert.get("annotations"), "annotations")
    return {
        "inputs": coerce_inputs(plan.inputs, inputs, labels=labels, annotations=annotations),
        "alert": {"labels": labels, "annotations": annotations,
                  "status": str(alert.get("status", "firing"))},
        "run": {"id": run_id, "plan": plan.id},
    }


def coerce_inputs(specs: list[InputSpec], given: Mapping[str, str],
                  *, labels: Mapping[str, str] | None = None,
                  annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Check every input against its declared type (`engine.values`) and convert it.

    An input that was not given falls back to an alert label of the same name, then to an
    annotation, then to its default. Unknown names, missing required inputs and values that do
    not fit their type are InputErrors saying which input, the value (escaped) and the rule.
    """
    known = {s.name: s for s in specs}
    unknown = sorted(set(given) - set(known))
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise InputError(f"unknown input(s) {', '.join(unknown)}; this guide takes: {names}",
                         hint="Check the names in the guide's front matter `inputs`")
    labels = labels or {}
    annotations = annotations or {}
    out: dict[str, Any] = {}
    missing: list[str] = []
    for spec in specs:
        label = _named(spec.name, labels)
        note = _named(spec.name, annotations)
        if spec.name in given:
            raw: Any = given[spec.name]
            origin = f"--input {spec.name}"
        elif label is not None:
            raw, origin = labels[label], f"the alert's label {label}"
        elif note is not None:
            raw, origin = annotations[note], f"the alert's annotation {note}"
        elif spec.default is not None:
            raw, origin = spec.default, "its default"
        elif not spec.required:
            out[spec.name] = None
            continue
        else:
            missing.append(spec.name)
            continue
        try:
            out[spec.name] = values.check(spec.type, raw, choices=spec.choices,
                                          roots=spec.roots)
        except values.ValueRejected as exc:
            kind = "name" if spec.type == "string" else spec.type
            raise InputError(
                f"input {spec.name}={values.shown(raw)} (from {origin}) is not a valid "
                f"{kind}: {exc.rule}",
                hint=f"Pass {values.type_hint(spec.type, choices=spec.choices, roots=spec.roots)}"
                + ("; declare the input as `type: text` if it is free text (it is then only "
                   "passed as data)" if spec.type in ("name", "string") else ""),
            ) from None
    if missing:
        flags = " ".join(f"--input {m}=..." for m in missing)
        raise InputError(f"missing required input(s): {', '.join(missing)}",
                         hint=f"Pass {flags}, or an --alert whose labels carry them")
    return out


def _named(name: str, values_: Mapping[str, str]) -> str | None:
    """The key of `values_` that names input `name`: the same name, else the one name that
    differs from it only in case, `_` or `-` (a guide's `<node-name>` is input `node_name`; an
    alert's label may be `nodeName` or `node_name`). Two such keys name it ambiguously: none."""
    if name in values_:
        return name
    key = _loose(name)
    found = [k for k in values_ if _loose(k) == key]
    return found[0] if len(found) == 1 else None


def _loose(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def _strings(value: Any, what: str) -> dict[str, str]:
    """An alert's labels or annotations: a mapping of names to strings, or an InputError."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"the alert's {what} must be a mapping of names to strings, not a "
                         f"{type(value).__name__}", hint="Pass an Alertmanager alert")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, (str, int, float)) or \
                isinstance(item, bool):
            raise InputError(f"the alert's {what} {values.shown(key)} is not a string",
                             hint="Alert labels and annotations are strings")
        out[key] = str(item)
    return out


_ENCODER = json.JSONEncoder(default=str)
"""`json.dumps(value, default=str)` without building an encoder per call (ASCII output)."""

# `_ENCODER`'s C core, made once (`JSONEncoder.encode` makes it again on every call, which
# costs more than encoding a step's outputs); it keeps no record of the containers it is in,
# so it is safe to share: a value that contains itself is refused as too deep (RecursionError).
_C_ENCODE = c_make_encoder(None, str, encode_basestring_ascii, None, ": ", ", ", False, False,
                           True) if c_make_encoder is not None else None


def _encode(value: Any) -> str:
    if _C_ENCODE is not None:
        return "".join(_C_ENCODE(value, 0))
    return _ENCODER.encode(value)


def _bounded(value: Any) -> Any:
    text = _encode(value)
    if len(text) <= MAX_VALUE_BYTES:  # ASCII (ensure_ascii): one byte a character
        return json.loads(text)  # normalise to plain JSON types
    if isinstance(value, str):
        return value[: MAX_VALUE_BYTES // 2] + "\n... [cut: full value kept as an artifact]"
    if isinstance(value, dict):
        return {k: _bounded(v) for k, v in value.items()}
    if isinstance(value, list):
        kept: list[Any] = []
        size = 0
        for item in value:
            item = _bounded(item)
            size += len(_encode(item))
            if size > MAX_VALUE_BYTES:
                kept.append(f"... [{len(value) - len(kept)} more items cut]")
                break
            kept.append(item)
        return kept
    return str(value)[:MAX_VALUE_BYTES]
