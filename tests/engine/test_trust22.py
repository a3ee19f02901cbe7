r"""Trust, session 22: what prints a password by another door than the one that was gated.

1. `getent shadow` (and `gshadow`) printed the password hashes through the name service, while
   `cat /etc/shadow` was gated. Those two databases are not reads; `getent passwd`, `hosts`,
   `group` still read.
2. What a person typed, kept by a shell or a client (`~/.bash_history`, `~/.mysql_history`,
   `~/.psql_history`, any `~/.NAME_history`), was opened unasked: `mysql -pS3cret`, psql's
   `\password`, redis-cli's `AUTH` are in it, as they are in what the `history` builtin
   (gated) prints; so was PowerShell's (`PSReadLine\ConsoleHost_history.txt`), and Windows'
   setup answer file (`Panther\Unattend.xml`, `sysprep.xml`: the administrator's password).
3. The logins and tokens more clients keep where they are by convention were opened unasked
   (podman's `containers/auth.json`, Helm's registry logins and repositories, the Azure CLI's
   token caches, rclone's, boto's, doctl's, Databricks', cargo's, RubyGems', Composer's,
   Maven's, Gradle's, a GitLab Runner's), as `~/.docker/config.json` and `~/.npmrc` were not.
4. The host's own stored secrets were opened unasked: NetworkManager's connections and
   wpa_supplicant's Wi-Fi keys, IPsec's and PPP's secrets, Postfix's relay login, the old
   password hashes (`/etc/security/opasswd`), Samba's password files, the LDAP bind password
   (`/etc/ldap.secret`, `sssd.conf`).
5. What a container runtime keeps a container's environment in (Docker's `config.v2.json`, the
   OCI `config.json` of a podman or containerd container: what `docker inspect`, gated,
   prints) and etcd's data (every Secret of the cluster) were opened unasked.
6. aws operations that list or describe what holds a program's environment printed it as the
   gated get does: `lambda list-functions` (every function's configuration: trust 18 took it
   for a read), a Batch job definition, an App Runner service, an Elastic Beanstalk
   environment's settings, a launch configuration's or spot request's user data, a task's
   overrides; and ones whose answer holds a secret the service keeps (a Cognito app client's
   secret, Amplify's basic-auth login, AppSync's API keys). A --query that picks other fields
   (`Functions[].FunctionName`) reads; one that ends on whole objects (`Functions[0]`) does
   not.
7. MySQL's other tables that hold credentials read: `mysql.servers` (each FEDERATED or Spider
   server's user and password, in clear) and MariaDB's `mysql.global_priv` (the accounts'
   hashes, of which `mysql.user` is a view), and Cassandra's `system_auth.roles` (the roles'
   salted hashes, through `cqlsh -e`); and a backquoted name (`` `mysql`.`user` ``) was not
   taken for the table it names.
8. A GET asked what gated commands print, by another door: a machine's user data or GCP's
   custom metadata (a startup script; GKE's `kube-env`, the kubelet's bootstrap credentials)
   from the metadata service, as `aws ec2 describe-instance-attribute --attribute userData`
   and `gcloud compute instances describe` print them; the Kubernetes API's Secrets (`curl
   localhost:8001/api/v1/namespaces/x/secrets` through `kubectl proxy`), as `kubectl get
   --raw` did; RabbitMQ's management API's definitions, users and parameters (password hashes,
   a shovel's URI with its password), as `rabbitmqctl list_parameters` does; etcd's v2 keys API
   for a key named for a secret or the whole store, as `etcdctl get` and Consul's KV were
   judged; and a JVM's heap dump (`/actuator/heapdump`: every secret in its memory, and the
   dump pauses it and is written to its disk). The same URLs' other paths still read.
9. A service's own logins were opened unasked: a web server's `htpasswd` (password hashes, as
   /etc/shadow's), PgBouncer's `userlist.txt` (its users' passwords), Erlang's cookie
   (RabbitMQ's cluster secret: trust 20 gated it on rabbitmq's command line), Jenkins'
   `secrets/` and the `credentials.xml` they decrypt, the kubelet's kubeconfig and client key,
   a CNI plugin's kubeconfig (a service account's token).
10. A memory was read unasked: `/proc/kcore` (the machine's physical memory: `strings
   /proc/kcore | grep password`) and `/proc/PID/mem` (a process's), while `/dev/mem` was
   gated (as hardware) and `/proc/PID/environ` (as credentials).

11. `env` and `printenv` where the environment is not the runner's (whose secrets the
   redactor knows) printed it unasked: on another host (`ssh HOST env`, ansible's and salt's
   commands: what that host's profile exports) and in another user's login (`sudo -i env`),
   as they were gated inside a container. Here, as the runner, they still read.
12. `git show REV:PATH` (and `git cat-file -p`, `git diff A:P B:P`, the index's `:PATH`)
   printed a committed `.env` or key, while `git log -p -- .env` was gated.
13. `xargs -a FILE` hands FILE's words to its command, which prints them: `xargs -a
   /etc/shadow echo` printed the hashes.
14. The password hashes' backups were opened unasked: Debian's daily `/var/backups/shadow.bak`
   and `gshadow.bak`, `/etc/shadow~`, `.old`, `.dpkg-old`, while `/etc/shadow-` was gated.

15. A keyring was opened unasked: Ceph's (`/etc/ceph/ceph.client.admin.keyring`, a daemon's
   `keyring`: its key, as `ceph auth get`, gated, prints it), GNOME's `*.keyring`. The corpus
   had two: rook's `grep key /etc/ceph/keyring | awk '{print $3}'` and `cat
   /etc/ceph/keyring-store/keyring  # save this keyring content`.
16. A grep for a setting that holds a password, by its name (`grep requirepass redis.conf`,
   `primary_conninfo`, `masterauth`, `admin_password`, `bindpw`), printed it, as `redis-cli
   CONFIG GET requirepass` and `SHOW primary_conninfo` (gated) do. The corpus had one (GitLab's
   `ssh redis1 -- sudo grep requirepass .../redis.conf`). A count, a name, `-q` or `-v` prints
   no such line; other settings and log searches still read.

17. A Secret's annotations printed whole (`-o jsonpath='{.metadata.annotations}'`,
   `{.metadata}`, `custom-columns=A:.metadata.annotations`) or the last-applied one read: a
   Secret made by `kubectl apply` keeps its whole manifest, data and all, in
   `kubectl.kubernetes.io/last-applied-configuration` (trust 16 took `{.metadata.annotations}`
   for a name without a value; it now reads one annotation by name). A test fixture did it
   (styles/paren-numbering.md: its Secret is then `kubectl apply`-ed, so the key was there);
   one annotation by name and the Secret's name still read.
18. A container's inspect format that prints a field holding the environment read: `--format
   json` (podman's and docker's whole object), `{{index . "Config"}}`, crictl's `{{json .info}}`
   (its `runtimeSpec.process.env`); `{{.Config.Env}}` and `{{json .}}` were gated already.
   A format's fields are judged by what they hold; other fields still read.

19. az's access keys named in the singular read (`az signalr key list`, `webpubsub key show`,
   `search admin-key show`, `communication list-key`, `eventgrid topic key list`), as did an IoT
   hub's shared access policies (their keys) and an app's authentication settings (`webapp
   auth show`: the identity provider's client secret), while `storage account keys list` was
   gated. Key Vault's keys (their public part) and the services themselves still read.

A process's command line stays a read (README, Safety): every local user reads it, where its
environment is its owner's; `ps aux` and `systemctl status` are the commonest reads there are.
"""

from __future__ import annotations

import pytest

from engine.effects import sql_verdict, step_verdict
from tests.support.verdicts import (
    assert_gated,
    assert_reads,
    compiled,
    ungated_commands,
    verdict,
)

# -- 1. getent's password databases ---------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "getent shadow", "getent shadow root", "getent gshadow", "getent -s files shadow",
    "getent --service=files shadow app", "getent shadow | grep root", "sudo getent shadow",
])
def test_getent_of_the_password_hashes_is_not_a_read(line: str) -> None:
    assert_gated(line, "password hashes")


@pytest.mark.parametrize("line", [
    "getent passwd", "getent passwd app", "getent hosts db.internal", "getent group docker",
    "getent ahosts example.com", "getent -s files passwd",
])
def test_getent_of_other_databases_still_reads(line: str) -> None:
    assert_reads(line)


# -- 2. a shell's or a client's history -----------------------------------------------------------

@pytest.mark.parametrize("line", [
    "cat ~/.bash_history", "cat /root/.bash_history", "tail -n 50 /home/ann/.zsh_history",
    "grep mysql ~/.bash_history", "cat ~/.mysql_history", "cat /var/lib/postgresql/.psql_history",
    "cat ~/.rediscli_history", "cat ~/.python_history", "cat ~/.*_history",
    "cat ~/.local/share/fish/fish_history", "cat ~/.zhistory", "cat ~/.dbshell",
])
def test_a_history_of_what_was_typed_is_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize(("how", "line"), [
    ("ps", r"Get-Content $env:APPDATA\Microsoft\Windows\PowerShell\PSReadLine"
           r"\ConsoleHost_history.txt"),
    ("ps", r"Get-Content C:\Users\ann\AppData\Roaming\Microsoft\Windows\PowerShell\PSReadLine"
           r"\ConsoleHost_history.txt"),
    ("ps", r"Get-Content C:\Windows\Panther\Unattend.xml"),
    ("ps", r"type C:\Windows\panther\unattend.xml"),
    ("ps", r"Get-Content C:\Windows\System32\sysprep\sysprep.xml"),
    ("argv", "cat /mnt/c/Windows/Panther/Unattend.xml"),
])
def test_windows_history_and_answer_file_are_not_a_read(how: str, line: str) -> None:
    found = verdict(how, line)
    assert found.effect == "mutate" and "credentials" in found.reason, (line, found)
    assert ungated_commands(compiled(how, line)) == [], line


@pytest.mark.parametrize("line", [
    r"Get-Content C:\Windows\Panther\setupact.log", r"Get-Content C:\inetpub\logs\u_ex1.log",
    "Get-History",
])
def test_windows_logs_still_read(line: str) -> None:
    assert verdict("ps", line).read, line


# -- 3. more clients' logins and tokens -----------------------------------------------------------

@pytest.mark.parametrize("line", [
    "cat ~/.config/containers/auth.json", "cat /run/user/1000/containers/auth.json",
    "cat /run/containers/0/auth.json", "cat ~/.config/helm/registry/config.json",
    "cat ~/.config/helm/repositories.yaml", "cat ~/.azure/msal_token_cache.json",
    "cat ~/.azure/accessTokens.json", "cat ~/.config/rclone/rclone.conf", "cat ~/.boto",
    "cat ~/.config/doctl/config.yaml", "cat ~/.databrickscfg", "cat ~/.cargo/credentials.toml",
    "cat ~/.gem/credentials", "cat ~/.config/composer/auth.json",
    "cat /etc/gitlab-runner/config.toml", "cat ~/.config/hub", "cat ~/.kaggle/kaggle.json",
    "cat ~/.m2/settings.xml", "grep -i password ~/.gradle/gradle.properties",
])
def test_a_clients_stored_login_is_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", [
    "cat /etc/containers/registries.conf", "cat ~/.config/helm/repositories.lock",
    "ls -la ~/.azure", "cat /srv/app/composer.json", "cat /srv/app/gradle.properties.example",
    "cat /srv/app/pom.xml",
])
def test_their_neighbours_still_read(line: str) -> None:
    assert_reads(line)


# -- 4. the host's stored secrets -----------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "cat /etc/NetworkManager/system-connections/home.nmconnection",
    "grep -r psk /etc/NetworkManager/system-connections",
    "cat /etc/wpa_supplicant/wpa_supplicant.conf", "cat /etc/wpa_supplicant.conf",
    "cat /etc/ipsec.secrets", "cat /etc/ppp/chap-secrets", "cat /etc/ppp/pap-secrets",
    "cat /etc/postfix/sasl_passwd", "cat /etc/security/opasswd", "cat /etc/samba/smbpasswd",
    "cat /etc/ldap.secret", "cat /etc/pam_ldap.secret", "cat /etc/sssd/sssd.conf",
    "cat /etc/sssd/conf.d/ad.conf",
])
def test_the_hosts_stored_secrets_are_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", [
    "cat /etc/NetworkManager/NetworkManager.conf", "cat /etc/postfix/main.cf",
    "cat /etc/samba/smb.conf", "cat /etc/ppp/options", "cat /etc/ipsec.conf",
    "ls /etc/NetworkManager/system-connections",
])
def test_the_hosts_other_settings_still_read(line: str) -> None:
    assert_reads(line)


# -- 5. a container's stored environment, etcd's data ---------------------------------------------

@pytest.mark.parametrize("line", [
    "cat /var/lib/docker/containers/abc123/config.v2.json",
    "jq .Config.Env /var/lib/docker/containers/abc123/config.v2.json",
    "cat /var/lib/docker/containers/*/config.v2.json",
    "cat /var/lib/containers/storage/overlay-containers/abc/userdata/config.json",
    "cat /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/config.json",
    "grep -r PASSWORD /run/containerd", "strings /var/lib/etcd/member/snap/db",
    "cat /var/lib/etcd/member/wal/0000000000000000-0000000000000000.wal",
])
def test_a_containers_stored_environment_or_etcds_data_is_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", [
    "tail -n 100 /var/lib/docker/containers/abc123/abc123-json.log",
    "du -sh /var/lib/etcd", "ls -l /var/lib/etcd/member/snap", "df -h /var/lib/docker",
])
def test_a_containers_log_and_etcds_size_still_read(line: str) -> None:
    assert_reads(line)


# -- 6. aws: a program's environment or a kept secret, listed or described -----------------------

@pytest.mark.parametrize("line", [
    "aws lambda list-functions", "aws lambda list-functions --region eu-west-1 --output json",
    "aws lambda list-functions --query 'Functions[0]'",
    "aws lambda list-functions --query 'Functions[?Runtime==`python3.12`]'",
    "aws lambda list-functions --query 'Functions | [0]'",
    "aws lambda list-functions --query 'Functions[].[FunctionName, Environment]'",
    "aws lambda list-versions-by-function --function-name f",
    "aws batch describe-job-definitions --status ACTIVE",
    "aws apprunner describe-service --service-arn arn",
    "aws elasticbeanstalk describe-configuration-settings --application-name a "
    "--environment-name e",
    "aws autoscaling describe-launch-configurations",
    "aws ec2 describe-spot-instance-requests", "aws ec2 describe-spot-fleet-requests",
    "aws ecs describe-tasks --cluster c --tasks t",
])
def test_a_listed_or_described_programs_environment_is_not_a_read(line: str) -> None:
    assert_gated(line, "environment")


@pytest.mark.parametrize("line", [
    "aws cognito-idp describe-user-pool-client --user-pool-id p --client-id c",
    "aws cognito-idp describe-user-pool-client --user-pool-id p --client-id c "
    "--query UserPoolClient.ClientSecret",
    "aws amplify list-apps", "aws amplify list-branches --app-id a",
    "aws appsync list-api-keys --api-id a", "aws appsync list-api-keys --api-id a "
    "--query 'apiKeys[].id'",
])
def test_an_answer_holding_a_kept_secret_is_not_a_read(line: str) -> None:
    assert_gated(line, "secret")


@pytest.mark.parametrize("line", [
    "aws lambda list-functions --query 'Functions[].FunctionName'",
    "aws lambda list-functions --query 'Functions[?Runtime==`python3.12`].FunctionName'",
    "aws lambda list-functions --query 'Functions[].[FunctionName, Runtime]' --output text",
    "aws ecs describe-tasks --cluster c --tasks t --query 'tasks[].lastStatus'",
    "aws lambda get-function --function-name f --query Configuration.Runtime",
    "aws cognito-idp describe-user-pool-client --user-pool-id p --client-id c "
    "--query UserPoolClient.ClientName",
    "aws cognito-idp list-user-pool-clients --user-pool-id p",
    "aws appsync list-api-keys --api-id a --query 'apiKeys[].expires'",
    "aws ecs describe-services --cluster c --services s",
    "aws autoscaling describe-auto-scaling-groups",
])
def test_other_fields_and_operations_still_read(line: str) -> None:
    assert_reads(line)


# -- 7. MySQL's tables of credentials -------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "SELECT * FROM mysql.servers", "SELECT Server_name, Username, Password FROM mysql.servers",
    "SELECT * FROM mysql.global_priv", "SELECT User, Priv FROM mysql . global_priv",
    "SELECT * FROM `mysql`.`user`", "SELECT * FROM `mysql`.`servers`",
    "SELECT user, authentication_string FROM `mysql`.user",
])
def test_mysqls_tables_of_credentials_are_not_a_read(query: str) -> None:
    found = sql_verdict(query)
    assert found.effect == "mutate" and "credentials" in found.reason, (query, found)
    assert_gated(f"mysql -e '{query}'", "credentials")


@pytest.mark.parametrize("query", [
    "SELECT * FROM servers", "SELECT * FROM app.servers", "SELECT * FROM `mysql`.`db`",
    "SELECT * FROM mysql.slow_log", "SELECT `user`, `host` FROM information_schema.processlist",
])
def test_other_tables_still_read(query: str) -> None:
    assert sql_verdict(query).read, query


@pytest.mark.parametrize("line", [
    "cqlsh -e 'SELECT role, salted_hash FROM system_auth.roles'",
    "cqlsh db-1 -e 'select * from system_auth.roles'",
    "cqlsh -e 'SELECT * FROM system_auth.credentials'",
    "cqlsh -k system_auth -e 'select * from roles'",
])
def test_cassandras_role_hashes_are_not_a_read(line: str) -> None:
    assert_gated(line, "password hashes")


@pytest.mark.parametrize("line", [
    "cqlsh -e 'select * from system.local'", "cqlsh -e 'SELECT * FROM system.peers'",
    "cqlsh -e 'select * from system_auth.role_permissions'",
])
def test_cassandras_other_tables_still_read(line: str) -> None:
    assert_reads(line)


# -- 8. what gated commands print, asked over HTTP ------------------------------------------------

@pytest.mark.parametrize("line", [
    "curl -s http://169.254.169.254/latest/user-data",
    "wget -qO- http://169.254.169.254/latest/user-data",
    "curl -s http://169.254.169.254/2021-07-15/user-data",
    "curl -s http://169.254.169.254/openstack/latest/user_data",
    "curl -s -H 'Metadata-Flavor: Google' "
    "http://metadata.google.internal/computeMetadata/v1/instance/attributes/kube-env",
    "curl -s -H 'Metadata-Flavor: Google' "
    "http://metadata.google.internal/computeMetadata/v1/instance/attributes/startup-script",
    "curl -s -H 'Metadata-Flavor: Google' "
    "'http://metadata.google.internal/computeMetadata/v1/instance/?recursive=true'",
    "curl -s -H 'Metadata-Flavor: Google' "
    "'http://metadata.google.internal/computeMetadata/v1/project/attributes/?recursive=true'",
    "curl -s -H Metadata:true "
    "'http://169.254.169.254/metadata/instance/compute/userData?api-version=2021-01-01'",
])
def test_a_machines_boot_script_from_the_metadata_service_is_not_a_read(line: str) -> None:
    assert_gated(line, "boots with")


@pytest.mark.parametrize("line", [
    "curl -s http://localhost:8001/api/v1/namespaces/default/secrets",
    "curl -s http://localhost:8001/api/v1/namespaces/default/secrets/db",
    "curl -s http://localhost:8001/api/v1/secrets",
    "curl -sk -H \"Authorization: Bearer $TOKEN\" "
    "https://kubernetes.default.svc/api/v1/namespaces/app/secrets",
    "curl -s 'http://127.0.0.1:8001/api/v1/watch/namespaces/app/secrets?watch=0'",
])
def test_the_kubernetes_apis_secrets_over_http_are_not_a_read(line: str) -> None:
    assert_gated(line, "Secrets")


@pytest.mark.parametrize("line", [
    "curl -s -u guest:guest http://localhost:15672/api/definitions",
    "curl -s -u guest:guest http://localhost:15672/api/users",
    "curl -s -u guest:guest http://rabbitmq:15672/api/parameters/shovel",
    "curl -s http://rabbitmq.internal/api/global-parameters",
])
def test_rabbitmqs_users_and_parameters_over_http_are_not_a_read(line: str) -> None:
    assert_gated(line, "RabbitMQ")


@pytest.mark.parametrize("line", [
    "curl -s http://localhost:2379/v2/keys/app/db/password",
    "curl -s 'http://localhost:2379/v2/keys/?recursive=true'",
    "curl -s 'http://etcd:2379/v2/keys?recursive=true'",
])
def test_etcds_secret_keys_over_http_are_not_a_read(line: str) -> None:
    assert_gated(line, "secret store")


@pytest.mark.parametrize("line", [
    "curl -s http://localhost:8080/actuator/heapdump",
    "wget -qO- http://app:8080/actuator/heapdump", "curl -s http://localhost:8080/heapdump",
])
def test_a_heap_dump_over_http_is_not_a_read(line: str) -> None:
    assert_gated(line, "heap")


@pytest.mark.parametrize("line", [
    "curl -s http://169.254.169.254/latest/meta-data/instance-id",
    "curl -s http://169.254.169.254/latest/meta-data/",
    "curl -s -H 'Metadata-Flavor: Google' "
    "http://metadata.google.internal/computeMetadata/v1/instance/attributes/",
    "curl -s -H 'Metadata-Flavor: Google' "
    "http://metadata.google.internal/computeMetadata/v1/instance/zone",
    "curl -s -H 'Metadata-Flavor: Google' "
    "'http://metadata.google.internal/computeMetadata/v1/instance/network-interfaces/"
    "?recursive=true'",
    "curl -s http://localhost:8001/api/v1/namespaces/default/pods",
    "curl -s -u guest:guest http://localhost:15672/api/overview",
    "curl -s -u guest:guest http://localhost:15672/api/queues",
    "curl -s http://localhost:2379/v2/keys/app/config", "curl -s http://localhost:2379/health",
    "curl -s http://localhost:8080/actuator/health", "curl -s http://localhost:8080/api/users",
])
def test_the_same_services_other_paths_still_read(line: str) -> None:
    assert_reads(line)


@pytest.mark.parametrize(("params", "said"), [
    ({"url": "http://169.254.169.254/latest/user-data"}, "boots with"),
    ({"url": "http://localhost:8001/api/v1", "path": ["namespaces", "app", "secrets"]},
     "Secrets"),
    ({"url": "http://localhost:15672/api", "path": ["definitions"]}, "RabbitMQ"),
    ({"url": "http://localhost:2379/v2/keys/", "query": {"recursive": "true"}}, "secret store"),
    ({"url": "http://app:8080/actuator/heapdump"}, "heap"),
])
def test_an_http_step_asking_the_same_is_not_a_read(params: dict[str, object], said: str) -> None:
    found = step_verdict("http", {"method": "GET", **params})
    assert found.effect == "mutate" and said in found.reason, found


# -- 9. a service's own logins --------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "cat /etc/nginx/.htpasswd", "cat /etc/apache2/.htpasswd", "cat /etc/nagios/htpasswd.users",
    "cat /etc/pgbouncer/userlist.txt", "grep app /etc/pgbouncer/userlist.txt",
    "cat /var/lib/rabbitmq/.erlang.cookie", "cat ~/.erlang.cookie",
    "cat /var/lib/jenkins/secrets/hudson.util.Secret", "cat /var/lib/jenkins/credentials.xml",
    "cat /var/lib/kubelet/kubeconfig", "cat /var/lib/kubelet/pki/kubelet-client-current.pem",
    "cat /etc/cni/net.d/calico-kubeconfig",
])
def test_a_services_own_login_is_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", [
    "cat /etc/pgbouncer/pgbouncer.ini", "cat /etc/nginx/nginx.conf",
    "cat /var/lib/jenkins/config.xml", "cat /etc/cni/net.d/10-calico.conflist",
    "ls -l /var/lib/kubelet/pki", "cat /var/lib/kubelet/config.yaml",
    "tail -n 50 /var/log/rabbitmq/rabbit@host.log",
])
def test_the_services_settings_and_logs_still_read(line: str) -> None:
    assert_reads(line)


# -- 10. a memory ---------------------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "strings /proc/kcore | grep -i password", "grep -a password /proc/kcore",
    "head -c 4096 /proc/kcore", "cat /proc/1/mem", "od -A x -j 4194304 -N 64 /proc/812/mem",
    "cat /proc/812/task/813/mem", "cat /proc/self/mem",
])
def test_a_memory_is_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", [
    "cat /proc/meminfo", "cat /proc/1/maps", "cat /proc/1/status", "cat /proc/1/smaps_rollup",
    "grep -i huge /proc/meminfo", "cat /proc/812/limits",
])
def test_what_is_said_about_memory_still_reads(line: str) -> None:
    assert_reads(line)


# -- a command line is every local user's: it stays a read ----------------------------------------

@pytest.mark.parametrize("line", [
    "ps aux", "ps -ef", "ps -eo pid,args", "pgrep -a redis-server", "cat /proc/1/cmdline",
    "systemctl status nginx",
])
def test_a_processs_command_line_stays_a_read(line: str) -> None:
    assert_reads(line)


@pytest.mark.parametrize("line", ["ps auxe", "cat /proc/1/environ"])
def test_its_environment_does_not(line: str) -> None:
    assert_gated(line, "environment", "credentials")


# -- 11. an environment that is not the runner's ---------------------------------------------------

@pytest.mark.parametrize("line", [
    "ssh web-1 env", "ssh -o BatchMode=yes web-1 printenv", "ssh web-1 printenv AWS_SECRET_KEY",
    "ssh web-1 sudo env", "ansible web -a env", "salt 'web*' cmd.run env", "sudo -i env",
    "sudo -i -u app printenv", "sudo --login -u app env",
])
def test_an_environment_that_is_not_the_runners_is_not_a_read(line: str) -> None:
    assert_gated(line, "environment")


@pytest.mark.parametrize("line", [
    "env", "printenv", "printenv PATH", "sudo env", "timeout 5 env", "ssh web-1 uptime",
    "ansible web -a uptime",
])
def test_the_runners_own_environment_and_other_remote_reads_still_read(line: str) -> None:
    assert_reads(line)


# -- 12. a file as a revision holds it -------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "git show HEAD:.env", "git show HEAD~3:.env.production", "git -C /srv/app show main:.env",
    "git cat-file -p HEAD:.env", "git show main:id_rsa", "git show :.env",
    "git show :1:.env", "git diff HEAD:.env HEAD~1:.env", "git show v1.2:.npmrc",
])
def test_a_committed_credential_file_is_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", [
    "git show HEAD:README.md", "git show HEAD", "git show HEAD:.env.example",
    "git cat-file -t HEAD", "git show :/fix", "git log --oneline HEAD~5..HEAD",
    "git diff main...feature",
])
def test_other_files_and_revisions_still_read(line: str) -> None:
    assert_reads(line)


# -- 13. xargs' argument file ---------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "xargs -a /etc/shadow echo", "xargs --arg-file=/root/.aws/credentials echo",
    "xargs -a ~/.pgpass -n1 echo", "cd /etc && xargs -a shadow echo",
])
def test_an_argument_file_holding_credentials_is_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


def test_another_argument_file_still_reads() -> None:
    assert_reads("xargs -a pids.txt ps -p")


# -- 14. the password hashes' backups -------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "cat /var/backups/shadow.bak", "cat /var/backups/gshadow.bak", "cat /etc/shadow~",
    "cat /etc/shadow.old", "cat /etc/shadow.dpkg-old", "diff /etc/shadow.bak /etc/passwd",
    "grep -r root /var/backups", "cat /var/backups/*",
])
def test_a_backup_of_the_password_hashes_is_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", [
    "cat /var/backups/passwd.bak", "ls -l /var/backups", "cat /var/backups/dpkg.status.0",
    "diff /etc/passwd /var/backups/passwd.bak",
])
def test_other_backups_still_read(line: str) -> None:
    assert_reads(line)


# -- 15. a keyring --------------------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "cat /etc/ceph/ceph.client.admin.keyring", "grep key /etc/ceph/keyring",
    "grep key /etc/ceph/keyring | awk '{print $3}'",
    "kubectl -n rook-ceph exec mon-a -- cat /etc/ceph/keyring-store/keyring",
    "cat /var/lib/ceph/osd/ceph-0/keyring", "cat ~/.local/share/keyrings/login.keyring",
])
def test_a_keyring_is_not_a_read(line: str) -> None:
    assert_gated(line, "credentials")


@pytest.mark.parametrize("line", ["cat /etc/ceph/ceph.conf", "ls -l /etc/ceph", "ceph status"])
def test_cephs_settings_still_read(line: str) -> None:
    assert_reads(line)


# -- 16. a setting that holds a password, asked for by name ---------------------------------------

@pytest.mark.parametrize("line", [
    "grep requirepass /etc/redis/redis.conf",
    "ssh redis1 -- sudo grep requirepass /var/opt/gitlab/redis/redis.conf",
    "grep -E 'requirepass|maxmemory' /etc/redis/redis.conf", "grep -n masterauth redis.conf",
    "grep 'sentinel auth-pass' /etc/redis/sentinel.conf",
    "grep primary_conninfo /etc/postgresql/16/main/postgresql.conf",
    "grep -i admin_password /etc/grafana/grafana.ini", "grep bindpw /etc/nslcd.conf",
    "zgrep -e DBPassword /etc/zabbix/zabbix_server.conf",
])
def test_a_grep_for_a_password_setting_is_not_a_read(line: str) -> None:
    assert_gated(line, "password")


@pytest.mark.parametrize("line", [
    "grep maxmemory /etc/redis/redis.conf", "grep -c requirepass /etc/redis/redis.conf",
    "grep -q requirepass /etc/redis/redis.conf", "grep -l requirepass /etc/redis/*.conf",
    "grep -v requirepass /etc/redis/redis.conf",
    "grep 'password authentication failed' /var/log/postgresql/postgresql-16-main.log",
    "grep -i 'auth' /var/log/auth.log",
])
def test_other_settings_and_log_searches_still_read(line: str) -> None:
    assert_reads(line)


# -- 17. a Secret's annotations (its last-applied manifest) ---------------------------------------

@pytest.mark.parametrize("line", [
    "kubectl -n gateway get secret gateway-tls -o jsonpath='{.metadata.annotations}'",
    "kubectl get secret db -o jsonpath='{.metadata}'",
    "kubectl get secret db -o custom-columns=A:.metadata.annotations",
    "kubectl get secret db -o jsonpath=\"{.metadata.annotations['kubectl\\.kubernetes\\.io/"
    "last-applied-configuration']}\"",
])
def test_a_secrets_annotations_whole_are_not_a_read(line: str) -> None:
    assert_gated(line, "Secret")


@pytest.mark.parametrize("line", [
    "kubectl get secret tls -o jsonpath='{.metadata.annotations.cert-manager\\.io/expiry}'",
    "kubectl get secret db -o jsonpath='{.metadata.name}'",
    "kubectl get secrets -o custom-columns=NAME:.metadata.name,TYPE:.type",
    "kubectl get deploy web -o jsonpath='{.metadata.annotations}'",
])
def test_one_annotation_or_another_kinds_still_read(line: str) -> None:
    assert_reads(line)


# -- 18. an inspect format that holds the environment ---------------------------------------------

@pytest.mark.parametrize("line", [
    "podman inspect --format json web", "docker inspect --format json web",
    "docker inspect --format '{{index . \"Config\"}}' web",
    "crictl inspect -o go-template --template '{{json .info}}' abc",
    "crictl inspect -o go-template --template '{{.info.runtimeSpec}}' abc",
])
def test_an_inspect_format_holding_the_environment_is_not_a_read(line: str) -> None:
    assert_gated(line, "environment")


@pytest.mark.parametrize("line", [
    "docker inspect -f '{{.State.Status}}' web", "docker inspect -f '{{json .State}}' web",
    "docker inspect -f '{{.Name}}. {{.Id}}' web",
    "docker inspect -f '{{range .Mounts}}{{.Source}} {{end}}' web",
    "docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' web",
    "crictl inspect -o go-template --template '{{.info.pid}}' abc",
    "podman inspect --format '{{.Config.CreateCommand}}' web",
])
def test_an_inspect_format_of_other_fields_still_reads(line: str) -> None:
    assert_reads(line)


# -- 19. az: an access key in the singular, what holds one -----------------------------------------

@pytest.mark.parametrize("line", [
    "az signalr key list -n s -g g", "az webpubsub key show -n w -g g",
    "az search admin-key show --service-name s -g g", "az search query-key list "
    "--service-name s -g g", "az communication list-key -n c -g g",
    "az eventgrid topic key list -n t -g g", "az iot hub policy list --hub-name h",
    "az iot hub policy show --hub-name h -n iothubowner", "az webapp auth show -n a -g g",
    "az functionapp auth show -n f -g g",
])
def test_an_azure_access_key_is_not_a_read(line: str) -> None:
    assert_gated(line, "secret")


@pytest.mark.parametrize("line", [
    "az keyvault key list --vault-name v", "az keyvault key show --vault-name v -n k",
    "az signalr show -n s -g g", "az iot hub show -n h", "az webapp show -n a -g g",
    "az search service show -n s -g g",
])
def test_azure_services_and_vault_keys_still_read(line: str) -> None:
    assert_reads(line)
