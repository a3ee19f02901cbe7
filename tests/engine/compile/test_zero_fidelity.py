"""Rules that keep sample output from running, keep every change the guide asks for, and keep
a session's commands in the session: each one a rule a guide author would recognise, on a
small guide written here."""

from __future__ import annotations

from engine.compile import compile_guide
from engine.guide import parse_guide
from engine.plan import Plan, StepKind

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs"}


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
        "Temporarily disable the `client-output-buffer-limit`.\n\n"
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
        "```bash\n"
        "kubectl annotate hco -n \"${NS}\" kubevirt-hyperconverged 'kubevirt.io/jsonpatch-'\n"
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


def test_a_named_root_prompt_runs_in_the_pod_and_its_exit_ends_the_session():
    plan = compile_text(
        "1. Run `kubectl -n rook-ceph exec -it rook-ceph-mon-a -- bash` to enter the pod,\n\n"
        "    ```console\n    mon-a# cat /etc/ceph/keyring-store/keyring\n    mon-a# exit\n"
        "    ```\n\n"
        "2. Stop the operator with `kubectl -n rook-ceph scale deploy/rook-ceph-operator "
        "--replicas=0`.\n")
    assert runs(plan) == [
        ["kubectl", "-n", "rook-ceph", "exec", "rook-ceph-mon-a", "--", "cat",
         "/etc/ceph/keyring-store/keyring"],
        ["kubectl", "-n", "rook-ceph", "scale", "deploy/rook-ceph-operator", "--replicas=0"]]


def test_a_shell_in_a_new_container_is_a_persons_session():
    plan = compile_text(
        "Run `docker run -it --rm -v /var/lib/rook:/var/lib/rook ceph/ceph:v14 bash`:\n\n"
        "```console\ntouch /etc/ceph/ceph.conf\nmonmaptool --rm a monmap\nexit\n```\n\n"
        "Then run:\n\n```console\nkubectl run -it --rm dbg --image=busybox -- sh\n"
        "nslookup kubernetes.default\n```\n")
    assert runs(plan) == []
    scripts = manual_scripts(plan)
    assert any("docker run -it" in m and "touch /etc/ceph/ceph.conf" in m
               and "monmaptool --rm a monmap" in m for m in scripts)
    assert any("kubectl run -it" in m and "nslookup kubernetes.default" in m for m in scripts)


def test_back_at_the_openers_prompt_the_session_is_over():
    plan = compile_text(
        "```bash\n$ docker run -it docker:git /bin/sh\n"
        "# git clone https://gitlab.com/gitlab-org/gitlab-foss\n```\n\n"
        "Afterward tear down the machine:\n\n```bash\n$ docker-machine rm test-machine\n```\n")
    assert runs(plan) == [["docker-machine", "rm", "test-machine"]]
    assert any("git clone" in m for m in manual_scripts(plan))


def test_one_prompt_throughout_keeps_the_session_open():
    plan = compile_text("```\n$ ssh redis-03.example.internal\n\n$ pgrep -a redis-server\n"
                        "2997 /opt/redis-server 0.0.0.0:6379\n```\n")
    assert runs(plan) == [["ssh", "redis-03.example.internal", "--", "pgrep -a redis-server"]]


def test_a_command_that_opens_an_editor_is_a_persons_and_the_block_goes_on():
    plan = compile_text(
        "Edit the secrets, then check the operator:\n\n"
        "```\nbin/gkms-vault-edit praefect-omnibus-secrets gprd\n"
        "kubectl -n rook-ceph edit deploy/rook-ceph-operator\n"
        "kubectl -n rook-ceph get deploy/rook-ceph-operator\n```\n")
    assert runs(plan) == [["kubectl", "-n", "rook-ceph", "get", "deploy/rook-ceph-operator"]]
    assert any("bin/gkms-vault-edit" in m and "kubectl -n rook-ceph edit" in m
               for m in manual_scripts(plan))


def test_a_command_wrapped_over_a_line_break_beside_a_guard_is_never_dropped():
    plan = compile_guide(parse_guide(
        "# T\n\n## Overlapping blocks\n\n"
        "Then, restart thanos-compact. While we're still running this in GCE: `systemctl\n"
        "restart thanos-compact`. This will likely hang on shutdown. If you don't want to\n"
        "wait for the systemd timeout, `kill -9` the process.\n", path="guide.md"),
        known_plugins=PLUGINS)
    kept = [s for s in plan.steps if "systemctl restart thanos-compact" in
            " ".join((s.params.get("script") or s.text).split())
            or s.params.get("pipeline") == [["systemctl", "restart", "thanos-compact"]]]
    assert kept


def test_a_disk_or_package_command_named_in_prose_is_kept_for_a_person():
    plan = compile_text(
        "1. Use `dd` to wipe the first sectors of the partitions. E.g.,\n"
        "    * `dd if=/dev/zero of=/dev/sdb2 bs=1M`\n"
        "2. Re-install gitlab-ee manually: `dpkg -r gitlab-ee && apt-get -y install gitlab-ee`\n")
    text = "\n".join(s.params.get("script") or s.text for s in plan.steps)
    assert "dd if=/dev/zero of=/dev/sdb2 bs=1M" in text
    assert "dpkg -r gitlab-ee" in text
    assert not any(st[0] == "dd" for st in runs(plan))


def test_a_login_shell_as_another_user_is_a_persons_session():
    plan = compile_text("```console\n$ sudo -i\n# machinectl shell username@\n"
                        "$ podman run --rm docker.io/library/alpine echo hello\n```\n")
    assert runs(plan) == []
    assert any("machinectl shell username@" in m and "podman run --rm" in m
               for m in manual_scripts(plan))
