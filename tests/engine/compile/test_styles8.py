"""Guide styles the earlier style passes had no test for: commands pasted from a terminal into a
quote under "If X, renew:", "### Symptom: ..." headings over their Cause and Fix, a runbook in
Polish ("Jeśli ... / W przeciwnym razie"), numbered steps written as "Step 2)" paragraphs, and
a GitHub issue template's task list ("- [ ] If usage is above 90%, prune ...")."""

from __future__ import annotations

from engine.compile.explain import explain, unaccounted
from engine.guide import parse_guide
from engine.plan import StepKind
from tests.support.compiling import (
    assert_if_otherwise_guard_their_blocks,
    compile_text,
    ends_with,
    gated,
    guards_of,
    runs,
    step_running,
)

# -- a terminal pasted into a quote -------------------------------------------------------------


def test_a_guard_introducing_a_quoted_terminal_guards_its_commands():
    # "If `notAfter` is in the past, renew:" over "> $ sudo certbot renew ...": the renewal ran
    # whatever the date was (only its approval stood between), and "renew" was a person's step
    plan = compile_text("# Registry certificate\n\n> $ openssl x509 -noout -enddate -in /etc/ssl/"
                        "registry.pem\n> notAfter=Nov 30 12:00:00 2026 GMT\n\n"
                        "If `notAfter` is in the past, renew:\n\n"
                        "> $ sudo certbot renew --cert-name registry\n"
                        "> $ sudo systemctl reload nginx\n\n"
                        "If the date is in the future, the alert was a false positive: no action."
                        "\n")
    renew = step_running(plan, ["sudo", "certbot", "renew", "--cert-name", "registry"])
    reload_ = step_running(plan, ["sudo", "systemctl", "reload", "nginx"])
    assert guards_of(plan, renew) == ["If `notAfter` is in the past"]
    assert gated(plan, renew) and gated(plan, reload_)
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert [s.params["pipeline"] for s in plan.steps if s.kind == StepKind.COMMAND][0][0][0] == \
        "openssl"


def test_a_note_quoted_between_a_guard_and_its_block_keeps_the_guard():
    plan = compile_text("## Fix\n\nIf the pod is stuck:\n\n> Note: this happens after upgrades.\n"
                        "\n```bash\nkubectl -n web delete pod web-0\n```\n")
    delete = step_running(plan, ["kubectl", "-n", "web", "delete", "pod", "web-0"])
    assert guards_of(plan, delete) == ["If the pod is stuck"]


# -- "### Symptom: ..." headings ----------------------------------------------------------------

SYMPTOMS = ("# Memcached\n\n### Symptom: evictions climbing\n\n**Cause:** the slab is full.\n\n"
            "**Fix:**\n\n```bash\necho 'slabs automove 1' | nc -q1 memcached-1 11211\n```\n\n"
            "### Symptom: connections refused\n\n**Cause:** the connection limit.\n\n"
            "**Fix:** raise the limit and restart.\n\n```bash\nsudo systemctl restart memcached\n"
            "```\n\n### Symptom: high latency from one AZ\n\n**Cause:** cross-AZ network "
            "trouble.\n\n**Fix:** not ours. Escalate to the network team.\n")


def test_a_symptom_heading_guards_its_section_and_its_escalation_ends_that_case():
    # each section was "info" (a "Symptoms" heading describes the alert): its fixes were
    # people's steps done in turn, the escalation context for a reader, and the run ended
    # `no_action`
    plan = compile_text(SYMPTOMS)
    restart = step_running(plan, ["sudo", "systemctl", "restart", "memcached"])
    assert guards_of(plan, restart) == ["connections refused"]
    assert gated(plan, restart)
    (esc,) = [s for s in ends_with(plan, "escalate") if "network team" in (s.title or "")]
    assert guards_of(plan, esc) == [] and not ends_with(plan, "no_action")
    decides = [s.title for s in plan.steps if s.kind == StepKind.DECIDE]
    assert "high latency from one AZ" in " ".join(decides)


def test_a_symptoms_heading_alone_still_describes():
    plan = compile_text("# Alert\n\n## Symptoms\n\nThe API returns 500s.\n\n## Mitigation\n\n"
                        "```bash\nkubectl -n api rollout restart deploy/api\n```\n")
    restart = step_running(plan, ["kubectl", "-n", "api", "rollout", "restart", "deploy/api"])
    assert guards_of(plan, restart) == []


# -- Polish ------------------------------------------------------------------------------------


def test_polish_if_and_otherwise_guard_their_blocks():
    assert_if_otherwise_guard_their_blocks("Jeśli dysk jest pełny:", "W przeciwnym razie:")
    assert_if_otherwise_guard_their_blocks("Jeżeli kolejka rośnie:", "Inaczej:")


def test_a_polish_runbook_escalates_when_the_problem_remains():
    # "Jeśli problem nadal występuje, eskaluj ...": the run ended `resolved` whatever happened
    plan = compile_text("# Kolejka\n\n## Naprawa\n\nJeśli kolejka nie ma konsumentów:\n\n"
                        "```bash\nkubectl -n shop rollout restart deploy/orders-worker\n```\n\n"
                        "Jeśli problem nadal występuje, eskaluj do zespołu platformy.\n")
    restart = step_running(plan, ["kubectl", "-n", "shop", "rollout", "restart",
                                  "deploy/orders-worker"])
    assert guards_of(plan, restart) == ["Jeśli kolejka nie ma konsumentów"]
    assert ends_with(plan, "escalate")


def test_english_words_like_the_polish_ones_are_not_guards():
    plan = compile_text("## Fix\n\nGdynia is the region we fail over to.\n\n```bash\n"
                        "kubectl -n web delete pod web-0\n```\n")
    delete = step_running(plan, ["kubectl", "-n", "web", "delete", "pod", "web-0"])
    assert guards_of(plan, delete) == []


# -- "Step 2)" paragraphs ---------------------------------------------------------------------


def test_a_guarded_step_paragraph_guards_only_its_own_step():
    # "Step 2) If X, kill ...:" guarded Step 3 and "#4" too: when X did not hold, the restart
    # and the check after it were skipped
    plan = compile_text("# Postgres\n\nStep 1) Count connections:\n\n"
                        "    psql -h db1 -c 'select count(*) from pg_stat_activity'\n\n"
                        "Step 2) If `reporting` holds more than 200, kill its idle ones:\n\n"
                        "    psql -h db1 -c 'select pg_terminate_backend(42)'\n\n"
                        "Step 3) Restart pgbouncer:\n\n    sudo systemctl restart pgbouncer\n\n"
                        "#4 Check again with `psql -h db1 -c 'select 1'`.\n")
    kill = step_running(plan, ["psql", "-h", "db1", "-c", "select pg_terminate_backend(42)"])
    restart = step_running(plan, ["sudo", "systemctl", "restart", "pgbouncer"])
    again = step_running(plan, ["psql", "-h", "db1", "-c", "select 1"])
    assert guards_of(plan, kill) == ["If `reporting` holds more than 200"]
    # the restart follows both sides of the decision, and the check follows the restart
    assert guards_of(plan, restart) == ["Otherwise (not: If `reporting` holds more than 200)"]
    assert guards_of(plan, again) == []


def test_a_guard_paragraph_still_guards_the_unnumbered_paragraphs_after_it():
    plan = compile_text("## Fix\n\nFor the case that the pod is stuck:\n\nDrain its node.\n\n"
                        "```bash\nkubectl drain node-1\n```\n")
    drain = step_running(plan, ["kubectl", "drain", "node-1"])
    assert guards_of(plan, drain) == ["For the case that the pod is stuck"]


# -- task lists --------------------------------------------------------------------------------


def test_a_task_list_items_guard_guards_its_command():
    # "- [ ] If usage is above 90%, prune ...": the box hid the guard and the prune ran always
    plan = compile_text("## Checklist\n\n- [ ] Confirm the disk usage: `df -h /var/lib/docker`\n"
                        "- [ ] If usage is above 90%, prune unused images: `docker image prune "
                        "-af`\n- [ ] Restart the agent: `sudo systemctl restart buildkite-agent`"
                        "\n")
    prune = step_running(plan, ["docker", "image", "prune", "-af"])
    restart = step_running(plan, ["sudo", "systemctl", "restart", "buildkite-agent"])
    assert guards_of(plan, prune) == ["If usage is above 90%"]
    assert gated(plan, prune)
    assert guards_of(plan, restart) == ["Otherwise (not: If usage is above 90%)"]


# -- roman-numbered and parenthesised sub-steps ------------------------------------------------


def test_roman_numbered_lines_under_an_item_are_its_sub_steps_with_their_commands():
    # "i) If ..., raise the watermark:" over its command, "ii) If ..., restart it: `x`": one
    # sentence of item 2, both commands in a person's step, never run or guarded
    plan = compile_text("# ES red\n\n1. Find the red indices.\n"
                        "   (a) `curl -s es:9200/_cat/indices`\n"
                        "   (b) `curl -s es:9200/_cluster/allocation/explain`\n"
                        "2. Decide what to do:\n"
                        "   i) If the disk watermark was exceeded, raise it:\n"
                        "      `curl -XPUT es:9200/_cluster/settings -d @watermark.json`\n"
                        "   ii) If a node left the cluster, restart it: "
                        "`sudo systemctl restart elasticsearch`\n"
                        "   iii) Otherwise escalate to the search team.\n")
    raise_ = step_running(plan, ["curl", "-XPUT", "es:9200/_cluster/settings", "-d",
                                 "@watermark.json"])
    restart = step_running(plan, ["sudo", "systemctl", "restart", "elasticsearch"])
    assert guards_of(plan, raise_) == ["If the disk watermark was exceeded"]
    assert guards_of(plan, restart) == ["If a node left the cluster"]
    assert gated(plan, raise_) and gated(plan, restart)
    step_running(plan, ["curl", "-s", "es:9200/_cat/indices"])
    assert [s for s in ends_with(plan, "escalate") if "search team" in (s.title or "")]
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


def test_sub_steps_of_a_step_on_another_machine_are_a_persons_steps_there():
    # "1. On the OSD's host:" over "1. `systemctl stop ceph-osd@17`": run from here, the
    # stop acted on the wrong machine (and so did "a." over "i." once they were sub-steps)
    plan = compile_text("## Remove the OSD\n\n1. Remove it.\n   1. On the OSD's host:\n"
                        "      1. `systemctl stop ceph-osd@17`\n"
                        "      2. `rm -rf /var/lib/ceph/osd/17`\n"
                        "   2. Swap the disk physically.\n"
                        "2. Mark it out: `ceph osd out osd.17`\n")
    assert [s.params["pipeline"] for s in runs(plan)] == [[["ceph", "osd", "out", "osd.17"]]]
    shown = [str(s.params.get("script", "")) + s.title for s in plan.steps
             if s.kind == StepKind.MANUAL]
    assert any("systemctl stop ceph-osd@17" in x for x in shown)
    assert any("rm -rf /var/lib/ceph/osd/17" in x for x in shown)


def test_a_lone_roman_mark_or_a_run_out_of_order_is_left_as_written():
    guide = parse_guide("## Fix\n\n1. Restart the app:\n   i) it takes a minute\n"
                        "   iii) `sudo systemctl restart app`\n", path="guide.md")
    assert [e.kind for e in guide.elements] == ["heading", "list_item"]


# -- a test case's table -----------------------------------------------------------------------

TEST_CASE = ("# TC-07: Restore the config service\n\n"
             "| # | Action | Expected result |\n|---|---|---|\n"
             "| 1 | `kubectl -n config scale deploy/api --replicas=0` | pods terminate |\n"
             "| 2 | `aws s3 cp s3://backups/latest.db /data/config.db` | file copied |\n"
             "| 3 | `curl -s -o /dev/null -w '%{http_code}' https://cfg/v1` | `200` |\n")


def test_a_test_case_tables_action_cells_run_in_order_and_its_expected_value_is_checked():
    # the whole table was one person's step; then, run, the last check's `200` was never
    # looked at and the run ended resolved whatever the service answered
    plan = compile_text(TEST_CASE)
    scale = step_running(plan, ["kubectl", "-n", "config", "scale", "deploy/api",
                                "--replicas=0"])
    copy = step_running(plan, ["aws", "s3", "cp", "s3://backups/latest.db", "/data/config.db"])
    check = step_running(plan, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                "https://cfg/v1"])
    assert gated(plan, scale) and gated(plan, copy) and not gated(plan, check)
    order = [s.id for s in runs(plan)]
    assert order == [scale, copy, check]
    (after,) = [e.target for e in plan.edges if e.source == check and e.on == "success"]
    assert plan.step(after).kind == StepKind.DECIDE and "200" in plan.step(after).title
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


def test_a_format_directive_after_a_percent_sign_is_the_commands_not_a_value_to_fill_in():
    # curl's `-w '%{http_code}'` became `%{{ inputs.http_code }}`: an invented input, and a
    # different command
    plan = compile_text("## Check\n\n```bash\ncurl -s -o /dev/null -w '%{http_code}' "
                        "https://api/health\n```\n")
    step_running(plan, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        "https://api/health"])
    assert not plan.inputs


def test_an_action_column_with_words_is_still_a_persons_steps():
    plan = compile_text("# TC\n\n| # | Action | Expected |\n|---|---|---|\n"
                        "| 1 | Open the dashboard | it loads |\n| 2 | Check the graph | flat |\n")
    assert not runs(plan)


# -- Org mode pasted into Markdown -------------------------------------------------------------

ORG = ("#+TITLE: Redis replica lag\n\n* TODO Look at the lag\n"
       "  If =master_last_io_seconds_ago= is above 30:\n  #+BEGIN_SRC sh\n"
       "  redis-cli -h replica-1 replicaof primary 6379\n  #+END_SRC\n\n"
       "* TODO Check it\n  #+begin_src bash :results output\n  redis-cli -h replica-1 info\n"
       "  #+end_src\n  #+BEGIN_EXAMPLE\n  master_link_status:up\n  #+END_EXAMPLE\n")


def test_an_org_source_block_is_a_fenced_block_under_its_task_heading():
    # the whole guide was one person's step: the blocks were paragraphs, the headings bullets
    plan = compile_text(ORG)
    replicaof = step_running(plan, ["redis-cli", "-h", "replica-1", "replicaof", "primary",
                                    "6379"])
    assert guards_of(plan, replicaof) == ["If =master_last_io_seconds_ago= is above 30"]
    assert gated(plan, replicaof)
    info = step_running(plan, ["redis-cli", "-h", "replica-1", "info"])
    assert guards_of(plan, info) == ["Otherwise (not: If =master_last_io_seconds_ago= is above 30)"]
    assert not gated(plan, info)
    assert plan.title == "Redis replica lag"
    assert len(runs(plan)) == 2 and not [s for s in plan.steps if s.kind == StepKind.MANUAL]


def test_a_bullet_without_a_task_keyword_stays_a_bullet():
    guide = parse_guide("# Fix\n\n* Restart the app\n\n#+BEGIN_SRC sh\nsystemctl restart app\n"
                        "#+END_SRC\n", path="guide.md")
    assert [e.kind for e in guide.elements] == ["heading", "list_item", "code"]


# -- footnotes ---------------------------------------------------------------------------------


def test_a_footnote_holding_a_command_is_its_steps_command_under_its_guard():
    # the notes at the end were one block run after the last step, the restart whatever the
    # upstream did; the steps that referred to them were a person's
    text = ("# Nginx 502s\n\n## Diagnosis\n\n1. Check that the upstream answers[^1].\n\n"
            "## Fix\n\nIf the upstream is down, restart it[^2].\n\n"
            "If the upstream answers, the 502s came from a deploy; no action needed.\n\n"
            "[^1]: `curl -s http://10.0.4.12:8080/health`\n"
            "[^2]: `sudo systemctl restart app-upstream`\n")
    plan = compile_text(text)
    check = step_running(plan, ["curl", "-s", "http://10.0.4.12:8080/health"])
    restart = step_running(plan, ["sudo", "systemctl", "restart", "app-upstream"])
    assert guards_of(plan, check) == []
    assert guards_of(plan, restart) == ["If the upstream is down"] and gated(plan, restart)
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]
    rows = explain(parse_guide(text, path="guide.md"), plan, text)
    assert not unaccounted(text, rows)
    assert [r for r in rows if r.part == "footnotes" and (r.start, r.end) == (13, 14)]


def test_a_footnote_referred_to_twice_stays_where_it_is():
    plan = compile_text("## Fix\n\nRestart it[^1], then again later[^1].\n\n"
                        "[^1]: `sudo systemctl restart app`\n")
    assert len(runs(plan)) == 1
