"""Files that hold credentials where they are by convention.

`kubectl config view --raw` is not a read (it prints the kubeconfig's credentials); `cat
~/.kube/config` prints the same. A command that opens one of these files puts a password, a
token or a private key into the step's output, the run's memory and its report, where no
redactor knows it: opening one is not read-only (a person approves it), as reading a secret
store is (`engine.effects.kube`, `services`, `cloud`). Listing them (`ls -l ~/.ssh`) and naming
them stay reads: the table's names-only tools never open a file.

The places: the password hashes (`/etc/shadow`, `/etc/gshadow` and their `-` backups);
Kubernetes' and Docker's mounted secrets (`/run/secrets/...`, `/var/run/secrets/...`: a
service account's token); a process's environment (`/proc/PID/environ`); kubeconfigs
(`~/.kube/config`, `/etc/kubernetes/*.conf`); private keys (`*.key`, `*-key.pem`, `id_rsa` and
its kin, `/etc/ssl/private/`); and the credential files of the usual clients (`.aws/credentials`,
`.pgpass`, `.netrc`, `.my.cnf`, `.git-credentials`, `.docker/config.json`, `.vault-token`,
gcloud's, GitLab's `gitlab-secrets.json`); a host's SSH keys, certbot's `privkey.pem`, a
Kerberos keytab, a Secret mounted in a kubelet's pod folder, k3s's and RKE2's kubeconfig and
join token, the first passwords GitLab and Jenkins write, Debian's MySQL maintenance login,
WireGuard's configurations (their private key), npm's, PyPI's, s3cmd's, GitHub CLI's and
Terraform's tokens; and the folders that hold them (`grep -r . ~/.ssh`, `grep -r x
/etc/kubernetes/pki` open every file in them). A path is judged by its tails, as a device's
is (`/host/etc/shadow`, `/proc/1/root/etc/shadow`).
"""

from __future__ import annotations

import posixpath
import re

_PLACES = re.compile(r"""(?x)
    ^/etc/g?shadow-?$
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
  | ^/etc/ssh/ssh_host_\w+_key$ | /privkey\d*\.pem$ | ^/etc/pki/tls/private/. | [^/]\.keytab$
  | /volumes/kubernetes\.io~secret/.
  | ^/etc/rancher/(?:k3s/k3s|rke2/rke2)\.yaml$
  | ^/var/lib/rancher/(?:k3s|rke2)/server/(?:token$|cred/)
  | ^/etc/gitlab/initial_root_password$ | /secrets/initialAdminPassword$
  | ^/etc/mysql/debian\.cnf$ | ^/etc/wireguard/[^/]+\.conf$
  | /\.(?:npmrc|pypirc|s3cfg)$ | /\.config/gh/hosts\.yml$
  | /\.terraform\.d/credentials\.tfrc\.json$
  | /\.(?:ssh|aws|kube|docker|gnupg|config/gcloud)$ | ^/etc/(?:ssl|pki/tls)/private$
  | ^/etc/kubernetes/pki(?:/etcd)?$ | ^/etc/(?:wireguard|rancher/k3s|rancher/rke2)$
  | /volumes/kubernetes\.io~secret$
""")


_A_PATH = re.compile(r"[\w.~/@:+*?,-]+")


def holds_credentials(word: str) -> bool:
    """Whether the file `word` names holds credentials by where it is (see the module)."""
    if "/" not in word and not word.endswith(".key") and not word.startswith(("id_", ".")) \
            or not _A_PATH.fullmatch(word):  # `.[].key` is jq's, `{.data.key}` a template
        return False
    text = word.replace("\\", "/")
    parts = [p for p in posixpath.normpath("/" + text.lstrip("~")).split("/")
             if p not in ("", ".", "..")]
    tails = ["/" + "/".join(parts[k:]) for k in range(len(parts))]
    return any(_PLACES.search(tail) for tail in tails)


# a flag that hands a program a credential file to use, not to print (`--key`, `-i`, `--cacert`,
# `--kubeconfig`, `--password-file`): its value is not opened for its text to be shown. diff's
# `--from-file`, `--to-file` name a file it compares, and prints
_USES = re.compile(r"^(?!--(?:from|to)-file$)-{1,2}(?:[ikE]|[\w-]*(?:key|cert|ca|config|identity|"
                   r"file|token|cred|pass|auth|secret|login|tls|ssl)[\w-]*)$", re.I)


def opened_credentials(args: list[str]) -> str | None:
    """The first of `args` (a command's words after its name) that opens a credential file
    to print it: an operand, or a flag's value unless the flag hands it over for use."""
    for k, word in enumerate(args):
        if word.startswith("-"):
            flag, eq, value = word.partition("=")
            if eq and not _USES.match(flag) and holds_credentials(value):
                return value
            continue
        if k and _USES.match(args[k - 1].partition("=")[0]) and "=" not in args[k - 1]:
            continue
        if holds_credentials(word):
            return word
    return None


def credential_reason(word: str) -> str:
    return (f"opening {word} prints the credentials it holds (a password, a token or a "
            "private key): not a read to keep")
