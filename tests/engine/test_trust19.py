r"""Trust, session 19: a unit's environment, a remote's URL, a file's Secrets, a standby's
settings, a secret store's API, a folder reached through `~`.

1. `systemctl show UNIT` prints every property, `Environment=` among them (what the unit hands
   its programs: `Environment=DB_PASSWORD=...`), as `docker inspect` prints a container's;
   so does `-p Environment` (or `SetCredential`), `systemctl cat` (the unit's files, with
   their `Environment=` lines) and `systemctl show-environment` (what the service manager
   hands every unit). They are not reads to keep; `systemctl show -p ActiveState,SubState
   UNIT` and `systemctl status` still read.
2. `git remote -v` (`show R`, `get-url R`, `git ls-remote --get-url`) and `git config
   --list` (or `--get remote.origin.url`, `credential.helper`, `http.extraheader`, a regexp
   or a `--get-urlmatch` section that takes them in) print a remote's URL, the token a clone
   was made with in it (`https://oauth2:TOKEN@host/x`), or the auth header git sends: not
   reads to keep. `git remote` (names), `git config --get user.name`, `--list --name-only`,
   `git ls-remote R`, `git log` and `git status` still read.
3. `kubectl get -f FILE -o yaml` (`-k DIR`, `-o json`, a jsonpath over `.data`) prints the
   objects the files name, a Secret's values among them when one is a Secret, as `kubectl get
   secret X -o yaml` (gated) does: which kinds the files name is theirs to say. Without -o, or
   with `-o name`, `wide`, or a jsonpath over other fields, it still reads.
4. A whole dump of the settings (`SHOW ALL`, `SELECT * FROM pg_settings`, `pg_file_settings`,
   `pg_show_all_settings()`, psql's `\dconfig`) prints a standby's `primary_conninfo`, its
   replication password among it, while naming that setting was gated already. A read of
   pg_settings reads only when it selects no value (`select name, pending_restart`) or its
   WHERE names other settings (`name = 'work_mem'`, `name in (...)`, `name like 'log_%'`) with
   no OR, NOT or inequality to undo it; a literal whose value is not its text (`E'\x25'`,
   `U&''`, `$$..$$`) names no known setting.
5. Vault's HTTP API read a secret's value unasked, while `vault kv get` was gated: `curl -H
   "X-Vault-Token: ..." https://vault:8200/v1/secret/data/x`, a dynamic credential
   (`/v1/database/creds/r`), the caller's token (`/v1/auth/token/lookup-self`), through curl,
   wget or an `http` step. A request is Vault's by its host (a name with `vault`, port 8200), an
   `X-Vault-` header, or Vault's default mounts (`/v1/secret/`, `/v1/cubbyhole/`); on it, only
   the server's state (`/v1/sys/health`, `seal-status`, mounts, policies) and a listing of keys
   (`?list=true`, as `vault kv list`) read. Consul's and Nomad's ACL tokens (`/v1/acl/tokens`)
   print each token's SecretID. Consul's KV (`/v1/kv/x?raw`) still reads, as `consul kv get`
   does: Consul's KV is a configuration store, not a secret store.
6. A `cd` to a folder written with `~` or `$HOME` (`cd ~/.kube && cat config`, `cd
   $HOME/.aws && cat credentials`) was not followed, so the file named relative to it was not
   judged: a `cd` is followed to what its word may expand to, as `cat $HOME/.aws/credentials`.
7. Files that hold what those commands print were opened unasked: a repository's
   `.git/config` (its remotes' URLs, as `git config --list`), a standby's `recovery.conf` and
   `postgresql.auto.conf` (its primary_conninfo, as `SHOW ALL`).
8. Other programs that print the environment a service is given, as `systemctl show`: `docker
   compose config` (each service's environment, the values the `.env` file fills in), `nomad
   job inspect` (each task's `env`); and `nomad alloc fs A task/secrets/...` read a task's
   secrets folder (its Vault token). `compose config --services`/`-q`, `job inspect -t` over
   other fields and other folders of an allocation still read.
"""

from __future__ import annotations

import shlex

import pytest

from engine.effects.sql import sql_problem
from engine.effects.steps import step_verdict
from tests.support.verdicts import (
    assert_gated,
    assert_reads,
)

# -- 1. a unit's environment ----------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "systemctl show nginx", "systemctl show", "systemctl show -p Environment nginx",
    "systemctl show --property=Environment nginx", "systemctl show -pEnvironment nginx",
    "systemctl show -p ActiveState,Environment nginx", "systemctl show -P Environment nginx",
    "systemctl show -p ActiveState -p Environment nginx", "systemctl --user show app",
    "systemctl show -p SetCredential app", "systemctl show --all nginx",
    "systemctl show -p environment nginx", "systemctl show -p $PROP nginx",
    "systemctl -H db1 show nginx", "systemctl show -p Environment= nginx",
    "systemctl cat nginx", "systemctl cat nginx.service db", "systemctl show-environment",
    "systemctl --user show-environment",
])
def test_a_units_environment_is_not_a_read(line: str) -> None:
    assert_gated(line, "environment")


@pytest.mark.parametrize("line", [
    "systemctl show -p ActiveState,SubState nginx", "systemctl show -P ActiveState nginx",
    "systemctl show nginx --property ActiveState", "systemctl -p MainPID show nginx",
    "systemctl show --property=MainPID,ExecMainStartTimestamp nginx",
    "systemctl show -p EnvironmentFiles nginx", "systemctl status nginx", "systemctl status",
    "systemctl is-active nginx", "systemctl list-units --failed",
])
def test_a_units_state_still_reads(line: str) -> None:
    assert_reads(line)


# -- 2. a remote's URL and git's credentials ------------------------------------------------------

@pytest.mark.parametrize("line", [
    "git remote -v", "git remote --verbose", "git -C /repo remote -v", "git remote show origin",
    "git remote show -n origin", "git remote get-url origin", "git remote get-url --push o",
    "git ls-remote --get-url", "git ls-remote --get-url origin", "git config --list",
    "git config -l", "git config --list --show-origin", "git config --global -l",
    "git config list", "git config --get remote.origin.url", "git config remote.origin.url",
    "git config get remote.origin.url", "git config --get-all remote.upstream.pushurl",
    "git config --get-regexp credential", "git config --get-regexp 'remote\\..*\\.url'",
    "git config --get-regexp extraheader", "git config --get-regexp url",
    "git config --get-regexp '('", "git config --get-urlmatch http https://gitlab.example.com",
    "git config --get http.https://gitlab.com/.extraheader", "git config http.proxy",
    "git config credential.helper", "git config --get $KEY",
    "git config Remote.Origin.URL", "git config submodule.lib.url",
])
def test_a_remotes_url_or_gits_credentials_are_not_a_read(line: str) -> None:
    assert_gated(line, "credential", "token")


@pytest.mark.parametrize("line", [
    "git remote", "git remote show", "git config --get user.name", "git config user.name",
    "git config --get core.autocrlf", "git config --list --name-only",
    "git config --get-regexp '^user\\.'", "git config --get-urlmatch http.sslVerify https://x",
    "git ls-remote origin", "git ls-remote --heads origin", "git log --oneline -n 5",
    "git status", "git branch -a",
])
def test_gits_other_settings_and_remote_names_still_read(line: str) -> None:
    assert_reads(line)


# -- 3. the objects a file names, printed whole ---------------------------------------------------

@pytest.mark.parametrize("line", [
    "kubectl get -f deploy.yaml -o yaml", "kubectl get -k overlays/prod -o yaml",
    "kubectl get -f deploy.yaml -o json", "kubectl get --filename=deploy.yaml -ojson",
    "kubectl get -k overlays/prod --output yaml", "kubectl get --kustomize=o -o yaml",
    "kubectl get -R -f manifests/ -o jsonpath={.items[*].data}",
    "kubectl get -f deploy.yaml -o go-template={{.data}}", "oc get -f x.yaml -o yaml",
    "kubectl get -f - -o yaml", "kubectl -n prod get -f https://x/app.yaml -o json",
])
def test_the_objects_a_file_names_printed_whole_are_not_a_read(line: str) -> None:
    assert_gated(line, "Secret")


@pytest.mark.parametrize("line", [
    "kubectl get -f deploy.yaml", "kubectl get -f deploy.yaml -o wide",
    "kubectl get -f deploy.yaml -o name", "kubectl get -k overlays/prod",
    "kubectl get -f deploy.yaml -o jsonpath={.status.phase}",
    "kubectl get -f deploy.yaml -o custom-columns=NAME:.metadata.name",
    "kubectl get pods -o yaml", "kubectl get deploy -l app=x -o json",
])
def test_the_objects_a_file_names_listed_still_read(line: str) -> None:
    assert_reads(line)


# -- 4. every setting, primary_conninfo among them ------------------------------------------------

ALL_SETTINGS = [
    "SHOW ALL", "show all;", "SELECT * FROM pg_settings", "select * from pg_file_settings",
    "select name, setting from pg_settings", "select * from pg_show_all_settings()",
    "select * from pg_settings order by name", "select s from pg_settings s",
    "select name, setting, short_desc, sourcefile, sourceline from pg_settings where "
    "pending_restart",
    "select * from pg_settings where name = 'x' or true",
    "select * from pg_settings where name = 'x' or name like '%'",
    "select * from pg_settings where true /* name = 'x' */",
    "select * from pg_settings s, t where t.name = 'x'",
    "select * from pg_settings join t on true where name = 'x'",
    "select * from pg_settings where name = 'x' union select * from pg_settings",
    "select name, setting from pg_settings where name like 'prim%'",
    "select name, setting from pg_settings where name like '%info'",
    "select name, setting from pg_settings where name <> 'work_mem'",
    "select name, setting from pg_settings where not name = 'work_mem'",
    "select * from pg_settings where name like $$prim%$$",
    "select * from pg_settings where name like E'prim\\x25'",
    "select * from pg_settings where name like U&'!0070rim%' UESCAPE '!'",
    "select name, (select setting from pg_settings) from pg_settings where name='x'",
    "select name, setting from pg_settings where name = 'x' and setting = "
    "(select string_agg(setting, ',') from pg_settings)",
    "select name, setting from pg_settings where name in (select 'primary_conninfo')",
    "select * from pg_settings where (name = 'x') is distinct from true",
    "select * from pg_settings where (name = 'x') = false",
    "select * from pg_settings where name = 'x' is false",
    "select * from pg_settings where f(true and name = 'x')",
    "select * from pg_settings where (true and name = 'x') is false",
    "select * from pg_settings where name between 'a' and 'z'",
    "select * from pg_settings where name like 'a' escape 'x'",
    'select * from "pg_settings"', 'select * from pg_catalog."pg_settings"',
    'select * from "pg_catalog"."pg_file_settings"', 'select * from "pg_show_all_settings"()',
]


@pytest.mark.parametrize("query", ALL_SETTINGS)
def test_every_settings_value_is_not_a_read(query: str) -> None:
    problem = sql_problem(query)
    assert problem is not None and "primary_conninfo" in problem, (query, problem)
    assert_gated(f"psql -c {shlex.quote(query)}", "primary_conninfo")


@pytest.mark.parametrize("meta", ["\\dconfig", "\\dconfig *conninfo", "\\dconfig+ *",
                                  "\\dconfig prim*"])
def test_psqls_dconfig_of_every_setting_is_not_a_read(meta: str) -> None:
    assert_gated(f"psql -c {shlex.quote(meta)}", "primary_conninfo")


@pytest.mark.parametrize("query", [
    "select name, setting from pg_settings where name = 'max_connections'",
    "select name, setting from pg_settings where name like 'log_%'",
    "select name, setting from pg_settings where name in ('work_mem', 'shared_buffers')",
    "select name, setting from pg_catalog.pg_settings where name = 'work_mem' order by name",
    "select name, setting from pg_settings where name ilike 'log%' and setting > ''",
    "select * from pg_settings where name = 'work_mem' limit 1",
    "select name, setting from pg_settings where (name like 'log_%') and setting > ''",
    "select name, setting from pg_settings where source = 'x' and name in ('a', 'b')",
    "select name, setting from \"pg_settings\" where name = 'work_mem'",
    "select name, pending_restart from pg_settings", "select count(*) from pg_settings",
    "select name from pg_settings where pending_restart",
    "select name, sourcefile, sourceline, error from pg_file_settings",
    "show max_connections", "select * from pg_stat_activity",
    "select * from pg_stat_wal_receiver",
])
def test_named_settings_still_read(query: str) -> None:
    assert sql_problem(query) is None, query
    assert_reads(f"psql -c {shlex.quote(query)}")


@pytest.mark.parametrize("meta", ["\\dconfig work_mem", "\\dconfig log_*", "\\dt"])
def test_psqls_dconfig_of_other_settings_still_reads(meta: str) -> None:
    assert_reads(f"psql -c {shlex.quote(meta)}")


# -- 5. a secret store's HTTP API -----------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "curl -H 'X-Vault-Token: abc' https://vault:8200/v1/secret/data/x",
    "curl -s -H \"X-Vault-Token: $VAULT_TOKEN\" https://10.0.0.5:8200/v1/kv/data/x",
    "curl -s -H 'X-Vault-Token: abc' https://secrets.corp/v1/kv/data/x",
    "curl -s --header 'x-vault-token:abc' https://secrets.corp/v1/database/creds/ro",
    "curl -s https://vault.corp/v1/auth/token/lookup-self",
    "curl -s https://vault.corp/v1/sys/../secret/data/x",
    "curl -s https://vault.corp/v1/sys/health/%2e%2e/%2e%2e/kv/data/x",
    "curl -s 'https://vault.corp/v1/sys/heal[s-t]h/../../kv/x'",
    "curl -s https://x.corp/v1/secret/data/x", "curl -s https://x.corp//v1//cubbyhole/x",
    "curl -s vault:8200/v1/kv/x", "curl -s https://user@vault.corp/v1/kv/x",
    "curl -s http://consul:8500/v1/acl/tokens", "curl -s http://nomad:4646/v1/acl/token/self",
    "wget -qO- --header 'X-Vault-Token: abc' https://secrets.corp/v1/kv/data/x",
    "wget -qO- https://vault.corp/v1/kv/data/x",
])
def test_a_secret_through_a_secret_stores_api_is_not_a_read(line: str) -> None:
    assert_gated(line, "secret store")


@pytest.mark.parametrize("params", [
    {"url": "https://secrets.corp/v1", "path": ["kv", "data", "x"],
     "headers": {"X-Vault-Token": "t"}},
    {"url": "https://vault.corp:8200/v1/secret/data/x"},
    {"url": "https://vault.corp", "path": ["v1", "database", "creds", "ro"]},
])
def test_an_http_get_of_a_vault_secret_is_not_a_read(params: dict[str, object]) -> None:
    found = step_verdict("http", params)
    assert found.effect == "mutate" and "secret store" in found.reason, (params, found)


@pytest.mark.parametrize("line", [
    "curl https://vault:8200/v1/sys/health", "curl -s https://vault.corp/v1/sys/seal-status",
    "curl -s -H 'X-Vault-Token: abc' https://vault:8200/v1/sys/mounts",
    "curl -s -H 'X-Vault-Token: abc' 'https://vault:8200/v1/kv/metadata/app?list=true'",
    "curl -s https://vault.corp/v1/sys/leader", "curl -s https://vault.corp/",
    "curl http://consul:8500/v1/health/state/critical", "curl http://consul:8500/v1/kv/x?raw",
    "curl -s 'http://localhost:8500/v1/kv/service/pg/?recurse=1'",
    "curl -s 'http://prometheus:9090/api/v1/query?query=up'", "curl -s https://api.x.com/v1/x",
    "wget -qO- https://example.com/v1/x",
])
def test_a_secret_stores_state_and_other_apis_still_read(line: str) -> None:
    assert_reads(line)


@pytest.mark.parametrize("params", [
    {"url": "https://vault.corp:8200/v1/sys/health"},
    {"url": "http://consul:8500/v1/kv/service/pg", "query": {"recurse": "1"}},
    {"url": "https://grafana.corp/api/health", "headers": {"Authorization": "Bearer t"}},
])
def test_an_http_get_of_a_secret_stores_state_still_reads(params: dict[str, object]) -> None:
    assert step_verdict("http", params).read, params


# -- 6. a folder reached through ~ or $HOME -------------------------------------------------------

@pytest.mark.parametrize("line", [
    "cd ~/.kube && cat config", "cd $HOME/.aws && cat credentials",
    "cd \"$HOME/.aws\" && cat credentials", "cd ${HOME}/.ssh && cat id_rsa",
    "cd $HOME && cat .pgpass", "pushd ~/.docker && cat config.json",
    "cd ~user/.aws && cat credentials", "cd ~/.kube; cat config", "cd ~/.kube && head config",
    "cd ~ && cd .kube && cat config", "cd /root/$U/.aws && cat credentials",
    "cd /etc && cd \"$X\" && cat shadow",
])
def test_a_credential_file_in_a_folder_reached_through_home_is_not_a_read(line: str) -> None:
    assert_gated(line, "prints the credentials it holds")


@pytest.mark.parametrize("line", [
    "cd ~/.ssh && cat known_hosts", "cd ~/.ssh && cat authorized_keys", "cd ~/.ssh && ls -l",
    "cd ~ && cat .bashrc", "cd ~/.aws && cat config", "cd \"$DIR\" && cat config",
    "cd $LOGDIR && tail -n 50 app.log", "cd ~/.kube && cd cache && cat config",
])
def test_other_files_in_a_folder_reached_through_home_still_read(line: str) -> None:
    assert_reads(line)


# -- 7. the files those commands print ------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "cat .git/config", "cat /srv/app/.git/config", "cd /srv/app && cat .git/config",
    "cd /srv/app/.git && cat config", "grep url .git/config",
    "cat /var/lib/postgresql/data/postgresql.auto.conf",
    "cat /var/lib/pgsql/11/data/recovery.conf", "head -50 /srv/pg/recovery.conf",
])
def test_a_repositorys_or_a_standbys_config_is_not_a_read(line: str) -> None:
    assert_gated(line, "prints the credentials it holds")


@pytest.mark.parametrize("line", [
    "cat /var/lib/postgresql/data/postgresql.conf", "ls -l .git/config", "cat .git/HEAD",
    "cat ~/.gitconfig", "cat /var/opt/gitlab/git-data/repositories/x/0011.git/config",
])
def test_other_repository_and_database_files_still_read(line: str) -> None:
    assert_reads(line)


# -- 8. a service's environment by other programs -------------------------------------------------

@pytest.mark.parametrize("line", [
    "docker compose config", "docker compose -f x.yml config --format json",
    "podman compose config", "nomad job inspect web", "nomad job inspect -json web",
    "nomad job inspect -t '{{json .}}' web", "nomad alloc fs 1234 web/secrets/vault_token",
    "nomad alloc fs 1234 web/secrets", "nomad alloc fs 1234 $P",
])
def test_a_services_environment_by_other_programs_is_not_a_read(line: str) -> None:
    assert_gated(line, "environment", "secrets folder")


@pytest.mark.parametrize("line", [
    "docker compose config -q", "docker compose config --services",
    "docker compose config --volumes", "docker compose ps",
    "nomad job inspect -t '{{.Status}}' web", "nomad alloc fs 1234 alloc/logs",
    "nomad alloc fs 1234 web/local/config.hcl", "nomad job status web",
])
def test_a_services_other_state_still_reads(line: str) -> None:
    assert_reads(line)
