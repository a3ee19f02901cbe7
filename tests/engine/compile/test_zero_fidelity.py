"""Rules that keep sample output from running, keep every change the guide asks for, and keep
a session's commands in the session: each one a rule a guide author would recognise, on a
small guide written here."""

from __future__ import annotations

from engine.compile import compile_guide
from engine.guide import parse_guide
from engine.plan import Plan, StepKind

PLUGINS = {"shell", "prometheus", "sql", "http", "logs"}


def compile_text(body: str) -> Plan:
    text = "# T\n\n## Mitigation\n\n" + body
    return compile_guide(parse_guide(text, path="guide.md"), known_plugins=PLUGINS)


def runs(plan: Plan) -> list[list[str]]:
    return [stage for s in plan.steps if s.plugin == "shell" and s.kind == StepKind.COMMAND
            for stage in s.params["pipeline"]]


def manual_scripts(plan: Plan) -> list[str]:
    return [s.params["script"] for s in plan.steps
            if s.kind == StepKind.MANUAL and "script" in s.params]


def test_a_word_in_a_code_span_does_not_announce_output():
    # `client-output-buffer-limit` is a setting's name: the block is commands, not output
    plan = compile_text(
        "Temporarily disable the `client-output-buffer-limit` on the new master.\n\n"
        "```\nredis-cli -p 6379 info replication\n"
        "redis-cli config set client-output-buffer-limit \"slave 0 0 0\"\n```\n")
    assert runs(plan) == [["redis-cli", "-p", "6379", "info", "replication"],
                          ["redis-cli", "config", "set", "client-output-buffer-limit",
                           "slave 0 0 0"]]


def test_the_output_cue_in_prose_still_holds_beside_a_code_span():
    plan = compile_text("The output of `kubectl get pods` should look like:\n\n"
                        "```\nkubectl get pods\nNAME    READY   STATUS\n```\n")
    assert runs(plan) == [["kubectl", "get", "pods"]]


def test_a_commented_out_command_is_shown_to_a_person_never_run_nor_lost():
    plan = compile_text(
        "```bash\nkubectl annotate hco -n \"${NS}\" kubevirt-hyperconverged 'kubevirt.io/jsonpatch-'\n"
        "# Other examples (use if those annotations are present):\n"
        "# kubectl annotate hco -n \"${NS}\" kubevirt-hyperconverged 'cdi.kubevirt.io/jsonpatch-'\n"
        "# docker runtime\n```\n")
    assert [r[:2] for r in runs(plan)] == [["kubectl", "annotate"]]
    assert any("cdi.kubevirt.io/jsonpatch-" in m and not m.startswith("#")
               for m in manual_scripts(plan))
    assert not any("docker runtime" in m for m in manual_scripts(plan))


def test_a_comment_aligned_under_a_comment_is_no_root_prompt():
    # `#           mv ...` continues "# Examples: ..." in a `$` transcript: never run
    plan = compile_text(
        "```shell\n$ sudo service chef-client stop\n\n"
        "# Examples: mv /etc/chef /etc/chef.disabled.because.of.override\n"
        "#           mv /etc/chef /etc/chef.infra-1231\n\n"
        "$ sudo mv /etc/chef /etc/chef.disabled\n```\n")
    assert runs(plan) == [["sudo", "service", "chef-client", "stop"],
                          ["sudo", "mv", "/etc/chef", "/etc/chef.disabled"]]
    assert any("mv /etc/chef /etc/chef.infra-1231" in m for m in manual_scripts(plan))


def test_a_command_that_asks_questions_the_guide_answers_is_a_persons():
    plan = compile_text(
        "Create the volume:\n\n```bash\n"
        "veracrypt --text --create --size 100M --keyfiles \"\" $HOME/secrets\n\n"
        "Enter password:\nRe-enter password:\nEnter PIM:  [Enter]\n```\n\n"
        "Create the key:\n\n```bash\n> gpg --expert --full-generate-key\n"
        "Please select what kind of key you want:\n  (1) RSA and RSA (default)\n"
        "Your selection? 8\n\n> gpg --list-keys\n```\n\n"
        "```bash\n> gpg --edit-key FAEFD83E\n\ngpg> addcardkey\n```\n")
    assert runs(plan) == [["gpg", "--list-keys"]]
    scripts = "\n".join(manual_scripts(plan))
    for shown in ("veracrypt --text --create", "gpg --expert --full-generate-key",
                  "gpg --edit-key FAEFD83E"):
        assert shown in scripts


def test_a_question_mark_in_output_that_asks_nothing_keeps_the_command():
    plan = compile_text("```\n$ curl -s https://example.com/api?x=1\n"
                        "GET /api?x=1 200\n```\n")
    assert runs(plan) == [["curl", "-s", "https://example.com/api?x=1"]]
