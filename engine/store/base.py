"""The Store protocol: where runs, their state, memory, events and artifacts are kept.

The engine talks only to this protocol; `engine.store.sqlite` (embedded default) and
`engine.store.postgres` implement it and `SharedStore` (what workers sharing a store need
beyond it), and both must pass the same contract tests (`tests/engine/store/contract.py`).

Rules every implementation keeps:

- `commit()` is one transaction: the events, the memory entries they wrote, the run's status
  and, when given, a new snapshot of the scheduler state are saved together or not at all.
  The snapshot is optional because writing a 1,000-step state on every event costs O(steps):
  the executor snapshots now and then, and the state at any moment is the snapshot plus the
  events after `RunRecord.state_seq`, replayed through the pure scheduler. It is a compare-and-set
  on `RunRecord.version`: if another writer advanced the run first, `StaleState` is raised and
  nothing is written. The executor persists a transition *before* acting on it, so a crash
  between commit and action re-does the action (with the same idempotency key) on resume, and a
  crash before commit loses nothing that was acted on.
- `claim_step()` succeeds at most once per (run, step, attempt): the exactly-once gate for
  effects under at-least-once delivery. Two exceptions keep a run resumable: a claim by the
  owner that already holds it succeeds again (re-entrant, and renews its lease), and a claim
  made with `lease_s` may be taken by another owner once the lease has expired. A claim
  without a lease never expires.
- `take_lease()` makes one process the driver of a run: it succeeds when the run has no
  lease, when this holder has it already (re-entrant; it renews), when the lease has lapsed
  (its holder stopped renewing it: `renew_lease` is the heartbeat), or when the caller names
  the current holder in `replacing` (it has seen that holder die); otherwise it raises
  `LeaseHeld`, naming the holder. Leases are measured on the store's clock.
- Stores hold no secrets: callers redact before they write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import ExitCode, StoreError
from engine.plan import Plan

RunStatus = Literal["running", "succeeded", "failed", "cancelled", "interrupted"]


class StaleState(StoreError):
    """Another writer advanced the run since it was read; re-read and re-apply the event.
    Reaching the command, it means another process drives the run: a usage error, not an
    outage."""

    exit_code = ExitCode.BAD_INPUT


class Lease(BaseModel):
    """Who drives a run: one process at a time, renewing its lease while it drives."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    holder: str = Field(description="Unique per driving process (host, pid, start, nonce).")
    host: str
    pid: int
    since: datetime
    expires_at: datetime
    taken_over: Lease | None = Field(default=None, description="The lapsed or dead holder's "
                                     "lease this one replaced, when it did.")

    def describe(self) -> str:
        return (f"pid {self.pid} on {self.host} since "
                f"{self.since.astimezone().strftime('%Y-%m-%d %H:%M:%S %Z')}")


class LeaseHeld(StoreError):
    """Another live process drives the run (its lease is held and renewed)."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, lease: Lease) -> None:
        until = lease.expires_at.astimezone().strftime("%H:%M:%S")
        super().__init__(
            f"run {lease.run_id} is being driven by {lease.describe()}",
            hint=f"Wait for it or stop it; if it died, its lease lapses at {until} and the "
                 "run can be resumed then")
        self.lease = lease


class ReplayOf(BaseModel):
    """What makes a run a replay (`mendflow replay`, `engine.runtime.intervene`): the run it
    replays and from which step, the steps served from that run's record instead of run,
    and the intervention. Saved with the run's options, so whoever runs its steps (this
    process, a worker anywhere) serves them the same way."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    run_id: str = Field(description="The run replayed.")
    from_step: str = Field(description="The step the replay starts from.")
    reuse: tuple[str, ...] = Field(default=(), description="Steps that finished before "
                                   "`from_step` in that run: their recorded results are "
                                   "reused, they are not run again.")
    outputs: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Steps whose outputs the intervention sets "
        "(`--set steps.S.output=@FILE`): served with them, not run.")
    from_record: bool = Field(default=False, description="Read-only steps from `from_step` "
                              "on are served from the record when their rendered "
                              "parameters are unchanged.")
    interventions: tuple[str, ...] = Field(default=(), description="What was changed, "
                                           "for people (redacted).")


class RunOptions(BaseModel):
    """How a run was started, saved with it so that whoever drives it later (a worker anywhere,
    `mendflow resume`) acts as the starter would: the executor it runs on, dry run, and the
    starter's non-interactive answers, approvals, approval policy and LLM judge."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    executor: str = Field(default="local", description="local, or an installed executor "
                          "(celery): `resume` continues the run on it.")
    dry_run: bool = False
    answers: dict[str, bool] = Field(default_factory=dict,
                                     description="Decisions answered in advance (--answer).")
    assume_yes: bool = Field(default=False, description="--yes: every gate approved.")
    approvals: tuple[str, ...] = Field(default=(), description="Gates approved (--approve).")
    auto_approve: tuple[str, ...] = Field(default=(), description="The operator's policy: "
                                          "gates approved without asking.")
    judge: str | None = Field(default=None, description="provider:model of the LLM that "
                              "judges prose conditions; None: a person does.")
    policy_now: tuple[str, ...] | None = Field(
        default=None, description="The operator's approval policy when the run was last "
        "resumed (None: never): a gate is approved by policy only when both it and "
        "`auto_approve` approve it, the stricter wins.")
    ask_people: bool = Field(default=False, description="What the above do not answer is "
                             "asked through the API and waited for (mendflow serve); else it "
                             "fails the step, saying which flag would answer it.")
    replay: ReplayOf | None = Field(default=None, description="Set when the run replays "
                                    "another (`mendflow replay`).")


class RunRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    plan_id: str
    plan_hash: str
    guide_path: str
    title: str = ""
    status: RunStatus = "running"
    outcome: str | None = None
    reason: str | None = Field(default=None, description="Why the run ended as it did.")
    created_at: datetime
    updated_at: datetime
    version: int = 0
    state: dict[str, Any] = Field(default_factory=dict,
                                  description="Scheduler state snapshot (JSON).")
    state_seq: int = Field(default=0, description="Last event seq the snapshot includes; "
                           "later events are replayed on top of it.")
    context: dict[str, Any] = Field(default_factory=dict,
                                    description="Read-only incident context: inputs, alert.")
    options: RunOptions = Field(default_factory=RunOptions,
                                description="How it was started: executor, dry run, answers.")
    parent_run_id: str | None = Field(default=None, description="The run whose `call` step "
                                      "started this one (a linked guide's child run).")
    parent_step: str | None = Field(default=None, description="That call step's id.")


class MemoryEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str = Field(description="Dotted memory path, e.g. 'steps.disk' or 'vars.NAMESPACE'.")
    value: Any
    step_id: str
    attempt: int
    at: datetime


class EventRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int = Field(description="1-based, per run, assigned by the store.")
    at: datetime
    type: str
    step_id: str | None = None
    attempt: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)


AlertDisposition = Literal["started", "deduped", "unmatched", "resolved", "refused"]


class AlertRecord(BaseModel):
    """One alert of one notification `mendflow serve` received, and what became of it:
    `started` a run, `deduped` (its group already had a live run: noted on that run),
    `unmatched` (no guide's trigger matches: kept, never dropped), `resolved` (Alertmanager
    said it resolved), `refused` (the guide refused its inputs: `detail` says why)."""

    model_config = ConfigDict(frozen=True)

    received_at: datetime
    group_key: str
    alertname: str
    status: Literal["firing", "resolved"]
    disposition: AlertDisposition
    guide: str | None = None
    run_id: str | None = None
    detail: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    fingerprint: str = ""


QuestionKind = Literal["approve", "manual", "judge"]


class Question(BaseModel):
    """A question a run put to a person through the API (`RunOptions.ask_people`), and its
    answer once given: who answered, when and from where (the audit trail)."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    step_id: str  # the step; for a judgment its edge, STEP->TARGET (`question_key`)
    kind: QuestionKind
    text: str
    asked_at: datetime
    answered_at: datetime | None = None
    yes: bool | None = None
    by: str | None = None
    source: str | None = None


class LlmUsage(BaseModel):
    """What a run spent on one model for one purpose (`judge`: its decisions; `compile`: the
    LLM plan it ran, when compiled fresh for it): calls, tokens and the approximate cost in
    USD at the time (None: the model's price is unknown)."""

    model_config = ConfigDict(frozen=True)

    purpose: str
    model: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None

    def describe(self) -> str:
        money = "cost unknown" if self.cost_usd is None else f"~${self.cost_usd:.4f}"
        return (f"{self.purpose} {self.model}: {self.calls} call(s), {self.input_tokens} in / "
                f"{self.output_tokens} out tokens, {money}")


CauseClass = Literal["guide_defect", "environment", "engine", "operator", "incident"]
"""Where the fault of a run that ended failed, inconclusive or escalate lies (`engine.learn`)."""


class FailureRecord(BaseModel):
    """One failed attempt of a step, its error (redacted, credentials masked) and the error's
    signature (`engine.learn.signatures`): the same for the same failure whatever ids, hosts,
    numbers, paths, times or quoted values it names."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    step_id: str
    attempt: int
    signature: str = Field(description="12 hex characters: the pattern's hash.")
    pattern: str = Field(description="The normalised error.")
    message: str = Field(description="The error as it was (redacted, cut).")
    guide: str = Field(description="The plan id (the guide's id).")
    guide_path: str = ""
    plan_hash: str = ""
    line: int | None = Field(default=None, description="The step's first line in the guide.")
    at: datetime


class FailureFix(BaseModel):
    """A later run (or a later attempt of the same run) in which a step that had failed with
    a signature succeeded, and what had changed since the failure."""

    model_config = ConfigDict(frozen=True)

    signature: str
    failed_run_id: str
    step_id: str
    fixed_run_id: str
    changes: list[str] = Field(default_factory=list, description="What differed: inputs, the "
                               "guide's plan, a retry of the same run.")
    at: datetime

    def describe(self) -> str:
        what = "; ".join(self.changes) or "nothing recorded changed"
        return f"run {self.fixed_run_id} ({what})"


class SignatureStats(BaseModel):
    """A signature as the store knows it: how often, since when, where, and what fixed it."""

    model_config = ConfigDict(frozen=True)

    signature: str
    pattern: str
    count: int = Field(description="Failed attempts with it.")
    runs: int = Field(description="Runs with at least one.")
    first_seen: datetime
    last_seen: datetime
    guides: list[str] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list, description="guide/step, sorted.")
    example: str = ""
    fixes: list[FailureFix] = Field(default_factory=list, description="Newest first.")

    def describe(self, *, now_run: str | None = None) -> str:
        """"seen N times since DATE; last fixed by ...", for a failure of run `now_run`."""
        parts = [f"seen {self.count} time{'s' if self.count != 1 else ''} since "
                 f"{self.first_seen.strftime('%Y-%m-%d')}"] if self.count else []
        fixes = [f for f in self.fixes if f.fixed_run_id != now_run]
        if fixes:
            parts.append(f"last fixed by {fixes[0].describe()}")
        return "; ".join(parts) or "not seen in other runs"


class CauseEvidence(BaseModel):
    model_config = ConfigDict(frozen=True)

    step_id: str | None = None
    line: int | None = None
    message: str


class RunCause(BaseModel):
    """The root-cause class of a run that ended failed, inconclusive or escalate, with the
    steps and messages that show it."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    guide: str
    cause: CauseClass
    summary: str
    evidence: list[CauseEvidence] = Field(default_factory=list)
    at: datetime


class RunNotes(NamedTuple):
    """What `Store.notes_after` found on one run."""

    last_seq: int  # the run's last event, of any type (0: none yet)
    notes: list[EventRecord]  # its events of the type asked, after the seq given, oldest first


class NextClaim(NamedTuple):
    """A step that a commit starts, claimed in the same transaction for the commit's writer,
    which then runs it itself (a worker's continuation) instead of publishing it: the claim on
    (step, attempt) for `owner` with a lease, and the attempt's first start marker
    (`step#run1`) for `marker_owner`, as a worker's own claim and start count would be."""

    step_id: str
    attempt: int
    owner: str
    lease_s: float
    marker_owner: str


class ArtifactRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    step_id: str
    attempt: int
    name: str
    size: int
    sha256: str


@runtime_checkable
class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    # plans, by content hash
    async def save_plan(self, plan: Plan) -> str: ...

    async def load_plan(self, plan_hash: str) -> Plan: ...

    # runs
    async def create_run(self, record: RunRecord) -> None: ...

    async def get_run(self, run_id: str) -> RunRecord: ...

    async def list_runs(self, *, limit: int = 50) -> list[RunRecord]: ...

    async def stopped_runs(self, *, since: datetime, limit: int = 100) -> list[RunRecord]:
        """Runs that stopped (ended, or `interrupted` for a person's word) and were last
        updated at or after `since`, oldest update first, but child runs (their caller tells
        for them): what a notifier tells, whoever drove the run."""
        ...

    async def child_runs(self, run_id: str) -> list[RunRecord]:
        """The runs the run's call steps started (`parent_run_id`), oldest first; [] if none."""
        ...

    async def commit(
        self,
        run_id: str,
        *,
        expected_version: int,
        state: dict[str, Any] | None,
        status: RunStatus,
        outcome: str | None = None,
        reason: str | None = None,
        events: list[tuple[str, str | None, int | None, dict[str, Any]]] = (),  # type: ignore[assignment]
        memory: list[MemoryEntry] = (),  # type: ignore[assignment]
    ) -> int:
        """Compare-and-set; returns the run's new version. `state=None` keeps the snapshot."""
        ...

    async def set_options(self, run_id: str, options: RunOptions) -> None:
        """Replace the run's options (a resume saves the operator's policy now with them)."""
        ...

    async def events(self, run_id: str, *, after: int = 0) -> list[EventRecord]: ...

    async def add_note(self, run_id: str, type: str, data: dict[str, Any]) -> int:
        """Append an event that is not a step of the run (a repeat of its alert, say) to its
        events, from any process, without changing its version: whoever drives the run
        commits on as if nothing happened (notes carry no scheduler `event`, so replaying
        them changes no state). Returns its seq; RunNotFound for an unknown run."""
        ...

    async def notes_after(self, type: str, after: Mapping[str, int]) -> dict[str, RunNotes]:
        """Many runs' events of one `type` in one query (a watcher of the runs a process
        drives, however many, asks once per look): for each run of `after` (run id -> seq),
        its events of `type` with a seq above the one given, oldest first, and the seq of its
        last event of any type (where to look from next time, so that the next look reads
        only what was written since). Runs in the order of `after`; a run the store does not
        hold is left out. An empty `after` is {} (no query)."""
        ...

    async def memory(self, run_id: str) -> list[MemoryEntry]: ...

    async def step_durations(self, plan_id: str, *, before: datetime | None = None,
                             runs: int = 200) -> dict[str, list[float]]:
        """Each step's work times (`duration_s` of its `step_succeeded` events, every
        attempt; dry-run stand-ins left out) in the latest `runs` runs of the guide `plan_id`
        that are over (not `running`) and, with `before`, were created before it: the
        step's history (`engine.stragglers`). {} when there is none."""
        ...

    # exactly-once claims
    async def claim_step(self, run_id: str, step_id: str, attempt: int, owner: str, *,
                         lease_s: float | None = None) -> bool: ...

    # concurrency slots shared by every process that uses the store
    async def take_slot(self, key: str, *, limit: int, holder: str, ttl_s: float) -> bool:
        """Hold one of the `limit` slots of `key` for `holder` for `ttl_s` seconds: True when
        held (a holder that already holds one renews it), False when all are held by others
        and live. A lapsed slot is free: a holder that died gives its slot back by itself."""
        ...

    async def release_slot(self, key: str, *, holder: str) -> None:
        """Give back what `holder` holds of `key` (nothing if it holds none)."""
        ...

    # one driver per run
    async def take_lease(self, run_id: str, *, holder: str, host: str, pid: int, ttl_s: float,
                         replacing: str | None = None) -> Lease: ...

    async def lease(self, run_id: str) -> tuple[Lease, bool] | None:
        """The run's driver lease and whether it is live (its holder renews it); None when
        no process holds one (the run ended, or never started driving)."""
        ...

    async def renew_lease(self, run_id: str, *, holder: str, ttl_s: float) -> bool:
        """Extend the lease by `ttl_s` from now; False if `holder` no longer holds it."""
        ...

    async def release_lease(self, run_id: str, *, holder: str) -> None: ...

    # alerts (`mendflow serve`)
    async def claim_alert_group(self, group_key: str, *, run_id: str, guide: str) -> str:
        """The run that holds the alert group: `run_id` if this call claimed it (no run of
        the group is live: running, interrupted, or claimed in the last minute and not yet
        created), else the live run that holds it. One claim wins among any number of
        concurrent callers, in any number of processes."""
        ...

    async def alert_group_run(self, group_key: str) -> str | None:
        """The run that last claimed the alert group (live or not, written or not yet);
        None if none ever did. Claims nothing (a `resolved` notification reads it)."""
        ...

    async def release_alert_group(self, group_key: str, *, run_id: str) -> None:
        """Give up a claim that started no run (its guide had no free slot): the group's next
        notification may claim it at once. Nothing if `run_id` does not hold it."""
        ...

    async def record_alert(self, record: AlertRecord) -> None: ...

    async def claim_notice(self, run_id: str, key: str) -> bool:
        """Record that the notification `key` of the run (`question:STEP:ASKED_AT`,
        `run_ended`) is being sent: True for the one call, of any process, that records it
        first; False for every other (it was, or is being, sent elsewhere)."""
        ...

    async def alerts(self, *, limit: int = 100,
                     disposition: str | None = None) -> list[AlertRecord]:
        """Newest first."""
        ...

    # questions for people (`RunOptions.ask_people`)
    async def ask_question(self, run_id: str, step_id: str, *, kind: QuestionKind,
                           text: str) -> Question:
        """Put the question (once: asking again returns it as it stands, answered or not)."""
        ...

    async def answer_question(self, run_id: str, step_id: str, *, yes: bool, by: str,
                              source: str) -> Question | None:
        """Answer a pending question; None when there is none (never asked, or answered
        already: the first answer stands)."""
        ...

    async def questions(self, *, run_id: str | None = None,
                        pending: bool = True) -> list[Question]: ...

    # LLM accounting
    async def add_llm_usage(self, run_id: str, usage: LlmUsage) -> None:
        """Add `usage` to what the run spent on (purpose, model); RunNotFound for an unknown
        run. An unknown cost on either side makes the sum unknown."""
        ...

    async def llm_usage(self, run_id: str) -> list[LlmUsage]:
        """What the run spent on LLMs, by purpose then model; [] if nothing."""
        ...

    # what runs teach (`engine.learn`): failure signatures, their fixes, root causes
    async def record_lessons(self, run_id: str, *, failures: Sequence[FailureRecord],
                             fixes: Sequence[FailureFix], cause: RunCause | None) -> None:
        """Keep what an ended run teaches, in one transaction: its failed attempts (replacing
        what was kept for the run before: recording again is harmless), the fixes it made
        (a fix already kept for a failure stays: the first fix stands) and its cause
        (replaced; None removes it)."""
        ...

    async def unfixed_failures(self, guide: str, step_ids: Sequence[str], *,
                               before: datetime, limit: int = 1000) -> list[FailureRecord]:
        """Failed attempts of `guide`'s steps `step_ids` at or before `before` that no fix
        names yet, oldest first."""
        ...

    async def run_failures(self, run_id: str) -> list[FailureRecord]:
        """The failed attempts kept for the run, by step then attempt."""
        ...

    async def signatures(self, *, guide: str | None = None,
                         signatures: Sequence[str] | None = None,
                         limit: int = 100) -> list[SignatureStats]:
        """Signatures, most recently seen first: of `guide` (its id or path) only, or only
        those named; each with its latest fixes (of that guide's failures, when named)."""
        ...

    async def run_causes(self, *, run_ids: Sequence[str] | None = None,
                         guide: str | None = None, cause: str | None = None,
                         limit: int = 1000) -> list[RunCause]:
        """Runs' root causes, newest first, filtered by run, guide (its id) and class."""
        ...

    # artifacts
    async def put_artifact(self, run_id: str, step_id: str, attempt: int, name: str,
                           data: bytes) -> ArtifactRef: ...

    async def get_artifact(self, ref: ArtifactRef) -> bytes: ...


class Report(NamedTuple):
    """A finished step's report, parked until the run's applier applies it."""

    step_id: str
    attempt: int
    type: str  # the event's type, as its event row will have it
    data: dict[str, Any]  # the event row's data: {"event": ..., "summary": ..., ...}
    memory: list[MemoryEntry]


class Committed(NamedTuple):
    """What `SharedStore.commit_or_park` did: the new version (None: the report was parked);
    which of the steps it was asked to claim were claimed, and which had their first start
    counted (one claimed but not counted is counted by its claimant with `claim_step`)."""

    version: int | None
    claimed: frozenset[str]
    counted: frozenset[str]


class StepStart(NamedTuple):
    """What `SharedStore.begin_step` read and decided, in one statement."""

    record: RunRecord
    events: list[EventRecord]  # after record.state_seq: replay them on the snapshot
    memory: list[MemoryEntry]  # every entry, when the claim was won; else []
    claimed: bool
    starts: int | None  # executions of this attempt counted so far, this one included;
    # None when it could not be counted in the same statement (the caller counts it)

@runtime_checkable
class SharedStore(Store, Protocol):
    """What a store shared by many workers offers distributed execution beyond `Store`
    (`engine.runtime.distributed`): a step's claim, start count and reads in one statement,
    a commit that parks a report it lost the race with (and claims the steps it starts), a
    run's applier taking the parked reports under its lock, a commit under the run's row lock,
    and the runs no one committed to lately. Both stores offer it (PostgreSQL with row and
    advisory locks, SQLite under its one write lock), and both pass its contract tests
    (`tests/engine/store/contract.py`)."""

    async def begin_step(self, run_id: str, step_id: str, attempt: int, owner: str, *,
                         lease_s: float | None, marker_owner: str,
                         max_starts: int) -> StepStart: ...

    async def commit_or_park(self, run_id: str, *, expected_version: int,
                             claim: Sequence[NextClaim] = (), **commit: Any) -> Committed: ...

    async def commit_locked(
        self, run_id: str,
        decide: Callable[[RunRecord, list[EventRecord]], Mapping[str, Any] | None],
    ) -> int | None: ...

    async def apply_reports(
        self, run_id: str,
        decide: Callable[[RunRecord, list[EventRecord], list[Report]],
                         Mapping[str, Any] | None],
    ) -> tuple[bool, int | None]: ...

    async def has_reports(self, run_id: str) -> bool: ...

    async def stalled_runs(self, *, idle_s: float, limit: int = 100) -> list[RunRecord]: ...
