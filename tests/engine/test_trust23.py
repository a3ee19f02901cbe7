r"""Trust, session 23: what a hostile label, value or program text could still reach.

1. A trigger's `~regex` label matcher was matched with Python's backtracking `re` against the
   alert's label, which whoever controls a metric writes: a careless `~(.*a)+b` or `~(x+x+)+y`
   and a label of forty characters held `mendflow serve`'s intake for ever (every alert after
   it waited). A matcher is matched by RE2 now (linear in the label, as Alertmanager's Go
   regexp); one RE2 cannot compile (a backreference) is refused at the guide's line.
2. A jq program that names a file opened it unasked: `import "/root/.docker/config" as $c; $c`
   prints config.json (a registry's login), `include`, or `{search: "/root/.docker"}` picking
   the folder as `-L` does; `jq --slurpfile c ~/.docker/config.json` was gated for the same
   text. A program with such a directive, or read from a file (`-f`) that may hold one, is not
   a read; a filter that only reads its input still is.
3. A path input confined under `roots` was checked from the folder Mendflow ran in: with
   `roots: [/srv/scratch]` and `mendflow serve` started there, an alert's `dir: build` was
   taken as /srv/scratch/build, and the step (`find {{ inputs.dir }} -delete`) used it from
   the folder it runs in, wherever that is. Such a path is absolute now; a relative one is
   refused, saying so.
4. A value in the query text of `cqlsh -e` or `cockroach sql -e` (both reads on the table)
   was an ordinary argument: a regex, a path or an earlier step's output holding a quote
   (`x' OR k > '`) rewrote the statement, while in `psql -c` or `mysql -e` it is refused. Their
   `-e`/`--execute` text is SQL text, checked as theirs is.
5. A run's report wrote what a step read as Markdown: an output holding a line of three
   backticks ended its code block, and the rest (a forged `- **Outcome:** resolved`, a heading,
   `[Approve here](https://evil.example)`) was the report's own Markdown, as the web UI renders
   it; a step's summary or error, a child step's values, and a conclusion or reason filled in
   from memory put their `[text](url)`, `![](url)` and `<https://...>` in as links and images.
   An output's fence is longer than any run of backticks in it, and an inline value's link and
   block marks are escaped: each renders as the text it is.
6. A credential file named after a key in one word was opened unasked: `kubectl get ns x -o
   go-template-file=/etc/shadow` (or `jsonpath-file=`, `custom-columns-file=`) prints the
   template file, which has no action, as it is; `helm template app ./chart --set-file
   ca=/root/.ssh/id_rsa` puts the key into the manifests it prints (`--set-file` was taken for
   a flag that hands a file over for use). The path after each `=` of such a word is judged
   as the file it names; a template or a value file of the guide's own still reads.
7. kubectl's `-v=8` and up (`--v`, `-v9`, a file's level in `--vmodule=request=9`; oc's,
   virtctl's) logs each answer of the API server, cut at 8 and whole at 9: `kubectl describe
   secret db -v=9` printed the Secret's data, which `describe` itself shows only as sizes, and
   `get secrets -v=9` the last-applied annotation that holds it, as `aws --debug` (gated)
   prints a session token. Such a level is not a read; up to 7 (URLs, headers with the token
   masked) still reads.
8. AWS Parameter Store read a parameter named for a secret (`aws ssm get-parameter --name
   /prod/db/password`: a String parameter prints in clear, no --with-decryption needed) or the
   whole store (`get-parameters-by-path --path / --recursive`), as `consul kv get
   app/db/password` and `consul kv export` (gated) do. Other parameters and paths still read.
9. More describes printed a program's environment, as `aws lambda get-function-configuration`
   and `az webapp config appsettings list` (gated) do: a SageMaker training, processing or
   transform job's and a model's containers' (`Environment`), an Azure Container App's, its
   jobs' and revisions' containers' `env`, a container group's (ACI) environment variables, a
   Spring app deployment's. A --query that picks other fields still reads.
10. `openssl s_client` writes what it reads to the TLS connection, and was a read whatever fed
   it: `echo FLUSHALL | openssl s_client -connect redis:6380` (a command to Redis), a `printf
   'DELETE /v1/x HTTP/1.1...'` to a web server, a here-string, a heredoc, `< FILE`, a shell
   step's `stdin`; `nc` without -z, which does the same in clear, is gated. It reads when fed
   nothing: `echo |`, `</dev/null`, no input, the way the corpus checks a certificate.
11. More files hold credentials by convention than the list knew: Terraform's state (`cat
   terraform.tfstate`: the sensitive values `terraform show -json`, gated, prints in clear),
   a kubeconfig by another name (`admin.kubeconfig`, `kubeconfig`), the key that encrypts a
   cluster's Secrets at rest (`encryption-config.yaml`), sops' age keys, an Ansible vault
   password file, Kafka's and ZooKeeper's JAAS files, git's XDG credential store, Pulumi's
   and Terraform's CLI tokens, Docker's old `.dockercfg`, GitLab's `secrets.yml`, BSD's
   `master.passwd`, Exim's and Dovecot's password files, Rundeck's realm, Elasticsearch's
   keystore, a Google OAuth client secret or service account key. terraform itself, handed
   its state, still reads: it redacts the sensitive values (its -json is gated).
12. gcloud's `--log-http` and az's `--debug` log each answer of the service whole: `gcloud
   functions describe f --format='value(name)' --log-http` printed the environment the
   projection left out, `gcloud compute instances list --log-http` each machine's startup
   script, as `aws --debug` (gated) logs a session token. They are not reads; the same
   commands without them still are.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.effects import step_verdict
from engine.errors import InputError
from engine.placement import rendered_problem
from engine.plan import InputSpec, Trigger
from engine.report import RunView, StepRow, render_markdown
from engine.runtime.memory import coerce_inputs
from engine.serve.views import report_html
from engine.store.base import RunRecord
from tests.engine.test_guide import front_error
from tests.support.compiling import compile_text
from tests.support.verdicts import (
    assert_gated,
    assert_reads,
    compiled,
    ungated_commands,
    verdict,
)

# -- 1. a trigger's regex against a hostile label -------------------------------------------------

_STALL = """
from engine.effects import step_verdict
from engine.errors import InputError
from engine.placement import rendered_problem
from engine.plan import InputSpec, Trigger
from engine.report import RunView, StepRow, render_markdown
from engine.runtime.memory import coerce_inputs
from engine.serve.views import report_html
from engine.store.base import RunRecord
from tests.support.compiling import compile_text
trigger = Trigger(alert="DiskFull", labels={"instance": "~(x+x+)+y"})
print(trigger.matches({"alertname": "DiskFull", "instance": "x" * 40}))
"""


def test_a_triggers_regex_takes_linear_time_on_a_hostile_label() -> None:
    done = subprocess.run([sys.executable, "-c", _STALL], capture_output=True, text=True,
                          timeout=20)  # backtracking: 2**40 steps; RE2: forty
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("pattern", [r"(a)\1", r"x(?=y)", r"(?<!a)b"])
def test_a_matcher_re2_cannot_compile_is_refused_at_its_line(pattern: str) -> None:
    err = front_error(f"title: T\ntriggers:\n  - alert: DiskFull\n    labels:\n"
                      f"      instance: '~{pattern}'")
    assert "RE2" in err.message and "instance" in err.message


def test_matchers_still_match_as_alertmanagers() -> None:
    trigger = Trigger(alert="DiskFull", labels={"severity": "~crit.*|page", "team": "db"})
    assert trigger.matches({"alertname": "DiskFull", "severity": "critical", "team": "db"})
    assert trigger.matches({"alertname": "DiskFull", "severity": "page", "team": "db"})
    assert not trigger.matches({"alertname": "DiskFull", "severity": "xcritical", "team": "db"})


# -- 2. a jq program that opens a file ------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "jq -n 'import \"/root/.docker/config\" as $c; $c'",
    "jq -n 'include \"/root/.docker/config\"; .'",
    "jq -n 'import \"config\" as $c {search: \"/root/.docker\"}; $c'",
    "jq -n '  import \"/var/lib/docker/containers/abc/config.v2\" as $c; $c.Config.Env'",
    "jq -f prog.jq data.json", "jq --from-file=prog.jq data.json", "jq -rf prog.jq data.json",
])
def test_a_jq_program_that_opens_a_file_is_not_a_read(line: str) -> None:
    assert_gated(line, "import", "program")


@pytest.mark.parametrize("line", [
    "jq -r '.items[] | .metadata.name' pods.json", "jq '.msg | contains(\"import x\")' log.json",
    "jq -s . a.json b.json", "kubectl get pods -o json | jq '.items | length'",
])
def test_a_jq_filter_still_reads(line: str) -> None:
    assert_reads(line)


# -- 3. a relative path under roots ---------------------------------------------------------------

def test_a_relative_path_is_not_taken_as_under_a_root(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.chdir(scratch)  # where `mendflow serve` was started
    spec = InputSpec(name="dir", type="path", roots=[str(scratch)])
    with pytest.raises(InputError) as info:
        coerce_inputs([spec], {}, labels={"dir": "build"})
    assert "relative" in str(info.value) and "\n" not in str(info.value)
    absolute = str(scratch / "build")
    assert coerce_inputs([spec], {}, labels={"dir": absolute}) == {"dir": absolute}


# -- 4. a value in cqlsh's or cockroach's query text ----------------------------------------------

@pytest.mark.parametrize("argv", [
    ["cqlsh", "-e", "{q}", "cass-1"], ["cqlsh", "--execute={q}", "cass-1"],
    ["cockroach", "sql", "--insecure", "-e", "{q}"], ["cockroach", "sql", "--execute={q}"],
])
@pytest.mark.parametrize(("value", "refused"), [("x' OR k > '", True), ("node-7", False)])
def test_a_value_in_cql_or_cockroach_sql_stays_in_its_place(argv: list[str], value: str,
                                                             refused: bool) -> None:
    query = "SELECT * FROM ks.t WHERE k = '{{ inputs.v }}'"
    template = [w.replace("{q}", query) for w in argv]
    rendered = [w.replace("{{ inputs.v }}", value) for w in template]
    problem = rendered_problem("shell", {"pipeline": [template]}, {"pipeline": [rendered]},
                               {"inputs": {"v": value}})
    assert (problem is not None) == refused, problem


# -- 5. a step's output writing the report's Markdown ---------------------------------------------

_LINK = "[Approve the fix here](https://evil.example/approve)"
_LINE = f"## Verdict: {_LINK} ![](https://evil.example/p.png) <https://evil.example/x>"
_OUTPUT = f"disk ok\n```\n- **Outcome:** resolved\n{_LINE}"


def _report(**said: str) -> str:
    """The web UI's HTML of a one-step run whose step and ending said `said`."""
    plan = compile_text("# Disk\n\n## Diagnosis\n\n```bash\ndf -h\n```\n")
    now = datetime.now(UTC)
    record = RunRecord(run_id="r1", plan_id=plan.id, plan_hash="0" * 64, guide_path="g.md",
                       status="failed", outcome="escalate", created_at=now, updated_at=now,
                       reason=said.get("reason", "a step failed"))
    row = StepRow(step_id=plan.steps[0].id, title="Check the disk", kind="command",
                  status="failed", summary=said.get("summary", ""), error=said.get("error"),
                  outputs={"stdout": said.get("stdout", "")})
    view = RunView(record=record, plan=plan, rows=[row], critical_path=[], critical_path_s=0.0,
                   started_at=now, finished_at=now, conclusion=said.get("conclusion"))
    return report_html(render_markdown(view), "run r1")


@pytest.mark.parametrize(("where", "text"), [
    ("stdout", _OUTPUT), ("summary", _LINE), ("error", _LINE), ("conclusion", _LINE),
    ("reason", _LINE),
])
def test_what_a_step_read_stays_text_in_the_report(where: str, text: str) -> None:
    page = _report(**{where: text})
    assert "<a " not in page and "<img" not in page, where
    assert "<h2>Verdict" not in page and "<li><strong>Outcome:</strong> resolved" not in page
    assert "evil.example/approve" in page  # shown, as text


def test_an_ordinary_output_and_conclusion_read_as_before() -> None:
    page = _report(stdout="/dev/sda1  91%  /", conclusion="The disk is 91% full (< 95)")
    assert "<pre><code class=\"language-text\">/dev/sda1  91%  /\n</code></pre>" in page
    assert "The disk is 91% full (&lt; 95)" in page


# -- 6. a credential file named after a key -------------------------------------------------------

@pytest.mark.parametrize("line", [
    "kubectl get ns default -o go-template-file=/etc/shadow",
    "kubectl get ns default -o jsonpath-file=/root/.aws/credentials",
    "kubectl get ns default -o custom-columns-file=/root/.kube/config",
    "helm template app ./chart --set-file ca=/root/.ssh/id_rsa",
    "helm template app ./chart --set-file=ca=/root/.ssh/id_rsa",
    "helm template app ./chart --set-file a=b.txt,ca=/root/.ssh/id_rsa",
])
def test_a_credential_file_named_after_a_key_is_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", [
    "kubectl get pods -o go-template-file=./pods.tmpl", "kubectl get pods -l app=web",
    "helm template app ./chart --set-file ca=./ca.crt", "kubectl get pods -o jsonpath={.items}",
])
def test_the_guides_own_template_and_value_files_still_read(line: str) -> None:
    assert_reads(line)


# -- 7. kubectl's verbosity that logs the API's answers -------------------------------------------

@pytest.mark.parametrize("line", [
    "kubectl describe secret db -v=9", "kubectl get secrets -v 8", "kubectl get secrets -v8",
    "kubectl --v=9 get secrets", "oc get secret db -o name --v=10",
    "kubectl get pods --vmodule=request=9", "virtctl version -v=9",
])
def test_a_verbosity_that_logs_the_apis_answers_is_not_a_read(line: str) -> None:
    assert_gated(line, "answers whole")


@pytest.mark.parametrize("line", [
    "kubectl get pods -v=6", "kubectl describe pod web -v 4",
    "kubectl exec web -- grep -v 9 /var/log/app.log", "kubectl get pods --vmodule=request=2",
])
def test_a_lower_verbosity_still_reads(line: str) -> None:
    assert_reads(line)


# -- 8. Parameter Store's secrets -----------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "aws ssm get-parameter --name /prod/db/password",
    "aws ssm get-parameter --name=/prod/api_token",
    "aws ssm get-parameters --names /prod/db/host /prod/db/password",
    "aws ssm get-parameters-by-path --path /prod/secrets",
    "aws ssm get-parameters-by-path --path / --recursive",
])
def test_a_parameter_named_for_a_secret_or_the_whole_store_is_not_a_read(line: str) -> None:
    assert_gated(line, "secret")


@pytest.mark.parametrize("line", [
    "aws ssm get-parameter --name /prod/db/host",
    "aws ssm get-parameters --names /prod/db/host /prod/db/port",
    "aws ssm get-parameters-by-path --path /prod/app --recursive",
])
def test_other_parameters_still_read(line: str) -> None:
    assert_reads(line)


# -- 9. a described program's environment ---------------------------------------------------------

@pytest.mark.parametrize("line", [
    "aws sagemaker describe-training-job --training-job-name j",
    "aws sagemaker describe-processing-job --processing-job-name j",
    "aws sagemaker describe-model --model-name m", "az containerapp show -n a -g g",
    "az containerapp list -g g", "az containerapp job show -n j -g g",
    "az containerapp revision list -n a -g g", "az container show -n c -g g",
    "az spring app deployment show -n d --app a -g g -s s",
])
def test_a_described_programs_environment_is_not_a_read(line: str) -> None:
    assert_gated(line, "environment")


@pytest.mark.parametrize("line", [
    "aws sagemaker describe-training-job --training-job-name j --query TrainingJobStatus",
    "az containerapp show -n a -g g --query properties.runningStatus",
    "az containerapp list -g g --query '[].name'", "az containerapp logs show -n a -g g",
    "az container show -n c -g g --query instanceView.state", "az containerapp env show -n e -g g",
])
def test_other_fields_of_them_still_read(line: str) -> None:
    assert_reads(line)


# -- 10. what feeds openssl s_client goes to the server -------------------------------------------

@pytest.mark.parametrize("line", [
    "echo FLUSHALL | openssl s_client -connect redis:6380",
    "printf 'DELETE /v1/items HTTP/1.1\\r\\nHost: api\\r\\n\\r\\n' | openssl s_client "
    "-connect api:443 -quiet",
    "cat /tmp/request | openssl s_client -connect api:443",
])
def test_what_feeds_openssl_s_client_is_not_a_read(line: str) -> None:
    assert_gated(line, "sends the server")


@pytest.mark.parametrize("line", [
    "openssl s_client -connect redis:6380 <<< FLUSHALL",
    "openssl s_client -connect redis:6380 < /tmp/commands",
    "openssl s_client -connect redis:6380 <<EOF\nFLUSHALL\nEOF",
])
def test_what_a_redirection_feeds_s_client_is_not_a_read(line: str) -> None:
    found = verdict("bash", line)
    assert found.effect == "mutate" and "sends the server" in found.reason, found
    assert ungated_commands(compiled("bash", line)) == []


def test_a_shell_steps_text_fed_to_s_client_is_not_a_read() -> None:
    fed = step_verdict("shell", {"pipeline": [["openssl", "s_client", "-connect", "r:6380"]],
                                 "stdin": "FLUSHALL\n"})
    assert fed.effect == "mutate" and "sends the server" in fed.reason
    assert step_verdict("shell", {"pipeline": [["openssl", "s_client", "-connect",
                                                "r:6380"]]}).read


@pytest.mark.parametrize("line", [
    "echo | openssl s_client -connect x:443 -servername x 2>/dev/null | openssl x509 -noout "
    "-dates",
    "openssl s_client -connect x:443 </dev/null", "echo -n | openssl s_client -connect x:443",
    "openssl s_client -connect x:443 -servername x -showcerts",
])
def test_s_client_fed_nothing_still_reads(line: str) -> None:
    assert_reads(line)


def test_a_program_by_its_path_fed_a_file_is_judged_not_a_crash() -> None:
    found = verdict("bash", "echo x | ./bin/set-server-state < /tmp/servers")
    assert found.effect == "mutate" and "path" in found.reason


# -- 11. more credential files by convention ------------------------------------------------------

@pytest.mark.parametrize("line", [
    "cat terraform.tfstate", "cat /srv/infra/terraform.tfstate.backup", "cat admin.kubeconfig",
    "cat /srv/ci/kubeconfig", "cat /etc/kubernetes/encryption-config.yaml",
    "cat ~/.config/sops/age/keys.txt", "cat /srv/ansible/.vault_pass",
    "cat /etc/kafka/kafka_server_jaas.conf", "cat ~/.config/git/credentials",
    "cat ~/.pulumi/credentials.json", "cat ~/.terraformrc", "cat ~/.dockercfg",
    "cat /var/opt/gitlab/gitlab-rails/etc/secrets.yml", "cat /etc/master.passwd",
    "cat /etc/exim4/passwd.client", "cat /etc/dovecot/users",
    "cat /etc/rundeck/realm.properties", "cat /etc/elasticsearch/elasticsearch.keystore",
    "cat /srv/app/client_secret_42.apps.googleusercontent.com.json",
    "cat /srv/app/service-account.json", "grep token /srv/app/credentials.json",
])
def test_more_credential_files_are_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", [
    "terraform state list", "cat main.tf", "kubectl --kubeconfig kubeconfig get pods",
    "terraform show terraform.tfstate", "terraform state list -state=terraform.tfstate",
    "cat /etc/kafka/server.properties", "cat /etc/kubernetes/manifests/kube-apiserver.yaml",
    "cat encryption-at-rest.md", "cat /srv/app/config.json",
])
def test_their_neighbours_still_read(line: str) -> None:
    assert_reads(line)


# -- 12. a cloud CLI's HTTP log -------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "gcloud functions describe f --format='value(name)' --log-http",
    "gcloud --log-http functions list --format='value(name)'",
    "gcloud compute instances list --log-http",
    "az containerapp show -n a -g g --query properties.runningStatus --debug",
    "az webapp show -n a -g g --debug",
])
def test_a_cloud_clis_http_log_is_not_a_read(line: str) -> None:
    assert_gated(line, "answer of the service whole")


@pytest.mark.parametrize("line", [
    "gcloud functions describe f --format='value(name)'", "gcloud compute instances list",
    "gcloud compute instances list --log-http=false", "az webapp show -n a -g g --verbose",
])
def test_the_same_commands_without_it_still_read(line: str) -> None:
    assert_reads(line)
