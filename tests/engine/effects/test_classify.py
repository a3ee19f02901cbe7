"""Dispatch over the table: wrappers judge the command they run, programs are who they say,
values never make a program, and pipelines are as strong as their weakest stage."""

from __future__ import annotations

import shlex

import pytest

from engine.effects import Templated, classify, classify_pipeline, looks_like_command


def effect(line: str) -> str:
    return classify(shlex.split(line)).effect


@pytest.mark.parametrize("line, expected", [
    ("sudo -u postgres cat /etc/hosts", "read"), ("sudo rm -f x", "mutate"),
    ("sudo -i", "interactive"), ("sudo", "interactive"), ("sudo -l", "read"),
    ("sudo LD_PRELOAD=x ls", "mutate"), ("sudo -e /etc/hosts", "mutate"),
    # sudo takes the word after a bare -h as a host: `host rm x` is not what runs
    ("sudo -h host rm x", "mutate"), ("sudo --host=h ls", "mutate"), ("sudo -hh ls", "mutate"),
    ("timeout 5 cat x", "read"), ("timeout -s KILL 5 rm x", "mutate"),
    ("nice -n 10 df -h", "read"), ("nohup rm x", "mutate"), ("time ls", "read"),
    ("time -o F ls", "mutate"), ("stdbuf -oL grep x f", "read"),
    ("xargs -E cat rm -f F", "mutate"), ("xargs grep -l error", "read"), ("xargs", "read"),
    ("xargs -0 -n1 stat", "read"), ("xargs find .", "mutate"),  # `-delete` could arrive
    ("xargs kubectl describe", "mutate"), ("xargs -p ls", "mutate"),
    ("ansible web -m ping", "read"), ("ansible all -b -m shell -a 'df -h /var'", "read"),
    ("ansible all -a uptime", "read"), ("ansible all -a reboot", "mutate"),
    ("ansible web -m service -a 'name=app state=restarted'", "mutate"),
    ("ansible web -e x=1 -m ping", "mutate"), ("ansible web --tree /tmp/t -m ping", "mutate"),
    ("salt '*' test.ping", "read"), ("salt -G os:Ubuntu cmd.run 'df -h /var'", "read"),
    ("salt-call grains.get osrelease", "read"), ("salt web state.apply app test=True", "read"),
    ("salt web state.apply app", "mutate"), ("salt web cmd.run reboot", "mutate"),
    ("salt web service.restart nginx", "mutate"), ("salt web pillar.items", "mutate"),
    ("salt --async web test.ping", "mutate"), ("salt web", "mutate"),
    ("ssh host df -h", "read"), ("ssh host 'df -h; uptime'", "read"),
    ("ssh host 'ls | wc -l'", "read"), ("ssh host rm -rf /x", "mutate"),
    ("ssh host 'cat x > y'", "mutate"), ("ssh host 'echo $(id)'", "mutate"),
    ("ssh host", "interactive"), ("ssh -oProxyCommand=x host ls", "mutate"),
    ("ssh -o ConnectTimeout=5 host uptime", "read"), ("ssh -L 80:x:80 host", "interactive"),
    ("ssh -F cfg host ls", "mutate"), ("ssh -fN -L 80:x:80 host", "interactive"),
    ("ssh -f host ls", "mutate"),
    # `ssh HOST -- CMD` (a session's command, as the compiler writes it): `--` ends ssh's flags
    ("ssh host -- 'ip link show | grep -i down'", "read"), ("ssh host -- reboot", "mutate"),
    ("ssh host --", "interactive"),
    ("kubectl exec p -- cat /x", "read"), ("kubectl -n ns exec p -c c -- ls /", "read"),
    ("kubectl exec p -- sh -c 'rm -rf /'", "mutate"), ("kubectl exec p -- rm x", "mutate"),
    ("kubectl exec -it p -- sh", "interactive"), ("oc exec p -- ps aux", "read"),
    # kubectl and oc run without a terminal when they have none: judged by what runs
    ("kubectl exec -it p -- df -h /data", "read"), ("oc exec -ti p -c c -- cat /x", "read"),
    ("kubectl -n ns exec -i -t p -- rm x", "mutate"), ("oc exec -it p -- bash", "interactive"),
    ("kubectl exec -it p -- rails c", "interactive"), ("docker exec -it c ps aux", "interactive"),
    ("docker exec c ps aux", "read"), ("docker exec -it c sh", "interactive"),
    ("docker exec -e LD_PRELOAD=x c ls", "mutate"), ("crictl exec c cat /x", "read"),
    ("./cat x", "mutate"), ("/tmp/cat x", "mutate"), ("/usr/bin/cat x", "read"),
    ("bash", "interactive"), ("bash -l", "interactive"), ("vim f", "interactive"),
    # a shell given a script runs it, like any interpreter: never read-only, not a terminal
    ("bash -c ls", "mutate"), ("sh wraparound.sh -p 95", "mutate"),
    ("sudo sh -c 'echo 80 > /proc/sys/net/ipv4/ip_unprivileged_port_start'", "mutate"),
    ("python3 -c 'print(1)'", "mutate"), ("perl -e 1", "mutate"),
    ("gitlab-rails console", "interactive"), ("gitlab-rails runner 'User.delete_all'", "mutate"),
    ("frobnicate --all", "mutate"), ("rm -rf /tmp/x", "mutate"),
])
def test_wrappers_programs_and_people(line, expected):
    assert effect(line) == expected, classify(shlex.split(line)).reason


def test_a_program_named_by_a_value_is_not_read_only():
    verdict = classify([Templated("{{ inputs.tool }}"), "-h"])
    assert verdict.effect == "mutate" and "value" in verdict.reason


def test_a_sed_or_awk_program_from_a_value_is_not_read_only_but_its_operands_may_be():
    assert classify(["sed", "-n", Templated("{{ inputs.expr }}"), "f"]).effect == "mutate"
    assert classify(["awk", Templated("{{ inputs.prog }}")]).effect == "mutate"
    assert classify(["sed", "-n", "1p", Templated("{{ inputs.file }}")]).read
    assert classify(["kubectl", "get", "pod", Templated("{{ inputs.pod }}")]).read


def test_pipelines():
    assert classify_pipeline([["ps", "aux"], ["grep", "x"]]).read
    assert classify_pipeline([["cat", "f"], ["tee", "F"]]).effect == "mutate"
    assert classify_pipeline([["top"], ["grep", "x"]]).effect == "interactive"
    late = classify_pipeline([["cat", "f"], ["vim", "-"]])
    assert late.effect == "mutate" and "vim" in late.reason
    # a pager at the end only shows what the pipeline printed (with no terminal, all of it)
    assert classify_pipeline([["grep", "chef-client", "/var/log/syslog"], ["less"]]).read
    assert classify(["sudo", "less", "/var/log/gitlab/gitaly/current"]).read
    # ...unless something gives it a terminal: then it waits for a person's keys
    assert classify(["ssh", "-tt", "h", "less", "f"]).effect == "interactive"
    assert classify(["ssh", "h", "less", "f"]).read


@pytest.mark.parametrize("line, read", [
    ("echo 'show stat' | sudo socat stdio /run/haproxy/admin.sock | cut -d, -f1,2", True),
    ("echo 'show servers state be' | socat stdio unix-connect:/var/run/haproxy.sock", True),
    ("echo 'show info; show pools' | socat - tcp:lb-1:9999", True),
    ("echo help | socat stdio /run/haproxy/admin.sock", True),
    ("echo 'set server be/a state maint' | socat stdio /run/haproxy/admin.sock", False),
    ("echo 'show stat; disable server be/a' | socat stdio /run/haproxy/admin.sock", False),
    ("echo 'show info' | socat -u stdio /run/haproxy/admin.sock", False),
    ("echo 'show info' | socat stdio /tmp/out.txt", False),
    ("cat cmds | socat stdio /run/haproxy/admin.sock", False),
])
def test_haproxys_runtime_api_reads_only_with_show(line, read):
    stages = [shlex.split(stage) for stage in line.split(" | ")]
    assert classify_pipeline(stages).read is read


def test_reasons_name_the_argv_part_and_the_rule():
    assert classify(shlex.split("find /x -delete")).reason == "find's -delete deletes files"
    assert classify(shlex.split("find /x -fprint F")).reason == "find's -fprint writes a file"
    assert classify(shlex.split("uniq a b")).reason == \
        "uniq writes its second operand (the output file)"
    assert classify(shlex.split("kubectl delete pod x")).reason == \
        "`kubectl delete` is not a read-only subcommand"
    assert classify(["frob"]).reason == "frob is not on the read-only list"


@pytest.mark.parametrize("text, expected", [
    ("kubectl get pods", True), ("uptime", True), ("sudo df -h", True), ("kubectl", False),
    ("the pods are fine", False), ("/usr/bin/df -h", True),
])
def test_commands_are_recognised_in_prose(text, expected):
    assert looks_like_command(text) is expected


@pytest.mark.parametrize("line, expected", [
    ("vault login", "interactive"), ("vault login -method=oidc", "mutate"),
    ("vault login s.token", "mutate"), ("gcloud auth login", "interactive"),
    ("tsh login --proxy=teleport.example.net", "interactive"), ("docker login", "interactive"),
    ("docker login --password-stdin -u bot registry.example", "mutate"),
    ("aws sso login --profile prod", "interactive"), ("oc login https://api:6443", "interactive"),
    ("oc login https://api:6443 --token=x", "mutate"), ("gcloud auth list", "read"),
])
def test_a_login_that_would_ask_a_person_is_a_persons(line, expected):
    # Given a login with nothing on its line to answer its prompt (a password, a token, a
    # browser): a step running it would wait or fail; given a token, it is a change (gated)
    assert effect(line) == expected, classify(shlex.split(line)).reason


@pytest.mark.parametrize("line, where", [
    ("psql -c 'SELECT 1'", [0]), ("sudo -u postgres psql -Atc 'SELECT 1'", [3]),
    ("sudo gitlab-psql -c 'SELECT 1'", [1]), ("timeout 5 mysql -e 'SELECT 1'", [2]),
    ("kubectl exec -n db pg-0 -- psql -c 'SELECT 1'", [6]),
    ("kubectl exec db-0 -- sudo -u psql psql -c 'SELECT 1'", [7]),  # a user called psql
    ("sudo -u psql cat /etc/hosts", []), ("sudo -u postgres psql -c 'DELETE FROM t'", []),
])
def test_a_database_client_is_found_wherever_a_wrapper_runs_it(line, where):
    # (for an ungated step to bring its read-only session to it: see plugins.shell)
    from engine.effects.classify import database_clients
    assert database_clients(shlex.split(line)) == where


@pytest.mark.parametrize("line", ["ssh db1 psql -c 'SELECT 1'", "ssh db1 mysql -e 'SELECT 1'",
                                  "ssh db1 sudo -u postgres psql -c 'SELECT 1'"])
def test_a_database_client_over_ssh_is_gated(line):
    # The read-only session an ungated step's client gets (PGOPTIONS, a first -c, mysql's
    # --init-command) does not reach the remote host: a `SELECT f()` there could write
    verdict = classify(shlex.split(line))
    assert verdict.effect == "mutate" and "another host" in verdict.reason


@pytest.mark.parametrize("line", ["cat /dev/watchdog", "head -c1 /dev//watchdog0",
                                  "less /dev/./watchdog", "sudo cat /dev/watchdog",
                                  "kubectl exec p -- cat /dev/watchdog", "cat /dev/char/10:130",
                                  "file -s /dev/watchdog"])
def test_opening_the_watchdog_device_arms_it(line):
    # the host reboots unless the watchdog is fed: never a read, whatever the tool
    verdict = classify(shlex.split(line))
    assert verdict.effect == "mutate" and "watchdog" in verdict.reason
    for reads in ("ls -l /dev/watchdog", "stat /dev/watchdog0", "file /dev/watchdog",
                  "sudo ls /dev/watchdog", "cat /var/log/watchdog.log", "grep x /dev/null"):
        assert classify(shlex.split(reads)).read, reads


@pytest.mark.parametrize("argv", [
    ["kubectl", "--server", Templated("{{ inputs.api }}"), "get", "nodes"],
    ["oc", Templated("--server={{ inputs.api }}"), "get", "pods"],
    ["kubectl", Templated("-s{{ inputs.api }}"), "get", "nodes"],
    ["helm", "list", Templated("--kube-apiserver={{ inputs.api }}")],
    ["vault", Templated("-address={{ inputs.addr }}"), "kv", "get", "secret/x"],
    ["consul", "members", Templated("-http-addr={{ inputs.addr }}")],
    ["etcdctl", "--endpoints", Templated("$ENDPOINT"), "endpoint", "health"],
    ["curl", "-H", "Authorization: Bearer t", Templated("https://{{ inputs.host }}/api")],
    ["curl", "-sSfu", "a:b", Templated("http://$HOST:9090/x")],
    ["curl", Templated("--url=https://{{ inputs.host }}/"), "--oauth2-bearer", "t"],
])
def test_a_value_never_picks_the_server_that_gets_the_credentials(argv):
    # an alert label naming the API server, Vault or the URL a bearer token goes to would
    # have the token sent there by a step that runs unasked, in a dry run too
    verdict = classify(argv)
    assert verdict.effect == "mutate" and "credentials" in verdict.reason
    for reads in (["kubectl", "-n", Templated("{{ inputs.ns }}"), "get", "pods"],
                  ["kubectl", "--server", "https://api:6443", "get", "nodes"],
                  ["kubectl", "--context", Templated("{{ inputs.ctx }}"), "get", "nodes"],
                  ["vault", "kv", "metadata", "get", Templated("{{ inputs.path }}")],
                  ["curl", "-s", Templated("https://{{ inputs.host }}/health")],
                  ["curl", "--user-agent", "x", Templated("https://{{ inputs.host }}/")],
                  ["curl", "-H", "Authorization: Bearer t",
                   Templated("https://prom:9090/api/v1/query?query={{ inputs.q }}")]):
        assert classify(reads).read, reads
