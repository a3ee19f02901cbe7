"""Runbook styles the earlier sweeps did not try: an incident checklist with owners, a chat
thread exported as the runbook, a regulated SOP numbered 4.1 / 4.1.1, a Word document through
pandoc (smart quotes, grid tables), a robot cell's alarm table with retries (tests/fixtures/
styles17 holds the guides tried). Each test is one rule a guide author would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    gated,
    guards_of,
    running,
    runs,
)

STYLES17 = Path(__file__).resolve().parents[2] / "fixtures" / "styles17"


def test_each_styles17_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES17, at_least=8)


# -- a checklist's owner --------------------------------------------------------------------------

def test_an_owner_before_a_condition_leaves_the_condition_the_items():
    # "- [ ] **Ops**: if the answers differ, flush the resolver cache" over its block: the
    # condition was "a condition with nothing to guard" and the flush ran whatever the answers
    for item in ("- [ ] **Ops**: if the answers differ, flush the resolver cache",
                 "- Ops (@net-oncall): if the answers differ, flush the resolver cache",
                 "- @net-oncall: if the answers differ, flush the resolver cache"):
        plan = compile_text("## Triage\n\n- [ ] **Ops**: check resolution\n  ```bash\n  dig "
                            f"+short api.example.com\n  ```\n{item}\n  ```bash\n  ssh dns-01 "
                            "sudo unbound-control flush_zone example.com\n  ```\n")
        flush = running(plan, "flush_zone")
        assert gated(plan, flush.id)
        assert guards_of(plan, flush.id) == ["if the answers differ"], item
        assert plan.ignored == [], item


# -- a regulated SOP's numbered sections ----------------------------------------------------------

SOP = """## 5 Verification

5.1 Confirm the application responds:

```
curl -sf https://lims.example.com/health
```

5.2 If the check fails, proceed to section 6.

## 6 Rollback

6.1 Fail over to the standby:

```
ssh lims-db-02 sudo -u postgres patronictl -c /etc/patroni.yml failover --force
```
"""


def test_a_sop_section_numbered_without_a_dot_is_where_proceed_to_section_n_goes():
    # "## 6 Rollback" (a regulated SOP's "number, space, title"): "proceed to section 6" was a
    # person's step, and a healthy check went on into failing the database over, unasked
    plan = compile_text(SOP)
    check = running(plan, "curl")
    failover = running(plan, "failover")
    assert not any(s.kind == StepKind.MANUAL for s in plan.steps)
    targets = {e.target for e in plan.edges if e.source == check.id}
    assert any(e.kind == "jump" for e in plan.edges if e.source == check.id)
    # the roll-back is a way back, taken when the check fails (the case that jumps to it has
    # decided: no question of its own is asked again), not the next step after a good check
    assert {e.target for e in plan.edges if e.source == check.id and e.on == "failure"} == \
        {"approve-" + failover.id}
    assert failover.id not in targets and gated(plan, failover.id)


# -- a chat thread as the runbook -----------------------------------------------------------------

def test_a_chat_messages_speaker_and_time_are_not_its_words():
    # "**@maria.ops** 09:17" over "if only one broker is missing from the ISR, restart that
    # broker:": the message read "@maria.ops 09:17 if only ...", no condition, and the restart
    # ran whatever the ISR showed (its step titled "maria ops 09 17")
    for header in ("**@maria.ops** 09:17", "Maria Ops  9:17 AM", "[09:17] @maria.ops"):
        plan = compile_text("# Thread\n\n**@dev.sam** 09:15\nfirst, check the brokers:\n```\n"
                            "kafka-topics.sh --bootstrap-server k:9092 --describe\n```\n\n"
                            f"{header}\nif only one broker is missing from the ISR, restart "
                            "that broker:\n```\nssh kafka-2 sudo systemctl restart kafka\n```\n")
        restart = running(plan, "systemctl restart kafka")
        assert gated(plan, restart.id)
        assert guards_of(plan, restart.id) == ["if only one broker is missing from the ISR"], \
            header
        assert "09" not in running(plan, "--describe").title
    # a line of its own that is only a time is not a speaker ("09:17" over words stays)
    from engine.guide import parse_guide
    (para,) = [e for e in parse_guide("At\n09:17 the disk filled.\n").elements]
    assert para.text == "At 09:17 the disk filled."


# -- a Word document through pandoc ---------------------------------------------------------------

def test_a_command_in_typographic_quotes_is_a_code_span():
    # 'Run: “redis-cli -h cache-prod-0 ping”' (Word's autocorrect curled the quotes, the code
    # formatting was lost): a person's step, or context for a reader alone on its line
    plan = compile_text("## Check\n\nRun: \u201credis-cli -h cache-prod-0 -p 6379 ping\u201d\n")
    assert running(plan, "redis-cli", "ping").params["pipeline"] == [
        ["redis-cli", "-h", "cache-prod-0", "-p", "6379", "ping"]]
    plan = compile_text("## Check\n\nRun the following from the bastion:\n\n"
                        "\u201credis-cli -h cache-prod-0 -p 6379 ping\u201d\n")
    assert running(plan, "redis-cli", "ping")
    # a quoted message stays words
    from engine.guide import parse_guide
    (para,) = parse_guide("If the log says \u201cconnection refused\u201d, restart it.\n"
                          ).elements
    assert para.inline_code == [] and "\u201cconnection refused\u201d" in para.text


def test_a_paragraph_that_is_only_a_command_after_an_introduction_is_that_command():
    # "List profiles:" over "kubectl exec -n gitlab -it pod-x -- /bin/ls -lah /tmp" (a pasted
    # command, no fence): context for a reader, so the listing never ran
    plan = compile_text("## Profile\n\nList profiles:\n\nkubectl exec -n gitlab -it sidekiq-0 "
                        "-- /bin/ls -lah /tmp\n\nRun the following from the bastion:\n\n"
                        "redis-cli -h cache-prod-0 -p 6379 ping\n")
    assert running(plan, "/bin/ls")
    assert running(plan, "redis-cli")
    # prose after an introduction, and a list's first item, stay what they were
    plan = compile_text("## Test\n\nTo verify its behaviour:\n\nssh to one of the nodes\n\n"
                        "The steps are:\n\n* ssh into the chef server\n* copy the key.\n")
    assert runs(plan) == []


# -- Confluence's storage format ------------------------------------------------------------------

CONFLUENCE = """## Check the backend

<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter><ac:plain-text-body><![CDATA[echo "show servers state" | sudo socat stdio /run/haproxy/admin.sock]]></ac:plain-text-body></ac:structured-macro>

## Drain a server

<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter><ac:plain-text-body><![CDATA[
ssh lb-01 sudo systemctl reload haproxy
]]></ac:plain-text-body></ac:structured-macro>
"""  # noqa: E501


def test_a_confluence_code_macro_is_a_code_block():
    # `<ac:structured-macro ac:name="code">` ... `<![CDATA[...]]>` (a page exported in
    # Confluence's storage format): a person's step holding the raw XML, never run nor gated
    plan = compile_text(CONFLUENCE)
    reload_ = running(plan, "systemctl reload haproxy")
    assert reload_.mutating and gated(plan, reload_.id)
    assert running(plan, "socat")
    assert not any(s.kind == StepKind.MANUAL for s in plan.steps)
    # the macro shown in a Markdown fence stays as it is
    plan = compile_text("## Notes\n\n```\n<ac:structured-macro ac:name=\"code\"><ac:plain-text"
                        "-body><![CDATA[sudo reboot]]></ac:plain-text-body></ac:structured-macro>"
                        "\n```\n")
    assert runs(plan) == []


# -- content tabs are one choice ------------------------------------------------------------------

TABS = """## Free space

=== "Kubernetes"

    ```bash
    kubectl -n db delete pod pg-wal-archiver-0
    ```

=== "VM"

    ```bash
    ssh pg-01 sudo systemctl restart pg-wal-archiver
    ```

=== "RDS"

    ```bash
    aws rds modify-db-instance --db-instance-identifier pg --allocated-storage 500
    ```

## Verify

```bash
ssh pg-01 df -h /var/lib/postgresql
```
"""


def test_content_tabs_are_one_choice_then_what_follows_them():
    # after the "Kubernetes" tab's steps the run asked about "VM", then about "RDS": the
    # tabs are alternatives, one taken, then the verification
    plan = compile_text(TABS)
    verify = running(plan, "df -h")
    for words in ("delete pod", "systemctl restart", "modify-db-instance"):
        step = running(plan, words)
        assert [e.target for e in plan.edges if e.source == step.id and e.on == "success"] \
            == [verify.id], words
    # the same for Docusaurus' <TabItem>s
    plan = compile_text('## Fix\n\n<Tabs>\n<TabItem value="k" label="Kubernetes">\n\n```bash\n'
                        'kubectl -n db delete pod x-0\n```\n\n</TabItem>\n<TabItem value="v" '
                        'label="VM">\n\n```bash\nssh pg-01 sudo systemctl restart x\n```\n\n'
                        '</TabItem>\n</Tabs>\n\n## Verify\n\n```bash\nssh pg-01 df -h /\n```\n')
    verify = running(plan, "df -h")
    step = running(plan, "delete pod")
    assert [e.target for e in plan.edges if e.source == step.id and e.on == "success"] == \
        [verify.id]


# -- a listing a person edits ---------------------------------------------------------------------

def test_a_block_a_step_tells_a_person_to_edit_is_what_they_write_not_sample_output():
    # "Edit the restart point in the `MainModule` before starting again:" over a RAPID
    # listing: "ignored: sample output", and the person's step did not hold what to write
    from tests.support.compiling import manual_scripts
    plan = compile_text("## Recover\n\n1. Cut the stuck wire at the contact tip.\n2. Edit the "
                        "restart point in the `MainModule` before starting again:\n\n"
                        "    ```rapid\n    PROC main()\n        MoveL pHome, v200, fine, "
                        "tWeldGun;\n    ENDPROC\n    ```\n\n3. Start the program:\n\n"
                        "    ```bash\n    curl -s -X POST \"http://192.168.125.1/rw/rapid/"
                        "execution?action=start\"\n    ```\n")
    assert plan.ignored == []
    assert any("MoveL pHome" in s for s in manual_scripts(plan))
    plan = compile_text("## Fix\n\nChange the restart point to:\n\n```\nPROC main()\n  MoveJ "
                        "pHome, v100, z10, tool0;\nENDPROC\n```\n")
    assert plan.ignored == [] and any("MoveJ" in s for s in manual_scripts(plan))
    # output announced stays output; a command after "Update ...:" still runs
    plan = compile_text("## Check\n\nCheck the state. Expected output:\n\n```\nPROC main()\n"
                        "```\n\nUpdate the package:\n\n```bash\nsudo apt-get install -y app\n```\n")
    assert [i.reason for i in plan.ignored] == ["sample output"]
    assert running(plan, "apt-get")


# -- an alarm table's cell that names a section ---------------------------------------------------

ALARMS = """# Cell 7

## Alarm table

| Alarm | Meaning | Action |
|---|---|---|
| SRVO-037 | IMSTP input | Check the safety fence door, then reset the alarm |
| SRVO-050 | Collision detected | Go to [Recover after a collision](#recover-after-a-collision) |

## Recover after a collision

1. Jog the robot away from the obstacle on the teach pendant.

## Reset the alarm

```bash
curl -s -X POST http://cell7-hmi:8080/api/alarm/reset
```
"""


def test_an_action_cell_that_then_says_a_sections_title_goes_there():
    # "Check the safety fence door, then reset the alarm" over a "## Reset the alarm"
    # section: after the door, the run fell into the collision recovery (jogging the robot)
    plan = compile_text(ALARMS)
    (door,) = [s for s in plan.steps if s.kind == StepKind.MANUAL and
               s.title.startswith("Check the safety fence door")]
    (after,) = [e for e in plan.edges if e.source == door.id]
    reset = running(plan, "alarm/reset")
    assert after.kind == "jump" and after.target in (
        reset.id, *(e.source for _, e in plan.incoming(reset.id)))
    # words that are no section's title stay the person's
    plan = compile_text(ALARMS.replace("then reset the alarm", "then reset the door switch"))
    (door,) = [s for s in plan.steps if s.kind == StepKind.MANUAL and
               s.title.startswith("Check the safety fence door")]
    assert not any(e.kind == "jump" for e in plan.edges if e.source == door.id)


# -- AsciiDoc's ordered list, its continuations and a bare listing --------------------------------

ADOC = """= Cell 2

== Recover the torch

. Cut the stuck wire at the contact tip.
. Start the program from main:
+
[source,bash]
----
curl -s -X POST "http://192.168.125.1/rw/rapid/execution?action=start"
----

== Verify

Expected output of the status call:

----
{"ctrlexecstate":"running"}
----
"""


def test_asciidoc_steps_continuations_and_a_bare_listing_are_read_as_such():
    # `. Cut the stuck wire` / `. Start the program from main:` were one paragraph of context
    # (the wire never cut, by no one), the `+` an empty bullet, and the bare `----` listing
    # under "Expected output" a heading titled by the output
    plan = compile_text(ADOC)
    assert [s for s in plan.steps if s.kind == StepKind.MANUAL and
            s.title.startswith("Cut the stuck wire")]
    start = running(plan, "action=start")
    assert start.title == "Start the program from main" and gated(plan, start.id)
    assert [i.reason for i in plan.ignored] == ["sample output"]
    from engine.guide import parse_guide
    assert [h.text for h in parse_guide(ADOC).headings()] == ["Cell 2", "Recover the torch",
                                                              "Verify"]


# -- a pandoc grid table --------------------------------------------------------------------------

GRID = """## Fix

+------------------+-----------------------------------------+
| Symptom          | Action                                  |
+==================+=========================================+
| Disk full        | Run `sudo journalctl --vacuum-size=1G`  |
+------------------+-----------------------------------------+
| Service down     | Run `sudo systemctl restart app` on the |
|                  | primary                                 |
+------------------+-----------------------------------------+
"""


def test_a_pandoc_grid_table_is_the_table_it_shows():
    # a Word document's "Symptom | Action" table through pandoc (`+---+` borders): a
    # paragraph whose two commands both ran, one after the other, whatever the symptom
    plan = compile_text(GRID)
    vacuum = running(plan, "journalctl")
    restart = running(plan, "systemctl restart app")
    assert guards_of(plan, vacuum.id) == ["Disk full"]
    assert guards_of(plan, restart.id) == ["Service down"]
    from engine.guide import parse_guide
    (table,) = [e for e in parse_guide(GRID).elements if e.kind == "table"]
    assert table.cells[2] == ["Service down", "Run `sudo systemctl restart app` on the primary"]
    assert table.span.start == 3 and table.span.end == 10
