"""Runbook styles the earlier sweeps did not try: Kibana Dev Tools requests, RabbitMQ, Redis
Sentinel, Kafka, MySQL `\\G` sessions, Helm/Terraform rollbacks, Jupyter and Org exports, a UR
robot cell (tests/fixtures/styles12 holds the guides tried). Each test is one rule a guide
author would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.compile.explain import explain, unaccounted
from engine.guide import parse_guide
from engine.plan import Plan, StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    guards_of,
    manual_scripts,
    runs,
)

STYLES12 = Path(__file__).resolve().parents[2] / "fixtures" / "styles12"


def _argvs(plan: Plan) -> list[list[str]]:
    return [list(s.params["pipeline"][0]) for s in runs(plan) if "pipeline" in s.params]


def _decisions(plan: Plan) -> list[str]:
    return [s.text for s in plan.steps if s.kind == StepKind.DECIDE]


# -- Org mode's results ------------------------------------------------------------------------

ORG = """# Certificate expiring

## Check

#+BEGIN_SRC sh
openssl x509 -noout -enddate -in /etc/ssl/shop.pem
#+END_SRC

#+RESULTS:
: notAfter=Jun 14 23:59:59 2024 GMT

If the date is within 14 days, renew:

```sh
cmctl renew shop-tls -n ingress
```
"""


def test_an_org_results_block_is_the_output_of_the_block_above():
    # `#+RESULTS:` on its own line read as a condition ("#+RESULTS") guarding everything after
    # it, and its `: notAfter=...` line as prose
    plan = compile_text(ORG)
    assert not any("RESULTS" in text for text in _decisions(plan))
    assert not any("notAfter" in s for s in manual_scripts(plan))
    renew = next(s for s in runs(plan) if s.params["pipeline"][0][0] == "cmctl")
    assert guards_of(plan, renew.id) == ["If the date is within 14 days"]
    assert not unaccounted(ORG, explain(parse_guide(ORG, path="g.md"), plan, ORG))


def test_a_text_line_that_opens_with_a_key_and_a_value_is_no_command():
    # `notAfter=Jun 14 23:59:59 2024 GMT` in a `text` block was a shown command (the
    # assignment `notAfter=Jun`, then a program `14`): a person's step holding openssl's answer
    plan = compile_text("## Check\n\n```sh\nopenssl x509 -noout -enddate -in /etc/a.pem\n```\n\n"
                        "```text\nnotAfter=Jun 14 23:59:59 2024 GMT\n```\n")
    assert not any("POST" in s for s in manual_scripts(plan))
    # an assignment before a program still is one
    plan = compile_text("## Check\n\n```text\nLANG=C ls -l /var/log\n```\n")
    assert manual_scripts(plan) == ["LANG=C ls -l /var/log"]


# -- Kibana Dev Tools requests -------------------------------------------------------------------

DEV_TOOLS = """# Cluster red

## Check

```console
GET _cluster/health?filter_path=status,unassigned_shards
```

```console-result
{
  "status" : "red"
}
```

## Fix

### Free disk

```console
GET _cat/indices/logs-2024.0*?v&s=index
DELETE /logs-2024.01.*
```

### Relax the watermark

```json
PUT _cluster/settings
{
  "transient": {"cluster.routing.allocation.disk.watermark.high": "95%"}
}
```
"""


def test_requests_typed_into_a_search_clusters_dev_tools_console_are_a_persons_step():
    # `GET _cluster/health` in Elastic's `console` block, `DELETE /logs-*` after it and a
    # `PUT _cluster/settings` over its JSON body were dropped as sample output or configuration:
    # the plan said nothing of the deletion the guide asked for
    plan = compile_text(DEV_TOOLS)
    scripts = manual_scripts(plan)
    assert "GET _cluster/health?filter_path=status,unassigned_shards" in scripts
    assert any("DELETE /logs-2024.01.*" in s for s in scripts)
    assert any(s.startswith("PUT _cluster/settings\n{") for s in scripts)
    assert not any('"status" : "red"' in s for s in scripts)  # its answer stays output
    assert _argvs(plan) == []
    # a program named GET given a URL (libwww-perl's) and an HTTP message are no such request
    plan = compile_text("## Check\n\n```\nPOST /validate HTTP/1.1\nHost: x\n```\n")
    assert not any("POST" in s for s in manual_scripts(plan))


# -- where a block runs, said in an aside ---------------------------------------------------------

def test_a_place_in_an_aside_or_before_one_makes_the_block_a_persons_step_there():
    # "Restart the stuck replica (on the replica host):" and "Run these on any cluster node (as
    # root or the `rabbitmq` user):": the aside hid the place, and the block ran on this machine
    for intro in ("Restart the stuck replica (on the replica host):",
                  "Restart the stuck replica on the replica host:",
                  "Run these on any cluster node (as root or the `rabbitmq` user):"):
        plan = compile_text(f"## Fix\n\n{intro}\n\n```bash\nsudo systemctl restart redis-server\n"
                            "```\n")
        assert runs(plan) == [], intro
        assert manual_scripts(plan) == ["sudo systemctl restart redis-server"], intro
    # an aside that names no place, the same host, or a block that reaches the host itself
    for intro, block in (("Restart the service (see below):", "sudo systemctl restart app"),
                         ("Restart it on the same host:", "sudo systemctl restart app"),
                         ("Write the config on the replica host:",
                          "ssh db-replica.internal sudo systemctl restart app")):
        plan = compile_text(f"## Fix\n\n{intro}\n\n```bash\n{block}\n```\n")
        assert [s.text for s in runs(plan)] == [block], intro


# -- "non-zero" of a value ------------------------------------------------------------------------

def test_a_value_that_is_non_zero_is_a_condition_on_it_not_the_commands_failure():
    # "If register 101 is non-zero, clear the jam by hand." after a PLC read was the read's
    # failure edge: the person's step ran only if mbpoll failed, and a jam went uncleared
    plan = compile_text("## 2. Read the PLC fault word\n\n```bash\n"
                        "mbpoll -m tcp -a 1 -r 100 -c 2 -1 plc-cell4\n```\n\n"
                        "If register 101 is non-zero, clear the jam by hand.\n\n"
                        "## 3. Restart\n\nRun `systemctl restart cell`.\n")
    (clear,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert guards_of(plan, clear.id) == ["If register 101 is non-zero"]
    assert not [e for _, e in plan.incoming(clear.id) if e.on == "failure"]
    # the command's own status still is its failure
    plan = compile_text("## Check\n\n```bash\ncurl -fsS http://localhost:8080/health\n```\n\n"
                        "If it exits non-zero, restart the app: `systemctl restart app`.\n")
    restart = next(s for s in runs(plan) if s.params["pipeline"][0][0] == "systemctl")
    (approve,) = [e.source for _, e in plan.incoming(restart.id)]
    assert any(e.on == "failure" for _, e in plan.incoming(approve))


# -- a list of cases in a step's section ----------------------------------------------------------

CASES = """# Cell 4

## 2. Read the PLC fault word

```bash
mbpoll -m tcp -a 1 -r 100 -c 2 -1 plc-cell4
```

- If register 100 is `4` (gripper vacuum fault), abort and call the cell technician.
- If register 101 is non-zero, the conveyor is jammed: clear it by hand (teach pendant →
  *Conveyor* → *Jog back*), then continue.

## 3. Recover

1. Unlock the protective stop: `echo "unlock protective stop" | nc -q 1 ur-cell4 29999`
"""


def test_each_case_of_a_list_of_conditions_under_a_step_heading_is_a_persons_step_under_it():
    # under "## 2. Read the PLC fault word" (a step's heading, not a Diagnosis section) the
    # second case was ignored as prose: nobody was asked to clear the jam before the restart
    plan = compile_text(CASES)
    (clear,) = [s for s in plan.steps if s.kind == StepKind.MANUAL and "jammed" in s.text]
    assert guards_of(plan, clear.id) == ["If register 101 is non-zero"]
    # what a case says happens, not what to do, stays context
    plan = compile_text("# VM\n\n## 2. Resources\n\n"
                        "- If free CPU is close to 0, then ingestion may be delayed.\n"
                        "- If free memory reaches 0, then the OS may kill the process.\n\n"
                        "## 3. Restart\n\nRun `systemctl restart vm`.\n")
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]


# -- the guides tried ------------------------------------------------------------------------------

def test_each_guide_tried_gates_its_changes_and_accounts_for_every_line():
    assert_gated_and_accounted(folder=STYLES12, at_least=10)
