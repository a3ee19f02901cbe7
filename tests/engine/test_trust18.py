r"""Trust, session 18: reads that printed credentials by another road.

1. `kubectl config view --flatten` was a read, while `--raw` was gated: --flatten skips the
   redaction too (it inlines the files the kubeconfig names), and prints its tokens and
   client keys whole.
2. `redis-cli CONFIG GET requirepass` (or `masterauth`, `*`, `*pass*`, any glob that matches
   a password parameter) printed the server's password; `ACL LIST` and `ACL GETUSER` print
   each user's password hashes (as `pg_authid`, gated). They are not reads to keep; `CONFIG
   GET maxmemory`, `ACL WHOAMI`, `ACL USERS` still read.
3. A credential file reached another way than as an operand was opened unasked: sed's `r` and
   `R` commands (`sed 'r /etc/shadow' f`), diff's `--from-file`/`--to-file` (taken for a flag
   that hands a file over for use, as `--password-file` does).
4. More files hold credentials by convention than the list knew: a host's SSH keys, certbot's
   `privkey.pem`, a Kerberos keytab, a Secret a kubelet mounted in a pod's folder, k3s's and
   RKE2's admin kubeconfig and join token, GitLab's and Jenkins' first passwords, Debian's
   MySQL maintenance login, WireGuard's private keys, npm's, PyPI's, s3cmd's, GitHub CLI's and
   Terraform's tokens; and a folder that holds them, read recursively (`grep -r . ~/.ssh`).
5. `curl http://169.254.169.254/latest/meta-data/iam/security-credentials/ROLE` (GCP's
   service account token, Azure's managed identity token, AWS's container credentials) was a
   read: the cloud's metadata service hands the machine's own credentials to whoever asks.
   A glob in the URL (`security-credential[s-s]`) is judged by what it expands to.
6. A cloud command that prints the environment a program is given was a read, while `docker
   inspect` (a container's environment) is gated: `aws lambda get-function-configuration`,
   `aws ecs describe-task-definition`, an instance's user data; `az webapp config appsettings
   list` (an app's settings, in clear) and `az webapp deployment list-publishing-profiles`
   (the deployment password). A --query that picks other fields still reads.
7. `redis-cli -r -1 INFO` repeats the command for ever: a person's job, as `--stat` is.
8. `curl --unix-socket /var/run/docker.sock http://x/containers/C/json` (or Docker's TCP port)
   asked Docker's API for what the gated `docker inspect`, `docker cp` (`/archive?path=`),
   `docker export` and `docker config inspect` print, as a read; listing containers reads.
9. A secret dumped as numbers other than hex bytes was left readable: `xxd -i` (a C array,
   `0x53, 0x75,` over lines of 12), `xxd -b` (bits, with six characters of ASCII a line: each
   piece shorter than any masked alone), od's decimal bytes (`od -t d1`, `-t u1`, `-An`),
   plain `od`'s octal words and `od -d`'s (or `hexdump -o`, `-d`) decimal ones. Each such dump
   is read back to its bytes and searched, as hex dumps are; the cells (and ASCII column) that
   show the secret are masked.
10. An `http` step's GET was a read whatever it asked: `url:
   http://169.254.169.254/latest/meta-data/iam/` with `path: [security-credentials, ROLE]`
   fetched the machine's credentials unasked, as curl did (5), and Docker's API on its TCP
   port a container's environment (8). Such a GET is judged as curl's.
11. A credential file named through what a shell expands was opened unasked: `cat
   $HOME/.ssh/id_rsa`, `"${HOME}/.kube/config"`, `/home/$USER/.pgpass`, `/proc/$$/environ`,
   `/proc/$(pgrep nginx)/environ`, a glob (`/etc/sha*`, `~/.ssh/id_*`, `~/.aws/*`,
   `/etc/gshado[w]`), braces (`/etc/{shadow,passwd}`), a name relative to the folder a `cd`
   went to (`cd /root/.aws && cat credentials`), and Windows' backslashes (`Get-Content
   ~\.ssh\id_rsa`, `$env:USERPROFILE\.aws\credentials`). A word is judged by what it may
   expand to; a broad glob in an ordinary folder (`/var/log/*`, `/etc/ssl/certs/*.pem`) reads.
12. PowerShell's reading cmdlets that print a secret's value were reads:
   `Get-AzKeyVaultSecret -AsPlainText`, `Get-SECSecretValue`, `Get-SSMParameter
   -WithDecryption`, `Get-LapsADPassword` (a local administrator's password), `Get-ADComputer
   -Properties ms-Mcs-AdmPwd`, `Get-StoredCredential -AsCredentialObject`, a BitLocker
   volume's `KeyProtector` (its recovery password).
13. A URL that cannot be read was an internal error (exit 1): a data source's `url =
   "postgresql://[::1/x"` (an unclosed bracket) or a port past 65535 in mendflow.toml or
   MENDFLOW_DATASOURCE_<NAME>_URL, and MENDFLOW_DATABASE_URL with a port past 65535 (the
   error's own masking of the password read the port). Each is one line naming where, exit 2,
   the password not repeated.
14. A store edited by hand (a history file) was an internal error, or worse: a time that is
   no time (`runs.created_at`, an event's `at`), a run whose snapshot row is gone, a step
   status the scheduler does not know, a value of the wrong type, a pydantic error spread over
   four lines with a link; and a snapshot cut short (`{}`, no steps) was read as a fresh
   state, its finished steps pending again. Each is one line saying the store holds a record
   Mendflow cannot read (exit 5, as for bad JSON there); nothing runs again.
15. `helm status R -o json|yaml` prints the whole release, its manifest (rendered Secrets) and
   values among it, and `helm get hooks R` the rendered hooks (a hook may be a Secret): reads,
   while `helm get manifest` and `get values` were gated for the same text.
16. `docker top C auxe` (podman's, `container top`, `pod top`) hands its words to ps: the `e`
   printed each process's environment, as the gated `ps e` does.
17. SQL reading stored replication credentials was a read, while `pg_authid` and
   `pg_user_mapping` were gated: `pg_subscription` (its `subconninfo`, the publisher's
   password), the `primary_conninfo` setting (`SHOW primary_conninfo`,
   `current_setting('primary_conninfo')`: the standby's replication password), MySQL's
   `mysql.slave_master_info` (the source's password in clear) and `SHOW CREATE USER` (the
   account's password hash).
18. The `logs` plugin read any file under its roots: with `roots: ["/"]` (or `/etc`, a home),
   a path an alert label gives (`{{ inputs.logfile }}` = `/etc/shadow`, `~/.aws/credentials`)
   put the file's matching lines, pattern `.`: all of them, into the step's output. A file
   that holds credentials by where it is, is refused whatever the roots, as `cat` of it is
   gated.
"""

from __future__ import annotations

import re
import shlex
import sqlite3
import subprocess
from pathlib import Path

import pytest

from engine.datasources import MASK, Redactor
from engine.effects import classify, powershell_verdict
from engine.effects.bash import bash_verdict
from engine.effects.sql import sql_problem
from engine.effects.steps import step_verdict
from tests.engine.test_bad_files import TRIAGE, assert_one_line_bad_input, mendflow
from tests.plugins.test_logs import run as run_logs
from tests.support.verdicts import assert_gated, assert_reads, compiled, ungated_commands

# -- 1. kubectl config view --flatten ----------------------------------------------------------

@pytest.mark.parametrize("line", ["kubectl config view --flatten",
                                  "kubectl config view --minify --flatten -o json",
                                  "kubectl config view --flatten=true", "oc config view --flatten"])
def test_a_flattened_kubeconfig_is_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", ["kubectl config view", "kubectl config view --minify",
                                  "kubectl config view -o jsonpath={.contexts}"])
def test_a_redacted_kubeconfig_still_reads(line: str) -> None:
    assert_reads(line)


# -- 2. redis passwords ------------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "redis-cli CONFIG GET requirepass", "redis-cli config get masterauth",
    "redis-cli config get '*'", "redis-cli config get '*pass*'", "redis-cli config get 'master*'",
    "redis-cli config get REQUIREPASS", "redis-cli config get 'r?quirepass'",
    "redis-cli config get 're\\quirepass'", "redis-cli -h db config get maxmemory 'tls-*'",
    "redis-cli config get $P",
])
def test_redis_config_get_of_a_password_is_not_a_read(line: str) -> None:
    assert_gated(line, "password")


@pytest.mark.parametrize("line", ["redis-cli ACL LIST", "redis-cli acl getuser default"])
def test_redis_acl_password_hashes_are_not_a_read(line: str) -> None:
    assert_gated(line, "password hashes")


@pytest.mark.parametrize("line", ["redis-cli config get maxmemory",
                                  "redis-cli config get 'maxmemory*' dir", "redis-cli ACL WHOAMI",
                                  "redis-cli ACL USERS", "redis-cli INFO memory"])
def test_other_redis_settings_still_read(line: str) -> None:
    assert_reads(line)


# -- 3. a credential file opened by a program's own words --------------------------------------

@pytest.mark.parametrize("line", [
    "sed 'r /etc/shadow' f", "sed -e 'R /proc/1/environ' f", "sed '/x/R /root/.aws/credentials' f",
    "sed -n '$r ~/.kube/config' f", "diff --from-file=/etc/shadow f",
    "diff --to-file /root/.kube/config f",
])
def test_a_credential_file_a_program_is_told_to_open_is_not_a_read(line: str) -> None:
    assert_gated(line, "prints the credentials it holds")


@pytest.mark.parametrize("line", ["sed 'r /etc/hosts' f", "diff --from-file=/etc/hosts f",
                                  "curl --netrc-file ~/.netrc https://x",
                                  "ssh -i ~/.ssh/id_rsa h uptime"])
def test_other_files_and_credentials_handed_for_use_still_read(line: str) -> None:
    assert_reads(line)


# -- 4. more places that hold credentials ------------------------------------------------------

MORE_PLACES = [
    "/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ed25519_key",
    "/etc/letsencrypt/live/x/privkey.pem", "/etc/letsencrypt/archive/x/privkey1.pem",
    "/etc/pki/tls/private/server.pem", "/etc/krb5.keytab",
    "/var/lib/kubelet/pods/x/volumes/kubernetes.io~secret/db/password",
    "/etc/rancher/k3s/k3s.yaml", "/etc/rancher/rke2/rke2.yaml",
    "/var/lib/rancher/k3s/server/token", "/var/lib/rancher/k3s/server/cred/passwd",
    "/etc/gitlab/initial_root_password", "/var/lib/jenkins/secrets/initialAdminPassword",
    "/etc/mysql/debian.cnf", "/etc/wireguard/wg0.conf", "~/.npmrc", "~/.pypirc", "~/.s3cfg",
    "~/.config/gh/hosts.yml", "~/.terraform.d/credentials.tfrc.json",
    "/host/etc/ssh/ssh_host_ecdsa_key",
]


@pytest.mark.parametrize("path", MORE_PLACES)
def test_opening_another_credential_file_is_not_a_read(path: str) -> None:
    assert_gated(f"cat {path}", "prints the credentials it holds")


@pytest.mark.parametrize("line", ["grep -r . /root/.ssh", "grep -rh . ~/.ssh/",
                                  "grep -R x /etc/kubernetes/pki", "grep -r x /etc/ssl/private",
                                  "grep -r . /home/app/.aws", "grep -r . ~/.kube"])
def test_reading_a_folder_of_credentials_is_not_a_read(line: str) -> None:
    assert_gated(line, "prints the credentials it holds")


@pytest.mark.parametrize("line", [
    "cat /etc/ssh/ssh_host_ed25519_key.pub", "cat /etc/ssh/sshd_config",
    "cat /etc/letsencrypt/live/x/fullchain.pem", "ls -la ~/.ssh", "find ~/.ssh -type f",
    "du -sh ~/.kube", "ls /etc/kubernetes/pki", "grep -r server /etc/kubernetes/manifests",
    "ssh -i /etc/ssh/ssh_host_rsa_key h uptime", "grep -r error /var/log",
])
def test_naming_or_using_them_still_reads(line: str) -> None:
    assert_reads(line)


# -- 5. the cloud's metadata service -----------------------------------------------------------

METADATA_CREDENTIALS = [
    "curl http://169.254.169.254/latest/meta-data/iam/security-credentials/role",
    "curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "wget -qO- http://169.254.169.254/latest/meta-data/iam/security-credentials/role",
    "curl -H 'Metadata-Flavor: Google' http://metadata.google.internal/computeMetadata/v1/"
    "instance/service-accounts/default/token",
    "curl -H 'Metadata-Flavor: Google' 'http://metadata/computeMetadata/v1/instance/"
    "service-accounts/default/identity?audience=x'",
    "curl -H Metadata:true 'http://169.254.169.254/metadata/identity/oauth2/token?resource=x'",
    "curl http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "curl \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\"",
    "curl -H \"X-IDENTITY-HEADER: $IDENTITY_HEADER\" \"$IDENTITY_ENDPOINT?resource=x\"",
    "curl http://169.254.169.254/latest/meta-data/identity-credentials/ec2/security-credentials/"
    "ec2-instance",
    "curl --connect-to ::169.254.169.254:80 http://example.com/latest/meta-data/iam/"
    "security-credentials/r",
    "curl http://0xa9fea9fe/latest/meta-data/iam/security%2Dcredentials/",
    "curl --url http://169.254.169.254/latest/meta-data/iam/security-credentials/x",
    "curl http://169.254.169.254/latest/meta-data/iam/security-credential[s-s]/",
    "curl http://169.254.169.254/latest/meta-data/iam/{x,security}-credentials/",
]


@pytest.mark.parametrize("line", METADATA_CREDENTIALS)
def test_asking_the_metadata_service_for_credentials_is_not_a_read(line: str) -> None:
    assert_gated(line, "metadata service")


@pytest.mark.parametrize("line", [
    "curl http://169.254.169.254/latest/meta-data/instance-id",
    "curl http://169.254.169.254/latest/meta-data/iam/info",
    "curl -H 'Metadata-Flavor: Google' http://metadata.google.internal/computeMetadata/v1/"
    "instance/service-accounts/default/email",
    "curl -H Metadata:true 'http://169.254.169.254/metadata/instance?api-version=2021-02-01'",
    "curl http://x/page[1-10].html", "curl http://[::1]:8080/metrics",
])
def test_other_metadata_and_globbed_urls_still_read(line: str) -> None:
    assert_reads(line)


def test_a_glob_past_what_can_be_checked_is_not_a_read() -> None:
    assert_gated("curl http://x/iam/[a-z][a-z][a-z][a-z]", "more URLs than can be checked")


# -- 6. a program's environment, printed by a cloud command --------------------------------------

@pytest.mark.parametrize("line", [
    "aws lambda get-function-configuration --function-name f",
    "aws lambda get-function --function-name f --query Configuration",
    "aws lambda get-function-configuration --function-name f --query=Environment.Variables",
    "aws --region x lambda get-function-configuration --function-name f --query '@'",
    "aws ecs describe-task-definition --task-definition t",
    "aws ec2 describe-instance-attribute --instance-id i --attribute userData",
    "aws ec2 describe-launch-template-versions --launch-template-id x",
])
def test_a_cloud_command_printing_a_programs_environment_is_not_a_read(line: str) -> None:
    assert_gated(line, "environment")


@pytest.mark.parametrize("line", [
    "az webapp config appsettings list -n x -g g", "az functionapp config appsettings list -n x",
    "az webapp deployment list-publishing-profiles -n x -g g",
    "az webapp deployment list-publishing-credentials -n x -g g",
])
def test_an_apps_settings_and_publishing_password_are_not_a_read(line: str) -> None:
    assert_gated(line, "secret")


@pytest.mark.parametrize("line", [
    "aws lambda get-function-configuration --function-name f --query State",
    "aws ec2 describe-instance-attribute --instance-id i --attribute instanceType",
    "aws lambda list-functions --query 'Functions[].FunctionName'", "aws ec2 describe-instances",
    "az webapp show -n x -g g",
    "az webapp config show -n x -g g",
])
def test_other_cloud_reads_stay_reads(line: str) -> None:
    assert_reads(line)


# -- 7. redis-cli repeating for ever -------------------------------------------------------------

@pytest.mark.parametrize("line", ["redis-cli -r -1 INFO", "redis-cli -r -1 -i 1 INFO",
                                  "redis-cli -r-1 PING"])
def test_redis_repeating_for_ever_is_a_persons_job(line: str) -> None:
    found = classify(shlex.split(line))
    assert found.effect == "interactive" and "until someone stops it" in found.reason, found


def test_redis_repeating_a_few_times_reads() -> None:
    assert_reads("redis-cli -r 5 -i 1 INFO")


# -- 8. Docker's API through curl ---------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "curl --unix-socket /var/run/docker.sock http://x/containers/c/json",
    "curl --unix-socket /var/run/docker.sock http://localhost/v1.43/containers/c/json",
    "curl --unix-socket /var/run/docker.sock 'http://x/containers/c/archive?path=/etc/shadow'",
    "curl -s --unix-socket /run/docker.sock http://x/containers/c/export",
    "curl --unix-socket /var/run/docker.sock http://x/images/nginx/json",
    "curl --unix-socket /var/run/docker.sock http://x/configs",
    "curl --abstract-unix-socket d http://x/containers/c/json",
    "curl http://127.0.0.1:2375/containers/c/json",
    "curl --unix-socket /var/run/docker.sock --url http://x/containers/c/json",
    "curl --unix-socket /var/run/docker.sock http://x/containers/c/[j-j]son",
])
def test_asking_dockers_api_for_an_environment_or_files_is_not_a_read(line: str) -> None:
    assert_gated(line, "Docker's API")


@pytest.mark.parametrize("line", [
    "curl --unix-socket /var/run/docker.sock http://localhost/containers/json",
    "curl --unix-socket /var/run/docker.sock http://localhost/info",
    "curl --unix-socket /var/run/docker.sock 'http://localhost/containers/c/logs?tail=10'",
    "curl http://app/containers/c/json",
])
def test_listing_containers_through_dockers_api_still_reads(line: str) -> None:
    assert_reads(line)


# -- 9. a secret dumped as numbers ---------------------------------------------------------------

SECRET = "Sup3r-S3cret42Pa55"


@pytest.mark.parametrize("dump", [
    "xxd -i", "xxd -b", "xxd -b -c 4", "od -t d1", "od -t u1", "od -An -t d1", "od -t d1z", "od",
    "od -o", "od -d", "od -t o2", "hexdump -o", "hexdump -d",
])
def test_a_secret_dumped_as_numbers_is_masked(dump: str) -> None:
    out = subprocess.run(f"printf 'the password: %s.\\n' {SECRET} | {dump}", shell=True,
                         check=True, capture_output=True, text=True).stdout
    shown = Redactor([SECRET]).redact(out)
    assert MASK in shown, shown
    assert shown.count("\n") == out.count("\n"), shown  # the dump's lines stay lines
    for piece in (SECRET[:6], SECRET[6:12], SECRET[12:]):  # no ASCII column shows a piece
        assert piece not in shown, shown
    assert Redactor(["Other-Secret-9876zz"]).redact(out) == out  # nothing else is masked


@pytest.mark.parametrize("text", [
    "0x53, 0x75, 0x70, 0x33, 0x72, 0x2d, 0x53, 0x33, 0x63, 0x72, 0x65, 0x74, 0x34, 0x32, 0x50, "
    "0x61, 0x35, 0x35", "53,75,70,33,72,2d,53,33,63,72,65,74,34,32,50,61,35,35",
])
def test_a_secret_in_hex_with_commas_is_masked(text: str) -> None:
    assert Redactor([SECRET]).redact(f"key = {{{text}}};") == f"key = {{{MASK}}};"


@pytest.mark.parametrize("text", [
    "0000000  83 117 112  51\n0000004\n", "procs  1  0  0 123456 7890 12 0 0\n 1 2 3 4 5\n",
    "  0x68, 0x65, 0x6c, 0x6c, 0x6f,\n", "12 34 56 78\n90 12 34 56\n",
])
def test_numbers_that_are_not_the_secret_stay(text: str) -> None:
    assert Redactor([SECRET]).redact(text) == text


# -- 10. an http step asking for credentials ----------------------------------------------------

@pytest.mark.parametrize("params", [
    {"url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/role"},
    {"url": "http://169.254.169.254/latest/meta-data/iam/", "path": ["security-credentials", "r"]},
    {"url": "http://169.254.169.254/latest//meta-data/iam/security-credentials"},
    {"url": "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/"
            "default/token", "headers": {"Metadata-Flavor": "Google"}},
    {"url": "http://169.254.169.254/metadata/identity/oauth2/token", "method": "HEAD"},
    {"url": "http://localhost:2375/containers/", "path": ["web", "json"]},
])
def test_an_http_get_of_credentials_is_not_a_read(params: dict[str, object]) -> None:
    found = step_verdict("http", params)
    assert found.effect == "mutate" and "not a read to keep" in found.reason, found


def test_an_http_step_fetching_credentials_is_gated_in_the_plan() -> None:
    from engine.compile import compile_guide
    from engine.guide import parse_guide
    from engine.plan import StepKind

    plan = compile_guide(parse_guide(
        "# T\n\n## Diagnosis\n\n1. Read the role's keys:\n\n   ```http\n   url: http://169.254."
        "169.254/latest/meta-data/iam/security-credentials/app\n   ```\n", path="g.md"),
        known_plugins={"http"})
    fetch = next(s for s in plan.steps if s.plugin == "http")
    assert fetch.mutating
    assert any(plan.step(e.source).kind == StepKind.APPROVE for _, e in plan.incoming(fetch.id))


@pytest.mark.parametrize("params", [
    {"url": "http://169.254.169.254/latest/meta-data/instance-id"}, {"url": "api/v1/query"},
    {"url": "http://localhost:2375/containers/json"}, {"url": "http://x/a", "path": ["b"]},
])
def test_other_http_gets_still_read(params: dict[str, object]) -> None:
    assert step_verdict("http", params).read


# -- 11. a credential file named by what a shell expands ----------------------------------------

EXPANDED = [
    "cat $HOME/.ssh/id_rsa", "cat \"$HOME/.aws/credentials\"", "cat ${HOME}/.kube/config",
    "cat /home/$USER/.pgpass", "cat /proc/$$/environ", "cat /proc/$(pgrep nginx)/environ",
    "cat /etc/{shadow,passwd}", "cat /etc/shad?w", "cat /etc/sha*", "cat /etc/gshado[w]",
    "cat ~/.ssh/id_*", "cat ~/.ssh/*", "cat /root/.aws/*", "cat /home/*/.ssh/id_rsa",
    "cat /home/*/.ssh/*", "cat /etc/nginx/ssl/*.key", "cat ~/.docker/*.json", "cat ~/.kube/conf*",
    "cat /etc/ssl/private/*.pem", "cat /etc/letsencrypt/live/*/privkey.pem", "cat /run/secrets/*",
    "cd /root/.aws && cat credentials", "cd /etc && cat shadow", "cat /srv/ssh_host_rsa_key",
]


@pytest.mark.parametrize("line", EXPANDED)
def test_a_credential_file_a_word_may_expand_to_is_not_a_read(line: str) -> None:
    found = bash_verdict(line)
    assert found.effect == "mutate" and "prints the credentials it holds" in found.reason, \
        (line, found)
    assert ungated_commands(compiled("bash", line)) == [], line


@pytest.mark.parametrize("line", [
    "cat /var/log/*", "cat /var/log/*.log", "cat /etc/*.conf", "cat /etc/nginx/conf.d/*.conf",
    "cat $LOGDIR/app.log", "tail -n 50 $(ls -t /var/log/app/*.log | head -1)",
    "cat /var/log/$X/$Y", "cat ~/.ssh/*.pub", "cat ~/.ssh/known_hosts", "ls ~/.ssh/*",
    "cat /etc/ssl/certs/*.pem", "cat /tmp/id_*", "cd /etc && cat hosts",
    "kubectl logs $(kubectl get po -l app=x -oname)",
])
def test_other_expanded_words_still_read(line: str) -> None:
    assert bash_verdict(line).read, line


@pytest.mark.parametrize("line", [
    "Get-Content ~\\.ssh\\id_rsa", "Get-Content C:\\Users\\x\\.kube\\config",
    "Get-Content $env:USERPROFILE\\.aws\\credentials",
    "Get-Content C:\\ProgramData\\ssh\\ssh_host_rsa_key",
])
def test_powershell_opening_a_credential_file_by_a_windows_path_is_not_a_read(line: str) -> None:
    assert "prints the credentials" in powershell_verdict(line).reason, line


def test_powershell_opening_other_windows_paths_reads() -> None:
    assert powershell_verdict("Get-Content C:\\logs\\app.log").read


# -- 12. PowerShell cmdlets printing a secret's value ---------------------------------------------

@pytest.mark.parametrize("line", [
    "Get-AzKeyVaultSecret -VaultName v -Name x -AsPlainText", "Get-SECSecretValue -SecretId x",
    "Get-SSMParameter -Name x -WithDecryption $true", "Get-SSMParameterValue -Name x -WithD 1",
    "Get-LapsADPassword -Identity x -AsPlainText", "Get-ADComputer x -Properties ms-Mcs-AdmPwd",
    "Get-ADComputer x -Properties msLAPS-Password",
    "Get-StoredCredential -Target x -AsCredentialObject",
    "(Get-BitLockerVolume -MountPoint C:).KeyProtector",
    "Get-BitLockerVolume | Select-Object -ExpandProperty KeyProtector",
])
def test_powershell_printing_a_secret_is_not_a_read(line: str) -> None:
    found = powershell_verdict(line)
    assert found.effect == "mutate", (line, found)
    assert ungated_commands(compiled("ps", line)) == [], line


@pytest.mark.parametrize("line", [
    "Get-SSMParameter -Name x", "Get-ADComputer x -Properties Name | Select-Object Name",
    "Get-BitLockerVolume | Select-Object MountPoint, ProtectionStatus",
])
def test_powershell_reading_around_secrets_still_reads(line: str) -> None:
    assert powershell_verdict(line).read, line


# -- 13. a URL that cannot be read --------------------------------------------------------------

@pytest.mark.parametrize("url", ["postgresql://app:S3cret-pw@[::1/x",
                                 "postgresql://app:S3cret-pw@db:99999/x",
                                 "http://app:S3cret-pw@prom:port/"])
def test_a_data_source_url_that_cannot_be_read_is_bad_input(url: str, tmp_path: Path) -> None:
    config = tmp_path / "mendflow.toml"
    config.write_text(f"[datasources.db]\ntype = 'postgresql'\nurl = '{url}'\n")
    proc = mendflow("run", str(TRIAGE), "--dry-run", tmp=tmp_path,
                    env={"MENDFLOW_CONFIG_FILE": str(config)})
    assert_one_line_bad_input(proc)
    assert "'db'" in proc.stderr and "S3cret-pw" not in proc.stderr, proc.stderr
    proc = mendflow("run", str(TRIAGE), "--dry-run", tmp=tmp_path,
                    env={"MENDFLOW_DATASOURCE_DB_URL": url,
                         "MENDFLOW_DATASOURCE_DB_TYPE": "postgresql"})
    assert_one_line_bad_input(proc)


@pytest.mark.parametrize(("name", "url"), [
    ("MENDFLOW_DATABASE_URL", "postgresql://app:S3cret-pw@db:99999/x"),
    ("MENDFLOW_DATABASE_URL", "postgresql://app:S3cret-pw@[db/x"),
    ("MENDFLOW_BROKER_URL", "redis://:S3cret-pw@broker:70000/0"),
])
def test_a_store_or_broker_url_that_cannot_be_read_is_bad_input(name: str, url: str,
                                                                  tmp_path: Path) -> None:
    proc = mendflow("runs", tmp=tmp_path, env={name: url})
    assert_one_line_bad_input(proc)
    assert name in proc.stderr and "S3cret-pw" not in proc.stderr, proc.stderr


# -- 14. a store edited by hand -----------------------------------------------------------------

def _a_finished_change(tmp_path: Path) -> str:
    guide = tmp_path / "mut.md"
    guide.write_text("# Restart\n\n## Mitigation\n\n1. Record the restart:\n\n   ```bash\n"
                     f"   echo restarted >> {tmp_path}/ledger\n   ```\n")
    proc = mendflow("run", str(guide), "--yes", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return re.findall(r"\brun (\d{8}-\d{6}-[0-9a-f]+)", proc.stdout)[-1]


@pytest.mark.parametrize("edit", [
    "UPDATE runs SET created_at = 'yesterday'", "UPDATE events SET at = 'x' WHERE seq = 2",
    "DELETE FROM snapshots", "UPDATE runs SET status = 'bogus'",
    "UPDATE snapshots SET state = '{}', state_seq = 0",
    "UPDATE snapshots SET state = '{\"version\": 2, \"status\": \"running\", \"steps\": {}}'",
    "UPDATE snapshots SET state = '{\"version\": 2, \"steps\": {\"x\": {\"status\": \"bogus\"}}}'",
    "UPDATE snapshots SET state = '{\"version\": 2, \"steps\": []}'",
    "UPDATE events SET data = '{\"event\": {\"type\": \"step_succeeded\", \"step\": \"nosuch\", "
    "\"attempt\": 1}}' WHERE seq = 5",
])
def test_a_record_edited_by_hand_is_one_line_and_runs_nothing_again(edit: str,
                                                                     tmp_path: Path) -> None:
    run_id = _a_finished_change(tmp_path)
    with sqlite3.connect(tmp_path / "data" / "mendflow.sqlite3") as conn:
        conn.execute("UPDATE runs SET status = 'interrupted'")
        conn.execute("UPDATE snapshots SET state_seq = 0")
        conn.execute(edit)
    conn.close()
    for command in (["show", run_id], ["report", run_id], ["resume", run_id, "--yes"]):
        proc = mendflow(*command, tmp=tmp_path)
        said = proc.stdout + proc.stderr
        assert "Traceback" not in said and "internal error" not in said, (command, said)
        assert proc.returncode in (0, 5), (command, said)
        if proc.returncode:
            assert len([ln for ln in proc.stderr.splitlines() if ln.strip()]) == 1, said
            assert "cannot" in proc.stderr and "errors.pydantic.dev" not in said, said
    assert (tmp_path / "ledger").read_text() == "restarted\n"


# -- 15. a helm release printed whole ------------------------------------------------------------

@pytest.mark.parametrize("line", ["helm status r -o yaml", "helm status r --output=json",
                                  "helm status r -ojson -n x", "helm get hooks r"])
def test_a_helm_release_printed_whole_is_not_a_read(line: str) -> None:
    assert_gated(line, "rendered Secrets")


@pytest.mark.parametrize("line", ["helm status r", "helm status r -o table", "helm get notes r",
                                  "helm get metadata r -o json"])
def test_helm_status_and_notes_still_read(line: str) -> None:
    assert_reads(line)


# -- 16. docker top with ps's e ------------------------------------------------------------------

@pytest.mark.parametrize("line", ["docker top c e", "docker top c auxe",
                                  "docker container top c eww", "podman top c e",
                                  "podman pod top p auxe"])
def test_docker_top_printing_environments_is_not_a_read(line: str) -> None:
    assert_gated(line, "environment")


@pytest.mark.parametrize("line", ["docker top c", "docker top c aux", "docker top c -eo pid,cmd",
                                  "docker top c -ef", "podman top c user pid args etime"])
def test_docker_top_without_environments_reads(line: str) -> None:
    assert_reads(line)


# -- 17. stored replication credentials in SQL ---------------------------------------------------

@pytest.mark.parametrize("query", [
    "select * from pg_subscription", "select subconninfo from pg_subscription",
    'select * from "pg_subscription"', "show primary_conninfo",
    "select current_setting('primary_conninfo')",
    "select * from pg_settings where name = 'primary_conninfo'", "SHOW CREATE USER root",
    "select * from mysql.slave_master_info", "select * from `mysql`.`slave_master_info`",
])
def test_sql_reading_stored_replication_credentials_is_not_a_read(query: str) -> None:
    problem = sql_problem(query)
    assert problem is not None and "credentials" in problem, query
    assert classify(["psql", "-c", query]).effect == "mutate", query


@pytest.mark.parametrize("query", ["select name, setting from pg_settings where name = 'x'",
                                   "show create table t",
                                   "select * from pg_stat_subscription",
                                   "select * from pg_stat_wal_receiver", "show max_connections"])
def test_sql_reading_replication_state_stays_a_read(query: str) -> None:
    assert sql_problem(query) is None, query


# -- 18. the logs plugin reading a credential file -----------------------------------------------

@pytest.mark.parametrize("where", [".aws/credentials", ".ssh/id_rsa", "etc/shadow",
                                   "run/secrets/db_password"])
async def test_the_logs_plugin_refuses_a_file_that_holds_credentials(where: str,
                                                                     tmp_path: Path) -> None:
    from engine.errors import StepFailed

    secret = tmp_path / where
    secret.parent.mkdir(parents=True)
    secret.write_text("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY\n")
    with pytest.raises(StepFailed, match="holds credentials"):
        await run_logs({"paths": [str(secret)], "pattern": ".", "roots": ["/"]})


async def test_the_logs_plugin_still_reads_logs(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("2024-01-01T00:00:00Z error: disk full\n")
    res = await run_logs({"paths": [str(log)], "pattern": "error", "roots": ["/"]})
    assert res.outputs["count"] == 1
