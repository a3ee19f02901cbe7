"""Guide prose and structure the earlier style passes had no test for: the other case opened
inside the guarded sentence ("If X, do A; otherwise close the incident"), "Provided that" /
"As long as" / "In the event of" guards, steps numbered in the paragraph (2.1, iv., "Step 1:"),
an FAQ's "What if ...?", endings ("open a P1", "mark it resolved", "hand over to"), an item's
later fallback sentence and "Otherwise, go to step N", a jump back (a loop), "Scenario A:" /
"Case 2 -" sections, an operator's confirmation, and a lone content tab."""

from __future__ import annotations

from engine.compile.lint import lint_guide
from engine.guide import parse_guide
from engine.plan import Plan, StepKind
from tests.support.compiling import compile_text, gated, guards_of, step_running


def _after(plan: Plan, sid: str) -> list[tuple[str, str | None]]:
    """Where the run goes after a step: (target, condition's words) of each success edge."""
    return [(e.target, e.condition.text if e.condition else None)
            for e in plan.edges if e.source == sid and e.on == "success"]


def _outcome(plan: Plan, sid: str) -> str | None:
    step = plan.step(sid)
    return str(step.outcome) if step.kind == StepKind.END else None


# -- the other case inside the guarded sentence ------------------------------------------------

PRUNE = ("# Build agent disk\n\n## Mitigation\n\nCheck disk usage: `df -h /var/lib/docker`\n\n"
         "If usage is above 90%, prune images with `docker image prune -af`{sep} {other}.\n\n"
         "Restart the agent: `sudo systemctl restart buildkite-agent`\n")


def test_an_otherwise_after_a_comma_or_semicolon_is_the_other_case():
    # "If X, prune; otherwise close the incident": the other case went on to the restart (a
    # change the guide never asked for in it); with "otherwise escalate" the prune was
    # followed by the escalation and the other case restarted the agent
    for sep, other, outcome in ((";", "otherwise close the incident", "resolved"),
                                (",", "otherwise escalate to the build team", "escalate"),
                                (";", "else page the on-call", "escalate")):
        plan = compile_text(PRUNE.format(sep=sep, other=other))
        prune = step_running(plan, ["docker", "image", "prune", "-af"])
        restart = step_running(plan, ["sudo", "systemctl", "restart", "buildkite-agent"])
        assert guards_of(plan, prune) == ["If usage is above 90%"], other
        assert gated(plan, prune) and gated(plan, restart)
        (decide,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE]
        (other_case,) = [t for t, c in _after(plan, decide) if c and c.startswith(other[:5])]
        assert _outcome(plan, other_case) == outcome, other
        # after the prune the run goes on to the restart, not to the other case's ending
        assert [_outcome(plan, t) for t, _ in _after(plan, prune)] == [None]


def test_an_otherwise_inside_a_list_step_or_after_a_trailing_condition_is_the_other_case():
    plan = compile_text("## Mitigation\n\n1. Check the pod: `kubectl -n web get pod web-0`\n"
                        "2. If the pod is Pending, delete it with `kubectl -n web delete pod "
                        "web-0`; otherwise escalate to the platform team.\n"
                        "3. Restart the API: `kubectl -n web rollout restart deploy/api`\n")
    delete = step_running(plan, ["kubectl", "-n", "web", "delete", "pod", "web-0"])
    restart = step_running(plan, ["kubectl", "-n", "web", "rollout", "restart", "deploy/api"])
    (decide,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE]
    assert {_outcome(plan, t) for t, c in _after(plan, decide)} == {None, "escalate"}
    assert [_outcome(plan, t) for t, _ in _after(plan, delete)] == [None]
    assert guards_of(plan, restart) == []
    plan = compile_text("## Mitigation\n\nDelete the pod with `kubectl -n web delete pod web-0` "
                        "if it is Pending, else page the on-call.\n\n"
                        "Restart the API: `kubectl -n web rollout restart deploy/api`\n")
    delete = step_running(plan, ["kubectl", "-n", "web", "delete", "pod", "web-0"])
    assert guards_of(plan, delete) == ["if it is Pending"]


def test_an_otherwise_that_is_no_other_case_stays_in_its_sentence():
    # no guard before it: "otherwise" is the reason, not a case
    plan = compile_text("## Mitigation\n\nRestart the agent with `sudo systemctl restart "
                        "buildkite-agent`, otherwise the builds queue up.\n")
    restart = step_running(plan, ["sudo", "systemctl", "restart", "buildkite-agent"])
    assert guards_of(plan, restart) == []
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE]


# -- "Provided that", "As long as", "In the event of" ----------------------------------------


def test_provided_that_as_long_as_and_in_the_event_of_open_a_guard():
    # each ran its command whatever the condition ("Provided that ..." was context for a
    # reader, and the restart ran even when the reload had failed)
    for cond in ("Provided that the reload succeeded", "Providing the reload succeeded",
                 "As long as errors keep appearing", "So long as errors keep appearing",
                 "In the event of a failed reload", "In the event that the reload failed"):
        plan = compile_text(f"## Mitigation\n\nReload nginx: `sudo systemctl reload nginx`\n\n"
                            f"{cond}, restart it:\n\n```bash\nsudo systemctl restart nginx\n"
                            "```\n")
        restart = step_running(plan, ["sudo", "systemctl", "restart", "nginx"])
        assert guards_of(plan, restart) == [cond], cond


def test_as_long_as_a_fault_remains_its_escalation_ends_the_case():
    # "As long as the pick keeps failing, ... open a maintenance ticket" was a person's step,
    # and the run went on to re-home the robot and end `resolved`
    plan = compile_text("# Gripper fault\n\n1. Retry the pick: `cellctl gripper retry --cell p2`\n"
                        "2. As long as the pick keeps failing, keep the cell in manual mode "
                        "and open a maintenance ticket.\n"
                        "3. Re-home the robot: `cellctl robot home --cell p2`\n")
    home = step_running(plan, ["cellctl", "robot", "home", "--cell", "p2"])
    (decide,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE]
    assert plan.step(decide).title == "As long as the pick keeps failing"
    assert sorted((_outcome(plan, t) or t) for t, _ in _after(plan, decide)) == \
        sorted(["escalate", f"approve-{home}"])


def test_provided_as_a_participle_opens_no_guard():
    plan = compile_text("## Mitigation\n\nProvided by the platform team, this script restarts "
                        "the agent: `sudo systemctl restart buildkite-agent`\n")
    restart = step_running(plan, ["sudo", "systemctl", "restart", "buildkite-agent"])
    assert guards_of(plan, restart) == []


# -- steps numbered in the paragraph itself: an outline's 2.1, a roman iv., "Step 1:" -----------

OUTLINE = ("# Redis failover\n\n## 1. Diagnosis\n\n1.1 Check which node is master:\n\n"
           "```bash\nredis-cli -h sentinel -p 26379 sentinel get-master-addr-by-name cache\n"
           "```\n\n## 2. Mitigation\n\n2.1 Should the master be unreachable, force a failover:"
           "\n\n```bash\nredis-cli -h sentinel -p 26379 sentinel failover cache\n```\n\n"
           "2.2 In case of data loss, hand over to the database team.\n\n"
           "2.3 Restart the clients:\n\n```bash\nkubectl -n shop rollout restart deploy/cart\n"
           "```\n")


def test_an_outline_numbers_guard_and_ending_are_read_after_the_number():
    # "2.1 Should the master be unreachable" hid its guard behind the number: the failover
    # ran whatever the master did, and "2.2 In case of data loss, hand over ..." was context
    plan = compile_text(OUTLINE)
    failover = step_running(plan, ["redis-cli", "-h", "sentinel", "-p", "26379", "sentinel",
                                   "failover", "cache"])
    assert guards_of(plan, failover) == ["Should the master be unreachable"]
    restart = step_running(plan, ["kubectl", "-n", "shop", "rollout", "restart", "deploy/cart"])
    (loss,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE and "data loss" in s.title]
    assert sorted((_outcome(plan, t) or t) for t, _ in _after(plan, loss)) == \
        sorted(["escalate", f"approve-{restart}"])
    assert plan.step(failover).title == "2.1 Should the master be unreachable, force a failover"


ROMAN = ("# Conveyor jam\n\ni. Stop the conveyor from the HMI.\n\nii. Read the jam sensor:\n\n"
         "```bash\ncellctl sensor read --cell c4 jam\n```\n\n"
         "iii. Press the reset button on the cell door.\n\n"
         "iv. Restart the conveyor:\n\n```bash\ncellctl conveyor start --cell c4\n```\n")


def test_a_numbered_paragraph_with_no_command_is_a_persons_step_in_its_place():
    # "i. Stop the conveyor from the HMI." and "iii. Press the reset button" were context for
    # a reader: the plan read the sensor with the conveyor running and restarted it unreset
    plan = compile_text(ROMAN)
    order = [s for s in plan.steps if s.kind in (StepKind.MANUAL, StepKind.COMMAND)]
    assert [s.title for s in order] == ["i. Stop the conveyor from the HMI",
                                        "ii. Read the jam sensor",
                                        "iii. Press the reset button on the cell door",
                                        "iv. Restart the conveyor"]
    assert [s.kind for s in order] == [StepKind.MANUAL, StepKind.COMMAND, StepKind.MANUAL,
                                       StepKind.COMMAND]
    plan = compile_text("# Cell\n\n## Procedure\n\n**Step 1:** Lock out the cell.\n\n"
                        "**Step 2:** Check the pods: `kubectl -n cell get pods`\n")
    (lock,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert lock.title == "Step 1: Lock out the cell"
    assert plan.entry == lock.id


def test_a_numbered_paragraph_that_describes_or_introduces_is_no_step():
    plan = compile_text("# Licence\n\ni. Share means to provide material to the public.\n\n"
                        "ii. Check the pods:\n\n```bash\nkubectl -n cell get pods\n```\n\n"
                        "Step 3: Profit!\n")
    assert [s.kind for s in plan.steps if s.kind != StepKind.END] == [StepKind.COMMAND]


# -- an FAQ's "What if ...?" ---------------------------------------------------------------------

FAQ = ("# Kafka consumer lag\n\n**Q: What if one partition is far behind the others?**\n\n"
       "**A:** Restart the consumer that owns it:\n\n```bash\n"
       "kubectl -n billing rollout restart deployment/billing-consumer\n```\n\n"
       "**Q: What should I do when the lag keeps growing after the restart?**\n\n"
       "**A:** Page the data-platform on-call.\n\n"
       "**Q: How do I know if the consumer is connected?**\n\n"
       "**A:** List the group's members: `kafka-consumer-groups --describe --group billing "
       "--members`\n")


def test_an_faq_what_if_question_is_the_case_its_answer_is_for():
    # "What if ...?" was read as a how-to question: the restart ran in every case, and the
    # escalation was the run's last word instead of the growing lag's case
    plan = compile_text(FAQ)
    restart = step_running(plan, ["kubectl", "-n", "billing", "rollout", "restart",
                                  "deployment/billing-consumer"])
    assert guards_of(plan, restart) == ["What if one partition is far behind the others?"]
    assert plan.step(restart).title == "Restart the consumer that owns it"
    (growing,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE and
                  s.title.startswith("What should I do when")]
    assert "escalate" in [_outcome(plan, t) for t, _ in _after(plan, growing)]
    # "How do I know if ...?" asks how to tell, not what to do in a case
    members = step_running(plan, ["kafka-consumer-groups", "--describe", "--group", "billing",
                                  "--members"])
    assert not any(g.startswith("How do I") for g in guards_of(plan, members))


# -- endings: "open a P1", "mark it resolved", "hand over to" -----------------------------------


def test_declaring_an_urgent_incident_or_marking_it_resolved_ends_the_branch():
    plan = compile_text("## Mitigation\n\nReroute the shards: `curl -s -XPOST "
                        "http://es-1:9200/_cluster/reroute`\n\n"
                        "If the cluster is still red, open a P1.\n\n"
                        "Otherwise mark the alert resolved.\n")
    (decide,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE]
    ends = {c: plan.step(t) for t, c in _after(plan, decide)}
    assert ends["If the cluster is still red"].outcome == "escalate"
    assert ends["Otherwise mark the alert resolved"].outcome == "resolved"
    assert ends["Otherwise mark the alert resolved"].title == "Mark the alert resolved"
    for said in ("Raise a SEV-1.", "Declare a major incident.", "Hand over to the day shift."):
        plan = compile_text("## Mitigation\n\nRestart the API: `kubectl -n web rollout restart "
                            f"deploy/api`\n\nIf the errors continue, {said[0].lower()}"
                            f"{said[1:]}\n")
        (decide,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE]
        assert "escalate" in [_outcome(plan, t) for t, _ in _after(plan, decide)], said


def test_a_runbook_that_ends_by_closing_or_handing_over_is_not_told_it_never_ends():
    for last in ("5. Close the incident.", "5. Mark it resolved.",
                 "5. Hand over to the day shift."):
        text = ("# Elasticsearch yellow\n\n## Mitigation\n\n1. Check health: `curl -s "
                "http://es-1:9200/_cluster/health`\n2. Wait 10 minutes, then check again.\n"
                f"{last}\n")
        findings = lint_guide(parse_guide(text, path="guide.md"))
        assert "MF202" not in [f.code for f in findings], last


# -- a retry in a list step, then what to do when it still fails ---------------------------------


def test_an_items_later_sentence_that_escalates_when_the_retries_fail_decides_after_it():
    # "2. Retry step 1 up to 3 times. If it still fails after the third try, hand over to the
    # release team.": the hand-over was the person's step's words, and the run went on to
    # check the rollout and end resolved
    plan = compile_text("# Flaky deploy\n\n1. Re-run the job: `gh run rerun 12345 --failed`\n"
                        "2. Retry step 1 up to 3 times. If it still fails after the third try, "
                        "hand over to the release team.\n"
                        "3. Check the rollout: `kubectl -n web rollout status deploy/api`\n")
    status = step_running(plan, ["kubectl", "-n", "web", "rollout", "status", "deploy/api"])
    (retry,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert retry.title == "Retry step 1 up to 3 times"
    (decide,) = [t for t, _ in _after(plan, retry.id)]
    assert plan.step(decide).title == "If it still fails after the third try"
    assert sorted((_outcome(plan, t) or t) for t, _ in _after(plan, decide)) == \
        sorted(["escalate", status])


# -- an item's "Otherwise, go to step N" ----------------------------------------------------------


def test_an_items_otherwise_that_jumps_takes_its_case_there():
    # "Otherwise, go to step 4." after the item's If was dropped: that case went on to the
    # restart in step 3 (and with nothing after it, ended `resolved`)
    plan = compile_text("# Rollout\n\n1. Check the rollout: `kubectl -n web rollout status "
                        "deploy/api`\n2. If it is complete, purge the CDN: `curl -X POST "
                        "https://cdn.example.com/purge`. Otherwise, go to step 4.\n"
                        "3. Restart the edge: `kubectl -n edge rollout restart deploy/edge`\n"
                        "4. Roll back: `kubectl -n web rollout undo deploy/api`\n")
    restart = step_running(plan, ["kubectl", "-n", "edge", "rollout", "restart", "deploy/edge"])
    undo = step_running(plan, ["kubectl", "-n", "web", "rollout", "undo", "deploy/api"])
    (decide,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE]
    assert (f"approve-{undo}", "Otherwise, go to step 4.") in _after(plan, decide)
    assert f"approve-{restart}" not in [t for t, _ in _after(plan, decide)]


# -- "go back to step 3": a loop a plan cannot draw -----------------------------------------------

LOOP = ("# Rollout\n\n1. Re-run the job: `gh run rerun 12345 --failed`\n"
        "2. Wait 5 minutes, then check the rollout: `kubectl -n web rollout status deploy/api`\n"
        "3. If the rollout is not complete, go back to step 2.\n"
        "4. Purge the CDN: `curl -X POST https://cdn.example.com/purge`\n")


def test_a_jump_back_is_a_persons_repeat_then_the_loops_exit():
    # the guide did not compile ("the plan loops"): a runbook's commonest retry left no plan
    plan = compile_text(LOOP)
    status = step_running(plan, ["kubectl", "-n", "web", "rollout", "status", "deploy/api"])
    purge = step_running(plan, ["curl", "-X", "POST", "https://cdn.example.com/purge"])
    (repeat,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert repeat.title == "Repeat from 'Wait 5 minutes, then check the rollout'"
    assert repeat.text.startswith("If the rollout is not complete, go back to step 2")
    (decide,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE]
    assert {t for t, _ in _after(plan, decide)} == {repeat.id, f"approve-{purge}"}
    # once the person has repeated them, the run goes where the loop exits: the purge
    assert _after(plan, repeat.id) == [(f"approve-{purge}", None)]
    assert not any(e.target == status for e in plan.edges if e.kind == "jump")
    findings = lint_guide(parse_guide(LOOP, path="guide.md"))
    assert [f.line for f in findings if f.rule == "MF209"] == [5]


def test_an_otherwise_that_goes_back_exits_the_loop_on_the_if():
    plan = compile_text("# Rollout\n\n1. Check the rollout: `kubectl -n web rollout status "
                        "deploy/api`\n2. If it is complete, purge the CDN: `curl -X POST "
                        "https://cdn.example.com/purge`. Otherwise, go back to step 1.\n")
    purge = step_running(plan, ["curl", "-X", "POST", "https://cdn.example.com/purge"])
    (repeat,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert _after(plan, repeat.id) == [(f"approve-{purge}", None)]


# -- sections titled by the case they are for: "Scenario A: ...", "Case 2 - ..." ------------------

SCENARIOS = ("# RabbitMQ backlog\n\n## Diagnosis\n\nCheck depth: `rabbitmqctl list_queues name "
             "messages consumers`\n\n## Scenario A: no consumers attached\n\nRestart the "
             "workers:\n\n```bash\nkubectl -n orders rollout restart deploy/worker\n```\n\n"
             "## Scenario B - consumers attached but slow\n\nScale out:\n\n```bash\n"
             "kubectl -n orders scale deploy/worker --replicas=10\n```\n\n"
             "## Case 3: the disk alarm is set\n\nPage the messaging on-call; do not purge "
             "queues.\n")


def test_a_section_titled_by_its_scenario_or_case_is_for_that_case_only():
    # the restart, the scale-out and the page all ran in turn, whatever the queue showed,
    # and the page was the run's last word instead of the disk alarm's case
    plan = compile_text(SCENARIOS)
    restart = step_running(plan, ["kubectl", "-n", "orders", "rollout", "restart",
                                  "deploy/worker"])
    scale = step_running(plan, ["kubectl", "-n", "orders", "scale", "deploy/worker",
                                "--replicas=10"])
    assert guards_of(plan, restart) == ["Scenario A: no consumers attached"]
    assert guards_of(plan, scale) == ["Scenario B - consumers attached but slow"]
    (alarm,) = [s.id for s in plan.steps if s.title == "Case 3: the disk alarm is set"]
    assert "escalate" in [_outcome(plan, t) for t, _ in _after(plan, alarm)]


def test_case_words_that_title_no_case_guard_nothing():
    for title in ("Case-insensitive search", "Case study", "Use case: nightly batch"):
        plan = compile_text(f"# Search\n\n## {title}\n\nRestart it:\n\n```bash\n"
                            "sudo systemctl restart search\n```\n")
        restart = step_running(plan, ["sudo", "systemctl", "restart", "search"])
        assert guards_of(plan, restart) == [], title


# -- a robot cell's confirmation before the first step ---------------------------------------------


def test_an_operator_confirmation_or_safety_check_is_a_persons_step_in_its_place():
    # "**Operator confirmation:** the door is closed ..." was context for a reader: the plan
    # acknowledged the alarm and homed the robot without anyone confirming the door
    for label in ("Operator confirmation", "Safety check", "Precondition"):
        plan = compile_text(f"# Weld cell collision\n\n**{label}:** the cell door is closed and "
                            "the light curtain is green.\n\n1. Acknowledge the alarm: "
                            "`cellctl alarm ack --cell weld-3`\n")
        first = plan.step(plan.entry)
        assert first.kind == StepKind.MANUAL and "cell door is closed" in first.text, label
    plan = compile_text("# Weld cell\n\nConfirmation of the alarm is not needed.\n\n1. Home it: "
                        "`cellctl robot home --cell weld-3`\n")
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


def test_an_faq_heading_that_names_a_case_guards_its_section():
    # "### Q: What if certbot fails with a rate limit?" over "Hand over to the platform
    # team.": the hand-over was the run's ending whenever the issue remained, not that case's
    plan = compile_text("# Certificate\n\n## Mitigation\n\nRenew it: `sudo certbot renew`\n\n"
                        "### Q: What if certbot fails with a rate limit?\n\n"
                        "Hand over to the platform team.\n\n### Q: How do I read the log?\n\n"
                        "Run `sudo journalctl -u certbot -n 50`.\n")
    (case,) = [s.id for s in plan.steps if s.kind == StepKind.DECIDE and
               s.title == "What if certbot fails with a rate limit?"]
    assert "escalate" in [_outcome(plan, t) for t, _ in _after(plan, case)]
    log = step_running(plan, ["sudo", "journalctl", "-u", "certbot", "-n", "50"])
    assert not any(g.startswith("How do I") for g in guards_of(plan, log))


# -- a lone content tab ---------------------------------------------------------------------------


def test_a_lone_content_tab_is_a_label_not_a_choice():
    # `=== "Check lag"` alone was a decision "Check lag" whose other side skipped the check
    plan = compile_text("# Replica lag\n\n=== \"Check lag\"\n\n    ```bash\n    psql -h pg-2 -c "
                        "\"select now() - pg_last_xact_replay_timestamp();\"\n    ```\n")
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE]
    assert plan.step(plan.entry).kind == StepKind.COMMAND
