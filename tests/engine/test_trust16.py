"""Trust, session 16: secrets read by reading commands, paths a command is handed, waits and
transaction ids in SQL.

1. Reading a secret store was a read: `vault kv get`, `kubectl get secret X -o yaml` (or `-o
   jsonpath={.data.password}`, a go-template, custom columns on `.data`), `kubectl get --raw
   /api/v1/.../secrets`, `az keyvault secret show`, `az storage account keys list`, `etcdctl
   get /registry/secrets/...`, `helm get values|manifest|all` (a release's passwords, its
   rendered Secrets), a container's environment (`kubectl exec P -- env`, `docker inspect C`
   with no --format that picks other fields): the values went unasked into the step's
   output, the run's memory and its report, where no redactor knows them. A command that
   prints a secret's value is not read-only (gated); what names a secret without its value
   (`kubectl get secret`, `-o name`, `.metadata.name`, a Secret's public certificate `tls.crt`)
   still reads.
2. A command handed a path another command computed or printed was a read: `cat $(echo
   /dev/watchdog)`, `cat $(find /dev -name 'watch*')`, `cat /dev/$(echo watchdog)`, `cat
   /dev/${X:-watchdog}`, `echo /dev/watchdog | xargs cat`, `find /dev | xargs head -c1`;
   PowerShell's `gci /dev | gc` and `gc (Join-Path /dev watchdog)`. What a substitution or
   an earlier stage names (a device, or a folder holding one) is judged as the path opened.
3. SQL that assigns a transaction id (`txid_current()`, `pg_current_xact_id()`: a write, which
   spends the wraparound budget) or sleeps (`pg_sleep*`, MySQL's SLEEP, BENCHMARK: the
   statement's locks and a connection held as long as the text says) was a read; so was
   reading the catalogs of password hashes and stored credentials (`pg_authid`, `pg_shadow`,
   `pg_user_mappings`, `mysql.user`).
4. `mendflow run --alert webhook.json` took an Alertmanager webhook's first alert and dropped
   the rest unsaid. A payload with several alerts is refused (exit 2) with how to pass one;
   `mendflow serve` runs each.
5. A secret rewritten by a tool that needs no key went out whole: reversed (`rev`), rot13,
   spaced out (`sed 's/./& /g'`), base85/ascii85, the base64 of its hex (`xxd -p | base64`).
   Each is one more form of the whole secret (for a secret of 6 characters or more).
6. The logs plugin read journalctl's "-- No entries --" for a unit the journal never heard of
   (a misspelt name; an alert label naming another host's service) as zero errors, and a run
   could end healthy on it. A unit with no journal entry at all, at any time, fails the step
   (the run is inconclusive); a unit that logged before but not in the window is still quiet.
7. Opening a file that holds credentials by convention was a read: `cat ~/.kube/config` (while
   `kubectl config view --raw` was gated for the same text), `~/.aws/credentials`,
   `/etc/shadow`, `/run/secrets/...` (a service account's token), `/proc/1/environ`, a
   private key. It is not read-only now; a flag that hands such a file to a program to use
   (`--kubeconfig`, `--key`, `ssh -i`) and listing them stay reads.
8. Every step inherits the runner's environment, and `env`, `printenv`, `echo $X` are reads:
   `mendflow serve`'s MENDFLOW_API_TOKENS (an approver's token), an LLM's API key, a database
   URL's password went whole into the step's output and the report. The value of a variable
   whose name says it is a secret, and any URL's password in the environment, are redacted.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from engine.datasources import MASK, Redactor
from engine.effects import classify, powershell_verdict
from engine.effects.bash import bash_verdict
from engine.effects.sql import sql_problem
from engine.errors import StepFailed
from tests.engine.test_bad_files import TRIAGE, assert_one_line_bad_input, mendflow
from tests.plugins.test_logs import run as run_logs
from tests.support.verdicts import compiled, ungated_commands

# -- 1. a command that prints a secret's value ------------------------------------------------

SECRET_READS = [
    "vault kv get secret/db", "vault kv get -field=password secret/db",
    "kubectl get secret db -o yaml", "kubectl get secrets -o json", "kubectl get secret/db -oyaml",
    "kubectl get pods/x secrets/y -o json", "kubectl get Secrets.v1. -o yaml",
    "kubectl get pods,secret -o json", "oc get secret db -o yaml",
    "kubectl get secret db -o jsonpath={.data}",
    "kubectl get secret db -o jsonpath={.data.password}",
    "kubectl get secret db -o jsonpath={@}", "kubectl get secret db -o jsonpath={..password}",
    "kubectl get secrets -o jsonpath={.items}", "kubectl get secret db -o jsonpath={.stringData}",
    "kubectl get secret db -o 'go-template={{.data.password}}'",
    "kubectl get secret db -o 'go-template={{.}}'",
    "kubectl get secret db --template '{{.data.pw}}'",
    "kubectl get secret db -o custom-columns=P:.data.password",
    "kubectl get secret db -o jsonpath-file=f",
    "kubectl get secret tls -o jsonpath={.data.tls\\.key}",
    "kubectl get secret tls -o 'jsonpath={.data.tls\\.crt}{.data.tls\\.key}'",
    "kubectl get $KIND -o yaml", "kubectl get --raw /api/v1/namespaces/x/secrets/db",
    "kubectl get --raw /api/v1/namespaces/x/%73ecrets", "kubectl get --raw=/api/v1/secrets",
    "az keyvault secret show --name x --vault-name v", "az storage account keys list -n x",
    "az redis list-keys -n x -g g", "az acr credential show -n x",
    "etcdctl get /registry/secrets/default/db", "etcdctl get /registry --prefix",
    "etcdctl get / --prefix", "etcdctl get /registry/a /registry/z",
    "helm get values r", "helm get values r --all -o json", "helm get manifest r",
    "helm get all r -n x", "kubectl exec p -- env", "kubectl exec -n x p -c app -- printenv PW",
    "docker exec c env", "crictl exec c printenv", "docker inspect c", "docker container inspect c",
    "docker inspect --format '{{json .Config.Env}}' c", "docker inspect -f '{{json .}}' c",
    "crictl inspect c",
]


@pytest.mark.parametrize("line", SECRET_READS)
def test_a_command_that_prints_a_secret_is_not_a_read(line: str) -> None:
    found = classify(shlex.split(line)) if "$" not in line else bash_verdict(line)
    assert found.effect == "mutate", (line, found)
    assert any(w in found.reason for w in ("secret", "Secret", "key")), (line, found)
    assert ungated_commands(compiled("argv", line)) == [], line


@pytest.mark.parametrize("line", [
    "kubectl get secret", "kubectl get secrets -n x", "kubectl get secret db -o name",
    "kubectl get secret db -o wide", "kubectl describe secret db", "kubectl get pods -o yaml",
    "kubectl get secret db -o jsonpath={.metadata.annotations.owner}",
    "kubectl get secret db -o jsonpath={.type}",
    "kubectl get secret tls -o jsonpath={.data.tls\\.crt}",
    "kubectl get secret tls -o \"jsonpath={.data['ca.crt']}\"",
    "kubectl get secret db -o custom-columns=N:.metadata.name,T:.type",
    "kubectl get --raw /metrics", "kubectl get --raw /api/v1/nodes/n/proxy/metrics",
    "vault kv list secret/", "vault kv metadata get secret/db", "az keyvault list",
    "az vm list", "etcdctl get /registry/pods/default/x", "etcdctl get / --prefix --keys-only",
    "etcdctl get /registry/services --prefix", "helm get notes r", "helm get metadata r",
    "helm status r", "kubectl exec p -- df -h", "docker inspect -f '{{.State.Status}}' c",
    "crictl inspect -o go-template --template '{{.status.state}}' c", "docker network inspect n",
])
def test_what_names_a_secret_without_its_value_stays_a_read(line: str) -> None:
    assert classify(shlex.split(line)).read, line


# -- 2. a path handed by what another command prints --------------------------------------------

HANDED = [
    "cat $(echo /dev/watchdog)", "cat `echo /dev/watchdog`", "cat \"$(printf %s /dev/watchdog)\"",
    "cat $(find /dev -name 'watch*')", "cat $(readlink -f /dev/watchdog)",
    "cat /dev/$(echo watchdog)", "cat /dev/${X:-watchdog}", "head -c1 /proc/$(echo kmsg)",
    "echo /dev/watchdog | xargs cat", "printf '%s\\n' /dev/watchdog | xargs head -c1",
    "find /dev -maxdepth 1 | xargs cat", "ls -d /dev/* | xargs head -c1",
    "find / -name watchdog | xargs cat", "cat $(find /host/dev -name x)",
]


@pytest.mark.parametrize("line", HANDED)
def test_a_device_handed_by_what_another_command_prints_is_not_a_read(line: str) -> None:
    found = bash_verdict(line)
    assert found.effect == "mutate" and found.reason.startswith(("opening", "reading")), \
        (line, found)
    assert ungated_commands(compiled("bash", line)) == [], line


@pytest.mark.parametrize("line", [
    "tail -n 50 $(ls -t /var/log/app/*.log | head -1)", "cat $(ls /proc/*/status)",
    "kubectl logs $(kubectl get po -l app=x -oname)", "grep x $(find /proc/sys -name x)",
    "find /var/log -name '*.log' | xargs grep -l error", "echo /var/log/syslog | xargs cat",
    "cat /var/log/$X/$Y", "curl -s http://${HOST}/v1/x/${ID}/${NAME}", "ls $(echo /dev)",
    "cat $LOGDIR/app.log",
])
def test_other_computed_paths_stay_reads(line: str) -> None:
    assert bash_verdict(line).read, line


@pytest.mark.parametrize("line", [
    "gci /dev | gc", "Get-ChildItem /dev -Recurse | Get-Content -TotalCount 1",
    "gc -Path (Join-Path /dev watchdog)", "gci /proc/1/root/dev | gc",
    "Get-ChildItem /dev | Select-String x",
])
def test_powershell_handed_a_device_is_not_a_read(line: str) -> None:
    found = powershell_verdict(line)
    assert found.effect == "mutate" and "watchdog" in found.reason, (line, found)
    assert ungated_commands(compiled("ps", line)) == [], line


@pytest.mark.parametrize("line", [
    "Get-ChildItem /var/log | Select-String error", "gci /dev",
    "Get-Content /var/log/syslog | Select-String error", "Get-ChildItem C:\\logs | sls err",
])
def test_powershell_reading_listed_files_stays_a_read(line: str) -> None:
    assert powershell_verdict(line).read, line


# -- 3. SQL that takes a transaction id or holds its locks --------------------------------------

@pytest.mark.parametrize("query", [
    "SELECT txid_current()", "SELECT pg_current_xact_id()", "SELECT pg_catalog.txid_current()",
    "SELECT pg_sleep(1000)", "SELECT pg_sleep_for('1 hour')", "SELECT pg_sleep_until('tomorrow')",
    "SELECT pg_sleep(1e9) FROM orders", "SELECT SLEEP(100)", "SELECT BENCHMARK(1e9, MD5('x'))",
])
def test_sql_that_takes_a_transaction_id_or_sleeps_is_not_a_read(query: str) -> None:
    problem = sql_problem(query)
    assert problem is not None and "acts on the server" in problem, query
    assert classify(["psql", "-c", query]).effect == "mutate", query


@pytest.mark.parametrize("query", [
    "SELECT txid_current_if_assigned()", "SELECT pg_current_xact_id_if_assigned()",
    "SELECT backend_xid, state FROM pg_stat_activity", "SELECT txid_current_snapshot()",
    "SELECT age(datfrozenxid) FROM pg_database",
])
def test_reading_transaction_state_stays_a_read(query: str) -> None:
    assert sql_problem(query) is None, query


@pytest.mark.parametrize("query", [
    "SELECT rolname, rolpassword FROM pg_authid", "select * from pg_catalog.pg_shadow",
    'SELECT * FROM "pg_authid"', "SELECT * FROM pg_user_mappings",
    "SELECT user, authentication_string FROM mysql.user",
    "SELECT authentication_string FROM `mysql`.`user`",
])
def test_sql_reading_password_hashes_is_not_a_read(query: str) -> None:
    problem = sql_problem(query)
    assert problem is not None and "password hashes" in problem, query
    assert classify(["psql", "-c", query]).effect == "mutate", query


@pytest.mark.parametrize("query", ["SELECT rolname, rolcanlogin FROM pg_roles",
                                   "SELECT usename FROM pg_user", "SELECT user FROM t",
                                   "SELECT current_user"])
def test_sql_reading_roles_stays_a_read(query: str) -> None:
    assert sql_problem(query) is None, query


# -- 4. a webhook payload with several alerts ----------------------------------------------------

def _alert(name: str, instance: str) -> dict[str, object]:
    return {"status": "firing", "labels": {"alertname": name, "instance": instance},
            "annotations": {}}


def test_a_webhook_with_several_alerts_is_refused_not_cut_to_its_first(tmp_path: Path) -> None:
    payload = tmp_path / "webhook.json"
    payload.write_text(json.dumps({"version": "4", "status": "firing", "alerts": [
        _alert("HostDown", "web-1:9100"), _alert("HostDown", "db-1:9100"),
        _alert("DiskFull", "db-2:9100")]}))
    proc = mendflow("run", str(TRIAGE), "--alert", str(payload), "--dry-run", tmp=tmp_path)
    assert_one_line_bad_input(proc)
    assert "3 alerts" in proc.stderr and "jq '.alerts[0]'" in proc.stderr, proc.stderr


def test_a_webhook_with_one_alert_still_runs(tmp_path: Path) -> None:
    payload = tmp_path / "webhook.json"
    payload.write_text(json.dumps({"version": "4", "alerts": [
        _alert("HostOutOfDiskSpace", "web-1")]}))  # an alert the triage's triggers name
    proc = mendflow("run", str(TRIAGE), "--alert", str(payload), "--dry-run", tmp=tmp_path)
    assert proc.returncode != 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "alert" not in "".join(ln for ln in proc.stderr.splitlines()
                                  if ln.startswith("error:")), proc.stderr


# -- 5. a secret rewritten without a key ---------------------------------------------------------

SECRET = "Sup3r-S3cret42Pa55"


@pytest.mark.parametrize("pipeline", [
    "rev", "tr A-Za-z N-ZA-Mn-za-m", "sed 's/./& /g'", "xxd -p | base64", "xxd -p | base64 -w 0",
    "python3 -c 'import base64,sys; print(base64.b85encode(sys.stdin.buffer.read()).decode())'",
    "python3 -c 'import base64,sys; print(base64.a85encode(sys.stdin.buffer.read()).decode())'",
])
def test_a_secret_rewritten_by_a_tool_is_masked(pipeline: str) -> None:
    out = subprocess.run(f"printf %s {SECRET} | {pipeline}", shell=True, check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out and SECRET not in out
    shown = Redactor([SECRET]).redact(f"value: {out} (end)")
    assert MASK in shown and shown.endswith(" (end)"), shown
    assert out not in shown and len(shown) < len(out), shown


def test_rewritten_forms_of_other_text_and_short_secrets_stay() -> None:
    text = "S u p p o r t  ok 24 x=ab ba nopqrs 55aP2"
    assert Redactor([SECRET, "ab"]).redact(text) == text.replace("ab", MASK)


# -- 6. a journal with no entry of the unit -----------------------------------------------------

def _journalctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, ever: bool) -> None:
    """A stand-in journalctl: nothing in the window; one old line for `-n 1` if `ever`."""
    fake = tmp_path / "journalctl"
    old = "echo '2020-01-01T00:00:00+0000 host app[1]: started'" if ever else \
        "echo '-- No entries --'"
    fake.write_text('#!/bin/sh\ncase " $* " in *" -n 1 "*) ' + old + " ;; *) echo '-- No "
                    "entries --' ;; esac\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")


async def test_a_unit_the_journal_never_heard_of_is_no_evidence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _journalctl(tmp_path, monkeypatch, ever=False)
    with pytest.raises(StepFailed, match="no entries at all for the unit 'ngnix.service'"):
        await run_logs({"journal_unit": "ngnix.service", "pattern": "error", "since": "15m"})


async def test_a_quiet_unit_is_still_evidence(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _journalctl(tmp_path, monkeypatch, ever=True)
    res = await run_logs({"journal_unit": "nginx.service", "pattern": "error", "since": "15m"})
    assert res.outputs["count"] == 0



# -- 7. a file that holds credentials where it is by convention ----------------------------------

CREDENTIAL_FILES = [
    "cat ~/.aws/credentials", "cat /root/.aws/credentials", "cat ~/.kube/config",
    "cat /etc/kubernetes/admin.conf", "cat /etc/shadow", "sudo cat /etc/shadow",
    "cat -v /host/etc/shadow", "cat /proc/1/root/etc/gshadow", "cat ~/.ssh/id_rsa",
    "cat ~/.ssh/id_ed25519", "cat ~/.pgpass", "cat ~/.netrc", "cat ~/.docker/config.json",
    "cat /var/run/secrets/kubernetes.io/serviceaccount/token", "cat /run/secrets/db_password",
    "grep -r x /run/secrets", "cat /etc/ssl/private/server.key", "head /proc/1/environ",
    "tr '\\0' '\\n' < /proc/1/environ", "cat /etc/gitlab/gitlab-secrets.json",
    "kubectl exec p -- cat /var/run/secrets/kubernetes.io/serviceaccount/token",
    "cat /etc/kubernetes/pki/apiserver.key", "cat ~/.vault-token", "cat /etc/kubernetes/*.conf",
]


@pytest.mark.parametrize("line", CREDENTIAL_FILES)
def test_opening_a_credential_file_is_not_a_read(line: str) -> None:
    found = bash_verdict(line)
    assert found.effect == "mutate" and "prints the credentials it holds" in found.reason, \
        (line, found)
    assert ungated_commands(compiled("bash", line)) == [], line


@pytest.mark.parametrize("line", ["Get-Content ~/.aws/credentials", "gc /etc/shadow"])
def test_powershell_opening_a_credential_file_is_not_a_read(line: str) -> None:
    assert "prints the credentials" in powershell_verdict(line).reason, line


@pytest.mark.parametrize("line", [
    "cat /etc/passwd", "ls ~/.ssh", "ls -l /run/secrets", "stat /etc/shadow",
    "ssh -i ~/.ssh/id_rsa host uptime", "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes",
    "kubectl --kubeconfig=/etc/kubernetes/admin.conf get nodes",
    "etcdctl --key=/etc/kubernetes/pki/etcd/server.key --cert /etc/kubernetes/pki/etcd/server.crt "
    "endpoint health", "curl --key /x/client.key https://a", "cat ~/.ssh/id_rsa.pub",
    "openssl x509 -in /etc/kubernetes/pki/apiserver.crt -noout -dates",
    "cat /etc/kubernetes/manifests/kube-apiserver.yaml", "consul kv export app/ | jq '.[].key'",
    "Get-ChildItem ~/.ssh",
])
def test_using_or_naming_a_credential_file_stays_a_read(line: str) -> None:
    found = powershell_verdict(line) if line.startswith("Get-") else bash_verdict(line)
    assert found.read, (line, found)


# -- 8. the runner's own secrets in its environment ---------------------------------------------

def test_printenv_in_a_step_does_not_show_the_runners_secrets(tmp_path: Path) -> None:
    guide = tmp_path / "env.md"
    guide.write_text("# Env\n\n## Diagnosis\n\n1. Show the environment:\n\n"
                     "   ```bash\n   printenv | grep -E '^(MY_SERVICE|MENDFLOW_(API|DATABASE))'\n"
                     "   ```\n")
    env = {"MY_SERVICE_TOKEN": "tok-S3cretValue-42",
           "MENDFLOW_API_TOKENS": "am:approver:tok-0123456789abcdef0123",
           "MENDFLOW_DATABASE_URL_FOR_TEST": "postgresql://app:Pa55-w0rd-xyz@db:5432/x"}
    proc = mendflow("run", str(guide), "--yes", tmp=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    run_id = re.findall(r"\brun (\d{8}-\d{6}-[0-9a-f]+)", proc.stdout)[-1]
    report = mendflow("report", run_id, tmp=tmp_path, env=env).stdout
    assert "MY_SERVICE_TOKEN=" in report, report
    for secret in ("tok-S3cretValue-42", "0123456789abcdef0123", "Pa55-w0rd-xyz"):
        assert secret not in proc.stdout + report, secret


def test_environment_secrets_are_values_named_secret_not_paths_or_flags() -> None:
    from engine.datasources import environment_secrets

    found = environment_secrets({
        "MENDFLOW_API_TOKENS": "alertmanager:alerts:tok-0123456789abcdef",
        "ANTHROPIC_API_KEY": "sk-ant-0123456789", "SSH_AUTH_SOCK": "/tmp/ssh-x/agent.1",
        "GOOGLE_APPLICATION_CREDENTIALS": "/etc/gcp.json", "VAULT_SKIP_VERIFY": "true",
        "OIDC_AUTH_URL": "https://login.example.com", "PATH": "/usr/bin", "TOKEN_TTL": "3600",
        "DATABASE_URL": "postgresql://u:p%40ssw0rd@db/x", "GIT_AUTHOR_NAME": "Jane Doe-Smith",
        "XAUTHORITY": "/home/j/.Xauthority", "HTTP_AUTH": "basic-0123456789"})
    assert set(found) == {"alertmanager:alerts:tok-0123456789abcdef", "tok-0123456789abcdef",
                          "sk-ant-0123456789", "p@ssw0rd", "basic-0123456789"}, found
