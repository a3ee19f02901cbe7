"""Every section's commands reach the plan: describing sections, other sections, inline code.

Rule: an inline code span that is a command (two words or more, a known tool first) becomes
part of a step: it runs when its sentence asks for it and it stands alone, else a manual step
holds the text and the command. A describing section (Meaning, Overview, ...) keeps its
commands: read-only ones run, the rest are manual steps; its prose is never control flow.
"""

from __future__ import annotations

from engine.compile import compile_guide
from engine.guide import parse_guide
from engine.plan import Plan, Step, StepKind
from tests.support.compiling import step_running


def compile_text(text: str) -> Plan:
    return compile_guide(parse_guide(text, path="guide.md"))


def holding(plan: Plan, command: str) -> list[Step]:
    return [s for s in plan.steps if s.kind != StepKind.END and
            (command in s.text or command in str(s.params.get("script", "")))]


def test_a_command_the_text_only_mentions_is_a_manual_step_holding_the_text():
    plan = compile_text("# T\n\n## Examples\n\nThe `kubectl top pods` command shows usage.\n")
    [step] = holding(plan, "kubectl top pods")
    assert step.kind == StepKind.MANUAL
    assert "shows usage" in step.text and "`kubectl top pods`" in step.text
    # no script: the text says what to do with it ("kill the `x` processes" is not "run x")
    assert "script" not in step.params


def test_a_command_the_sentence_asks_to_run_runs_in_any_section():
    plan = compile_text("# T\n\n## Examples\n\nTo see events, run `kubectl get events -n foo`.\n")
    [step] = holding(plan, "kubectl get events -n foo")
    assert step.kind == StepKind.COMMAND
    assert step.params["pipeline"] == [["kubectl", "get", "events", "-n", "foo"]]


def test_only_the_sentence_holding_the_command_decides_whether_it_runs():
    # "Run" opens the paragraph, but the second sentence only names a command.
    plan = compile_text("# T\n\n## Diagnosis\n\nRun `kubectl get pods`. The `kubectl top pods` "
                        "command is handy too.\n")
    assert [s.kind for s in holding(plan, "kubectl top pods")] == [StepKind.MANUAL]
    assert StepKind.COMMAND in [s.kind for s in holding(plan, "kubectl get pods")]


def test_alternatives_are_for_a_person_to_choose():
    plan = compile_text("# T\n\n## Diagnosis\n\n"
                        "Run `kubectl top pods` or `kubectl get pods -o wide`.\n")
    assert [s.kind for s in holding(plan, "kubectl top pods")] == [StepKind.MANUAL]


def test_a_describing_section_keeps_its_commands_and_runs_only_read_only_ones():
    plan = compile_text("# T\n\n## Overview\n\nIf the disk fills, someone ran `rm -rf /var/log/x`."
                        "\n\n```bash\nkubectl get pods -n foo\nkubectl delete pod x -n foo\n```\n\n"
                        "## Diagnosis\n\n```bash\nkubectl get nodes\n```\n")
    assert [s.kind for s in holding(plan, "rm -rf /var/log/x")] == [StepKind.MANUAL]
    assert [s.kind for s in holding(plan, "kubectl get pods -n foo")] == [StepKind.COMMAND]
    assert [s.kind for s in holding(plan, "kubectl delete pod x")] == [StepKind.MANUAL]
    # Its "If ..." is context, not a branch.
    assert not [s for s in plan.steps if s.kind == StepKind.DECIDE]


def test_a_chain_in_a_describing_section_that_starts_a_change_is_one_persons_step():
    # Given `a && b && c` in a Symptom section, a (podman run) a change: before, b and c ran
    # on their own (sleep, then podman exec into a container the plan never started)
    line = "podman run --name test -d rhel7-init && sleep 10 && podman exec test systemctl status"
    plan = compile_text(f"# T\n\n## Symptom\n\n```console\n# {line}\nFailed to get D-Bus\n```\n"
                        "\n## Diagnosis\n\n```bash\nkubectl get nodes\n```\n")
    assert [(s.kind, s.params.get("script")) for s in holding(plan, "sleep 10")] == \
        [(StepKind.MANUAL, line)]


def test_what_a_describing_section_shows_mitigates_nothing():
    plan = compile_text("# T\n\n## Meaning\n\n```bash\nkubectl delete pod x\n```\n\n"
                        "## Diagnosis\n\n```bash\nkubectl get pods\n```\n")
    assert "end-no-action" in {s.id for s in plan.steps}


def test_commands_in_a_table_are_kept():
    plan = compile_text("# T\n\n## Commands\n\n| what | how |\n|---|---|\n"
                        "| services | `kubectl get svc -A` |\n")
    assert [s.kind for s in holding(plan, "kubectl get svc -A")] == [StepKind.MANUAL]


def test_a_prompt_before_an_inline_command_is_not_part_of_it():
    plan = compile_text("# T\n\n## Diagnosis\n\nRun `$ kubectl get pods`.\n")
    [step] = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert step.params["pipeline"] == [["kubectl", "get", "pods"]]


def test_an_item_s_inline_command_spans_the_item_s_words_not_the_output_under_it():
    plan = compile_text("# T\n\n## Diagnosis\n\n1. Check `kubectl get pods -n foo`:\n\n"
                        "   ```text\n   NAME   READY\n   web-1  1/1\n   ```\n")
    [step] = holding(plan, "kubectl get pods -n foo")
    assert (step.source.start, step.source.end) == (5, 6)


def test_sudo_and_a_program_path_make_an_inline_span_a_command():
    plan = compile_text("# T\n\n## Steps\n\nOn the node, `sudo gitlab-psql` opens a console; "
                        "`./bin/vault-show secrets gprd` prints them.\n")
    [step] = holding(plan, "sudo gitlab-psql")
    assert step.kind == StepKind.MANUAL and "./bin/vault-show secrets gprd" in step.text


def test_a_span_that_only_begins_longer_spans_is_a_fragment_not_a_command():
    plan = compile_text("# T\n\n## Fix\n\nPrefix the command with `kubectl exec`, i.e. "
                        "`kubectl exec web-1 -- ls /data`.\n")
    assert not [s for s in plan.steps if s.text == "kubectl exec"]


def test_a_paragraph_of_many_inline_commands_compiles_in_linear_time():
    from tests.engine.compile.test_robustness import LINEAR, _compile, growth

    def paragraph(n: int) -> str:
        return "# T\n\n## Examples\n\n" + " ".join(
            f"See `kubectl get pods -n ns{i}` or `kubectl get svc -n ns{i}`." for i in range(n))
    assert growth(paragraph, 300, _compile) < LINEAR


def test_a_heading_asking_what_is_causing_something_is_a_procedure_not_a_description():
    guide = ("# Redis\n\n## {0}\n\nCapture the traffic:\n\n```\n"
             "sudo tcpdump -G 30 -W 1 -w redis.pcap -i ens4\n```\n")
    asks = compile_text(guide.format("What is causing Redis to slow down?"))
    [step] = [s for s in holding(asks, "tcpdump") if s.kind != StepKind.APPROVE]
    assert step.kind == StepKind.COMMAND and step.mutating  # run, behind its approval
    describes = compile_text(guide.format("What is Redis"))
    [shown] = holding(describes, "tcpdump")
    assert shown.kind == StepKind.MANUAL  # a describing section never runs a change


def test_a_describing_noun_heads_a_describing_section_only_as_the_heading_s_subject():
    guide = ("# GCS\n\n## {0}\n\nCreate it:\n\n```\n"
             "gcloud iam service-accounts create uploader\n```\n")
    for heading in ("Service account required", "Logging into the node",
                    "about.gitlab.com is down", "Monitoring number of slowlog entries"):
        plan = compile_text(guide.format(heading))
        [step] = [s for s in holding(plan, "service-accounts create")
                  if s.kind != StepKind.APPROVE]
        assert step.kind == StepKind.COMMAND and step.mutating, heading  # gated, run
    for heading in ("Services", "Monitoring & alerting", "Links:", "Metrics and monitoring"):
        [shown] = holding(compile_text(guide.format(heading)), "service-accounts create")
        assert shown.kind == StepKind.MANUAL, heading  # described, never run


def test_a_tldr_over_the_detailed_steps_is_for_a_reader() -> None:
    # "## TL;DR" told the steps short, then "## Details" in full: its "Still burning after
    # both? Page the API owner." escalated before any check had run
    text = ("# API latency\n\n## TL;DR\n\n1. Check for a deploy in the last 30 min → roll it "
            "back.\n2. Still burning after that? Page the API owner.\n\n## Details\n\n"
            "### Was there a deploy?\n\n```sh\nkubectl -n api rollout history deploy/api\n```\n")
    plan = compile_guide(parse_guide(text, path="guide.md"))
    first = step_running(plan, ["kubectl", "-n", "api", "rollout", "history", "deploy/api"])
    assert plan.entry == first
    assert not [s for s in plan.steps if s.title.startswith("Still burning")]
    # with nothing below it, the short version is the procedure
    alone = compile_guide(parse_guide("# API latency\n\n## TL;DR\n\n1. Roll back the deploy: "
                                      "`kubectl -n api rollout undo deploy/api`\n",
                                      path="guide.md"))
    assert step_running(alone, ["kubectl", "-n", "api", "rollout", "undo", "deploy/api"])
