"""Runbook styles the earlier sweeps did not try: an ASCII decision tree (`├── Yes → Step 1`),
a step with "Expected result: / Verify: / Rollback:" lines under it, a condition said after
the command ("Run the command above only if ..."), a question over what to do in a list item,
`k9s`/`htop` instructions, SQL Server's T-SQL with `GO` batches and `sqlcmd`, MikroTik
RouterOS (tests/fixtures/styles19 holds the guides tried). Each test is one rule a guide
author would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    gated,
    guards_of,
    manual_scripts,
    running,
    runs,
    successors,
)

STYLES19 = Path(__file__).resolve().parents[2] / "fixtures" / "styles19"


def test_each_styles19_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES19, at_least=6)


def _ends(plan, sid: str) -> set[str]:
    """The outcomes of the endings a step's success leads straight to."""
    return {plan.step(t).outcome.value for t in successors(plan, sid)
            if plan.step(t).kind == StepKind.END and plan.step(t).outcome is not None}


# -- an ASCII decision tree -----------------------------------------------------------------------

TREE = """## Step 1: Read the events

```bash
kubectl -n checkout describe pod -l app=checkout-api
```

What does the last event say?

{tree}

## Step 2: Add capacity

```bash
kubectl -n checkout scale deploy/checkout-api --replicas=2
```

## Step 3: Check the taints

```bash
kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints
```
"""

BRANCHES = ("\u251c\u2500\u2500 `Insufficient cpu` \u2192 go to Step 2\n"
            "\u251c\u2500\u2500 `untolerated taint` \u2192 go to Step 3\n"
            "\u2514\u2500\u2500 anything else \u2192 escalate to the platform team")


def test_an_ascii_decision_tree_s_branches_are_its_cases():
    # "├── `Insufficient cpu` → go to Step 2" over "└── anything else → escalate": the
    # branches were one paragraph, one condition whose jumps were lost; the run went on into
    # the scale-out whatever the event said
    for tree in (BRANCHES, BRANCHES.replace("\u251c\u2500\u2500", "|--").replace(
            "\u2514\u2500\u2500", "`--").replace("\u2192", "->")):
        plan = compile_text(TREE.format(tree=tree))
        scale = running(plan, "scale")
        taints = running(plan, "get nodes")
        assert any("Insufficient cpu" in g for g in guards_of(plan, scale.id)), tree
        assert any("untolerated taint" in g for g in guards_of(plan, taints.id)), tree
        assert any(s.kind == StepKind.END and s.outcome is not None and
                   s.outcome.value == "escalate" and "platform team" in s.title.lower()
                   for s in plan.steps), tree
    # nested branches: the answers to a branch's own question
    nested = ("Is the pod Pending?\n"
              "\u251c\u2500\u2500 Yes \u2192 Is it Ready?\n"
              "\u2502   \u251c\u2500\u2500 Yes \u2192 go to Step 3\n"
              "\u2502   \u2514\u2500\u2500 No \u2192 go to Step 2\n"
              "\u2514\u2500\u2500 No \u2192 escalate to the platform team")
    plan = compile_text(TREE.format(tree=nested))
    assert guards_of(plan, running(plan, "scale").id)
    assert guards_of(plan, running(plan, "get nodes").id)


def test_a_fenced_decision_tree_asks_its_question_and_a_fenced_listing_stays_output():
    # the tree in a plain fence, to keep its drawing: "ignored: sample output", its question
    # and the jumps of its answers lost
    tree = "```\nWhat does the last event say?\n" + BRANCHES + "\n```"
    plan = compile_text(TREE.format(tree=tree))
    assert any("Insufficient cpu" in g for g in guards_of(plan, running(plan, "scale").id))
    # a `tree` listing is output: no question over it, no arrows in its branches
    listing = ("```\n/etc/nginx\n\u251c\u2500\u2500 nginx.conf\n\u2514\u2500\u2500 "
               "sites-enabled\n```")
    plan = compile_text(TREE.format(tree=listing))
    assert guards_of(plan, running(plan, "scale").id) == []


# -- a question over what to do, in a list item ---------------------------------------------------

QUESTION_ITEM = """# RabbitMQ: queue backlog

1. List the queues:

   ```bash
   rabbitmqctl list_queues name messages consumers
   ```

2. {item}

   ```bash
   rabbitmqctl purge_queue orders.dlq
   ```
"""


def test_a_question_then_what_to_do_over_a_block_guards_the_block():
    # "2. Still growing after 10 minutes? Purge the dead-letter queue:" over the purge: the
    # purge ran before the question was asked, whatever the answer, and the "yes" side was
    # a person's "purge" step
    for item, asked in (("Still growing after 10 minutes? Purge the dead-letter queue:",
                         "Still growing after 10 minutes?"),
                        # ("If so" answers the question: the question is its condition)
                        ("Is it still growing? If so, purge the dead-letter queue:",
                         "Is it still growing?"),
                        ("Check the lag. If it still grows, purge the dead-letter queue:",
                         "If it still grows")):
        plan = compile_text(QUESTION_ITEM.format(item=item))
        purge = running(plan, "purge_queue")
        assert gated(plan, purge.id)
        assert guards_of(plan, purge.id) == [asked], item
        assert successors(plan, running(plan, "list_queues").id) != [purge.id]
        assert not any(s.kind == StepKind.MANUAL for s in plan.steps), item


# -- labelled lines under a step: "Verify:", "Rollback:" ------------------------------------------

LABELLED = """# Redis: maxmemory reached

### Step 1 — Raise maxmemory

```bash
redis-cli -h cache-01 CONFIG SET maxmemory 6gb
```

**Expected result:** `OK`
**Verify:** `redis-cli -h cache-01 INFO memory`
**Rollback:** `redis-cli -h cache-01 CONFIG SET maxmemory 4gb`

### Step 2 — Check the app

```bash
curl -s http://app-01:8080/health
```
"""


def _rolled_back_only_on_request(plan) -> None:
    back = running(plan, "maxmemory 4gb")
    assert gated(plan, back.id)
    assert any("rollback" in g.lower() for g in guards_of(plan, back.id))
    assert _ends(plan, back.id) == {"escalate"}
    health = running(plan, "health")
    assert all(g.startswith("Otherwise") for g in guards_of(plan, health.id))


def test_a_rollback_line_under_a_step_is_not_run_after_the_change():
    # "**Rollback:** `... maxmemory 4gb`" on the line under "**Verify:** `...`": the way back
    # ran right after the change, undoing it, and the run went on as if fixed
    plan = compile_text(LABELLED)
    _rolled_back_only_on_request(plan)
    verify = running(plan, "INFO memory")
    assert not guards_of(plan, verify.id)
    assert successors(plan, running(plan, "maxmemory 6gb").id) == [verify.id]
    # the same lines in a numbered step
    plan = compile_text("# Redis\n\n1. Raise maxmemory: `redis-cli -h cache-01 CONFIG SET "
                        "maxmemory 6gb`\n   Verify: `redis-cli -h cache-01 INFO memory`\n   "
                        "Rollback: `redis-cli -h cache-01 CONFIG SET maxmemory 4gb`\n2. Check "
                        "the app: `curl -s http://app-01:8080/health`\n")
    _rolled_back_only_on_request(plan)
    # "**Rollback:**" alone over its block
    plan = compile_text(LABELLED.replace(
        "**Rollback:** `redis-cli -h cache-01 CONFIG SET maxmemory 4gb`",
        "\n**Rollback:**\n\n```bash\nredis-cli -h cache-01 CONFIG SET maxmemory 4gb\n```"))
    _rolled_back_only_on_request(plan)
    # "Rollback: none" is no way back; a block under "Revert the config:" is the step itself
    plan = compile_text("## Fix\n\nRevert the config:\n\n```bash\nsudo cp /etc/app.bak "
                        "/etc/app.conf\n```\n")
    assert guards_of(plan, running(plan, "cp").id) == []


# -- a condition said after the command -----------------------------------------------------------

AFTER = """## Free space

```bash
sudo journalctl --vacuum-size=500M
```

```bash
sudo rm -rf /var/log/app/archive
```

{said}

## Verify

```bash
df -h /var/log
```
"""


def test_a_condition_said_after_the_block_guards_it():
    # "Run the command above only if the archive has already been shipped to S3.": context
    # for a reader, and the archive was deleted whatever its state
    for said, cond in (
            ("Run the command above only if the archive has already been shipped to S3.",
             "If the archive has already been shipped to S3"),
            ("Only run the above when the archive is in S3.", "When the archive is in S3"),
            ("**Note:** the command above is only needed if the disk is still above 90%.",
             "If the disk is still above 90%")):
        plan = compile_text(AFTER.format(said=said))
        rm = running(plan, "rm -rf")
        assert guards_of(plan, rm.id) == [cond], said
        assert guards_of(plan, running(plan, "vacuum").id) == []
        assert guards_of(plan, running(plan, "df -h").id) == [] or \
            any(g.startswith("Otherwise") for g in guards_of(plan, running(plan, "df -h").id))
    # "Only do this ..." is said of what follows, not of the block above
    plan = compile_text(AFTER.format(said="Only do this when the archive is in S3."))
    assert guards_of(plan, running(plan, "rm -rf").id) == []


# -- a full-screen tool is a person's -------------------------------------------------------------

SCREEN = """## 1. Look

{said}

## 2. Restart

```bash
kubectl -n payments rollout restart deploy/payments-worker
```
"""


def test_a_full_screen_tool_the_guide_opens_is_a_persons_step():
    # "Open `k9s -n payments`, type `:pods` ...": context for a reader (the step lost), and
    # "Run `k9s -n payments`." ran k9s, a screen that waits for keys, as a gated command;
    # "run `htop`" (one word) was context too
    for said, shown in (("Open `k9s -n payments`, type `:pods`, select the worker pod and "
                         "press `l` to read its logs.", "k9s -n payments"),
                        ("Run `k9s -n payments`.", "k9s -n payments"),
                        ("Run `htop` and sort by memory with `M`.", "htop"),
                        ("Run `top`.", "top")):
        plan = compile_text(SCREEN.format(said=said))
        assert [s.params["pipeline"][0][0] for s in runs(plan)] == ["kubectl"], said
        assert shown in manual_scripts(plan), said
    # "the `top` output" names it, asks nothing
    plan = compile_text(SCREEN.format(said="The `top` output shows the worker at 100% CPU."))
    assert manual_scripts(plan) == []


# -- SQL Server ------------------------------------------------------------------------------------

def test_t_sql_is_a_persons_script_not_the_sql_plugins_query():
    # a ```sql block of T-SQL (`GO` batches, `KILL 53`, `sys.dm_exec_requests`) went to the
    # sql plugin, whose databases are PostgreSQL and SQLite: the wrong server, and `GO` made a
    # SELECT a gated write
    for body in ("SELECT session_id, blocking_session_id\nFROM sys.dm_exec_requests\n"
                 "WHERE blocking_session_id <> 0;\nGO",
                 "KILL 53;\nGO",
                 "ALTER DATABASE SALESDB SET SINGLE_USER WITH ROLLBACK IMMEDIATE;\nGO\n"
                 "DBCC CHECKDB (SALESDB, REPAIR_ALLOW_DATA_LOSS);\nGO",
                 "EXEC sp_who2;"):
        plan = compile_text(f"## Check\n\n```sql\n{body}\n```\n")
        assert runs(plan) == [], body
        assert body in manual_scripts(plan), body
    # PostgreSQL's own SQL still runs with the plugin
    plan = compile_text("## Check\n\n```sql\nSELECT pid, state FROM pg_stat_activity;\n```\n")
    assert [s.kind for s in plan.steps if s.plugin == "sql"] == [StepKind.QUERY]


def test_sqlcmd_in_an_unlabelled_block_is_a_command():
    # `sqlcmd -S sql-prod-01 -E -Q "DBCC CHECKDB ..."` in a plain fence: "ignored: sample
    # output", the check lost
    plan = compile_text('## Check\n\n```\nsqlcmd -S sql-prod-01 -E -Q "DBCC CHECKDB (SALESDB) '
                        'WITH NO_INFOMSGS"\n```\n')
    check = running(plan, "sqlcmd")
    assert gated(plan, check.id)


# -- MikroTik RouterOS ----------------------------------------------------------------------------

def test_routeros_commands_are_typed_at_the_router():
    # `/interface disable ether1` and `/system reboot` in plain fences (and `[admin@gw] >
    # /ip route print`): "ignored: sample output", the reboot of the router nowhere in the plan
    for block in ("/interface disable ether1\n/interface enable ether1",
                  "/system reboot",
                  "[admin@br-gw-07] > /ip route print where dst-address=0.0.0.0/0"):
        plan = compile_text(f"## Fix\n\n```\n{block}\n```\n")
        assert runs(plan) == [], block
        assert block in manual_scripts(plan), block
    # a path on this machine is not a router's menu
    plan = compile_text("## Check\n\n```\n/usr/local/bin/healthcheck --all\n```\n")
    assert len(runs(plan)) == 1


# -- steps lettered A, B, C -----------------------------------------------------------------------

LETTERED = """# Kafka broker disk pressure

{a} — Check the disk

```bash
ssh kafka-3 df -h /var/lib/kafka
```

If usage is below 85%, go to Step C.

{b} — Shorten retention

```bash
kafka-configs.sh --bootstrap-server kafka:9092 --alter --add-config retention.ms=86400000
```

{c} — Check the partitions

```bash
kafka-topics.sh --bootstrap-server kafka:9092 --describe --under-replicated-partitions
```
"""


def test_a_jump_to_a_lettered_step_lands_on_it():
    # "**Step C — Check the partitions**" paragraphs, and "If usage is below 85%, go to Step
    # C.": the jump landed nowhere (a person's "go to Step C" step), and the run went on into
    # Step B's retention change whatever the usage
    for mark in ("**Step {}**", "Step {}:", "## Step {}"):
        a, b, c = (mark.format(x) for x in "ABC")
        plan = compile_text(LETTERED.format(a=a.rstrip(":"), b=b.rstrip(":"), c=c.rstrip(":")))
        retention = running(plan, "retention.ms")
        check = running(plan, "under-replicated")
        assert guards_of(plan, check.id) == ["If usage is below 85%"], mark
        assert guards_of(plan, retention.id) == ["Otherwise (not: If usage is below 85%)"], mark
        assert not any(s.kind == StepKind.MANUAL for s in plan.steps), mark


# -- a wait between two commands of one step ------------------------------------------------------

WAIT = "## Fix\n\n1. Scale the node pool: `gcloud container clusters resize prod --num-nodes 6 " \
    "--quiet`{a}Wait for the new nodes to be Ready.{b}Then restart the API: `kubectl -n " \
    "checkout rollout restart deploy/checkout-api`\n2. Verify: `kubectl -n checkout rollout " \
    "status deploy/checkout-api`\n"


def test_a_wait_between_two_commands_of_a_step_is_a_persons_step_between_them():
    # "Scale the node pool: `x`<br>Wait for the new nodes to be Ready.<br>Then restart the
    # API: `y`" (a Word export's line breaks; or a sentence, or a line, of its own): the wait
    # was dropped, and the restart ran right after the resize
    for a, b in ((". ", " "), ("\n   ", "\n   "), ("<br>", "<br>"), ("<br/>", "<br />")):
        plan = compile_text(WAIT.format(a=a, b=b))
        resize = running(plan, "resize")
        restart = running(plan, "rollout restart")
        (wait,) = successors(plan, resize.id)
        assert plan.step(wait).kind == StepKind.MANUAL, (a, b)
        assert "Wait for the new nodes" in plan.step(wait).title
        assert successors(plan, wait) == [restart.id]
    # a `<br>` is a break between words, not nothing ("`x`<br>Wait" read as "`x`Wait")
    plan = compile_text("## Check\n\nRead the pods:<br>`kubectl -n checkout get pods`\n")
    assert len(runs(plan)) == 1
