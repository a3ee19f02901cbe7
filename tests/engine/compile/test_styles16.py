"""Runbook styles the earlier sweeps did not try: an ABB IRC5 cell over Robot Web Services,
a Universal Robots cell over its Dashboard Server, an intranet page of HTML headings, MkDocs
Material tabs and admonitions, a Docusaurus caution over a command, Hugo shortcodes, Jekyll's
Liquid tags, a notebook exported by nbconvert, a French runbook, hand-overs to another team
(tests/fixtures/styles16 holds the guides tried). Each test is one rule a guide author would
recognise."""

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

STYLES16 = Path(__file__).resolve().parents[2] / "fixtures" / "styles16"


def test_each_styles16_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES16, at_least=10)


# -- a numbered heading ---------------------------------------------------------------------------

def test_a_numbered_headings_words_name_its_steps():
    # "## 1. Check the webhook queue": the title of its steps was "1" (the number read as a
    # sentence of its own), so `--explain`, the approvals and the report said "Approve: 1"
    plan = compile_text("# Webhooks\n\n## 1. Check the webhook queue\n\n```bash\n"
                        "kubectl -n p get pods\n```\n\n## 2. Restart the workers\n\n```bash\n"
                        "kubectl -n p rollout restart deploy/w\n```\n")
    assert running(plan, "get pods").title == "1. Check the webhook queue"
    restart = running(plan, "rollout restart")
    assert restart.title == "2. Restart the workers"
    assert plan.step(next(e.source for _, e in plan.incoming(restart.id))).title == \
        "Approve: 2. Restart the workers"


# -- Jekyll's Liquid tags -------------------------------------------------------------------------

JEKYLL = """## Mitigate

If one application holds more than 200 connections, terminate its idle ones:

{% highlight sql %}
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle';
{% endhighlight %}

{% raw %}
The panel shows `{{ .Values.db }}`.
{% endraw %}

Then restart PgBouncer:

{% highlight shell linenos %}
sudo systemctl restart pgbouncer
{% endhighlight %}
"""


def test_a_liquid_highlight_block_is_the_fenced_block_of_its_language():
    # `{% highlight sql %}` ... `{% endhighlight %}` was prose: the whole section one person's
    # step, the termination query and the PgBouncer restart never run nor gated
    plan = compile_text(JEKYLL)
    restart = running(plan, "systemctl restart pgbouncer")
    assert restart.mutating and gated(plan, restart.id)
    (kill,) = [s for s in plan.steps if "pg_terminate_backend" in str(s.params.get("query"))]
    assert kill.mutating and gated(plan, kill.id)
    assert guards_of(plan, kill.id) == ["If one application holds more than 200 connections"]
    assert not any("{%" in s.title + s.text for s in plan.steps)
    # a Liquid tag shown in a Markdown fence stays as it is
    plan = compile_text("## Notes\n\n```\n{% highlight shell %}\nsudo reboot\n"
                        "{% endhighlight %}\n```\n")
    assert runs(plan) == []


# -- HTML headings --------------------------------------------------------------------------------

HTML_HEADINGS = """<h1>NGINX returns 502</h1>

<h2 id="check">Check the upstreams</h2>

```bash
ssh edge-01 sudo tail -n 200 /var/log/nginx/error.log
```

If the upstream is down, go to <a href="#fix">Fix</a>. Otherwise go to
<a href="#verify-it">Verify it</a>.

<h2 id="fix">Fix</h2>

```bash
ssh edge-01 sudo systemctl reload nginx
```

<h2 id="verify-it">Verify it</h2>

```bash
curl -s https://shop.example.com/
```
"""


def test_an_html_heading_alone_on_its_line_is_a_heading():
    # `<h2 id="fix">Fix</h2>` was "HTML, not read": the guide had no sections (the reload a
    # diagnosis step titled by its command) and the links to `#fix` landed nowhere
    plan = compile_text(HTML_HEADINGS)
    reload_ = running(plan, "reload nginx")
    assert reload_.title == "Fix" and reload_.id.startswith(("fix", "mit"))
    assert running(plan, "curl").title == "Verify it"
    jumps = [e for e in plan.edges if e.kind in ("jump", "branch")]
    assert any(e.target in (reload_.id, *(e2.source for _, e2 in plan.incoming(reload_.id)))
               for e in jumps)
    from engine.compile.explain import explain
    from engine.guide import parse_guide
    assert "HTML, not read" not in "\n".join(
        str(x) for x in explain(parse_guide(HTML_HEADINGS, path="g.md"), plan, HTML_HEADINGS))


# -- a hand-over, then a stop ---------------------------------------------------------------------

def _ending_of(plan, cond: str) -> str:  # noqa: ANN001
    """The outcome the branch of the decision `cond` ends the run with, through people's steps."""
    (d,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and s.text == cond]
    (branch,) = [e.target for e in plan.edges if e.source == d.id and e.kind == "branch"]
    step = plan.step(branch)
    while step.kind == StepKind.MANUAL:
        (nxt,) = [e.target for e in plan.edges if e.source == step.id and e.on == "success"]
        step = plan.step(nxt)
    assert step.kind == StepKind.END and step.outcome is not None
    return step.outcome.value


def test_handing_over_then_stopping_ends_the_run_escalated_not_resolved():
    # "go to the [provider status runbook](p.md) and stop here" and "Inform IT-Service (Tel.
    # 4711) and terminate the procedure here" ended the run "resolved" (after a person's step
    # "the provider is not sending"): the incident was handed on, not fixed
    for said in ("If the queue is empty, the provider is not sending: go to the [provider "
                 "status runbook](provider-status.md) and stop here.",
                 "If the code is F999, the fault is not at the machine. Inform IT-Service "
                 "(Tel. 4711) and terminate the procedure here.",
                 "If the code is F999, follow the network team's outage playbook and stop here."):
        plan = compile_text("## Check\n\n```bash\ncurl -s https://x/health\n```\n\n"
                            f"{said}\n\n```bash\nkubectl -n p rollout restart deploy/w\n```\n")
        cond = said.split(",")[0]
        assert _ending_of(plan, cond) == "escalate", said
        assert guards_of(plan, running(plan, "rollout restart").id) == \
            [f"Otherwise (not: {cond})"], said
    # a stop after doing something oneself is still the guide's own end
    plan = compile_text("## Fix\n\n```bash\nkubectl -n p rollout restart deploy/w\n```\n\n"
                        "If the queue drains, send the report to yourself and stop here.\n\n"
                        "```bash\nkubectl -n p scale deploy/w --replicas=6\n```\n")
    assert _ending_of(plan, "If the queue drains") == "resolved"


def test_calling_the_integrator_or_it_service_is_a_hand_over():
    # "If the newest event is 50056, stop here and call the integrator; do not move the
    # robot." was a person's step, and the run went on into jogging the robot away
    plan = compile_text("## Read the log\n\n```bash\ncurl -s http://robot/rw/elog/0\n```\n\n"
                        "If the newest event is 50056, stop here and call the integrator; do "
                        "not move the robot.\n\n## Restart\n\n```bash\ncurl -s -X POST "
                        "http://robot/rw/rapid/execution?action=start\n```\n")
    assert _ending_of(plan, "If the newest event is 50056") == "escalate"
    from engine.compile.phrases import outcome_of
    assert outcome_of("Phone the service hotline.") == "escalate"
    assert outcome_of("Call the API again.") is None


# -- a controller's event table -------------------------------------------------------------------

ABB_EVENTS = """# Cell 4

## Event codes

| Event | Title | Action |
|---|---|---|
| 50204 | Motion supervision | Go to [Recover after a collision](#recover-after-a-collision) |
| 20205 | Auto stop open | Close door 4B, then [Restart the program](#restart-the-program) |
| 38103 | Lost communication with SMB | Escalate to ABB service |

## Recover after a collision

1. Jog the robot away from the obstacle on the FlexPendant.

## Restart the program

```bash
curl -s -X POST "http://192.168.125.1/rw/rapid/execution?action=start"
```
"""


def test_an_event_table_decides_and_a_cell_that_does_then_points_goes_there():
    # "Event | Title | Action" (an ABB controller's event log) was context for a reader: no
    # row decided anything, and the collision recovery ran before every restart; "Close door
    # 4B, then [Restart the program](#...)" was a person's step the run went on from
    plan = compile_text(ABB_EVENTS)
    conds = [s.text for s in plan.steps if s.kind == StepKind.DECIDE]
    assert conds[:3] == ["Event is 50204 (Motion supervision)", "Event is 20205 (Auto stop open)",
                         "Event is 38103 (Lost communication with SMB)"]
    (door,) = [s for s in plan.steps if s.kind == StepKind.MANUAL and s.title == "Close door 4B"]
    (after,) = [e for e in plan.edges if e.source == door.id]
    start = running(plan, "action=start")
    assert after.kind == "jump" and after.target in (
        start.id, *(e.source for _, e in plan.incoming(start.id)))


# -- a caution that is nothing but a condition ----------------------------------------------------

def test_an_admonition_that_is_only_a_condition_with_a_colon_guards_the_steps_after_it():
    # ":::caution If a validation compaction has been running for more than 6 hours:" with
    # nothing inside: a person's step "If a validation ...", then both branches went on to
    # stop the compaction (the caution guarded nothing)
    plan = compile_text("## Diagnose\n\n```bash\nssh cass-03 nodetool compactionstats\n```\n\n"
                        ":::caution If a validation compaction has been running for more than "
                        "6 hours:\n:::\n\n```bash\nssh cass-03 nodetool stop VALIDATION\n```\n")
    stop = running(plan, "nodetool stop VALIDATION")
    assert guards_of(plan, stop.id) == [
        "If a validation compaction has been running for more than 6 hours"]
    assert not any(s.kind == StepKind.MANUAL for s in plan.steps)
    # the same in a Markdown quote
    plan = compile_text("## Fix\n\n> **If the disk is full:**\n\n```bash\n"
                        "sudo rm -rf /var/cache/app\n```\n")
    assert guards_of(plan, running(plan, "rm -rf").id) == ["If the disk is full"]


# -- content tabs inside a step -------------------------------------------------------------------

TABS_IN_ITEM = """## Replace the member

1. Rejoin the node:

    === "kubeadm"

        ```bash
        ssh cp-3 sudo kubeadm join phase control-plane-join etcd --control-plane
        ```

    === "Talos"

        ```bash
        talosctl -n 10.0.0.13 reset --graceful=false --reboot
        ```

2. Check the member list:

    ```bash
    etcdctl member list
    ```
"""


def test_content_tabs_inside_a_numbered_step_are_alternatives():
    # the first `=== "kubeadm"` was joined to the step's words ("Rejoin the node: === ..."),
    # so the second tab was a lone label: the kubeadm join and the Talos reset both ran, one
    # after the other
    plan = compile_text(TABS_IN_ITEM)
    assert guards_of(plan, running(plan, "kubeadm join").id) == ["kubeadm"]
    assert guards_of(plan, running(plan, "talosctl").id) == ["Talos"]
    assert running(plan, "kubeadm join").title == "Rejoin the node"


# -- a French runbook's hand-over -----------------------------------------------------------------

def test_a_french_runbook_hands_over_by_telling_the_team():
    # "Si le disque est toujours plein, prévenez l'équipe système et arrêtez-vous ici." was a
    # person's step, and the run ended "resolved" with the disk still full
    plan = compile_text("## 3. Contrôler\n\n```bash\nssh logs-01 df -h /var/log\n```\n\n"
                        "Si le disque est toujours plein, prévenez l'équipe système et "
                        "arrêtez-vous ici.\n")
    assert _ending_of(plan, "Si le disque est toujours plein") == "escalate"
    from engine.compile.phrases import outcome_of
    assert outcome_of("contactez l\u2019astreinte") == "escalate"
    assert outcome_of("appelez le service web") is None


# -- the alert the guide is for -------------------------------------------------------------------

def test_when_this_fires_is_the_guides_trigger_not_a_case():
    # `!!! info "When this fires"` over the alert's names was a decision "When this fires"
    # and a person's step of that title, before anything was looked at
    plan = compile_text("# etcd\n\n!!! info \"When this fires\"\n    `etcdNoLeader` in "
                        "Alertmanager.\n\n## Check\n\n```bash\netcdctl endpoint health\n```\n")
    assert not any(s.kind in (StepKind.DECIDE, StepKind.MANUAL) for s in plan.steps)
    # the alert firing again is a case
    plan = compile_text("## Fix\n\n```bash\nsudo systemctl restart app\n```\n\n"
                        "When this alert fires again within an hour, escalate to the app team.\n")
    assert any(s.kind == StepKind.DECIDE for s in plan.steps)


# -- "do not continue" ----------------------------------------------------------------------------

def test_do_not_continue_under_a_condition_ends_the_run_for_a_person():
    # "If two members are down, do not continue. Restore from the snapshot instead" and the
    # same as an admonition (`!!! danger "If two members are down"` over its words): a
    # person's step "do not continue" (or "Record the finding that ..."), then the run went
    # on into removing a member
    for said in ("If two members are down, do not continue. Restore from the snapshot "
                 "instead, see [etcd disaster recovery](../dr/etcd.md).",
                 "!!! danger \"If two members are down\"\n    Do not continue. Restore from the "
                 "snapshot instead, see\n    [etcd disaster recovery](../dr/etcd.md).",
                 ":::danger If two members are down\nDo not continue. Restore from the "
                 "snapshot instead.\n:::"):
        plan = compile_text("## Replace\n\n```bash\netcdctl member list\n```\n\n"
                            f"{said}\n\n1. Remove the member:\n\n    ```bash\n"
                            "    etcdctl member remove 8e9e\n    ```\n")
        assert _ending_of(plan, "If two members are down") == "escalate", said
        assert guards_of(plan, running(plan, "member remove").id) == [
            "Otherwise (not: If two members are down)"], said
    # a wait is no stop
    plan = compile_text("## Fix\n\n```bash\nkubectl get pods\n```\n\nIf the pod is pending, do "
                        "not continue until it is scheduled.\n\n```bash\nkubectl delete pod "
                        "x\n```\n")
    assert not any(s.kind == StepKind.END and "continue" in s.title for s in plan.steps)


# -- a tab's label over a block -------------------------------------------------------------------

def test_a_tab_label_or_template_tags_over_a_block_do_not_title_its_step():
    # the steps under `=== "kubeadm"` and `{{< tabs >}} {{% tab name="VM" %}}` were titled by
    # that markup ('=== "kubeadm"', '{% include_cached copy-clipboard.html %}')
    plan = compile_text("## Find the bad member\n\n=== \"kubeadm\"\n\n    ```bash\n    etcdctl "
                        "endpoint health\n    ```\n\n=== \"Talos\"\n\n    ```bash\n    talosctl "
                        "etcd status\n    ```\n")
    assert [s.title for s in runs(plan)] == ["Find the bad member"] * 2
    plan = compile_text("## Single node\n\nWhen running a single-node cluster, set:\n\n"
                        "{% include_cached copy-clipboard.html %}\n```shell\ncockroach sql "
                        "--execute='SHOW ZONES'\n```\n")
    assert [s.title for s in runs(plan)] == ["When running a single-node cluster, set"]


# -- stops, hand-overs and nothing to do, in a runbook's own language -----------------------------

def test_a_stop_a_hand_over_and_nothing_to_do_are_read_in_spanish_italian_and_french():
    # "Si está dañada, avise al mantenimiento y deténgase aquí." was a person's step and the
    # run went on to restart the cell with a damaged gripper; "Se il LAG è sotto 1000, il
    # gruppo recupera da solo: nessuna azione necessaria." went on to the restart
    for said, outcome in (
            ("Si está dañada, avise al mantenimiento y deténgase aquí.", "escalate"),
            ("Si está dañada, aborte y reintente una vez; si vuelve a fallar, escale al "
             "integrador.", "escalate"),
            ("Si está dañada, contattare il team piattaforma e fermarsi qui.", "escalate"),
            ("Si está dañada, il gruppo recupera da solo: nessuna azione necessaria.",
             "no_action"),
            ("Si está dañada, aucune action n'est nécessaire.", "no_action")):
        plan = compile_text("## Revisar\n\n```bash\ncurl -s http://hmi/api/status\n```\n\n"
                            f"{said}\n\n```bash\ncurl -s -X POST http://hmi/api/start\n```\n")
        assert _ending_of(plan, "Si está dañada") == outcome, said
    from engine.compile.phrases import outcome_of
    assert outcome_of("llame al técnico de turno") == "escalate"
    assert outcome_of("llame al script de nuevo") is None


# -- a plant's alarm table in its own language ----------------------------------------------------

FANUC_ES = """# Celda 3

## Tabla de alarmas

| Código | Descripción | Acción |
|---|---|---|
| SRVO-050 | Colisión detectada | Ir a [Recuperación tras colisión](#recuperación-tras-colisión) |
| SRVO-001 | Parada de emergencia | Liberar la seta y pulsar RESET |
| Otro código | — | Avisar al mantenimiento |

## Recuperación tras colisión

```bash
curl -s -X POST http://linea3-hmi:8080/api/cell3/start
```
"""


def test_an_alarm_table_in_spanish_decides_row_by_row():
    # "Código | Descripción | Acción" was context for a reader: the collision recovery (a
    # restart of the cell) ran whatever the alarm, and "Otro código" asked for no one
    plan = compile_text(FANUC_ES)
    conds = [s.text for s in plan.steps if s.kind == StepKind.DECIDE]
    assert conds == ["Código is SRVO-050 (Colisión detectada)",
                     "Código is SRVO-001 (Parada de emergencia)"]
    start = running(plan, "cell3/start")
    assert any(e.kind == "jump" and e.target in (start.id, *(x.source for _, x in
                                                             plan.incoming(start.id)))
               for e in plan.edges)
    (last,) = [s for s in plan.steps if s.text == conds[-1]]
    (other,) = [e.target for e in plan.edges if e.source == last.id and e.kind == "else"]
    assert plan.step(other).kind == StepKind.END and plan.step(other).outcome.value == "escalate"


def test_an_admonition_titled_by_a_condition_is_that_case_and_its_words_what_to_do():
    # `??? failure "If the play fails on a host"` over "Re-run it for that host only ...": the
    # person's step was titled by the condition, its words (what to do) a note beside it
    plan = compile_text("## Roll out\n\n```bash\nansible-playbook site.yml\n```\n\n"
                        "??? failure \"If the play fails on a host\"\n    Re-run it for that "
                        "host only with `--limit <host>`.\n")
    (step,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    assert step.title.startswith("re-run it for that host only")
    assert guards_of(plan, step.id) == ["If the play fails on a host"]
    assert plan.ignored == []
