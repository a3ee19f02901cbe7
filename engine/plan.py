"""The execution plan: a versioned, immutable DAG of steps compiled from a guide.

This module owns the plan's data model and its canonical JSON form. It does not compile guides
(see `engine.compile`), validate graph structure (`engine.compile.validate`), or run anything
(`engine.scheduler`, `engine.runtime`).

Vocabulary
----------
- A **step** is one thing to do: run a query or a command, watch a detector, decide, ask for an
  approval, ask a person to do something by hand (`manual`), run another guide (`call`), or end
  the run with an outcome (`end`).
- An **edge** says "after `source`, `target` may run". It may carry a **condition**: the guide's
  own words, plus a deterministic expression over run memory where one could be derived. A
  condition with no expression is a **judgment** for a person (or, later, an LLM) at run time.
  An edge with `on="failure"` is an error path: it is taken only when its source failed.

Join semantics
--------------
An edge is *decided* once its source step is finished (succeeded, failed or skipped):

- from a succeeded step, a `success` edge is taken iff its condition holds (or it has none);
  a `failure` edge is not taken;
- from a failed step, a `failure` edge is taken iff its condition holds; a `success` edge is
  not taken, unless the step's `on_error` is `continue`, when the failure counts as success;
- from a skipped step, no edge is taken.

A step becomes **ready** when none of its incoming edges is still undecided and at least one
was taken. If every incoming edge is decided and none was taken, the step is **skipped**, and
the skip propagates along its own edges. The entry step has no incoming edges and is ready at
start. Reaching an `end` step whose outcome is terminal ends the run; in-flight steps are
cancelled. Then the plan's `cleanup` steps, if any, run one after another whatever the ending
(an outcome, a failure, a cancel), and the run keeps the ending it had.

Memory keys
-----------
Templates (Jinja2, sandboxed, StrictUndefined) and condition expressions read run memory:

- `inputs.<name>`: the run's declared inputs (`Plan.inputs`), read-only;
- `alert.labels.<name>`, `alert.annotations.<name>`: the incident that triggered the run;
- `steps.<step_id>.<field>`: what a step produced (for the shell plugin: `exit_code`, `stdout`,
  `stderr`, `lines`), written when the step finishes;
- `vars.<NAME>`: a value a step binds for later steps (`export NAMESPACE=$(...)`): the step's
  `binds` maps the key to an expression over `result` (its own outputs), and `writes` lists it.

Plugin parameters
-----------------
`Step.params` is the plugin's parameter object; every string in it is a Jinja2 template,
rendered from memory just before the step runs and used as one whole value. For `shell`:
`{"pipeline": [["kubectl", "get", "pods", "-n", "{{ vars.NAMESPACE }}"], ["grep", "virt"]],
"ok_exit_codes": [0]}`: each inner list is one argv, connected stdout -> stdin, no shell.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

import re2
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from engine import files
from engine.errors import PlanError, SchemaVersionError
from engine.values import InputType, spec_problem

SCHEMA_VERSION = 1
"""Bump when a plan written by this version cannot be read by the previous one."""

STEP_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepKind(StrEnum):
    QUERY = "query"  # read-only question to a data source (PromQL, SQL, HTTP, logs)
    COMMAND = "command"  # runs a command; read-only or mutating
    DETECT = "detect"  # a failure detector over a stream
    DECIDE = "decide"  # chooses a branch; does nothing itself
    APPROVE = "approve"  # gate before a step that changes the world
    MANUAL = "manual"  # a person does this by hand and confirms
    CALL = "call"  # runs another guide
    END = "end"  # ends the run with an outcome


class Outcome(StrEnum):
    RESOLVED = "resolved"
    MITIGATED = "mitigated"
    ESCALATE = "escalate"
    NO_ACTION = "no_action"
    INCONCLUSIVE = "inconclusive"  # the evidence failed: nothing can be concluded


class OnError(StrEnum):
    FAIL = "fail"  # the step fails; failure edges are taken, or the run fails if there are none
    CONTINUE = "continue"  # the failure is recorded, and the step's success edges are taken


class Span(_Frozen):
    """Where a step came from: 1-based, inclusive line numbers in the guide."""

    start: int = Field(ge=1)
    end: int = Field(ge=1)

    def __str__(self) -> str:
        return f"{self.start}" if self.start == self.end else f"{self.start}-{self.end}"


class Retry(_Frozen):
    """How often a step is tried, and how long to wait between tries (exponential, jittered)."""

    attempts: int = Field(default=1, ge=1, le=100)
    backoff_s: float = Field(default=1.0, ge=0)
    max_backoff_s: float = Field(default=60.0, ge=0)
    jitter: bool = True


class Condition(_Frozen):
    """When an edge is taken. `expr` is a Jinja2 expression over memory; None means judgment."""

    text: str = Field(description="The guide's own words for this condition.")
    expr: str | None = Field(default=None, description="Deterministic expression, if derived.")

    @property
    def is_judgment(self) -> bool:
        return self.expr is None


class Step(_Frozen):
    id: str = Field(pattern=STEP_ID_PATTERN)
    title: str
    kind: StepKind
    plugin: str | None = Field(default=None, description="Plugin that runs it (shell, sql, ...).")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Plugin parameters; strings are Jinja2 templates."
    )
    writes: list[str] = Field(
        default_factory=list,
        description="Memory keys the step writes: 'steps.<id>' and each key of `binds`.",
    )
    binds: dict[str, str] = Field(
        default_factory=dict,
        description="Memory key (e.g. 'vars.NAMESPACE') -> expression over `result`, the "
        "step's own outputs (e.g. 'result.stdout | trim').",
    )
    mutating: bool = Field(default=False, description="Changes the world (needs an approval).")
    timeout_s: float | None = Field(default=None, gt=0, description="None: the default.")
    retry: Retry = Field(default_factory=Retry)
    on_error: OnError = OnError.FAIL
    outcome: Outcome | None = Field(default=None, description="Only on `end` steps.")
    # The key of the linked guide's plan in `Plan.calls` (the description stays as it was:
    # it is part of the schema recorded LLM exchanges were made with).
    call: str | None = Field(default=None, description="Guide id, only on `call` steps.")
    queue: str | None = Field(default=None, description="Pin the step to a worker queue.")
    text: str = Field(default="", description="The guide's instruction for this step.")
    source: Span


class Edge(_Frozen):
    source: str
    target: str
    condition: Condition | None = None
    on: Literal["success", "failure"] = "success"
    kind: Literal["next", "branch", "else", "jump", "error"] = "next"


class InputSpec(_Frozen):
    """A value a run is given (`--input`, or an alert label or annotation of the same name).

    Every input has a type (`engine.values`): a value that does not fit it fails the run
    before any step. `string` is the old name of `name`; free text must say `text`, and is
    then only ever passed as data (a SQL bound value, an HTTP body field)."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    type: InputType = "name"
    default: str | int | float | bool | None = None
    required: bool = True
    description: str = ""
    choices: list[str] = Field(default_factory=list, description="The values an enum takes.")
    roots: list[str] = Field(default_factory=list,
                             description="A path input must resolve under one of these.")

    @model_validator(mode="after")
    def _consistent(self) -> InputSpec:
        problem = spec_problem(self.name, self.type, self.default, self.choices, self.roots)
        if problem:
            raise ValueError(problem)
        return self


class Trigger(_Frozen):
    # The alerts a guide is for: an alert name and label matchers (a value is an equality
    # matcher; `~regex` a full-match regular expression, as Alertmanager's `=~`). (A comment,
    # not a docstring: a docstring is the schema's description, which the LLM's prompt holds.)
    alert: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _linear_regexes(cls, labels: dict[str, str]) -> dict[str, str]:
        # A label's value is written by whoever controls a metric: a `~regex` is matched in
        # linear time (RE2, as Alertmanager's Go regexp), so no value can stall the intake.
        for name, want in labels.items():
            if want.startswith("~") and (problem := _regex_problem(want[1:])):
                raise ValueError(f"label {name!r}: the regex {want[1:]!r} {problem}; write one "
                                 "RE2 takes (no backreferences or lookarounds), as "
                                 "Alertmanager's `=~`")
        return labels

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.alert is not None and labels.get("alertname") != self.alert:
            return False
        return all(_label_matches(want, labels.get(name)) for name, want in self.labels.items())

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"alert {self.alert or '(any)'}" + (f" with {shown}" if shown else "")


def _label_matches(want: str, have: str | None) -> bool:
    if have is None:
        return False
    if want.startswith("~"):
        return _linear(want[1:]).fullmatch(have) is not None
    return want == have


@lru_cache(maxsize=256)
def _linear(pattern: str) -> Any:
    """`pattern` compiled by RE2: matching takes time linear in the text, whatever it holds."""
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options=options)


def _regex_problem(pattern: str) -> str | None:
    try:
        _linear(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        return f"does not compile with RE2 ({reason})"
    return None


class Reference(_Frozen):
    """A link the guide makes that is not an executable step (another guide, a doc page)."""

    text: str
    target: str
    line: int


class Ignored(_Frozen):
    """A part of the guide that became no step, and why: nothing a guide says is lost silently.

    `kind` is what it is (a code block, a list item, an inline command, an If/When/Otherwise
    sentence); `reason` says why nothing runs it: "sample output", "configuration",
    "illustration", "reference", "descriptive section", ..."""

    span: Span
    kind: Literal["code", "item", "inline", "guard"]
    reason: str
    text: str = Field(default="", description="The part's first words, for a reader.")


class SourceInfo(_Frozen):
    path: str = Field(description="Guide path as given to the compiler (posix).")
    sha256: str = Field(description="Hash of the guide's bytes.")


class Plan(_Frozen):
    schema_version: int = SCHEMA_VERSION
    id: str
    title: str
    kind: Literal["sre", "robot"] = "sre"
    compiler: str = Field(description="What produced it, e.g. 'structural/1'.")
    source: SourceInfo
    owners: list[str] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)
    inputs: list[InputSpec] = Field(default_factory=list)
    entry: str
    steps: list[Step]
    edges: list[Edge] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    cleanup: list[str] = Field(
        default_factory=list,
        description="Steps that always run, one after another, once the run is over: after "
        "any outcome, a failure or a cancel. No edge leads to them; they are approved by being "
        "written here (they exist to leave things safe), and a failure in one does not stop "
        "the next.",
    )
    ignored: list[Ignored] = Field(
        default_factory=list,
        description="Parts of the guide that became no step, each with its lines and why "
        "(`mendflow compile --explain` prints them beside the steps).",
    )
    calls: dict[str, Plan] = Field(
        default_factory=dict,
        description="The plans of the guides its `call` steps run, by `Step.call`, compiled "
        "with it: a run of this plan runs exactly these, whatever the linked files say later. "
        "Left out of the JSON when empty (a plan that calls nothing reads as before).",
    )

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"schema version {v} is not {SCHEMA_VERSION}")
        return v

    # -- lookups ---------------------------------------------------------------------------

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    @property
    def step_map(self) -> dict[str, Step]:
        return {s.id: s for s in self.steps}

    def incoming(self, step_id: str) -> list[tuple[int, Edge]]:
        return [(i, e) for i, e in enumerate(self.edges) if e.target == step_id]

    def outgoing(self, step_id: str) -> list[tuple[int, Edge]]:
        return [(i, e) for i, e in enumerate(self.edges) if e.source == step_id]

    # -- canonical form --------------------------------------------------------------------

    @cached_property
    def _json_data(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")  # a plan is immutable: dump it once
        _drop_empty_calls(data)
        return data

    def to_json(self, *, indent: int | None = 2) -> str:
        """Canonical JSON: sorted keys, stable separators; same plan, same bytes."""
        return json.dumps(self._json_data, indent=indent, sort_keys=True,
                          ensure_ascii=False) + "\n"

    def content_hash(self) -> str:
        return self._content_hash

    def compact_json(self) -> str:
        """Canonical JSON with no spaces and ASCII only: the text `content_hash` hashes, and
        what a store keeps (a 1,000-step plan takes milliseconds to encode: once a plan)."""
        return self._compact_json

    @cached_property
    def _compact_json(self) -> str:
        return json.dumps(self._json_data, sort_keys=True, separators=(",", ":"))

    @cached_property
    def _content_hash(self) -> str:
        return hashlib.sha256(self._compact_json.encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str, *, file: str | None = None) -> Plan:
        try:
            data = files.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanError(
                f"not a plan: invalid JSON ({exc.msg})", file=file, line=exc.lineno,
                hint="Recompile the guide with `mendflow compile`",
            ) from exc
        if not isinstance(data, dict):
            raise PlanError("not a plan: expected a JSON object", file=file)
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"plan has schema version {version!r}; this Mendflow reads version "
                f"{SCHEMA_VERSION}",
                file=file,
                hint="Recompile the plan from its guide with `mendflow compile GUIDE`",
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:  # translate at the boundary, in one line
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "the plan"
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise PlanError(f"not a valid plan: {where}: {first['msg']}{more}", file=file,
                            hint="Recompile the guide with `mendflow compile`") from None

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        p = Path(path)
        try:
            text = files.read_bytes(p).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PlanError(f"not a plan: not UTF-8 JSON (byte {exc.start})", file=str(p),
                            hint="Compile a guide with `mendflow compile`") from None
        except OSError as exc:
            raise PlanError(f"cannot read the plan: {exc.strerror}", file=str(p)) from None
        return cls.from_json(text, file=str(p))


def _drop_empty_calls(data: dict[str, Any]) -> None:
    """A plan that calls no guide has the JSON (and hash) it had before `calls` existed."""
    calls = data.get("calls")
    if not calls:
        data.pop("calls", None)
        return
    for child in calls.values():
        _drop_empty_calls(child)


def plan_json_schema(*, calls: bool = True) -> dict[str, Any]:
    """The JSON Schema of a plan, for `mendflow schema` and for LLM structured output.

    `calls=False` leaves out `Plan.calls` (the plans of linked guides, which the compiler
    bundles and a model never writes): the schema an LLM is shown, as it was before plans
    held other plans."""
    full = Plan.model_json_schema()
    defs = dict(full.get("$defs") or {})
    plan = defs.pop("Plan", None) or {k: v for k, v in full.items() if k != "$defs"}
    if not calls:
        plan = {**plan, "properties": {k: v for k, v in plan["properties"].items()
                                       if k != "calls"}}
    else:
        defs["Plan"] = plan  # `calls` refers to it
    schema: dict[str, Any] = {"$defs": defs, **plan}
    schema["$id"] = f"https://mendflow.dev/schema/plan-v{SCHEMA_VERSION}.json"
    return schema
