r"""Trust, session 20: a folder above the credentials, every file a glob takes in, a dotenv file
and a unit's drop-in, a configuration store's secret keys, a cloud program's environment, a
debug log's headers.

1. A recursive grep (or diff) of a folder above the places that hold credentials opened them
   unasked: `grep -r . /etc` prints /etc/shadow, `grep -R x ~` a home's `.ssh` and `.aws`,
   `grep -r x /var/lib/postgresql` its `.pgpass`, while `grep -r . ~/.ssh` was gated. A
   recursive read of the root, /etc, /run, /proc, /var/lib or a home is not one to keep; of
   /var/log, /etc/nginx or a project's folder it still reads, as a plain grep of a file does.
2. A glob whose last part is only wildcards was judged as naming the folder alone: `cat
   /etc/*` printed /etc/shadow while `cat /etc/sha*` was gated. It is judged by the names it
   may match, as any other glob is.
3. A dotenv file (`.env`, `.env.production`: what `docker compose config`, gated, fills in)
   and the units and drop-ins written for systemd (`/etc/systemd/system/app.service.d/
   override.conf`: their `Environment=` lines, what `systemctl cat`, gated, prints) were
   opened unasked. Templates (`.env.example`) and the units a package ships
   (`/usr/lib/systemd/system/`) still read.
4. A configuration store's key that says it holds a secret (`consul kv get app/db/password`,
   `etcdctl get /secrets/db`, Consul's `/v1/kv/app/api_key` over HTTP) printed it, as `vault
   kv get` (gated) would; so did a dump of the whole store (`consul kv export`, `-recurse` of
   the root, `etcdctl get --prefix /`). Other keys, a named prefix and a listing of keys read.
5. gcloud's describe of what carries a program's environment or a machine's startup script (a
   function, a Cloud Run service, revision or job, an App Engine version, a VM's metadata, an
   instance template) read, while aws's `lambda get-function-configuration` and
   `describe-instance-attribute --attribute userData` were gated; so did a list of them in a
   `--format` that prints whole objects. A projection of other fields reads.
6. `aws --debug` logs each request's headers, the session token (X-Amz-Security-Token) among
   them, as openstack's --debug (gated) does; it was a read.
7. A SQL function that runs the SQL text it is given (tablefunc's `crosstab`, `connectby`,
   `pg_background_launch`) ran what no reader of the statement checked: `crosstab('select
   pg_terminate_backend(pid) ...')` read, while `pg_terminate_backend()` and `query_to_xml`,
   which does the same, were gated.
8. What a service keeps its passwords in, printed by its own tools: RabbitMQ's application
   environment (`environment`, `report`: `default_pass`), its RABBITMQ_* variables (`os_env`:
   RABBITMQ_DEFAULT_PASS, the Erlang cookie), its command line (`-setcookie`) and its runtime
   parameters (`list_parameters`: a shovel's URI with its password); chef-vault's `knife vault
   show VAULT ITEM` (decrypted, as a guide in the corpus shows: `api_key: super-secret-key`);
   GitLab's `gitlab.rb` and `gitlab-ctl show-config` (the Redis password, db_password); a NATS
   KV key named for a secret. Their status, listings and other keys still read.
9. Redis: a command that prints a key's value (GET, HGETALL, MGET, DUMP, ...) of a key or field
   named for a secret (`app:db:password`, `api_token`) printed it, as Consul's does; a key a
   template picks is judged as it renders, at run time. And redis-cli read the arguments after
   its command as its own options, as redis-cli does not (it stops at the command): `LRANGE q 0
   -1`, the way to read a whole list, was gated as a flag `-1`.
10. A file named through the shell rather than as an operand was opened unasked: a variable
   the script set (`F=/etc/shadow && cat "$F"`, either branch's value), a loop's words (`for f
   in /etc/shadow; do cat $f; done`), a command substitution (`cat $(echo /etc/shadow)`) or
   what a stage before an xargs prints (`echo ~/.aws/credentials | xargs cat`, `find /etc |
   xargs grep x`). Each is followed to the names it holds, as a device already was.
"""

from __future__ import annotations

import shlex

import pytest

from engine.effects import classify, sql_verdict
from engine.effects.steps import step_verdict
from tests.support.verdicts import (
    assert_gated,
    assert_reads,
)

# -- 1. a recursive read of a folder above the credentials ----------------------------------------

@pytest.mark.parametrize("line", [
    "grep -r . /etc", "grep -r . /etc/", "grep -rh password /etc", "grep -R x /root",
    "grep -r . /home", "grep -ri token /home/ann", "grep -r x ~", "grep -r x $HOME",
    "grep -r . /var/lib/postgresql", "grep -r x /var/lib", "grep -rn x /", "grep -ri -e x /",
    "grep --recursive x /etc", "grep -d recurse x /etc", "grep --directories=recurse x /run",
    "egrep -r 'a|b' /etc", "zgrep -r x /var/lib", "grep -r x /etc/*", "grep -r x /proc",
    "grep -r Environment /etc/systemd/system", "cd / && grep -r x", "cd /etc && grep -r x .",
    "cd ~ && grep -rl x .", "diff -r /etc /tmp/etc", "diff --recursive /root /tmp/r",
])
def test_a_recursive_read_of_a_folder_above_credentials_is_not_a_read(line: str) -> None:
    assert_gated(line, "beneath", "credentials")


@pytest.mark.parametrize("line", [
    "grep -rn error /var/log", "grep -r x /etc/nginx", "grep -r listen /etc/nginx/sites-enabled",
    "grep -r TODO /srv/app", "grep -rn x /home/ann/src", "grep x /etc/hosts",
    "grep -i error /var/log/syslog", "diff /etc/hosts /tmp/hosts", "diff -r /srv/a /srv/b",
    "grep -r x /proc/1/net", "grep -r x /proc/sys", "find /etc -name '*.conf'", "ls -R /etc",
    "du -sh /var/lib",
])
def test_a_recursive_read_of_other_folders_still_reads(line: str) -> None:
    assert_reads(line)


# -- 2. every file of a folder, by a glob ---------------------------------------------------------

@pytest.mark.parametrize("line", [
    "cat /etc/*", "head -n 5 /etc/*", "grep root /etc/*", "tail /etc/?hadow",
    "cat /etc/systemd/system/app.service.d/*",
])
def test_a_glob_of_every_file_is_judged_by_the_files_it_takes_in(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", [
    "cat /var/log/*", "head /etc/nginx/*", "cat /srv/app/*", "cat /home/ann/*",
    "tail -n 20 /var/log/nginx/*.log",
])
def test_a_glob_of_other_folders_still_reads(line: str) -> None:
    assert_reads(line)


# -- 3. a dotenv file, a unit and its drop-ins ----------------------------------------------------

@pytest.mark.parametrize("line", [
    "cat .env", "cat /srv/app/.env", "cat /srv/app/.env.production", "grep DB_ /srv/app/.env",
    "head .env.local", "cd /srv/app && cat .env",
    "cat /etc/systemd/system/app.service.d/override.conf",
    "cat /etc/systemd/system/app.service", "cat /run/systemd/system/app.service.d/50-env.conf",
    "grep Environment /etc/systemd/system/app.service",
    "cat ~/.config/systemd/user/sync.service", "cat /host/etc/systemd/system/app.service",
    "less /etc/systemd/system/app.timer",
])
def test_a_dotenv_file_or_a_units_drop_in_is_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", [
    "cat .env.example", "cat /srv/app/.env.sample", "cat /usr/lib/systemd/system/nginx.service",
    "cat /lib/systemd/system/ssh.service", "ls /etc/systemd/system/app.service.d",
    "ls -la /srv/app/.env", "stat .env", "cat /etc/systemd/journald.conf",
    "systemctl status app",
])
def test_templates_and_a_packages_units_still_read(line: str) -> None:
    assert_reads(line)


# -- 4. a configuration store's secret keys -------------------------------------------------------

@pytest.mark.parametrize("line", [
    "consul kv get app/db/password", "consul kv get -detailed app/db/password",
    "consul kv get app/secrets/x", "consul kv get svc/api_key", "consul kv get app/dbPassword",
    "consul kv get ci/deploy-token", "consul kv get -recurse", "consul kv get -recurse /",
    "consul kv export", "consul kv export | jq .", "consul kv get app/$KEY",
    "etcdctl get /secrets/db", "etcdctl get /app/credentials", "etcdctl get /app/auth/key",
    "etcdctl get --prefix /config/app/passwords",
    "curl -s http://consul:8500/v1/kv/app/db/password?raw",
    "curl -s 'http://consul:8500/v1/kv/?recurse'", "curl -s 'http://consul:8500/v1/kv?recurse=1'",
    "curl -s http://consul:8500/v1/kv/app/%70assword", "curl -s http://c:8500/v1/kv/a/x/../token",
    "wget -qO- http://consul:8500/v1/kv/app/api_key",
])
def test_a_configuration_stores_secret_or_whole_store_is_not_a_read(line: str) -> None:
    assert_gated(line, "secret", "every value")


@pytest.mark.parametrize("params", [
    {"url": "http://consul:8500/v1/kv/app/db/password"},
    {"url": "http://consul:8500", "path": ["v1", "kv", "app", "token"], "query": {"raw": "1"}},
    {"url": "http://consul:8500/v1/kv/", "query": {"recurse": "true"}},
    {"url": "http://consul:8500/v1/kv", "query": {"recurse": ["1"]}},
])
def test_an_http_get_of_a_consul_secret_is_not_a_read(params: dict[str, object]) -> None:
    found = step_verdict("http", params)
    assert found.effect == "mutate" and "secret" in found.reason, (params, found)


@pytest.mark.parametrize("line", [
    "consul kv get service/web/replicas", "consul kv get -recurse service/pg",
    "consul kv get -keys", "consul kv get -keys -recurse", "consul kv export app/",
    "etcdctl get /config/app/replicas", "etcdctl get /app/tokenizer/model",
    "etcdctl get --prefix /config", "etcdctl get --prefix / --keys-only",
    "curl -s http://consul:8500/v1/kv/service/pg/leader?raw",
    "curl -s 'http://consul:8500/v1/kv/?keys'", "curl -s 'http://consul:8500/v1/kv/app?recurse'",
])
def test_a_configuration_stores_other_keys_still_read(line: str) -> None:
    assert_reads(line)


# -- 5. a cloud program's environment, through gcloud ---------------------------------------------

@pytest.mark.parametrize("line", [
    "gcloud functions describe f", "gcloud functions describe f --format=json",
    "gcloud functions describe f --format=value(serviceConfig.environmentVariables)",
    "gcloud run services describe s", "gcloud run services describe s --format=yaml",
    "gcloud run services describe s --format=value(spec.template)",
    "gcloud run revisions describe r",
    "gcloud beta run services describe s", "gcloud --project p run services describe s",
    "gcloud app versions describe v --service s", "gcloud compute instances describe vm",
    "gcloud compute instances describe vm --format=get(metadata.items)",
    "gcloud compute instance-templates describe t", "gcloud run services list --format=json",
    "gcloud compute instances list --format=yaml", "gcloud functions list --format=json",
])
def test_a_cloud_programs_environment_through_gcloud_is_not_a_read(line: str) -> None:
    assert_gated(line, "environment")


@pytest.mark.parametrize("line", [
    "gcloud functions list", "gcloud run services list", "gcloud compute instances list",
    "gcloud run services describe s --format=value(status.url)",
    "gcloud functions describe f --format=value(name,state)",
    "gcloud compute instances describe vm --zone z --format=value(status)",
    "gcloud compute instances list --format=value(name,status)",
    "gcloud compute disks describe d", "gcloud compute disks list --format=json",
    "gcloud sql instances describe db",
])
def test_gclouds_other_describes_still_read(line: str) -> None:
    assert_reads(line)


# -- 6. a debug log of each request's headers -----------------------------------------------------

@pytest.mark.parametrize("line", [
    "aws --debug ec2 describe-instances", "aws ec2 describe-instances --debug",
    "aws --region eu-west-1 s3 ls --debug",
])
def test_awss_debug_log_is_not_a_read(line: str) -> None:
    assert_gated(line, "X-Amz-Security-Token")


@pytest.mark.parametrize("line", [
    "aws ec2 describe-instances", "aws --region eu-west-1 s3 ls",
    "aws sts get-caller-identity --output json",
])
def test_aws_without_debug_still_reads(line: str) -> None:
    assert_reads(line)


# -- 7. a SQL function that runs the SQL text it is given -----------------------------------------

@pytest.mark.parametrize("query", [
    "SELECT * FROM crosstab('select pg_terminate_backend(pid), 1, 1 from pg_stat_activity') "
    "AS t(a bool, b int, c int)",
    "select * from crosstab3($$select 'a', 'b', 1$$)", "select * from public.crosstab('x', 'y')",
    "select * from connectby('t', 'id', 'parent', '1', 0) as t(id int, p int, l int)",
    "select pg_background_launch('delete from t')",
])
def test_a_function_that_runs_sql_text_is_not_a_read(query: str) -> None:
    found = sql_verdict(query)
    assert found.effect == "mutate" and "acts on the server" in found.reason, (query, found)
    assert_gated(f"psql -c {shlex.quote(query)}", "acts on the server")


@pytest.mark.parametrize("query", [
    "select cross_tab from t", "select * from pg_stat_activity", "select count(*) from t",
])
def test_other_selects_still_read(query: str) -> None:
    assert sql_verdict(query).read, query


# -- 8. a service's own passwords, through its own tools ------------------------------------------

@pytest.mark.parametrize("line", [
    "rabbitmqctl environment", "rabbitmqctl report", "rabbitmqctl list_parameters",
    "rabbitmqctl list_parameters -p /", "rabbitmq-diagnostics os_env",
    "rabbitmq-diagnostics environment", "rabbitmq-diagnostics report",
    "rabbitmq-diagnostics command_line_arguments", "rabbitmqctl -n rabbit@h environment",
    "gitlab-ctl show-config", "sudo gitlab-ctl show-config",
])
def test_a_brokers_or_a_services_configuration_with_its_passwords_is_not_a_read(
        line: str) -> None:
    assert_gated(line, "password")


@pytest.mark.parametrize("line", [
    "knife vault show public-grafana _default", "knife vault show gitlab-cluster-base _default -z",
    "knife vault show v item -F json", "nats kv get creds db_password",
    "nats kv get secrets x", "nats kv get app api_token",
    "cat /etc/gitlab/gitlab.rb", "sudo grep redis_sentinels /etc/gitlab/gitlab.rb",
])
def test_a_vaults_item_or_a_file_of_passwords_is_not_a_read(line: str) -> None:
    assert_gated(line, "secret", "credentials")


@pytest.mark.parametrize("line", [
    "rabbitmqctl status", "rabbitmqctl list_queues name messages", "rabbitmqctl list_users",
    "rabbitmqctl list_global_parameters", "rabbitmq-diagnostics status",
    "rabbitmq-diagnostics check_alarms", "gitlab-ctl status", "knife vault show public-grafana",
    "knife vault list", "nats kv get config replicas", "nats kv ls",
    "cat /etc/gitlab/gitlab-ctl-config.log", "ls -l /etc/gitlab",
])
def test_a_services_status_and_listings_still_read(line: str) -> None:
    assert_reads(line)


# -- 9. Redis: a secret's value, and the arguments after the command ------------------------------

@pytest.mark.parametrize("line", [
    "redis-cli get app:db:password", "redis-cli hgetall secrets", "redis-cli mget a b api_token",
    "redis-cli -n 2 hget user:1 password_hash", "redis-cli dump app:token",
    "redis-cli --raw get ci:deploy-token", "redis-cli lrange credentials 0 -1",
])
def test_a_redis_value_named_for_a_secret_is_not_a_read(line: str) -> None:
    assert_gated(line, "secret")


def test_a_redis_key_a_value_picks_is_judged_as_it_renders() -> None:
    # Given a step whose key comes from an alert's label
    plan = {"pipeline": [["redis-cli", "GET", "{{ inputs.key }}"]]}
    # When the label names a secret's key, the rendered step is not a read; otherwise it is
    rendered = {"pipeline": [["redis-cli", "GET", "app:db:password"]]}
    assert step_verdict("shell", rendered, plan_params=plan).effect == "mutate"
    other = {"pipeline": [["redis-cli", "GET", "app:replicas"]]}
    assert step_verdict("shell", other, plan_params=plan).read


@pytest.mark.parametrize("line", [
    "redis-cli lrange queue 0 -1", "redis-cli zrange z 0 -1 withscores", "redis-cli slowlog get -1",
    "redis-cli -n 2 --raw lrange q 0 -1", "redis-cli get session:abc", "redis-cli ttl app:password",
    "redis-cli type secrets", "redis-cli --scan --pattern '*token*'",
    "redis-cli get x --rdb /tmp/x",
])
def test_redis_reads_with_negative_indexes_or_other_keys_still_read(line: str) -> None:
    assert_reads(line)


# -- 10. a file named through a variable, a loop, a substitution or an xargs ----------------------

@pytest.mark.parametrize("line", [
    "F=/etc/shadow && cat \"$F\"", "F=/etc/shadow && cat ${F}",
    "D=/root/.aws && cat $D/credentials", "F=/etc/shadow && F=/etc/passwd && cat $F",
    "if true; then F=/etc/shadow; else F=/etc/passwd; fi && cat $F", "D=/etc && grep -r x $D",
    "for f in /etc/shadow; do cat $f; done", "for f in /etc/passwd ~/.pgpass; do head $f; done",
    "cat $(echo /etc/shadow)", "cat \"$(ls /etc/shadow)\"", "cat $(find /etc -name shadow)",
    "echo /etc/shadow | xargs cat", "printf '%s\\n' /root/.aws/credentials | xargs head",
    "find /etc -name '*.conf' | xargs grep x", "F=/etc/shadow && echo $F | xargs cat",
])
def test_a_file_named_through_the_shell_is_judged_as_named(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", [
    "F=/var/log/syslog && tail -n 5 \"$F\"", "F=/etc/shadow && ls -l \"$F\"",
    "N=5 && tail -n $N /var/log/syslog", "for f in /var/log/*.log; do tail -n 5 $f; done",
    "cat $(ls -t /var/log/app*.log | head -1)", "echo /etc | xargs ls",
    "ls -l $(echo /etc/shadow)", "find /var/log -name '*.gz' | xargs ls -l",
])
def test_other_files_named_through_the_shell_still_read(line: str) -> None:
    assert_reads(line)


# -- 11. a file a yq expression loads ------------------------------------------------------------
# yq's load functions open the file their argument names, as a file operand does: `yq -n
# 'load("/etc/shadow")'` printed it unasked while `yq . /etc/shadow` was gated; a file a value
# names (`load(strenv(F))`) may be any file.

@pytest.mark.parametrize("argv", [
    ["yq", "-n", 'load("/etc/shadow")'], ["yq", "-n", "load_str('/root/.ssh/id_rsa')"],
    ["yq", "--expression=load_str(\"/home/ann/.aws/credentials\")", "-n"],
    ["yq", "-n", '.a = load("x.yaml") | .b = load_base64("/etc/ssl/private/site.key")'],
    ["yq", "-n", "load(strenv(F))"], ["yq", "-n", 'load("/etc/" + env(F))'],
])
def test_a_file_a_yq_expression_loads_is_judged_as_opened(argv: list[str]) -> None:
    found = classify(argv)
    assert found.effect == "mutate" and "loads" in found.reason, (argv, found)


@pytest.mark.parametrize("argv", [
    ["yq", ".spec.template", "deploy.yaml"],
    ["yq", "-n", 'load("defaults.yaml") * load("site.yaml")'],
    ["yq", ".payload | @base64d", "x.yaml"], ["yq", "-r", ".metadata.name", "pod.yaml"],
])
def test_yq_reading_its_files_or_loading_plain_ones_still_reads(argv: list[str]) -> None:
    assert classify(argv).read, argv
