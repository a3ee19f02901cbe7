"""Commands a guide runs inside a session it opened run in that session, never on this machine.

Each guide here opens a session (`oc debug node/X`, `ssh host`, `kubectl exec -it POD -- bash`,
`sudo -i`, `psql`) in one block and runs commands in it, often in a later block of the same
section. Before, those commands became steps of their own that ran on the operator's machine
(or, within one block, a manual step)."""

from __future__ import annotations

import pytest

from engine.plan import StepKind
from tests.support.compiling import compile_text, gated, manual_scripts, pipelines, runs

DEBUG_NODE = """# Kubelet down

## Diagnosis

1. Open a shell on the node:

   ```bash
   oc debug node/<node>
   chroot /host
   ```

2. List the containers and read the kubelet's log:

   ```bash
   crictl ps | grep kubelet
   journalctl -u kubelet --no-pager
   ```
"""


def test_commands_after_oc_debug_node_and_chroot_run_on_the_node() -> None:
    # Given a debug shell opened in one block and commands typed into it in the next
    plan = compile_text(DEBUG_NODE)
    # Then each command runs through `oc debug node/X -- chroot /host`, and only grep runs here
    assert pipelines(plan) == [
        [["oc", "debug", "node/{{ inputs.node }}", "--", "chroot", "/host", "crictl", "ps"],
         ["grep", "kubelet"]],
        [["oc", "debug", "node/{{ inputs.node }}", "--", "chroot", "/host", "journalctl", "-u",
          "kubelet", "--no-pager"]]]
    # and `oc debug` starts a pod on the node: gated, though crictl ps only reads
    assert all(s.mutating and gated(plan, s.id) for s in runs(plan))
    # and the step says where it came from: the opener through the command
    assert (runs(plan)[0].source.start, runs(plan)[0].source.end) == (8, 15)


SSH = """# Interface down

## Diagnosis

Log in to the node:

```bash
ssh <node-address>
```

Then look at the links and the kernel's log:

```bash
ip link show | grep -i down
dmesg | grep -i eth
ethtool <interface-name>
```
"""


def test_commands_after_ssh_run_on_the_host_as_the_guide_wrote_them() -> None:
    plan = compile_text(SSH)
    # the remote shell splits the command: it gets the guide's own text, never a value
    assert pipelines(plan) == [
        [["ssh", "{{ inputs.node_address }}", "--", "ip link show | grep -i down"]],
        [["ssh", "{{ inputs.node_address }}", "--", "dmesg | grep -i eth"]]]
    assert not any(s.mutating for s in runs(plan))  # ssh is judged by the remote command
    # a placeholder would be spliced into the remote shell's text: a person runs that one
    assert "ssh <node-address>\nethtool <interface-name>" in manual_scripts(plan)


def test_ssh_session_command_that_changes_things_is_gated() -> None:
    plan = compile_text(SSH.replace("dmesg | grep -i eth", "systemctl restart kubelet"))
    restart = next(s for s in runs(plan) if "restart" in s.text)
    assert restart.params["pipeline"] == [["ssh", "{{ inputs.node_address }}", "--",
                                           "systemctl restart kubelet"]]
    assert restart.mutating and gated(plan, restart.id)


EXEC = """# Ceph degraded

## Mitigation

```bash
kubectl exec -it rook-tools -n rook-ceph -- bash
ceph status
ceph osd tree | head -20
exit
kubectl get pods -n rook-ceph
```
"""


def test_commands_in_kubectl_exec_shell_run_in_the_pod_until_exit() -> None:
    plan = compile_text(EXEC)
    assert pipelines(plan) == [
        [["kubectl", "exec", "rook-tools", "-n", "rook-ceph", "--", "ceph", "status"]],
        [["kubectl", "exec", "rook-tools", "-n", "rook-ceph", "--", "ceph", "osd", "tree"],
         ["head", "-20"]],
        [["kubectl", "get", "pods", "-n", "rook-ceph"]]]  # after exit: back on this machine


def test_oc_rsh_becomes_oc_exec() -> None:
    plan = compile_text(EXEC.replace("kubectl exec -it rook-tools -n rook-ceph -- bash",
                                     "oc rsh -n rook-ceph rook-tools"))
    assert pipelines(plan)[0] == [["oc", "exec", "-n", "rook-ceph", "rook-tools", "--", "ceph",
                                   "status"]]


def test_a_filter_that_reads_a_file_here_makes_the_command_a_persons() -> None:
    # `| xargs cat` or `| grep x /etc/hosts` would read this machine's files: not the session's
    plan = compile_text(EXEC.replace("ceph osd tree | head -20",
                                     "ceph osd tree | grep x /etc/hosts"))
    assert not any("/etc/hosts" in " ".join(sum(p, [])) for p in pipelines(plan))
    assert any("ceph osd tree | grep x /etc/hosts" in m for m in manual_scripts(plan))


@pytest.mark.parametrize("change", ["cd /var/lib/ceph", "export X=1", "X=$(hostname)"])
def test_a_state_change_inside_a_session_hands_the_rest_of_it_to_a_person(change: str) -> None:
    plan = compile_text(EXEC.replace("ceph osd tree | head -20", f"{change}\nls"))
    assert pipelines(plan)[0][0][-2:] == ["ceph", "status"]
    assert any(m.endswith(f"{change}\nls\nexit") for m in manual_scripts(plan))
    assert not any(p[0][-1:] == ["ls"] for p in pipelines(plan))


SUDO = """# Restart the app

## Mitigation

```bash
sudo -i
docker restart app
```

```bash
sudo su - gitlab-psql
pg_ctl status
```
"""


def test_commands_after_sudo_i_run_with_sudo() -> None:
    plan = compile_text(SUDO)
    assert pipelines(plan) == [[["sudo", "docker", "restart", "app"]],
                               [["sudo", "-u", "gitlab-psql", "pg_ctl", "status"]]]
    assert gated(plan, runs(plan)[0].id)


CONSOLE = """# Stuck jobs

## Diagnosis

```bash
kubectl debug node/<node> -it --image=busybox
cat /proc/loadavg
exit
```

Then check the queue in the database:

```bash
psql -h db -U app jobs
SELECT count(*) FROM jobs;
\\q
uptime
```
"""


def test_a_session_with_no_command_form_is_one_manual_step_with_its_script() -> None:
    plan = compile_text(CONSOLE)
    # kubectl debug leaves its pod behind: a person runs that session
    assert "kubectl debug node/<node> -it --image=busybox\ncat /proc/loadavg\nexit" in \
        manual_scripts(plan)
    # psql has a one-shot form: the statement runs with it (test_sessions_consoles.py);
    # nothing ran here but `uptime`, after `\\q`
    assert pipelines(plan) == [[["psql", "-h", "db", "-U", "app", "jobs", "-c",
                                 "SELECT count(*) FROM jobs;"]], [["uptime"]]]


def test_a_session_ends_with_its_section() -> None:
    # The next section's line is not run in the session (nor here: where it runs, the guide
    # does not say; tests/engine/compile/test_sessions_carried.py): a person's step
    plan = compile_text(SSH + "\n## Mitigation\n\n```bash\nsystemctl restart kubelet\n```\n")
    assert not any("systemctl restart kubelet" in " ".join(p[0]) for p in pipelines(plan))
    assert any(s.endswith("\nsystemctl restart kubelet") for s in manual_scripts(plan))
    # and once the guide left the session, it runs here
    left = compile_text(SSH.replace("<interface-name>\n", "<interface-name>\nexit\n") +
                        "\n## Mitigation\n\n```bash\nsystemctl restart kubelet\n```\n")
    assert [["systemctl", "restart", "kubelet"]] in pipelines(left)


def test_a_workstation_tool_between_session_commands_runs_here_and_keeps_the_session() -> None:
    plan = compile_text(SSH.replace("dmesg | grep -i eth", "kubectl get nodes\ndmesg"))
    assert [["kubectl", "get", "nodes"]] in pipelines(plan)
    assert [["ssh", "{{ inputs.node_address }}", "--", "dmesg"]] in pipelines(plan)


def test_an_opener_with_nothing_after_it_stays_a_manual_step() -> None:
    plan = compile_text("# X\n\n## Diagnosis\n\n```bash\nssh db-01\n```\n")
    assert manual_scripts(plan) == ["ssh db-01"]
    assert not runs(plan)


def test_a_wrapped_step_says_what_the_guide_wrote_opener_and_command() -> None:
    plan = compile_text(DEBUG_NODE)
    assert runs(plan)[0].text == "oc debug node/<node>\nchroot /host\ncrictl ps | grep kubelet"


def test_lines_that_read_as_output_inside_a_session_never_run() -> None:
    # a shell tag makes every line a command line; inside a session only commands run
    plan = compile_text(EXEC.replace("ceph osd tree | head -20",
                                     "apiVersion: v1\ncluster1-pxc-0\n"
                                     "rook-ceph-mon-a   1/1   Running"))
    assert not any("apiVersion" in s.text or "cluster1" in s.text or "Running" in s.text
                   for s in runs(plan))
    # (the block reader takes them for output: the plan records them as ignored, not run)


def test_a_console_given_its_work_is_no_session() -> None:
    plan = compile_text("# X\n\n## Diagnosis\n\n```bash\ngitlab-psql -qtc 'SELECT 1'\n"
                        "toolbox apt install -y jq\nuptime\n```\n")
    assert [["uptime"]] in pipelines(plan)


def test_commands_in_docker_exec_shell_run_in_the_container() -> None:
    plan = compile_text(EXEC.replace("kubectl exec -it rook-tools -n rook-ceph -- bash",
                                     "docker exec -it -u git gitlab bash"))
    assert pipelines(plan)[0] == [["docker", "exec", "-u", "git", "gitlab", "ceph", "status"]]


def test_only_the_first_step_of_a_session_says_how_it_was_opened() -> None:
    plan = compile_text(SSH.replace("dmesg | grep -i eth", "systemctl restart kubelet"))
    first, restart = runs(plan)[:2]
    assert first.text == "ssh <node-address>\nip link show | grep -i down"
    assert restart.text == "systemctl restart kubelet"  # its own line: the guide's words
    # what a person approves still names the session it runs in
    approve = plan.step(f"approve-{restart.id}")
    assert approve.text == "Approve before it runs: ssh <node-address>\nsystemctl restart kubelet"
    assert restart.source.start == first.source.start  # the step spans from the opener


CLOUD_SHELL = """# Node not ready

## Diagnosis

Connect to the instance and read the kubelet's log:

```bash
kubectl get node -l karpenter.sh/nodepool
{opener}
sudo journalctl -u kubelet
```
"""


@pytest.mark.parametrize("opener", [
    "aws ssm start-session --target i-0123456789abcdef0",
    "gcloud compute ssh node-1 --zone europe-west1-b --tunnel-through-iap",
    "gcloud --project prod compute ssh node-1",
    "az ssh vm --resource-group rg --name node-1",
    "virtctl console vm-1 -n guests",
])
def test_commands_after_a_cloud_cli_opens_a_remote_shell_are_a_persons(opener: str) -> None:
    # Given a remote shell opened by a cloud CLI, then a command typed into it
    plan = compile_text(CLOUD_SHELL.format(opener=opener))
    # Then journalctl never runs on this machine: the session is one person's step
    assert pipelines(plan) == [[["kubectl", "get", "node", "-l", "karpenter.sh/nodepool"]]]
    assert f"{opener}\nsudo journalctl -u kubelet" in manual_scripts(plan)


@pytest.mark.parametrize("opener", [
    "aws ssm start-session --target i-0ab --document-name AWS-StartPortForwardingSession",
    "gcloud compute ssh node-1 --command 'uptime'",
])
def test_a_cloud_cli_given_its_work_opens_no_session(opener: str) -> None:
    plan = compile_text(CLOUD_SHELL.format(opener=opener))
    assert [["sudo", "journalctl", "-u", "kubelet"]] in pipelines(plan)


def test_a_workstation_tool_bound_to_a_variable_in_a_session_runs_here() -> None:
    # Given an ssh session open in the section, then `ID=$(kubectl ...)` in a later block
    plan = compile_text(SSH + "\n```bash\nNODE_ID=$(kubectl get node n1 -o name)\n"
                        "kubectl describe $NODE_ID\n```\n")
    # Then kubectl's value is bound here (kubectl reaches the cluster from this machine)
    assert [["kubectl", "get", "node", "n1", "-o", "name"]] in pipelines(plan)
    assert [["kubectl", "describe", "{{ vars.NODE_ID }}"]] in pipelines(plan)


def test_kubectl_exec_into_a_shell_without_the_double_dash_is_the_same_session() -> None:
    # Given the form from before `--` (`kubectl exec -it POD -c C sh`), then commands in it
    plan = compile_text("# Vault\n\n## Diagnosis\n\n```bash\nkubectl -n vault exec -it vault-0 "
                        "-c vault sh\nvault status\nvault login\n```\n")
    # Then vault status runs in the pod, and the login (it asks for a token) is a person's
    assert pipelines(plan) == [[["kubectl", "-n", "vault", "exec", "vault-0", "-c", "vault",
                                 "--", "vault", "status"]]]
    assert any(script.endswith("vault login") for script in manual_scripts(plan))


INLINE_SSH = """# Install the helper

## Mitigation

1. Secure shell to the shard node. For example: `ssh file-01.example.internal`
1. Download the script to the node: `sudo mkdir -p /var/opt/scripts`
1. Now exit the shell session.
"""


def test_an_inline_ssh_shown_as_an_example_still_opens_the_session() -> None:
    # Given a list that opens a session inline ("For example: `ssh host`", not a request to
    # run it) and asks for a command in the next item
    plan = compile_text(INLINE_SSH)
    # Then the command runs on that host (through ssh), never on this machine
    assert pipelines(plan) == [[["ssh", "file-01.example.internal", "--",
                                 "sudo mkdir -p /var/opt/scripts"]]]
    # and it changes the host: gated
    assert all(s.mutating and gated(plan, s.id) for s in runs(plan))
    # and the step says the session it runs in; no manual step asks a person to run it again
    assert runs(plan)[0].text.startswith("ssh file-01.example.internal\n")
    assert not any("mkdir" in s for s in manual_scripts(plan))


# `kubectl exec` with no command (kubectl refuses it) is the guide's "exec into the pod": the
# lines after it run there, never on the operator's machine (prometheus-operator's etcd runbooks
# name the pod by a `$(...)`, then run `etcdctl endpoint health`)
_EXEC_INTO = """# etcd member down

## Diagnosis

To run `etcdctl` commands, exec into the `etcdctl` container of an etcd pod.

```shell
$ kubectl exec -c etcdctl -n openshift-etcd {pod}
```

Check the health of etcd:

```shell
$ etcdctl endpoint health -w table
```
"""


def test_lines_after_an_exec_with_no_command_run_in_that_pod() -> None:
    plan = compile_text(_EXEC_INTO.format(pod="etcd-master-0"))
    [step] = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert step.params["pipeline"] == [["kubectl", "exec", "-c", "etcdctl", "-n",
                                        "openshift-etcd", "etcd-master-0", "--", "etcdctl",
                                        "endpoint", "health", "-w", "table"]]


def test_an_exec_into_a_pod_named_by_a_substitution_is_a_persons_session() -> None:
    pod = "$(kubectl get po -l app=etcd -oname -n openshift-etcd | awk -F'/' 'NR==1{ print $2 }')"
    plan = compile_text(_EXEC_INTO.format(pod=pod))
    assert not [s for s in plan.steps if s.kind == StepKind.COMMAND]  # nothing runs here
    scripts = manual_scripts(plan)
    assert any("kubectl exec -c etcdctl" in s and "etcdctl endpoint health -w table" in s
               for s in scripts), scripts


HOSTS = """# Disk full on the database

## Diagnosis

1. From the bastion, on the replica:

   ```console
   $ ssh db-02.prod.example.com
   [root@db-02 ~]# du -sh /var/lib/postgresql
   ```

2. Check its disk again:

   ```console
   [root@db-02 ~]# df -h /var/lib/postgresql
   ```

3. Check the broker's queues:

   ```console
   root@broker-1:~# rabbitmqctl list_queues
   ```
"""


def test_a_prompt_naming_another_machine_is_not_typed_into_the_session() -> None:
    # the session's prompts name db-02; `root@broker-1:~#` is another machine's, so the guide
    # has left db-02: its line ran as `ssh db-02... -- rabbitmqctl list_queues` (the wrong
    # broker's queues, or none), and the same host's later prompt still runs there
    plan = compile_text(HOSTS)
    ran = pipelines(plan)
    assert [["ssh", "db-02.prod.example.com", "--", "du -sh /var/lib/postgresql"]] in ran
    assert [["ssh", "db-02.prod.example.com", "--", "df -h /var/lib/postgresql"]] in ran
    assert not any("rabbitmqctl list_queues" in " ".join(stage) and "ssh" in stage
                   for p in ran for stage in p)


@pytest.mark.parametrize("prompt, host", [
    ("[root@db-02 ~]#", "db-02"), ("root@broker-1:~#", "broker-1"),
    ("db-02.prod.example.com:~$", "db-02"), ("ubuntu@ip-10-0-0-7:/srv$", "ip-10-0-0-7"),
    ("user@host:~$", None), ("me@localhost$", None), ("$", None), ("mon-a#", None),
])
def test_the_machine_a_prompt_names(prompt: str, host: str | None) -> None:
    from engine.compile.sessions import prompt_host
    assert prompt_host(prompt) == host
