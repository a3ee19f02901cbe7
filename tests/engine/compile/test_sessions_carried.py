"""A later section's command, after the guide opened a session on another machine, is not run
on this one.

A session ends with its section (tests/engine/compile/test_sessions.py). But a guide that
ssh-es to the node in "## Diagnosis" and says `systemctl restart kubelet` under "##
Mitigation" means the node's kubelet; run here, the plan restarted (or, for `systemctl
status`, reported on) the operator's own machine. Where such a line runs the guide does not
say (the node, or a third machine: "## Filer side"), so it is a person's step holding the
line under a note that names the session the guide last opened. Lines that reach
their machine by themselves (`kubectl`, `ssh host cmd`, a URL, `psql -h db`) run as before, and
so does everything once the guide leaves the session (`exit`) or says "from your laptop"."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import compile_text, manual_scripts, pipelines

# ssh to the node under Diagnosis, `systemctl ...` under Mitigation, `kubectl get node` after
NODE = (Path(__file__).resolve().parents[2] / "fixtures" / "sessions" / "ssh-left-open.md"
        ).read_text(encoding="utf-8")


def test_a_later_sections_host_command_is_a_persons_step_in_the_session() -> None:
    plan = compile_text(NODE)
    runs_here = [" ".join(p[0]) for p in pipelines(plan)]
    # Then neither systemctl line runs on this machine (before: both did, the restart gated)
    assert not any(r.startswith("systemctl") for r in runs_here), runs_here
    # and a person is told to run them, with a note naming the session the guide last opened
    assert "# where: this section does not say (the guide's last session: `ssh <node-address>`, " \
        "line 8)\nsystemctl status kubelet\nsystemctl restart kubelet" in manual_scripts(plan)
    # while the same section's line still runs in the session, and kubectl runs here
    assert ["ssh", "{{ inputs.node_address }}", "--", "journalctl -u kubelet --no-pager"] in \
        [p[0] for p in pipelines(plan)]
    assert ["kubectl", "get", "node", "{{ inputs.node_name }}"] in [p[0] for p in pipelines(plan)]


def test_a_pod_shell_carries_into_the_next_section() -> None:
    # `kubectl exec -it` into the toolbox, then `ceph status` in the next section: in the pod
    plan = compile_text("""# Ceph

## Open the toolbox

```bash
kubectl -n rook-ceph exec -it deploy/rook-ceph-tools -- bash
```

## Check the cluster

```bash
ceph status
```
""")
    assert not any(p[0][0] == "ceph" for p in pipelines(plan))
    assert any(s.endswith("\nceph status") for s in manual_scripts(plan))


def test_lines_that_reach_their_own_machine_still_run() -> None:
    plan = compile_text(NODE.replace("""   ```bash
   systemctl status kubelet
   systemctl restart kubelet
   ```""", """   ```bash
   curl -s https://api.example.net/healthz
   psql -h orders-db -c 'select 1'
   ssh node-2 uptime
   kafka-topics.sh --bootstrap-server kafka-1:9092 --list
   mosquitto_sub -h gw4.plant -t line4/state -C 1 -W 5
   ```"""))
    first_words = {p[0][0] for p in pipelines(plan)}
    assert {"curl", "psql", "ssh", "kafka-topics.sh", "mosquitto_sub"} <= first_words, first_words


def test_leaving_the_session_or_saying_locally_ends_it() -> None:
    left = compile_text(NODE.replace("   journalctl -u kubelet --no-pager\n",
                                     "   journalctl -u kubelet --no-pager\n   exit\n"))
    assert ["systemctl", "status", "kubelet"] in [p[0] for p in pipelines(left)]
    told = compile_text(NODE.replace("1. Check the kubelet and restart it:",
                                     "1. From your laptop, check the kubelet and restart it:"))
    assert ["systemctl", "status", "kubelet"] in [p[0] for p in pipelines(told)]


def test_a_new_container_or_a_login_here_is_not_another_machine() -> None:
    # `docker run -it img sh` is gone when it exits; `sudo -i` stays on this machine
    for opener in ("docker run --rm -it alpine sh", "sudo -i", "ssh git@gitlab.com"):
        plan = compile_text(NODE.replace("ssh <node-address>", opener))
        status = [s for s in plan.steps if s.kind == StepKind.COMMAND and
                  s.params.get("pipeline", [[None]])[0][-1:] == ["kubelet"] and
                  "status" in s.params["pipeline"][0]]
        assert status, (opener, manual_scripts(plan))


def test_lint_says_where_it_is_unsaid_and_its_fix_compiles_without_it() -> None:
    from engine.compile.lint import lint_guide
    from engine.guide import parse_guide

    found = [f for f in lint_guide(parse_guide(NODE, path="g.md")) if f.rule == "MF210"]
    assert [f.line for f in found] == [17] and "`ssh <node-address>` (line 8)" in found[0].message
    # the suggested fix: the session's one-shot form
    fixed = NODE.replace("   systemctl status kubelet\n   systemctl restart kubelet\n",
                         "   ssh <node-address> -- systemctl status kubelet\n")
    assert not [f for f in lint_guide(parse_guide(fixed, path="g.md")) if f.rule == "MF210"]
    assert ["ssh", "{{ inputs.node_address }}", "--", "systemctl", "status", "kubelet"] in \
        [p[0] for p in pipelines(compile_text(fixed))]


def test_an_inline_command_said_to_run_locally_ends_the_carried_session() -> None:
    plan = compile_text(NODE.replace(
        "2. Watch the node come back:\n\n   ```bash\n   kubectl get node <node-name>\n   ```\n",
        "2. From your laptop, check the health endpoint: `curl -s localhost:8080/healthz`\n"))
    assert ["curl", "-s", "localhost:8080/healthz"] in [p[0] for p in pipelines(plan)]
