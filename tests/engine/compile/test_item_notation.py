"""How a step's own words frame its command: a title and a colon, an item's "Expected output:"
paragraph over the output, and a step the author crossed out."""

from __future__ import annotations

from engine.plan import StepKind
from tests.support.compiling import compile_text, gated, pipelines, step_running


def _item(text: str, section: str = "Mitigation") -> str:
    return f"# T\n\n## {section}\n\n1. {text}\n"


def test_a_steps_title_and_a_colon_ask_to_run_its_command_whatever_the_verb() -> None:
    # "Renew the cert: `certbot renew ...`" was a person's step: "renew" is on no verb list and
    # certbot on no tool list, so the command read as a name
    for text in ("Renew: `certbot renew --cert-name site`",
                 "Renew the cert: `certbot renew --cert-name site`",
                 "[ ] Renew the cert: `certbot renew --cert-name site`"):
        plan = compile_text(_item(text))
        step = step_running(plan, ["certbot", "renew", "--cert-name", "site"])
        assert gated(plan, step), text  # an unknown tool changes the world until shown not to
    # a tool's subcommand with no option is its command too (it was a person's step)
    plan = compile_text(_item("Resume the cell: `cellctl resume`"))
    assert gated(plan, step_running(plan, ["cellctl", "resume"]))
    plan = compile_text(_item("Restart: `the web server, then wait`"))
    assert pipelines(plan) == []  # words in a code span, not a command line
    # a label of something shown is not a step's title
    for text in ("Example: `certbot renew --force`", "Syntax: `certbot renew --cert-name NAME`",
                 "Output: `certbot renew --dry-run`", "The tool: `certbot renew --x`"):
        plan = compile_text(_item(text))
        assert pipelines(plan) == [], text


def test_an_items_expected_output_paragraph_is_output_and_its_command_runs() -> None:
    # The block under "Expected output:" inside the item ran as a command (`notAfter=...`, an
    # assignment), and the item's own command became a person's step
    text = ("# T\n\n## Diagnosis\n\n1. Check the expiry: `openssl x509 -enddate -noout -in "
            "/etc/ssl/certs/site.pem`\n\n   Expected output:\n   ```\n   notAfter=Jun  1 12:00:00"
            " 2027 GMT\n   ```\n")
    plan = compile_text(text)
    assert pipelines(plan) == [[["openssl", "x509", "-enddate", "-noout", "-in",
                                 "/etc/ssl/certs/site.pem"]]]
    assert not [s for s in plan.steps if s.kind in (StepKind.MANUAL, StepKind.APPROVE)]
    assert [i.reason for i in plan.ignored if i.kind == "code"] == ["sample output"]


def test_a_crossed_out_step_is_not_done_and_says_why() -> None:
    # "~~Restart nginx: `systemctl restart nginx`~~ (no longer needed)" was a person's step
    text = ("# T\n\n## Mitigation\n\n1. ~~Restart nginx: `systemctl restart nginx`~~ (no longer "
            "needed)\n2. Reload: `systemctl reload nginx`\n\n~~Run `systemctl stop nginx` first."
            "~~ Not since v2.\n")
    plan = compile_text(text)
    assert pipelines(plan) == [[["systemctl", "reload", "nginx"]]]
    assert not [s for s in plan.steps if s.kind == StepKind.MANUAL]
    struck = [i for i in plan.ignored if i.reason.startswith("crossed out")]
    assert [(i.kind, i.text) for i in struck] == [
        ("item", "~~Restart nginx: `systemctl restart nginx`~~ (no longer needed)"),
        ("inline", "systemctl stop nginx")]
    # a strike inside a step's words is an edit, not the step crossed out
    plan = compile_text(_item("Reload ~~nginx~~ the proxy: `systemctl reload haproxy`"))
    assert pipelines(plan) == [[["systemctl", "reload", "haproxy"]]]


def test_text_to_add_to_a_file_is_a_persons_edit_holding_that_text() -> None:
    # "- Add the following line to blacklist section" over `blacklist { ... }`: the block's
    # lines ran as commands (`blacklist {`, behind approvals), and the edit itself was no step
    for intro in ("- Add the following line to blacklist section `devnode \"^sd[a-z0-9]+\"`",
                  "Add the following line to the blacklist section of `/etc/multipath.conf`:",
                  "1. Append this to `/etc/multipath.conf`:"):
        text = (f"# T\n\n## Mitigation\n\n{intro}\n\n```sh\nblacklist {{\n"
                "    devnode \"^sd[a-z0-9]+\"\n}\n```\n\n- Restart it: `systemctl restart "
                "multipathd`\n")
        plan = compile_text(text)
        (edit,) = [s for s in plan.steps if s.kind == StepKind.MANUAL]
        assert edit.params["script"] == 'blacklist {\n    devnode "^sd[a-z0-9]+"\n}', intro
        assert pipelines(plan) == [[["systemctl", "restart", "multipathd"]]], intro
    # commands typed at a prompt under such words are still commands
    plan = compile_text("# T\n\n## Mitigation\n\nAdd the following line to the hosts file:\n\n"
                        "```sh\n$ echo '10.0.0.1 db' | sudo tee -a /etc/hosts\n```\n")
    assert pipelines(plan) == [[["echo", "10.0.0.1 db"], ["sudo", "tee", "-a", "/etc/hosts"]]]
