"""Files that hold credentials where they are by convention.

`kubectl config view --raw` is not a read (it prints the kubeconfig's credentials); `cat
~/.kube/config` prints the same. A command that opens one of these files puts a password, a
token or a private key into the step's output, the run's memory and its report, where no
redactor knows it: opening one is not read-only (a person approves it), as reading a secret
store is (`engine.effects.kube`, `services`, `cloud`). Listing them (`ls -l ~/.ssh`) and naming
them stay reads: the table's names-only tools never open a file.

The places: the password hashes (`/etc/shadow`, `/etc/gshadow` and their backups: `-`, `~`,
`.bak`, Debian's daily `/var/backups/shadow.bak`); Kubernetes' and Docker's mounted secrets
(`/run/secrets/...`, `/var/run/secrets/...`: a service account's token); a process's environment
(`/proc/PID/environ`); kubeconfigs (`~/.kube/config`, `/etc/kubernetes/*.conf`); private keys
(`*.key`, `*-key.pem`, `id_rsa` and its kin, `/etc/ssl/private/`); and the credential files of
the usual clients (`.aws/credentials`, `.pgpass`, `.netrc`, `.my.cnf`, `.git-credentials`,
`.docker/config.json`, `.vault-token`, gcloud's, GitLab's `gitlab-secrets.json`); a host's SSH
keys, certbot's `privkey.pem`, a Kerberos keytab, a Secret mounted in a kubelet's pod folder,
k3s's and RKE2's kubeconfig and join token, the first passwords GitLab and Jenkins write,
Debian's MySQL maintenance login, WireGuard's configurations (their private key), GitLab's
`gitlab.rb` (the passwords it hands Redis, PostgreSQL, SMTP and LDAP), npm's, PyPI's, s3cmd's,
GitHub CLI's and Terraform's tokens; a repository's `.git/config` (its remotes' URLs, the token
a clone was made with in them), a standby's `recovery.conf` or `postgresql.auto.conf` (its
primary_conninfo, the replication password); a dotenv file (`.env`, `.env.production`: what
`docker compose config` fills in; `.env.example` and its kin are templates); the units and
drop-ins an administrator or a program wrote for systemd (`/etc/systemd/system/app.service`,
`app.service.d/override.conf`: their `Environment=` lines, what `systemctl cat` prints); what a
person typed, kept by a shell or a client (`~/.bash_history`, `~/.psql_history`, any
`~/.NAME_history`, PowerShell's `ConsoleHost_history.txt`: `mysql -pS3cret`, `\\password`, `AUTH
x`, as the `history` builtin, gated, prints them); Windows' setup answer files
(`Panther\\Unattend.xml`, `sysprep.xml`: the administrator's password); more clients' logins and
tokens (podman's, skopeo's and buildah's `containers/auth.json`, Helm's registry logins and
`repositories.yaml`, the Azure CLI's token caches, rclone's, boto's, doctl's, Databricks',
cargo's, RubyGems', Composer's, hub's, Kaggle's, Maven's `settings.xml`, Gradle's
`gradle.properties`, a GitLab Runner's `config.toml`); the host's own stored secrets
(NetworkManager's connections and wpa_supplicant's Wi-Fi keys, IPsec's and PPP's secrets,
Postfix's relay login, the old password hashes of `/etc/security/opasswd`, Samba's password
files, the LDAP bind password of `ldap.secret` and `sssd.conf`); what a container runtime keeps
a container's environment in, the same that `docker inspect` (gated) prints (Docker's
`config.v2.json`, the OCI `config.json` of a podman or containerd container); etcd's data (every
Secret of a cluster); a service's own logins (a web server's `htpasswd` hashes, PgBouncer's
`userlist.txt`, Erlang's `.erlang.cookie`, RabbitMQ's cluster secret, Jenkins' `secrets/` and
the `credentials.xml` they decrypt, the kubelet's kubeconfig and client key, a CNI plugin's
kubeconfig and its token); a memory (`/proc/kcore`, the machine's; `/proc/PID/mem`, a process's:
every secret in it, `strings /proc/kcore | grep password`); a keyring (Ceph's
`ceph.client.admin.keyring` or a daemon's `keyring`: its key, as `ceph auth get`, gated, prints
it; GNOME's `*.keyring`); and the folders that hold them
(`grep -r . ~/.ssh`, `grep -r x /etc/kubernetes/pki` open every file in them); a machine's
user data as cloud-init and the Azure agent keep it on the machine (`/var/lib/cloud/instance/
user-data.txt`, its scripts and pickled copy, `instance-data-sensitive.json`, waagent's
`ovf-env.xml` and `CustomData`, an Ubuntu autoinstall's), what `curl 169.254.169.254/latest/
user-data` (gated) fetches: the passwords and tokens a machine is booted with; a crash's dump
(`/var/crash/*.crash`, systemd's `/var/lib/systemd/coredump/`): a process's memory and
environment. A path is judged
by its tails, as a device's is (`/host/etc/shadow`, `/proc/1/root/etc/shadow`).

A process's command line is no such place: every local user reads it (`ps aux`, `pgrep -a`,
`/proc/PID/cmdline` are world-readable, where `/proc/PID/environ` is its owner's), so a
password on it was exposed by whoever started the program so; the status commands that show
it (`ps`, `systemctl status`) stay reads.

A recursive read of a folder above one of those places opens it too (`grep -r . /etc` opens
/etc/shadow, `grep -R x ~` a home's `.ssh` and `.aws`): the root, /etc, /run, /proc, /var/lib
(the homes of services: postgres's `.pgpass`, jenkins's first password) and every home.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re

# A disk's blocks, read raw (`strings /dev/sda`, `head -c 1M /dev/nvme0n1p2`, `grep -a password
# /dev/mapper/vg-root`): every file on it, /etc/shadow, keys and files deleted since among them,
# none of which the file rules see; a swap file or a crash dump holds what memory held
_DISKS = r"""^/dev/(?:[hsv]d[a-z]+|xvd[a-z]+|nvme\d+n\d+|mmcblk\d+|nbd\d+|rbd\d+|zd\d+|dm-\d+
                       |md\d+|loop\d+|zram\d+)(?:p?\d+)?$
  | ^/dev/(?:mapper/(?!control$)|md/|zvol/|disk/by-[\w-]+/). | ^/dev/block/\d+:\d+$
  | ^/(?:swapfile|swap\.img)$ | ^/proc/vmcore$"""
_DISK = re.compile("(?x)" + _DISKS)
_DISK_FILES = ("/dev/sda", "/dev/sda1", "/dev/vda", "/dev/xvda1", "/dev/nvme0n1", "/dev/nvme0n1p1",
               "/dev/mmcblk0", "/dev/dm-0", "/dev/md0", "/dev/loop0", "/dev/zram0",
               "/dev/mapper/vg-root", "/swapfile")

_PLACES = re.compile(r"""(?x)
    ^/(?:etc|var/backups)/g?shadow(?:[-~]|\.(?:bak|old|orig|save|dpkg-(?:old|dist|new)))?$
  | ^/(?:var/)?run/secrets(?:/|$)
  | ^/proc/[^/]+/(?:task/[^/]+/)?environ$
  | ^/etc/kubernetes/[^/]+\.conf$
  | ^/etc/ssl/private/.
  | /\.kube/config$
  | /\.aws/credentials$
  | /\.(?:pgpass|netrc|my\.cnf|git-credentials|vault-token)$
  | /\.docker/config\.json$
  | /\.config/gcloud/(?:credentials\.db|access_tokens\.db|application_default_credentials\.json
                      |legacy_credentials/.)
  | /gitlab-secrets\.json$
  | /id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?$
  | [^/]\.key$ | [-.]key\.pem$
  | /ssh_host_\w+_key$ | /privkey\d*\.pem$ | ^/etc/pki/tls/private/. | [^/]\.keytab$
  | /volumes/kubernetes\.io~secret/.
  | ^/etc/rancher/(?:k3s/k3s|rke2/rke2)\.yaml$
  | ^/var/lib/rancher/(?:k3s|rke2)/server/(?:token$|cred/)
  | ^/etc/gitlab/(?:initial_root_password|gitlab\.rb)$ | /secrets/initialAdminPassword$
  | ^/etc/mysql/debian\.cnf$ | ^/etc/wireguard/[^/]+\.conf$
  | /\.(?:npmrc|pypirc|s3cfg)$ | /\.config/gh/hosts\.yml$
  | /\.terraform\.d/credentials\.tfrc\.json$
  | /\.git/config$ | /(?:recovery|postgresql\.auto)\.conf$
  | /\.(?:ssh|aws|kube|docker|gnupg|config/gcloud)$ | ^/etc/(?:ssl|pki/tls)/private$
  | ^/etc/kubernetes/pki(?:/etcd)?$ | ^/etc/(?:wireguard|rancher/k3s|rancher/rke2)$
  | /volumes/kubernetes\.io~secret$
  | /\.env(?:\.(?!(?:example|sample|template|dist|defaults)$)[\w-]+)?$
  | ^/(?:etc|run)/systemd/(?:system|user)/[^/]+\.(?:service|socket|timer)$
  | ^/(?:etc|run)/systemd/(?:system|user)/[^/]+\.d/[^/]+\.conf$
  | /\.config/systemd/user/(?:[^/]+\.(?:service|socket|timer)|[^/]+\.d/[^/]+\.conf)$
  | /\.[\w-]+_history$ | (?i:/PSReadLine/[^/]+_history\.txt$)
  | (?i:/(?:Panther(?:/Unattend)?|sysprep)/(?:auto)?unattend\.xml$|/sysprep/sysprep\.(?:xml|inf)$)
  | /\.(?:zhistory|histfile|dbshell)$ | /fish/fish_history$ | /mongosh/mongosh_repl_history$
  | /containers/(?:\d+/)?auth\.json$ | /\.config/helm/(?:registry/config\.json|repositories\.yaml)$
  | /\.azure/(?:msal_token_cache|accessTokens|service_principal_entries)\.(?:json|bin)$
  | /rclone/rclone\.conf$ | /\.(?:boto|databrickscfg)$ | /\.config/doctl/config\.yaml$
  | /\.cargo/credentials(?:\.toml)?$ | /\.gem/credentials$ | /composer/auth\.json$
  | /gitlab-runner/config\.toml$ | /\.config/hub$ | /\.kaggle/kaggle\.json$
  | /\.m2/settings(?:-security)?\.xml$ | /\.gradle/gradle\.properties$
  | ^/etc/NetworkManager/system-connections(?:/|$) | /wpa_supplicant[^/]*\.conf$
  | ^/etc/ipsec\.secrets$ | ^/etc/ppp/(?:chap|pap|srp)-secrets$
  | ^/etc/postfix/sasl_passwd(?:\.\w+)?$ | ^/etc/security/opasswd$
  | /smbpasswd$ | /samba/private/(?:passdb|secrets)\.tdb$
  | ^/etc/(?:pam_|libnss-)?ldap\.secret$ | ^/etc/sssd/(?:sssd\.conf|conf\.d/[^/]+\.conf)$
  | ^/var/lib/docker/containers/[^/]+/config\.v2\.json$
  | /storage/overlay-containers/[^/]+/userdata/config\.json$
  | /io\.containerd\.runtime\.v2\.task/[^/]+/[^/]+/config\.json$
  | /etcd/member/(?:snap/db|wal/[^/]+\.wal)$
  | /\.?htpasswd(?:\.[\w-]+)?$ | /pgbouncer/userlist\.txt$ | /\.erlang\.cookie$
  | /jenkins/(?:secrets/.|credentials\.xml$) | ^/var/lib/kubelet/(?:kubeconfig$|pki/.+\.key$)
  | ^/var/lib/kubelet/pki/kubelet-(?:client|server)-[\w-]+\.pem$
  | /cni/net\.d/[\w-]*kubeconfig$
  | ^/proc/kcore$ | ^/proc/[^/]+/(?:task/[^/]+/)?mem$
  | /[^/]*\.keyring$ | /keyring$
  | /\.config/git/credentials$ | /\.pulumi/credentials\.json$ | /\.terraformrc$ | /\.dockercfg$
  | /gitlab-rails/etc/secrets\.yml$ | ^/etc/master\.passwd$
  | /(?:[\w.-]*-)?encryption(?:-provider)?(?:-config(?:uration)?)?\.ya?ml$
  | ^/etc/exim4/passwd\.client$ | ^/etc/dovecot/(?:users|passwd)$ | /realm\.properties$
  | /elasticsearch\.keystore$ | /[^/]*jaas[^/]*\.conf$
  | /[^/]+\.tfstate(?:\.backup)?$ | /terraform\.tfstate\.d/.
  | ^/var/lib/cloud/(?:instance|instances/[^/]+)/(?:(?:user|vendor)-data2?\.txt(?:\.i)?$
                                                   |obj\.pkl$|scripts/.)
  | ^/run/cloud-init/instance-data-sensitive\.json$ | ^/var/lib/waagent/(?:ovf-env\.xml|CustomData)$
  | ^/var/log/installer/autoinstall-user-data$
  | ^/var/crash/. | ^/var/lib/systemd/coredump/.
  | /(?:[^/]+\.)?kubeconfig(?:\.ya?ml)?$
  | /sops/age/keys\.txt$ | /\.?vault[_-]pass(?:word)?(?:\.txt)?$
  | /client_secret[^/]*\.json$ | /service[-_]account[^/]*\.json$ | /credentials\.json$
  | """ + _DISKS + r"""
""")


_A_PATH = re.compile(r"[\w.~/@:+*?,-]+")
# what a shell expands in a word (a parameter, a command's output) and a glob: either may be
# any text there (`$HOME/.ssh/id_rsa`, `/proc/$$/environ`, `/etc/sha*`, `~/.aws/*`)
_EXPANSION = re.compile(r"\$\((?:[^()]|\([^()]*\))*\)|`[^`]*`|\$\{[^}]*\}|\$(?:env:)?\w+|\$\$")
_GLOB = re.compile(r"[*?]|\[[^\]/]+\]")
_BRACES = re.compile(r"\{([^{}]*,[^{}]*)\}")
# a name of each kind of file the places hold: a glob that may match one is judged as if it did
_NAMES = """shadow gshadow shadow- gshadow- environ admin.conf config credentials .pgpass .netrc
    .my.cnf .git-credentials .vault-token config.json credentials.db access_tokens.db
    application_default_credentials.json gitlab-secrets.json id_rsa id_dsa id_ecdsa id_ed25519
    id_ed25519_sk server.key tls-key.pem ssh_host_rsa_key ssh_host_ed25519_key privkey.pem
    privkey1.pem krb5.keytab k3s.yaml rke2.yaml token initial_root_password
    initialAdminPassword debian.cnf wg0.conf .npmrc .pypirc .s3cfg hosts.yml
    credentials.tfrc.json recovery.conf postgresql.auto.conf .ssh .aws .kube .docker
    .gnupg .env .env.production override.conf unit.service gitlab.rb .bash_history
    .zsh_history .mysql_history .psql_history auth.json rclone.conf .boto .databrickscfg
    settings.xml wpa_supplicant.conf ipsec.secrets chap-secrets sasl_passwd opasswd smbpasswd
    ldap.secret sssd.conf home.nmconnection config.v2.json db .htpasswd htpasswd userlist.txt
    .erlang.cookie credentials.xml kubelet-client-current.pem kcore mem keyring
    ceph.client.admin.keyring sda sda1 vda xvda nvme0n1 nvme0n1p1 mmcblk0 dm-0 md0 loop0
    zram0 swapfile user-data.txt instance-data-sensitive.json ovf-env.xml CustomData""".split()


def holds_credentials(word: str) -> bool:
    """Whether the file `word` names holds credentials by where it is (see the module); a
    word a shell expands (a parameter, a glob, braces) may name any file it can expand to.
    A backslash separates folders as a slash does (Windows: `~\\.ssh\\id_rsa`)."""
    word = word.replace("\\", "/")
    if "/" in word:
        words = _braced(_EXPANSION.sub("*", word))
        if any(_GLOB.search(w) for w in words):
            return any(_glob_holds(w) for w in words)
        return any(_holds(w) for w in words)
    return _holds(word)


# a name alone (no folder) that is a credential file's wherever it is: `cat terraform.tfstate`
_BARE = (".key", ".tfstate", ".tfstate.backup", "kubeconfig")


def _holds(word: str) -> bool:
    if "/" not in word and not word.endswith(_BARE) and not word.startswith(("id_", ".")) \
            or not _A_PATH.fullmatch(word):  # `.[].key` is jq's, `{.data.key}` a template
        return False
    parts = [p for p in posixpath.normpath("/" + word.lstrip("~")).split("/")
             if p not in ("", ".", "..")]
    tails = ["/" + "/".join(parts[k:]) for k in range(len(parts))]
    return any(_PLACES.search(tail) for tail in tails)


def _braced(word: str) -> list[str]:
    """The words bash's brace expansion makes of `word` (`/etc/{shadow,passwd}`), at most 64."""
    m = _BRACES.search(word)
    if m is None:
        return [word]
    out = [w for choice in m.group(1).split(",")
           for w in _braced(word[:m.start()] + choice + word[m.end():])]
    return out[:64]


def _glob_holds(word: str) -> bool:
    """Whether a glob (`/etc/sha*`, `~/.ssh/id_*`, `/root/.aws/*`) may name a file that holds
    credentials: its folders' globs taken as any one name, its last part as each name of
    `_NAMES` it matches (a leading dot only by a dot, as bash globs); in a folder that holds
    credentials, only wildcards as any of its files. A name that holds them in any folder
    (`privkey.pem`, `id_rsa`) counts only where the glob is that specific: `*.key` (every
    `.key` is a key), not `*.pem`."""
    folder, _, last = word.rstrip("/").rpartition("/")
    folder = "/".join("x" if _GLOB.search(part) else part for part in folder.split("/"))
    if not _GLOB.sub("", last) and _holds(folder or "/"):  # only wildcards: any file of it
        return True
    if "." not in last.lstrip(".") and _holds(folder or "/"):  # `id_*` in ~/.ssh
        return True
    plain = _GLOB.sub("x", last)  # the glob's plainest name
    return any(_holds(f"{folder}/{name}") and (not _holds(f"/x/x/{name}") or
                                                 _holds(f"{folder}/{plain}"))
               for name in _NAMES if fnmatch.fnmatchcase(name, last) and
               (not name.startswith(".") or last.startswith(".")))


# Where the places lie by convention, as patterns of folders (`*` one name, `~` a home): a
# folder above one of them holds it
_ANCHORS = [a.split("/")[1:] for a in """/etc/shadow /etc/ssl/private/k /etc/pki/tls/private/k
    /etc/kubernetes/admin.conf /etc/rancher/k3s/k3s.yaml /etc/gitlab/initial_root_password
    /etc/mysql/debian.cnf /etc/wireguard/wg0.conf /etc/ssh/ssh_host_rsa_key
    /etc/letsencrypt/live/*/privkey.pem /etc/systemd/system/*.service
    /run/secrets/* /var/run/secrets/* /run/systemd/system/*.service /proc/[0-9]*/environ
    /proc/self/environ /proc/thread-self/environ
    /var/lib/rancher/k3s/server/token /var/lib/kubelet/pods/*/volumes/kubernetes.io~secret/*
    /var/lib/*/.pgpass /var/lib/*/secrets/initialAdminPassword /root/.ssh/id_rsa
    /home/*/.ssh/id_rsa /Users/*/.ssh/id_rsa
    /var/backups/shadow.bak /run/containerd/io.containerd.runtime.v2.task/*/*/config.json
    /var/lib/containers/storage/overlay-containers/*/userdata/config.json
    /var/lib/cloud/instance/user-data.txt /var/crash/x.crash""".split()]
_HOME = re.compile(r"^(?:~[\w.-]*|\$HOME|\$\{HOME\})(?=/|$)")


def holds_credentials_beneath(word: str) -> bool:
    """Whether the folder `word` names holds, beneath it, one of the places by convention
    (`/`, `/etc`, `/var/lib`, `/home/ann`, `~`): a recursive read of it opens that place. A
    word a shell expands may name any folder it can expand to (`/home/*`, `$D`)."""
    word = _HOME.sub("/home/*", word.replace("\\", "/"))
    if not word.startswith("/"):
        return False
    parts = [p for p in posixpath.normpath(_EXPANSION.sub("*", word)).split("/") if p]
    for anchor in _ANCHORS:
        if len(parts) < len(anchor) and all(
                fnmatch.fnmatchcase(a, p) or fnmatch.fnmatchcase(p, a)
                for p, a in zip(parts, anchor, strict=False)):
            return True
    return False


# a flag that hands a program a credential file to use, not to print (`--key`, `-i`, `--cacert`,
# `--kubeconfig`, `--password-file`): its value is not opened for its text to be shown. diff's
# `--from-file`, `--to-file` name a file it compares, and prints; helm's `--set-file` a file
# whose text becomes a value of the chart, which `helm template` prints where the chart uses it;
# a `--file` alone is the file the tool reads, as its `-f` is (grep's patterns, a manifest)
_USES = re.compile(r"^(?!--(?:(?:from|to|set)-)?file$)-{1,2}(?:[ikE]|[\w-]*(?:key|cert|ca|config|"
                   r"identity|file|token|cred|pass|auth|secret|login|tls|ssl)[\w-]*)$", re.I)


def opened_credentials(args: list[str], folder: str = "") -> str | None:
    """The first of `args` (a command's words after its name) that opens a credential file
    to print it: an operand, or a flag's value unless the flag hands it over for use. A
    relative path is `folder`'s (`cd ~/.aws && cat credentials`). A word that names a file
    after a key (`-o go-template-file=/etc/shadow`, `--set-file key=~/.aws/credentials`: the
    template, the value, printed; `a=PATH,b=PATH`) is judged by the path after each `=` too."""
    def one(path: str) -> bool:
        return holds_credentials(posixpath.join(folder, path) if folder and not
                                 path.startswith(("/", "~", "$")) else path)

    def held(word: str) -> bool:
        return one(word) or any(one(part.split("=", k)[-1]) for part in word.split(",")
                                for k in range(1, part.count("=") + 1))

    for k, word in enumerate(args):
        if word.startswith("-"):
            flag, eq, value = word.partition("=")
            if eq and not _USES.match(flag) and held(value):
                return value
            if (glued := _glued(word)) is not None and held(glued):
                return glued
            continue
        if k and _USES.match(args[k - 1].partition("=")[0]) and "=" not in args[k - 1]:
            continue
        if held(word):
            return word
    return None


def _glued(word: str) -> str | None:
    """The path a short option is written joined to (`-f/etc/shadow`, `-hf~/.pgpass`: grep
    reads it as `-f /etc/shadow`, which is judged so), unless that option hands the file over
    for use (`-i~/.ssh/id_rsa`)."""
    if word.startswith("--") or len(word) < 3:
        return None
    at = next((k for k in range(2, len(word)) if word[k] in "/~.$"), None)
    if at is None or not word[1:at].isalnum() or _USES.match("-" + word[at - 1]):
        return None
    return word[at:]


def credential_reason(word: str) -> str:
    if reads_a_disk(word):
        return (f"reading {word} reads a disk's (or memory's) blocks raw: every file on it, "
                "the credentials and deleted files among them: not a read to keep")
    return (f"opening {word} prints the credentials it holds (a password, a token or a "
            "private key): not a read to keep")


def reads_a_disk(word: str) -> bool:
    """Whether `word` names a disk, a partition or a volume read raw, a swap file or a crash
    dump (`/dev/sda1`, `/dev/mapper/vg-root`, `/host/dev/nvme0n1`), or may expand to one
    (`/dev/sd*`): what a tool that only says what a device is (`df /dev/sda1`) may be handed."""
    for w in _braced(_EXPANSION.sub("*", word.replace("\\", "/"))):
        parts = [p for p in posixpath.normpath(w).split("/") if p not in ("", ".", "..")]
        for tail in ("/" + "/".join(parts[k:]) for k in range(len(parts))):
            if _DISK.search(tail) if not _GLOB.search(tail) else \
                    not _GLOB.search(tail.split("/")[1]) and any(  # (`/*` is every tail's)
                        name.count("/") == tail.count("/") and fnmatch.fnmatchcase(name, tail)
                        for name in _DISK_FILES):
                return True
    return False


# A configuration store's key (Consul's KV, etcd) that says it holds a secret, by a part of its
# name: `app/db/password`, `/secrets/db`, `svc/api_key`, `ci:deploy-token`
# (`tokenizer`, `secretary`, `passwordless` name no secret)
_SECRET_KEY = re.compile(r"""(?ix) (?: pass(?:word|wd|phrase) | secret | token | credential
    | (?:api|access|private|secret|session|signing|encryption)[_-]?key )s?(?![a-z])
    | (?:^|[/_.:-])(?:auth|pwd)(?:[/_.:-]|$)""")


def secret_key(key: str, *, globs: bool = True, templates: bool = True) -> bool:
    """Whether a store's `key` (or prefix) says it holds a secret: a part of its name does
    (`app/db/password`, `/secrets/`, `svc/api_key`), or a shell may expand it to any key
    (`$KEY`), or (with `templates`) a template (`{{ k }}`: without, it is left to the run,
    which judges the key it renders), or (with `globs`) a glob (`app/*`)."""
    marks = ("$", "`") + (("{{",) if templates else ()) + (("*", "?") if globs else ())
    return bool(_SECRET_KEY.search(key)) or any(m in key for m in marks)


# The settings a service's configuration holds a password in, by their names: Redis' and
# Sentinel's (`requirepass`, `masterauth`, `sentinel auth-pass`), a standby's
# `primary_conninfo`, RabbitMQ's `default_pass`, Grafana's `admin_password`, Zabbix's
# `DBPassword`, an LDAP client's bind password (`bindpw`, sssd's `ldap_default_authtok`) and
# slapd's `rootpw`. Asked for by name (`grep requirepass /etc/redis/redis.conf`), each prints
# what `redis-cli CONFIG GET requirepass` or `SHOW primary_conninfo` (gated) prints.
_PASSWORD_SETTINGS = re.compile(r"(?i)requirepass|masterauth|auth-pass|primary_conninfo|"
                                r"default_pass|admin_password|dbpassword|bindpw|authtok|rootpw")


def names_a_password_setting(pattern: str) -> bool:
    """Whether a search `pattern` names a setting that holds a password (`requirepass`)."""
    return bool(_PASSWORD_SETTINGS.search(pattern))


def whole_store(prefix: str) -> bool:
    """Whether a recursive read from `prefix` takes in a whole store (`""`, `/`)."""
    return prefix.strip("/") == ""
