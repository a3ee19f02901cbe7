"""Security, data, release and plant guides in styles the earlier sweeps did not try: a SOC
playbook for a compromised credential, an Airflow/dbt/Kafka Connect pipeline runbook, a
Terraform state lock, a telecom Method of Procedure, a CNC cell's HMI-only guide, a guide
whose every step is a `<details>` fold, a Hebrew runbook, a Slurm guide with `$` prompts, a
payments on-call page with a severity matrix and a comms template, a mobile release rollback
and a reStructuredText-ish Windows guide with `PS>` prompts (tests/fixtures/styles28 holds the
guides tried). Each test is one rule a guide author would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import Plan, Step, StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    case_side,
    compile_text,
    gated,
    guards_of,
    outcomes_after,
    reachable,
    running,
    runs,
)

STYLES28 = Path(__file__).resolve().parents[2] / "fixtures" / "styles28"


def test_each_styles28_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES28, at_least=11)


def _persons_steps(plan: Plan) -> list[Step]:
    return [s for s in plan.steps if s.kind == StepKind.MANUAL]


def _decides(plan: Plan) -> list[Step]:
    return [s for s in plan.steps if s.kind == StepKind.DECIDE]


# -- steps folded in <details> --------------------------------------------------------------------

def test_a_jump_to_step_n_lands_on_the_fold_whose_summary_is_numbered_n():
    # every step a `<details><summary><b>3. Defragment</b></summary>` fold: "go to step 3"
    # failed to compile ("this list has 0 steps")
    for summary in ("<b>3. Defragment</b>", "Step 3 — Defragment", "3) Defragment"):
        plan = compile_text(
            "# Redis\n\n<details>\n<summary><b>1. Check memory</b></summary>\n\n"
            "```bash\nredis-cli -h cache INFO memory\n```\n\n"
            "If the fragmentation ratio is above 1.5, go to step 3.\n\n</details>\n\n"
            "<details>\n<summary>2. Find big keys</summary>\n\n```bash\nuptime\n```\n\n"
            "</details>\n\n"
            f"<details>\n<summary>{summary}</summary>\n\n"
            "```bash\nredis-cli -h cache CONFIG SET activedefrag yes\n```\n\n</details>\n")
        defrag = running(plan, "activedefrag")
        taken = case_side(plan, "If the fragmentation ratio")
        assert taken == f"approve-{defrag.id}", summary
        assert running(plan, "uptime").id not in reachable(plan, taken), summary


# -- redis-cli's own modes ------------------------------------------------------------------------

def test_redis_cli_with_a_mode_flag_is_a_command_not_a_console():
    # "2. Find big keys" `redis-cli -h cache-prod --bigkeys`: read as a redis console opened
    # for the lines after it, a person's step with nothing typed into it
    for mode in ("--bigkeys", "--memkeys", "--scan --pattern 'session:*'"):
        plan = compile_text(f"## Check\n\n```bash\nredis-cli -h cache-prod {mode}\n```\n")
        step = running(plan, "redis-cli", mode.split()[0])
        assert not gated(plan, step.id) and not _persons_steps(plan), mode
    # (redis-cli with its connection flags alone still opens the console its lines go to)
    plan = compile_text("## Check\n\n```\n$ redis-cli -h cache-prod\n> INFO memory\n```\n")
    assert not any("--bigkeys" in str(s.params) for s in plan.steps)
    assert any("INFO" in " ".join(" ".join(a) for a in s.params.get("pipeline", []))
               for s in runs(plan))


# -- a data pipeline's tools ----------------------------------------------------------------------

def test_a_data_pipelines_tools_in_a_plain_block_are_commands_and_airflow_listings_read():
    # "### Step 1 — find the failed task" over ``` `airflow tasks states-for-dag-run ...`:
    # dropped as sample output, so the run never looked for the failed task
    plan = compile_text(
        "### Step 1 — find the failed task\n\n```\nairflow tasks states-for-dag-run "
        "orders_daily scheduled__2026-12-04T02:00:00+00:00\n```\n\n"
        "### Step 2 — rerun the tests\n\n```\ndbt test --select orders_daily\n```\n\n"
        "### Step 3 — clear\n\n```\nairflow tasks clear orders_daily -t dbt_test --yes\n```\n")
    assert not gated(plan, running(plan, "airflow", "states-for-dag-run").id)
    assert gated(plan, running(plan, "dbt", "--select").id)  # (it may store failures)
    assert gated(plan, running(plan, "airflow", "clear").id)
    for code in ("airflow dags list-runs -d orders_daily", "airflow tasks state d t 2026-12-04",
                 "airflow dags list-import-errors"):
        plan = compile_text(f"## Check\n\n```\n{code}\n```\n")
        assert not gated(plan, running(plan, *code.split()[:3]).id), code
    for code in ("airflow dags trigger orders_daily", "airflow tasks run d t 2026-12-04",
                 "airflow connections list"):  # (connections print their secrets)
        plan = compile_text(f"## Fix\n\n```\n{code}\n```\n")
        assert gated(plan, running(plan, *code.split()[:3]).id), code


# -- an audit trail's search ----------------------------------------------------------------------

def test_searching_an_audit_trail_or_a_log_group_is_a_read():
    # "1. Triage" `aws cloudtrail lookup-events --lookup-attributes ...`: what a stolen key did
    # waited for an approval, as if the search changed something
    for code in ("aws cloudtrail lookup-events --lookup-attributes "
                 "AttributeKey=AccessKeyId,AttributeValue=AKIAEXAMPLE --max-results 50",
                 "aws logs filter-log-events --log-group-name /app/api --filter-pattern ERROR",
                 "aws iam get-access-key-last-used --access-key-id AKIAEXAMPLE"):
        plan = compile_text(f"## Triage\n\n```bash\n{code}\n```\n")
        assert not gated(plan, running(plan, *code.split()[:3]).id), code
    # (deactivating the key is a change)
    plan = compile_text("## Contain\n\n```bash\naws iam update-access-key --access-key-id "
                        "AKIAEXAMPLE --status Inactive\n```\n")
    assert gated(plan, running(plan, "update-access-key").id)


# -- a right-to-left runbook ----------------------------------------------------------------------

def test_a_hebrew_runbooks_cases_steps_and_endings_are_read():
    # "אם השירות לא רץ, הפעילו אותו מחדש:" (if the service is not running, restart it): the
    # restart ran whatever the service's state, "עברו לשלב 3" (go to step 3) went nowhere, and
    # "אם התשובה 200, הבעיה נפתרה. אחרת, הסלימו ..." (resolved / otherwise escalate) was context
    plan = compile_text(
        "# ‏שגיאות 502\n\n## שלב 1: בדיקה\n\n```bash\nsystemctl status nginx --no-pager\n```\n\n"
        "אם השירות לא רץ, הפעילו אותו מחדש:\n\n```bash\nsudo systemctl restart nginx\n```\n\n"
        "## שלב 2: לוג\n\n```bash\nsudo tail -n 200 /var/log/nginx/error.log\n```\n\n"
        "אם מופיע `Connection refused`, עברו לשלב 3.\n\n"
        "## שלב 3: השרת האחורי\n\n```bash\ncurl -s http://127.0.0.1:8080/healthz\n```\n\n"
        "אם התשובה 200, הבעיה נפתרה.\nאחרת, הסלימו לצוות ה-Backend.\n")
    restart = running(plan, "restart")
    assert guards_of(plan, restart.id) == ["אם השירות לא רץ"]
    assert case_side(plan, "אם מופיע") == running(plan, "curl").id
    (answer,) = [s for s in _decides(plan) if s.title.startswith("אם התשובה")]
    sides = {e.condition.text: e.target for e in plan.edges
             if e.source == answer.id and e.condition is not None}
    assert outcomes_after(plan, sides["אם התשובה 200"]) == {"resolved"}
    assert outcomes_after(plan, sides["אחרת"]) == {"escalate"}
    assert "escalate" in outcomes_after(plan, running(plan, "curl").id)
    assert not _persons_steps(plan)


def test_an_arabic_runbooks_case_and_escalation_are_read():
    # "إذا كانت الخدمة متوقفة، أعد تشغيلها:" (if the service is stopped, restart it), "وإلا،
    # صعّد إلى فريق الدعم." (otherwise, escalate to the support team)
    plan = compile_text(
        "## الخطوة 1\n\n```bash\nsystemctl status nginx --no-pager\n```\n\n"
        "إذا كانت الخدمة متوقفة، أعد تشغيلها:\n\n```bash\nsudo systemctl restart nginx\n```\n\n"
        "## الخطوة 2\n\n```bash\ncurl -s http://127.0.0.1:8080/healthz\n```\n\n"
        "إذا كانت الإجابة 200، تم حل المشكلة. وإلا، صعّد إلى فريق الدعم.\n")
    assert guards_of(plan, running(plan, "restart").id) == ["إذا كانت الخدمة متوقفة"]
    assert outcomes_after(plan, running(plan, "curl").id) == {"resolved", "escalate"}


# -- a change's Method of Procedure ---------------------------------------------------------------

def test_closing_the_change_as_successful_ends_the_run_resolved():
    # a MOP's "If the post-checks pass, close the change as successful.": a person's step, and
    # the run went on into the back-out
    plan = compile_text("## Post-checks\n\n```bash\ndf -h /var\n```\n\n"
                        "If the post-checks pass, close the change as successful.\n\n"
                        "If any post-check fails, escalate to the transport team.\n")
    assert not _persons_steps(plan)
    assert outcomes_after(plan, case_side(plan, "If the post-checks pass")) == {"resolved"}
    # (closing it as failed is no resolution)
    plan = compile_text("## Post-checks\n\n```bash\ndf -h /var\n```\n\n"
                        "If the post-checks fail, close the change as failed.\n")
    assert "resolved" not in outcomes_after(plan, case_side(plan, "If the post-checks fail"))


# -- a step marked optional -----------------------------------------------------------------------

def test_a_step_marked_optional_is_a_choice_skipped_when_not_taken():
    # "2. (optional) Dry-run the rotation:": its gate was the only way past it, so declining
    # the optional dry-run escalated the run instead of going on to the rotation
    for mark in ("(optional)", "Optional:", "**(Optional)**", "[Optional]"):
        plan = compile_text(f"## Fix\n\n1. Check: `ls /srv`\n2. {mark} Dry-run it:\n\n"
                            "   ```bash\n   sudo app-rotate --dry-run\n   ```\n\n"
                            "3. Rotate: `sudo app-rotate`\n")
        dry = running(plan, "--dry-run")
        (decide,) = _decides(plan)
        rotate = [s for s in runs(plan) if s.params["pipeline"] == [["sudo", "app-rotate"]]][0]
        assert guards_of(plan, dry.id), mark
        assert f"approve-{rotate.id}" in [e.target for e in plan.edges
                                          if e.source == decide.id], mark
    # (an optional step that says when keeps its own condition)
    plan = compile_text("## Fix\n\n1. Check: `ls /srv`\n2. Optional: If the cache is stale, "
                        "clear it: `sudo app-clear`\n3. Rotate: `sudo app-rotate`\n")
    assert guards_of(plan, running(plan, "app-clear").id) == ["If the cache is stale"]
    # (a step that only mentions the word is no choice)
    plan = compile_text("## Fix\n\n1. Rotate the optional certs: `sudo app-rotate`\n")
    assert not _decides(plan)


def test_stop_and_do_not_start_the_change_ends_the_run_there():
    # a MOP's pre-check "If any neighbor is not Established, stop and do not start the
    # change.": a person's step, and the run went on into the change's execution
    for said in ("stop and do not start the change.", "stop here and do not proceed.",
                 "stop, and don't continue with the upgrade."):
        plan = compile_text("## Pre-checks\n\n```bash\ndf -h /var\n```\n\n"
                            f"If any neighbor is not Established, {said}\n\n"
                            "## Execution\n\n```bash\nsudo systemctl restart app\n```\n")
        taken = case_side(plan, "If any neighbor")
        assert outcomes_after(plan, taken) == {"no_action"}, said
        assert running(plan, "restart").id not in reachable(plan, taken), said
    # (stopping a thing is no stop of the run)
    plan = compile_text("## Fix\n\n```bash\ndf -h /var\n```\n\n"
                        "If the pump is running, stop it and do not restart it.\n")
    assert [s.title for s in _persons_steps(plan)] == ["stop it and do not restart it"]


# -- a plant's ending, after what to do -----------------------------------------------------------

def test_a_thing_said_to_be_back_in_production_ends_the_run_resolved():
    # CNC "5. If the part finishes cleanly, ... The cell is back in production.": a person's
    # step, and the run went on to the guide's other cases
    for said in ("the cell is back in production.", "the robot is now back in service."):
        plan = compile_text(f"## Fix\n\n```bash\ndf -h /var\n```\n\nIf the part finishes "
                            f"cleanly, {said}\n")
        assert not _persons_steps(plan), said
        assert outcomes_after(plan, case_side(plan, "If the part finishes")) == {"resolved"}
    # (a condition that it is back is no ending)
    plan = compile_text("## Fix\n\n```bash\ndf -h /var\n```\n\nWhen the node is back in "
                        "service, run the smoke test.\n")
    assert [s.title for s in _persons_steps(plan)] == ["run the smoke test"]


def test_a_case_that_says_what_to_do_then_that_the_run_is_over_does_it_then_ends():
    # "If the part finishes cleanly, switch Single Block off. The incident is resolved.": the
    # end kept only its last sentence, the switch lost
    for ending, outcome in (("The incident is resolved.", "resolved"),
                            ("No further action is needed.", "no_action")):
        for form in ("item", "paragraph"):
            said = f"If the part finishes cleanly, switch Single Block off. {ending}"
            plan = compile_text("## Fix\n\n1. Press Reset on the HMI.\n2. " + said + "\n"
                                if form == "item" else
                                f"## Fix\n\n```bash\ndf -h /var\n```\n\n{said}\n")
            taken = case_side(plan, "If the part finishes cleanly")
            switch = [s for s in _persons_steps(plan) if "Single Block off" in s.title]
            assert len(switch) == 1 and switch[0].id in reachable(plan, taken), (form, ending)
            assert outcomes_after(plan, switch[0].id) == {outcome}, (form, ending)
    # (a finding before the ending is no step)
    plan = compile_text("## Check\n\n```bash\ndf -h /var\n```\n\n"
                        "If the lag is below 10 s, this is expected. No action needed.\n")
    assert not _persons_steps(plan)
    assert outcomes_after(plan, case_side(plan, "If the lag")) == {"no_action"}


# -- a command's exit codes, each a case ----------------------------------------------------------

def test_exit_code_n_means_x_then_what_to_do_is_a_case_of_its_own():
    # Terraform "Exit code 0 means no drift — you are done. Exit code 2 means drift: post the
    # plan in #infra-changes and get a second reviewer before any `terraform apply`.": context,
    # and the run went on to apply whatever the plan said
    plan = compile_text("## Steps\n\n1. Check:\n\n   ```sh\n   terraform plan -detailed-exitcode"
                        "\n   ```\n\n   Exit code 0 means no drift — you are done. Exit code 2 "
                        "means drift: post the plan in #infra-changes and get a second "
                        "reviewer.\n\n2. Apply: `terraform apply`\n")
    assert outcomes_after(plan, case_side(plan, "Exit code 0 means no drift")) == {"resolved"}
    (post,) = _persons_steps(plan)
    assert guards_of(plan, post.id) == ["Exit code 2 means drift"]
    # (a meaning with nothing to do after it stays a reader's note)
    plan = compile_text("## Steps\n\n1. Check: `terraform plan -detailed-exitcode`\n\n"
                        "   Exit code 0 means no drift.\n")
    assert not _decides(plan)


# -- where a condition's check ran ----------------------------------------------------------------

def test_a_place_after_the_command_a_condition_names_is_that_commands_not_the_blocks():
    # Slurm "If `nvidia-smi` on the node is clean (...), resume it:" over `sudo scontrol update
    # NodeName=gpu-017 State=RESUME`: the resume, typed on the login node, became a person's
    # step on the GPU node (where nvidia-smi ran)
    plan = compile_text("## Fix\n\nIf `nvidia-smi` on the node is clean, resume it:\n\n"
                        "```\nsudo scontrol update NodeName=gpu-017 State=RESUME\n```\n")
    assert gated(plan, running(plan, "scontrol", "update").id) and not _persons_steps(plan)
    # (a place that closes the instruction is still the block's)
    plan = compile_text("## Fix\n\nIf `df` on the replica shows a full disk, clean it on the "
                        "replica:\n\n```\nsudo rm -rf /var/cache/app\n```\n")
    assert not runs(plan) and len(_persons_steps(plan)) == 1


# -- the guides as written ------------------------------------------------------------------------

def _guide(name: str) -> Plan:
    return compile_text((STYLES28 / name).read_text())


def test_the_soc_playbook_reads_first_and_gates_every_containment():
    plan = _guide("soc-compromised-credential.md")
    for words in (("list-access-keys",), ("lookup-events",), ("list-users",),
                  ("list-attached-user-policies",)):
        assert not gated(plan, running(plan, *words).id), words
    for words in (("update-access-key", "Inactive"), ("az", "ad", "user", "update"),
                  ("az", "rest", "POST")):
        assert gated(plan, running(plan, *words).id), words
    assert outcomes_after(plan, case_side(plan, "If the events come only")) == {"no_action"}
    assert outcomes_after(plan, case_side(plan, "If you find a user")) == {"escalate"}
    (edr,) = [s for s in _persons_steps(plan) if "EDR" in s.title or "EDR" in s.text]
    assert guards_of(plan, edr.id) == ["If the user's laptop shows the same indicators"]


def test_the_pipeline_runbook_reads_the_dag_and_gates_the_restart_and_clear():
    plan = _guide("airflow-dbt-kafka-connect.md")
    assert not gated(plan, running(plan, "airflow", "states-for-dag-run").id)
    assert not gated(plan, running(plan, "curl", "/status").id)
    assert gated(plan, running(plan, "curl", "restart").id)
    assert gated(plan, running(plan, "airflow", "tasks", "clear").id)
    assert [i.reason for i in plan.ignored] == ["sample output"]
    assert outcomes_after(plan, case_side(plan, "If the failure is `unique")) == {"escalate"}


def test_the_folded_guide_the_hebrew_one_and_the_cnc_one_end_as_their_authors_said():
    plan = _guide("details-folds-redis-oom.md")
    assert not gated(plan, running(plan, "--bigkeys").id)
    assert case_side(plan, "If `mem_fragmentation_ratio`") == \
        f"approve-{running(plan, 'activedefrag').id}"
    plan = _guide("hebrew-nginx-502.md")
    assert guards_of(plan, running(plan, "restart").id) == ["אם השירות לא רץ"]
    plan = _guide("cnc-hmi-spindle-alarm.md")
    assert not runs(plan)
    (switch,) = [s for s in _persons_steps(plan) if "switch Single Block off" in s.text]
    assert outcomes_after(plan, switch.id) == {"resolved"}
    assert outcomes_after(plan, case_side(plan, "If the alarm comes back")) == {"escalate"}


def test_the_mop_stops_before_the_change_and_closes_it_resolved():
    plan = _guide("telecom-mop-bgp-change.md")
    assert outcomes_after(plan, case_side(plan, "If any neighbor")) == {"no_action"}
    assert outcomes_after(plan, case_side(plan, "If the post-checks pass")) == {"resolved"}
    assert not [s for s in runs(plan) if s.params["pipeline"][0][0] in ("show", "configure",
                                                                         "commit")]
