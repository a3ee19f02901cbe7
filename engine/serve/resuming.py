"""`POST /api/v1/runs/ID/resume`: what may be resumed from `mendflow serve`, and by whom.

A run is resumed when it stopped without ending: `interrupted` (a step in doubt waits for a
person's word), or `running` with no live driver (the server or worker that drove it died: its
lease lapsed). One that is driven (here, or by any process whose lease is live) or that ended
is refused with the reason. A step in doubt (a gated step that was running when its driver
died) runs again, or is taken as done or failed, only as the request says (`rerun`,
`mark_done`, `mark_failed`, as `mendflow resume`'s flags); saying so about a gated step is an
approver's call, a plain resume an operator's.
"""

from __future__ import annotations

from fastapi import HTTPException
from pydantic import BaseModel, Field

from engine.errors import MendflowError
from engine.interaction import IN_DOUBT_FLAGS, addresses, parse_in_doubt
from engine.plan import Plan
from engine.scheduler import InDoubtDecision
from engine.serve.auth import Caller
from engine.store.base import RunRecord, Store


class ResumeRequest(BaseModel):
    rerun: list[str] = Field(default_factory=list, description="Steps in doubt to run again.")
    mark_done: list[str] = Field(default_factory=list,
                                 description="Steps in doubt taken as done (not run again).")
    mark_failed: list[str] = Field(default_factory=list,
                                   description="Steps in doubt taken as failed.")


class ReplayRequest(BaseModel):
    """`POST /api/v1/runs/ID/replay` (`mendflow replay`'s options)."""

    from_step: str = Field(description="The step to replay from.")
    set: list[str] = Field(default_factory=list, description="The intervention: "
                           "inputs.NAME=VALUE, or steps.STEP.output=JSON-OBJECT.")
    from_record: bool = Field(default=False, description="Read-only steps whose parameters "
                              "render unchanged are served from the record.")
    dry_run: bool = False


async def check_resumable(store: Store, record: RunRecord, plan: Plan, request: ResumeRequest,
                          *, who: Caller, executor: str,
                          driven_here: bool) -> dict[str, InDoubtDecision]:
    """The in-doubt decisions to resume the run with; HTTPException (409, 400 or 403) with
    the reason when it may not be resumed from here, so, or by this caller."""
    run_id = record.run_id
    if record.status not in ("running", "interrupted"):
        raise HTTPException(409, f"run {run_id} ended {record.status}: nothing to resume")
    if driven_here:
        raise HTTPException(409, f"run {run_id} is driven by this server")
    held = await store.lease(run_id)
    if held is not None and held[1]:
        raise HTTPException(409, f"run {run_id} is driven by {held[0].describe()}")
    if record.options.executor != executor:
        raise HTTPException(409, f"run {run_id} runs on the {record.options.executor} "
                                 f"executor; this server starts runs on {executor}")
    try:
        in_doubt = parse_in_doubt(rerun=request.rerun, done=request.mark_done,
                                  failed=request.mark_failed)
    except MendflowError as exc:
        raise HTTPException(400, exc.message) from None
    # a linked guide's by its call step (`fix/restart`), as its child run is answered
    gated = set(addresses(plan, lambda _, step: step.mutating))
    for step_id, decision in in_doubt.items():
        if step_id not in gated:
            flag = IN_DOUBT_FLAGS[decision].removeprefix("--").replace("-", "_")
            raise HTTPException(400, f"{flag} {step_id}: plan {plan.id} has no gated step "
                                     f"{step_id!r}")
    if in_doubt and not who.may("approve"):
        raise HTTPException(403, f"{who.name} ({who.role}) may not decide a gated step in "
                                 "doubt: an approver must")
    return in_doubt
