"""Sections that cases of one decision route to are alternatives: each is entered only by its
case's jump, never by running off the end of the section before it, and the run goes on after
the last of them. A "Go to" column of a table of cases routes the same way, and "§3" names
section 3."""

from __future__ import annotations

from tests.support.compiling import compile_text, reachable, step_running, successors

UR = """# UR10e protective stop

## 1 · Triage

| Popup text | Code | Go to |
|---|---|---|
| Protective Stop: Joint position deviation | C153A1 | §2 |
| Protective Stop: Collision detected | C204A3 | §3 |
| Safety fault: Safeguard stop input | C170 | call the safety officer |

## 2 · Joint position deviation

1. Unlock the protective stop: `systemctl restart ur-unlock`

## 3 · Collision

1. Walk the cell and look for a fallen box.
2. Restart the program: `systemctl restart ur-program`

## 4 · Verify

1. Read the mode: `systemctl status ur-program`
"""

LIST = """# Consumer lag

## Check

Run `kafka-consumer-groups --describe --group orders` and look at the lag.

- **Every partition** lags → go to **Restart consumers**.
- **Only some partitions** lag → go to **Check brokers**.

## Restart consumers

```bash
kubectl rollout restart deployment/orders-consumer -n orders
```

## Check brokers

```bash
systemctl restart kafka-broker-probe
```

## Verify

```bash
kubectl get pods -n orders
```
"""


def test_a_go_to_column_routes_each_code_to_its_section() -> None:
    plan = compile_text(UR)
    unlock = step_running(plan, ["systemctl", "restart", "ur-unlock"])
    program = step_running(plan, ["systemctl", "restart", "ur-program"])
    joint = next(s for s in plan.steps if s.title.startswith("Code is C153A1"))
    collision = next(s for s in plan.steps if s.title.startswith("Code is C204A3"))
    # ("Popup text" is the code's meaning, said with it)
    assert "Joint position deviation" in joint.title
    assert unlock in successors(plan, joint.id)
    walk = next(s.id for s in plan.steps if s.title.startswith("Walk the cell"))
    assert walk in successors(plan, collision.id)
    safety = next(s for s in plan.steps if s.title.startswith("Code is C170"))
    assert [plan.step(e.target).outcome for e in plan.edges
            if e.source == safety.id and e.kind == "branch"] == ["escalate"]
    # the joint deviation's recovery does not run on into the collision's
    assert program not in reachable(plan, unlock)
    assert step_running(plan, ["systemctl", "status", "ur-program"]) in successors(plan, unlock)


def test_the_end_of_a_routed_section_goes_on_after_the_last_alternative() -> None:
    plan = compile_text(LIST)
    restart = step_running(plan, ["kubectl", "rollout", "restart",
                                  "deployment/orders-consumer", "-n", "orders"])
    probe = step_running(plan, ["systemctl", "restart", "kafka-broker-probe"])
    verify = step_running(plan, ["kubectl", "get", "pods", "-n", "orders"])
    assert probe not in reachable(plan, restart)
    assert successors(plan, restart) == [verify]
    assert successors(plan, probe) == [verify]


def test_when_no_case_holds_a_person_takes_over_not_the_first_cases_section() -> None:
    plan = compile_text(LIST)
    last = next(s for s in plan.steps if s.title.startswith("Only some partitions"))
    (other,) = [e.target for e in plan.edges if e.source == last.id and e.kind == "else"]
    assert plan.step(other).outcome == "escalate"


def test_a_default_section_between_the_decision_and_its_cases_goes_on_after_them() -> None:
    plan = compile_text("# DNS\n\n## Step 1 - Is it us?\n\nRun `dig @ns1 corp.example SOA`.\n\n"
                        "If `dig` times out, go to Step 4. If the serials differ, go to Step 3.\n\n"
                        "## Step 2 - Check the zone\n\nRun `named-checkzone corp.example db`.\n\n"
                        "## Step 3 - Secondary behind\n\nRun `rndc retransfer corp.example`.\n\n"
                        "## Step 4 - named down\n\nRun `systemctl start named`.\n\n"
                        "## Step 5 - Confirm\n\nRun `dig @ns2 corp.example SOA`.\n")
    check = step_running(plan, ["named-checkzone", "corp.example", "db"])
    assert successors(plan, check) == [step_running(plan, ["dig", "@ns2", "corp.example",
                                                           "SOA"])]
    retransfer = step_running(plan, ["rndc", "retransfer", "corp.example"])
    assert step_running(plan, ["systemctl", "start", "named"]) not in \
        reachable(plan, retransfer)


def test_a_section_sign_names_a_numbered_section() -> None:
    plan = compile_text("# T\n\n## 1 · Triage\n\nRead it: `ros2 topic echo --once /gripper/status`"
                        "\n\nIf the fault is 3, go to §3.\n\n## 2 · Drift\n\n"
                        "1. Re-home: `systemctl restart homing`\n\n## 3 · Over-current\n\n"
                        "1. Reset: `systemctl restart gripper`\n")
    guard = next(s for s in plan.steps if s.title.startswith("If the fault is 3"))
    assert step_running(plan, ["systemctl", "restart", "gripper"]) in successors(plan, guard.id)


def test_a_remedy_that_only_points_to_a_section_jumps_there() -> None:
    # "| SRVO-050 | Collision | see *Collision recovery* |": a person's step saying "see
    # Collision recovery", after which the run went on whatever the alarm
    plan = compile_text("# FANUC alarm\n\n## Identify\n\nRead the alarms: "
                        "`curl -s http://10.2.0.31/MD/ERRALL.LS`\n\n"
                        "| Alarm | Cause | Remedy |\n|---|---|---|\n"
                        "| SRVO-050 | Collision with fixture | see *Collision recovery* |\n"
                        "| SRVO-023 | Stop error excessive | Check the payload schedule |\n\n"
                        "## Collision recovery\n\n1. Clear the alarm: `systemctl restart "
                        "fanuc-reset`\n")
    collision = next(s for s in plan.steps if s.title.startswith("Alarm is SRVO-050"))
    assert [e.target for e in plan.edges if e.source == collision.id and e.kind == "jump"] \
        == ["approve-" + step_running(plan, ["systemctl", "restart", "fanuc-reset"])]
    assert not [s for s in plan.steps if "see" in s.title.lower()]


def test_a_section_skipped_to_is_where_every_case_comes_in_the_end() -> None:
    # "- No → skip to Phase 3." / "- Yes → continue with Phase 2.": Phase 3 follows Phase 2
    plan = compile_text("# Kafka\n\n## Phase 1 — Detect\n\nRun `kafka-topics.sh --describe "
                        "--under-replicated-partitions`.\n\nAre there under-replicated "
                        "partitions?\n- **No** → skip to Phase 3.\n- **Yes** → continue with "
                        "Phase 2.\n\n## Phase 2 — Mitigate\n\n```bash\nkubectl -n kafka delete "
                        "pod kafka-2\n```\n\n## Phase 3 — Resolve\n\n```bash\nkubectl -n kafka "
                        "get pods\n```\n")
    delete = step_running(plan, ["kubectl", "-n", "kafka", "delete", "pod", "kafka-2"])
    assert successors(plan, delete) == [step_running(plan, ["kubectl", "-n", "kafka", "get",
                                                            "pods"])]
