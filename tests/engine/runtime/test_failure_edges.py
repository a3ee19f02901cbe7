"""A failure edge may carry a condition ("on failure, if the error says X, ..."): when the step
fails for good, the runner decides it as it decides a success's, so the scheduler can go on.
Before, such a plan stopped with "no value for the condition" the moment its step failed."""

from __future__ import annotations

from .conftest import edge, end, plan, sh


async def test_a_conditioned_failure_edge_is_decided_on_the_error(make_executor, tmp_path):
    missing = tmp_path / "no-such-spool"
    p = plan([sh("ls", "ls", str(missing)), end("gone", "escalate"), end("other", "escalate"),
              end("ok", "no_action")],
             [edge("ls", "ok"),
              edge("ls", "gone", "'No such file' in steps.ls.error", on="failure",
                   kind="branch"),
              edge("ls", "other", "'No such file' not in steps.ls.error", on="failure",
                   kind="else")])
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md")
    assert (record.status, record.outcome) == ("succeeded", "escalate"), record.reason
    assert "'gone'" in (record.reason or "")


async def test_a_step_that_may_fail_decides_its_success_edges_on_failure(make_executor,
                                                                       tmp_path):
    # on_error: continue takes the success edges even on failure: their conditions are
    # decided over what the step left (its error)
    p = plan([sh("ls", "ls", str(tmp_path / "nope"), on_error="continue"),
              end("empty", "no_action"), end("full", "escalate")],
             [edge("ls", "empty", "steps.ls.error != ''", kind="branch"),
              edge("ls", "full", "steps.ls.error == ''", kind="else")])
    ex, _ = make_executor()
    record = await ex.start(p, guide_path="t.md")
    assert (record.status, record.outcome) == ("succeeded", "no_action"), record.reason
