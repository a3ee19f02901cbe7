"""Where a check's answer decides, said in styles the earlier rules missed: a table whose first
column is the answer a check gave ("| Verdict | Action |"), a case that hands the incident to
a channel before it stops ("→ a data problem. Post the failing test in #analytics-eng and
stop."), and the guide's own last ending kept apart from one a row or a sentence named."""

from __future__ import annotations

from engine.compile import phrases
from engine.plan import StepKind
from tests.support.compiling import compile_text, ends_with, outcomes_after, reachable

PHISHING = """# Reported phishing e-mail

## Triage

1. Check the URLs in the body against the threat-intel feed:
   ```bash
   curl -s "https://ti.internal/api/v1/lookup" | jq '.verdict'
   ```

## Decide

| Verdict | Action |
|---|---|
| `malicious` | Go to **Contain**. |
| `suspicious` | Detonate the attachment in the sandbox, then decide again. |
| `clean` | Reply to the reporter with the "not phishing" template and close the ticket. |

## Contain

1. Purge the message from every mailbox:
   ```bash
   mailctl purge --message "$MESSAGE_ID"
   ```
2. If anyone clicked the link, reset their password, then escalate to tier 2.
"""


def _decides(plan):
    return {s.title: s for s in plan.steps if s.kind == StepKind.DECIDE}


def test_a_table_of_a_checks_answers_decides_row_by_row():
    plan = compile_text(PHISHING)
    decides = _decides(plan)
    assert {"Verdict is malicious", "Verdict is suspicious", "Verdict is clean"} <= set(decides)
    # the malicious row goes to Contain; only it reaches the purge
    purge = next(s for s in plan.steps if s.kind == StepKind.COMMAND and
                 s.params["pipeline"][0][:2] == ["mailctl", "purge"])
    assert purge.id in reachable(plan, decides["Verdict is malicious"].id)
    clean = decides["Verdict is clean"]
    taken = [e.target for e in plan.edges if e.source == clean.id and e.condition and
             not e.condition.text.startswith("Otherwise")]
    (end,) = [s for s in plan.steps if s.id in taken]
    assert end.kind == StepKind.END and end.outcome.value == "resolved"
    assert "close the ticket" in end.title


def test_the_guides_own_last_ending_is_not_a_rows_named_one():
    """The path off the guide's end (the drain done) ends "Resolved", not in a row's words
    ("Reply to the reporter and close the ticket": the report said so of every path)."""
    plan = compile_text("""# Queue backlog

## Check

```bash
rabbitmqctl list_queues name messages
```

| Condition | Action |
|---|---|
| The queue is empty | Reply to the reporter and close the ticket: resolved. |
| Anything else | Go to **Drain**. |

## Drain

```bash
kubectl -n ingest scale deployment/consumer --replicas=20
```
""")
    scale = next(s for s in plan.steps if s.kind == StepKind.COMMAND and
                 s.params["pipeline"][0][:2] == ["kubectl", "-n"])
    ends = [s for s in ends_with(plan, "resolved") if s.id in reachable(plan, scale.id)]
    assert [(s.title, s.text) for s in ends] == [("Resolved", "")]
    named = [s for s in plan.steps if s.kind == StepKind.END and "close the ticket" in s.title]
    assert named and named[0].id not in reachable(plan, scale.id)


def test_a_table_of_names_is_no_decision():
    plan = compile_text("""# Owners

## Contacts

| Service | Owner |
|---|---|
| `billing` | #billing-oncall |
| `search` | #search-oncall |

## Check

```bash
systemctl status billing
```
""")
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE]


AIRFLOW = """# DAG billing_daily failed

## 1. Read the task log

```bash
airflow tasks logs billing_daily TASK RUN | tail -100
```

- `dbt` test failures (`Failure in test not_null_x`) → a data problem; **do not clear the
  task**. Post the failing test in #analytics-eng and stop.
- Anything else: continue.

## 2. Clear the task

```bash
airflow tasks clear billing_daily -t TASK --yes
```
"""


def test_a_case_that_posts_to_a_channel_and_stops_hands_over():
    plan = compile_text(AIRFLOW)
    (case,) = [s for s in plan.steps if s.kind == StepKind.DECIDE]
    taken = [e.target for e in plan.edges if e.source == case.id and e.condition and
             not e.condition.text.startswith("Otherwise")]
    assert outcomes_after(plan, taken[0]) == {"escalate"}
    clear = next(s for s in plan.steps if s.kind == StepKind.COMMAND and
                 "clear" in s.params["pipeline"][0])
    assert clear.id not in reachable(plan, taken[0])
    assert ends_with(plan, "escalate")


def test_stop_alone_ends_and_a_reason_makes_a_post_an_announcement():
    assert phrases.stops_here("Post the failing test in #analytics-eng and stop.")
    assert not phrases.stops_here("wait for the pump to stop.")
    assert phrases.stops_handed_over("Post the failing test in #analytics-eng and stop.")
    # the stop says why nothing more is needed: the post announces, hands nothing over
    assert not phrases.stops_handed_over("Post in #billing-incidents and stop here; the payouts "
                                         "are retried by the sweeper once the provider is back.")
    assert phrases.stops_handed_over("Notify the storage team and stop here.")
    assert not phrases.stops_handed_over("Restart it and stop.")


MOP = """# MOP: drain a BGP peer

## Execution

```
er1.fra> configure
er1.fra# set protocols bgp group transit neighbor 203.0.113.7 export DRAIN
er1.fra# commit confirmed 5
```

## Back-out

```
er1.fra# rollback 1
er1.fra# commit
```
"""


def test_a_block_typed_at_one_device_prompt_is_the_devices():
    """The back-out typed at the router's configuration prompt alone (no surer prompt in its
    block) is a person's step at the router; it was sample output, the back-out lost."""
    from engine.compile import blocks
    plan = compile_text(MOP)
    manual = [s for s in plan.steps if s.kind == StepKind.MANUAL and
              "rollback 1" in str(s.params.get("script", "")) + (s.text or "")]
    assert manual
    assert not [s for s in plan.steps if s.kind == StepKind.COMMAND]
    # one prompt name, and a verb no shell has: `host# exit` over `host# ls` stays a shell's
    lines = ["db-1# ls /var/lib/postgresql", "db-1# exit"]
    assert blocks._one_device_prompt(lines) == {}
    assert blocks._one_device_prompt(["r1# show ip route", "r2# show ip route"]) == {}


HOST_PROMPTS = """# Replica lag

## Check

```console
[postgres@db-17 ~]$ psql -c "select now() - pg_last_xact_replay_timestamp();"
```

## Fix

```console
[root@db-17 ~]# systemctl restart postgresql-15
root@db-17:~# kubectl -n db get pods
```

```console
[root@localhost ~]# systemctl status haproxy
```
"""


def test_a_line_at_another_machines_prompt_is_a_persons_step_there():
    """`[root@db-17 ~]# systemctl restart postgresql-15`: typed on db-17, as its prompt shows;
    run here, it restarted this machine's (and the check read this machine's lag: evidence
    from the wrong host). A person's step there, saying where; a `kubectl` line at that
    prompt reaches its cluster from anywhere and runs; a stand-in prompt (`localhost`) says
    nothing of where."""
    plan = compile_text(HOST_PROMPTS)
    manual = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    scripts = "\n".join(str(s.params.get("script", "")) for s in manual)
    assert "# on db-17 (at its prompt: [postgres@db-17 ~]$)" in scripts
    assert "psql -c" in scripts and "systemctl restart postgresql-15" in scripts
    argvs = [s.params["pipeline"][0] for s in plan.steps if s.kind == StepKind.COMMAND]
    assert ["kubectl", "-n", "db", "get", "pods"] in argvs
    assert ["systemctl", "status", "haproxy"] in argvs
    assert not any(a[:2] == ["systemctl", "restart"] or a[0] == "psql" for a in argvs)


MOP_TABLES = """# MOP: replace an uplink

## Pre-checks

| # | Action | Command | Expected result |
|---|---|---|---|
| 1 | Log in to the router | `ssh noc@pe-router-07` | Its prompt |
| 2 | Record BGP neighbors | `show bgp summary` | All Established |
| 3 | Record interface state | `show interfaces Te0/0/0/1 brief` | up/up |

## Execution

| # | Action | Command | Expected result |
|---|---|---|---|
| 4 | Enter config mode | `configure` | `(config)#` prompt |
| 5 | Shut the old uplink | `interface Te0/0/0/1 shutdown` | |
| 6 | Commit | `commit` | No errors |
"""


def test_every_row_of_a_procedure_table_after_its_login_row_is_kept():
    """Row 2 after the `ssh` row was lost: the session made it the login's step, and the
    table's titling copied that step out of the plan; each row is its own step now."""
    plan = compile_text(MOP_TABLES)
    by_title = {s.title: s for s in plan.steps}
    assert by_title["Log in to the router"].kind == StepKind.MANUAL
    for title, line in (("Record BGP neighbors", "show bgp summary"),
                        ("Record interface state", "show interfaces Te0/0/0/1 brief")):
        assert by_title[title].params["pipeline"][0][-1] == line


def test_a_table_numbered_on_from_the_last_is_a_procedure_typed_where_it_was():
    """The Execution table numbers its rows 4-6 after the Pre-checks' 1-3: each row is a step
    (they were a list of checks, its change lost), typed at the router the guide logged in
    to, never this machine's `configure`."""
    plan = compile_text(MOP_TABLES)
    assert not [s for s in plan.steps if s.kind == StepKind.COMMAND and
                s.params["pipeline"][0][0] in ("configure", "commit", "interface")]
    manual = {s.title: str(s.params.get("script", "")) for s in plan.steps
              if s.kind == StepKind.MANUAL}
    for title, line in (("Enter config mode", "configure"),
                        ("Shut the old uplink", "interface Te0/0/0/1 shutdown"),
                        ("Commit", "commit")):
        assert manual[title].splitlines()[-1] == line
        assert "ssh noc@pe-router-07" in manual[title].splitlines()[0]
