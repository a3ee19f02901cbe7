"""One argv or pipeline -> what it does to the world: read, mutate or interactive, and why.

This module owns the dispatch over the read-only table (`engine.effects.table`): the program's
name (a bare name, or a path in a system directory: `./cat` is not cat), programs that are a
person's job (shells, editors, consoles; a pager reads: with no terminal it prints what it
pages, as cat does), interpreters (a script is never read-only), and wrappers, whose inner
command is what gets judged: sudo, timeout, nice, nohup, time, stdbuf, ionice, xargs (with its
own flags, and only for tools that words appended at run time cannot turn into writers), ssh
(the remote command, as the remote shell would split it), and `kubectl/oc/docker/podman/crictl
exec` (the command after `--`).

A command is "read" only when every part of it is on the table; everything else is "mutate"
(an approval gate) or "interactive" (a manual step).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import posixpath
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from engine.effects.credentials import (
    credential_reason,
    holds_credentials,
    holds_credentials_beneath,
    opened_credentials,
    reads_a_disk,
)
from engine.effects.devices import arming, arms, listed
from engine.effects.kube import logged_bodies
from engine.effects.options import Cause, Effect, Flags, NotRead, parse
from engine.effects.rules import EDITOR, LOGIN, UNTIL_STOPPED, Grammar, Tool, judge
from engine.effects.table import APPENDABLE, TABLE
from engine.effects.words import Templated

F = Flags.of


@dataclass(frozen=True)
class Verdict:
    """What a command does: its effect and, unless it only reads, the one-line reason."""

    effect: Effect
    reason: str = ""
    cause: Cause | None = None

    @property
    def read(self) -> bool:
        return self.effect == "read"


READ = Verdict("read")


def classify(argv: Sequence[str]) -> Verdict:
    """The effect of one argv (words the guide wrote; `Templated` words come from values)."""
    try:
        _judge(list(argv))
    except NotRead as exc:
        return Verdict(exc.effect, exc.reason, exc.cause)
    return READ


def classify_pipeline(stages: Sequence[Sequence[str]]) -> Verdict:
    """A pipeline changes the world if any stage does; it needs a person if its first does."""
    if not stages:
        return Verdict("mutate", "an empty pipeline", "tool")
    verdicts = [classify(stage) for stage in stages]
    if len(stages) >= 2 and verdicts[0].read and _runtime_api_reads(stages[0], stages[1]):
        verdicts[1] = READ
    for k, stage in enumerate(stages):
        if k and verdicts[k].read and (sent := sends_its_input(stage)) and \
                not _feeds_nothing(stages[k - 1]):
            verdicts[k] = Verdict("mutate", f"{sent} what the stage before it prints", "operand")
        if k and verdicts[k].read and _program(stage[0]) == "xargs":
            inner = parse(list(stage[1:]), _XARGS, "xargs").operands
            armed = _opens_watchdog(inner, _fed(stages[:k])) if inner else None
            if armed is not None:
                verdicts[k] = Verdict("mutate", _armed(armed), "operand")
            elif inner and (held := _printed_credentials(inner, _fed(stages[:k]))):
                verdicts[k] = Verdict("mutate", held, "operand")
    if verdicts[0].effect == "interactive":
        return verdicts[0]
    worst = next((v for v in verdicts if not v.read), None)
    if worst is None:
        return READ
    return Verdict("mutate", worst.reason, worst.cause)


def sends_its_input(stage: Sequence[str]) -> str | None:
    """How a stage that sends what it reads to the server it connects to says so, or None:
    `openssl s_client` writes its input to the TLS connection (`echo FLUSHALL | openssl
    s_client -connect redis:6380` is a command to Redis, a `printf 'DELETE ...'` one to a web
    server), as `nc` without -z (not a read at all) does. It reads only fed nothing."""
    words = [str(w) for w in stage]
    if words and _named(words[0]) == "openssl" and "s_client" in words[1:2]:
        return "openssl s_client sends the server"
    return None


def _named(word: str) -> str:
    """The name a program is run by (`/usr/bin/openssl` is openssl), judging nothing."""
    return word.rsplit("/", 1)[-1]


_EMPTY_ECHO = frozenset({"-n", "-e", "-E", "-ne", "-en", ""})


def _feeds_nothing(stage: Sequence[str]) -> bool:
    """Whether a stage prints nothing but a line break at most (`echo`, `echo -n`, `printf
    ''`, `true`, `cat /dev/null`): what feeds `openssl s_client` an end of input."""
    words = [str(w) if not isinstance(w, Templated) else "$" for w in stage]
    name, rest = _named(words[0]) if words else "", words[1:]
    return name == "echo" and set(rest) <= _EMPTY_ECHO or \
        name == "printf" and rest in ([], [""], ["\\n"], ["\n"]) or \
        name in ("true", ":") or name == "cat" and rest == ["/dev/null"]


# HAProxy's runtime API over its stats socket: `echo "show stat" | socat stdio
# /run/haproxy/admin.sock` prints the counters; `show ...` and `help` only read, every other
# command of it (`set server ... state maint`, `disable server`, `clear counters`, `shutdown
# session`) acts. socat relays what `echo` printed, nothing else: any option of its own, or an
# address that is no socket, and it is judged as socat.
_SOCAT_STDIO = frozenset({"stdio", "-", "STDIO"})
_SOCKET = re.compile(r"^(?:(?:unix-connect|unix-client|unix):)?/[\w./-]+\.sock$|"
                     r"^tcp4?:[\w.-]+:\d{2,5}$", re.I)
_RUNTIME_READ = re.compile(r"^\s*(?:show\s+[a-z]|help\s*$)")


def _runtime_api_reads(echo: Sequence[str], relay: Sequence[str]) -> bool:
    """Whether `echo "show ..." | socat stdio SOCKET` only reads from HAProxy's runtime API
    (`sudo socat`: the socket is root's)."""
    def named(word: str) -> str:
        return "" if isinstance(word, Templated) else str(word)

    if relay and named(relay[0]) == "sudo" and len(relay) > 1 and \
            not relay[1].startswith("-"):
        relay = relay[1:]
    if not echo or named(echo[0]) != "echo" or not relay or named(relay[0]) != "socat":
        return False
    words = [w for w in echo[1:] if w not in ("-n", "-e")]
    addresses = list(relay[1:])
    if not words or len(addresses) != 2 or any(a.startswith("-") and a != "-"
                                                 for a in addresses):
        return False
    if not (_SOCAT_STDIO.intersection(addresses[:1]) and _SOCKET.match(addresses[1])):
        return False
    said = " ".join(words).replace("\\n", ";")
    return all(_RUNTIME_READ.match(cmd) for cmd in said.split(";") if cmd.strip())


DATABASE_CLIENTS = frozenset({"psql", "gitlab-psql", "mysql", "mariadb"})
"""The clients an ungated step runs only with a read-only session (see plugins.shell)."""

_clients: contextvars.ContextVar[list[list[str]] | None] = contextvars.ContextVar(
    "_clients", default=None)
_remote: contextvars.ContextVar[bool] = contextvars.ContextVar("_remote", default=False)
_moved_by_a_value: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "_moved_by_a_value", default=False)


_folder: contextvars.ContextVar[str | None] = contextvars.ContextVar("_folder", default=None)
# the tool (`kubectl exec`, `docker exec`) whose container the command being judged runs in
_in_container: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "_in_container", default=None)
# whether the command being judged runs in another user's login shell (`sudo -i`, `--login`)
_logged_in: contextvars.ContextVar[bool] = contextvars.ContextVar("_logged_in", default=False)


@contextlib.contextmanager
def in_the_folder(folder: str | None) -> Iterator[None]:
    """Judge commands as running in `folder`, which the guide wrote (`cd /dev && cat
    watchdog`, a step's `cwd`): a file a word names relative to it is that folder's."""
    token = _folder.set(folder)
    try:
        yield
    finally:
        _folder.reset(token)


def current_folder() -> str | None:
    """The folder commands are judged to run in (`in_the_folder`), if the guide wrote it."""
    return _folder.get()


def in_folder(word: str) -> str:
    """The path a word names, in the folder commands are judged to run in (`in_the_folder`)."""
    folder = _folder.get()
    return posixpath.join(folder, word) if folder and not word.startswith("/") else word


@contextlib.contextmanager
def in_a_folder_a_value_gives() -> Iterator[None]:
    """Judge commands as running in a folder a value picked (`cd "$DIR" && ...`, a step's
    templated `cwd`): what a tool loads from where it runs is the value's to choose."""
    token = _moved_by_a_value.set(True)
    try:
        yield
    finally:
        _moved_by_a_value.reset(token)


# Tools that load, from the folder they run in, what runs programs as it is read
_FOLDER_RUNS = {
    "git": "its repository's configuration (core.fsmonitor, diff.external run programs)",
    "terraform": "the provider plugins in its .terraform folder",
    "knife": "its .chef/config.rb, Ruby run as it is read",
}


def database_clients(argv: Sequence[str]) -> list[int]:
    """Where in `argv` a database client (`DATABASE_CLIENTS`) starts: argv itself, or the
    command a wrapper or exec runs (`sudo -u postgres psql`, `kubectl exec POD -- mysql`), as
    the read-only reading finds it; for an ungated step to bring its read-only guard with it.
    Empty for a command not read-only."""
    found: list[list[str]] = []
    token = _clients.set(found)
    try:
        if not classify(argv).read:
            return []
    finally:
        _clients.reset(token)
    words = list(argv)
    return sorted({len(words) - len(inner) for inner in found
                   if inner == words[len(words) - len(inner):]})


# -- programs --------------------------------------------------------------------------------

_SYSTEM_DIRS = frozenset({"/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin",
                          "/usr/local/sbin", "/opt/gitlab/bin", "/opt/gitlab/embedded/bin"})
_PERSON = frozenset("""
bash sh zsh dash ksh fish su cd chroot exit logout most view vi vim
nvim nano emacs ed man telnet tmux screen gdb strace ltrace ftp sftp irb
""".split())
# they take no typed lines: keys on a full screen ("open `k9s`, type `:pods`, press `l`")
_LIVE_SCREENS = frozenset("watch htop iotop atop btop glances nmon iftop nethogs k9s ctop "
                          "lazydocker".split())
_SHELLS = frozenset("bash sh zsh dash ksh fish".split())
_PAGERS = frozenset("less more".split())  # read (no terminal: they print it all), see host.py
# `vault login`, `gcloud auth login`, `tsh login`: a login asks a person unless the line gives
# it what it would ask for (a token, a password on stdin, a service principal)
_LOGIN_TOOLS = frozenset("""vault docker podman buildah skopeo helm oc az gcloud aws gh tsh
argocd doctl heroku flyctl cf""".split())
_CREDENTIAL = frozenset({"--password-stdin", "-p", "--password", "--token", "--with-token",
                         "--service-principal", "--identity", "--cred-file",
                         "--identity-token", "--method", "-method", "--auth"})
_EDITORS = frozenset({"visudo", "vipw", "vigr", "sudoedit", "vidir", "edquota"})
_INTERPRETERS = frozenset("""
python python2 python3 perl ruby node nodejs php lua Rscript pwsh powershell deno bun tclsh
expect osascript
""".split())


# Where Nagios, Icinga and Naemon keep their check plugins: a `check_*` there only checks (the
# monitoring plugins' contract: look, print a status line, exit 0-3), but `check_by_ssh`, which
# runs whatever command it is given on the host
_PLUGIN_DIRS = frozenset({"/usr/lib/nagios/plugins", "/usr/lib64/nagios/plugins",
                          "/usr/lib/monitoring-plugins", "/usr/lib64/monitoring-plugins",
                          "/usr/local/nagios/libexec", "/usr/lib/naemon/plugins"})


def _check_plugin(word: str) -> bool:
    if isinstance(word, Templated) or not isinstance(word, str):
        return False
    directory, _, name = word.rpartition("/")
    return directory in _PLUGIN_DIRS and name.startswith("check_") and name != "check_by_ssh"


def _program(word: str) -> str:
    if isinstance(word, Templated):
        raise NotRead("the program's name comes from a value, not from the guide", cause="tool")
    if "/" not in word:
        return word
    directory, name = word.rsplit("/", 1)
    if directory not in _SYSTEM_DIRS:
        raise NotRead(f"{word} is a program given by its path, not the {name} the read-only "
                      "list knows", cause="tool")
    return name


def _logs_in(name: str, args: list[str]) -> bool:
    """Whether `name args` is an interactive login (`vault login`, `gcloud auth login`)."""
    if name not in _LOGIN_TOOLS:
        return False
    words = [a for a in args if not a.startswith("-")]
    at = next((k for k, w in enumerate(words[:2]) if w == "login"), None)
    if at is None or any(a.split("=", 1)[0] in _CREDENTIAL for a in args):
        return False
    # `vault login TOKEN`, `oc login URL --token=...`: a token on the line logs in unasked
    return not (name == "vault" and len(words) > at + 1)


# Opening the watchdog device arms it (`engine.effects.devices`); `ls -l /dev/watchdog` (a
# tool that only looks at names and inodes) does not.
NAMES_ONLY = frozenset("ls stat find realpath readlink basename dirname test [ du lsof "
                        "echo printf which".split())


# Flags naming the server a tool sends its token or password to (kubeconfig's bearer token,
# VAULT_TOKEN, CONSUL_HTTP_TOKEN, etcd's user): the guide may name one, a value may not.
_SERVER_FLAGS = {
    # (`--cluster`: which of the kubeconfig's clusters, whose server gets the current user's
    # token: a value may pair it with another's)
    **dict.fromkeys(("kubectl", "oc"), ("--server", "-s", "--cluster")),
    "virtctl": ("--server", "-s"),
    "helm": ("--kube-apiserver",), "flux": ("--server",),
    "argocd": ("--server",),  # the current context's token goes to the server named
    "vault": ("-address", "--address"), "consul": ("-http-addr", "--http-addr"),
    "nomad": ("-address", "--address"),  # NOMAD_TOKEN
    "supervisorctl": ("-s", "--serverurl"),  # its configuration's username and password
    "etcdctl": ("--endpoints",),
    # a database's or a broker's password (PGPASSWORD, ~/.pgpass's `*` lines, ~/.my.cnf,
    # REDISCLI_AUTH or `-a`, a nats context's credentials, mosquitto's `-P`, clouds.yaml's):
    # a server asks for it in clear (PostgreSQL's cleartext request, MySQL over TLS it offers
    # itself, Redis AUTH, MQTT and NATS CONNECT, Keystone's password body), and gets it
    **dict.fromkeys(("psql", "gitlab-psql", "mysql", "mariadb", "mysqladmin"), ("-h", "--host")),
    **dict.fromkeys(("redis-cli", "gitlab-redis-cli"), ("-h", "-u")),
    "nats": ("-s", "--server"), "mosquitto_sub": ("-h", "--host", "-L", "--url"),
    "openstack": ("--os-auth-url",),
}
# a server a tool sends credentials to only when the line gives them: the tool -> (the flags
# naming the server, the flags giving the credentials)
_SERVER_WITH_CREDENTIALS = {
    **{name: (("--bootstrap-server", "--bootstrap-controller"),
              ("--command-config", "--admin.config"))  # a SASL password in the properties
       for tool in ("kafka-topics", "kafka-consumer-groups", "kafka-configs", "kafka-log-dirs",
                    "kafka-acls", "kafka-broker-api-versions", "kafka-metadata-quorum")
       for name in (tool, f"{tool}.sh")},
    "helm": (("--repo",), ("--username", "--password", "--cert-file", "--key-file")),
}
_CURL_CREDENTIALS = frozenset({"--user", "--oauth2-bearer", "--cookie", "--aws-sigv4",
                               "--proxy-user", "--netrc", "--netrc-file", "--netrc-optional"})


def _picked_by_a_value(args: list[str], flags: tuple[str, ...]) -> str | None:
    """The templated word that gives one of `flags` its value (`--flag V`, `--flag=V`, `-sV`)."""
    for k, word in enumerate(args):
        if flags and any(word == f and k + 1 < len(args) and isinstance(args[k + 1], Templated)
                         for f in flags):
            return args[k + 1]
        if flags and isinstance(word, Templated) and word.startswith(flags) and \
                any(word[len(f):][:1] in ("=", "") or len(f) == 2 for f in flags
                    if word.startswith(f)):
            return word
    return None


# Flags naming a configuration that can run a program as it is read (a kubeconfig's exec
# credential plugin, haproxy's lua-load): the guide may name one, a value may not, or whoever
# writes the value picks the program a read runs.
_CONFIG_FLAGS = {
    **dict.fromkeys(("kubectl", "oc", "virtctl", "helm", "flux", "linkerd", "istioctl",
                     "linkerd-buoyant", "velero"),
                    (("--kubeconfig",), "a kubeconfig's exec plugin")),
    "haproxy": (("-f",), "its lua-load lines"),
    "terraform": (("-chdir",), "the provider plugins in its .terraform folder"),
    # the repository's .git/config: core.fsmonitor runs on `git status` and `git diff`,
    # diff.external and a textconv driver on `git diff`, `git log -p`, `git show`
    "git": (("-C", "--git-dir"), "its repository's core.fsmonitor, diff.external"),
}


def _relative_config(args: list[str], flags: tuple[str, ...]) -> str | None:
    """The relative path one of `flags` names (`-f haproxy.cfg`, `--kubeconfig=kc`)."""
    for k, word in enumerate(args):
        for flag in flags:
            if word == flag and k + 1 < len(args):
                path = args[k + 1]
            elif word.startswith(flag + "=") or (len(flag) == 2 and word.startswith(flag)
                                                 and len(word) > 2):
                path = word[len(flag):].removeprefix("=")
            else:
                continue
            if not path.startswith(("/", "~")):
                return path
    return None


def _server_from_a_value(name: str, args: list[str]) -> str | None:
    """The templated word that picks where `name` sends its credentials, if one does: a
    server flag's value, or (curl sending credentials) the host of a URL."""
    picked = _picked_by_a_value(args, _SERVER_FLAGS.get(name, ()))
    if picked is not None:
        return picked
    servers, credentials = _SERVER_WITH_CREDENTIALS.get(name, ((), ()))
    if any(w.split("=", 1)[0] in credentials for w in args):
        picked = _picked_by_a_value(args, servers)
        if picked is not None:
            return picked
    if name in ("psql", "gitlab-psql", "cqlsh"):
        return _host_operand_from_a_value(name, args)
    if name in ("redis-cli", "gitlab-redis-cli") and "--cluster" in args:
        at = args.index("--cluster")  # `--cluster check HOST:PORT`: the node it logs in to
        return next((w for w in args[at + 2:at + 3] if isinstance(w, Templated)), None)
    if name in ("curl", "wget"):  # `https://user:pw@{{ host }}/`, `...?token=...`
        carried = next((w for w in args if isinstance(w, Templated) and
                        _url_credentials(w.split("=", 1)[1] if w.startswith("--url=") else w)),
                       None)
        if carried is not None:
            return carried
    if name == "wget":
        return _wget_server_from_a_value(args)
    if name != "curl" or not any(_sends_credentials(w) for w in args):
        return None
    for k, word in enumerate(args):
        url = word.split("=", 1)[1] if word.startswith("--url=") else word
        if isinstance(word, Templated) and (not word.startswith("-") or
                                            word.startswith("--url=")) and \
                (k == 0 or args[k - 1] not in _CURL_VALUED) and _templated_host(url):
            return word
    return None


def _host_operand_from_a_value(name: str, args: list[str]) -> str | None:
    """A server a value names as an operand: cqlsh's HOST (its cqlshrc's password goes there),
    or psql's DBNAME (or `-d`) when the value is a connection string, `postgresql://HOST/db`
    or `host=...` (known once rendered: the runtime judges the value again)."""
    from engine.effects.services import CQLSH_FLAGS, PSQL_FLAGS

    try:
        parsed = parse(args, CQLSH_FLAGS if name == "cqlsh" else PSQL_FLAGS, name)
    except NotRead:
        return None  # the table refuses the line anyway
    if name == "cqlsh":
        return next((w for w in parsed.operands[:1] if isinstance(w, Templated)), None)
    words = parsed.operands[:1] + [w for k, w in enumerate(args) if k and
                                   args[k - 1] in ("-d", "--dbname")]
    words += [w for w in args if w.startswith("--dbname=")]
    return next((w for w in words if isinstance(w, Templated) and
                 ("://" in w or "=" in w.removeprefix("--dbname="))), None)


_WGET_CREDENTIALS = ("--user", "--password", "--http-user", "--http-password")
_WGET_VALUED = frozenset({"-O", "--output-document", "-T", "--timeout", "-t", "--tries", "-U",
                          "--user-agent", "--header", "--user", "--password",
                          "--ca-certificate"})


def _wget_server_from_a_value(args: list[str]) -> str | None:
    """wget sending credentials (`--user`/`--password`, an Authorization-like `--header`) to
    a URL whose host a value gives: that host gets them, as curl's would."""
    sends = any(w.split("=", 1)[0] in _WGET_CREDENTIALS for w in args) or any(
        _sends_credentials(header) for k, w in enumerate(args)
        for header in ([w.split("=", 1)[1]] if w.startswith("--header=") else
                       [args[k + 1]] if w == "--header" and k + 1 < len(args) else []))
    if not sends:
        return None
    return next((w for k, w in enumerate(args) if isinstance(w, Templated) and
                 not w.startswith("-") and (k == 0 or args[k - 1] not in _WGET_VALUED) and
                 _templated_host(w)), None)


_CURL_VALUED = frozenset({"-H", "--header", "-d", "--data", "-o", "-w", "-X", "-u", "--user",
                          "-b", "--cookie", "-e", "-A", "-m", "--max-time", "--data-urlencode"})


def _sends_credentials(word: str) -> bool:
    """-u/--user, -b/--cookie, a bearer, a netrc, or an Authorization-like header."""
    if word.startswith("--"):
        return word.split("=", 1)[0] in _CURL_CREDENTIALS
    if word.startswith("-"):  # a bundle of short flags: -u, -b, -U or -n among them
        return any(c in "ubUn" for c in word[1:])
    return word.lower().lstrip().startswith(("authorization:", "cookie:", "x-vault-token:",
                                             "private-token:", "x-api-key:", "api-key:"))


_QUERY_CREDENTIAL = re.compile(r"[?&][^=&#]*(?:token|key|secret|pass|auth|sig|session)[^=&#]*=",
                               re.IGNORECASE)


def _url_credentials(url: str) -> bool:
    """A URL whose host a value gives and that carries credentials itself: a user and
    password before the host (curl and wget send them as Basic auth), or a token, key or
    signature in its query."""
    if url.startswith("-") or not _templated_host(url):
        return False
    rest = url.split("://", 1)[1] if "://" in url else url
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    return "@" in authority.split("{{", 1)[0].split("$", 1)[0] or \
        bool(_QUERY_CREDENTIAL.search(url))


def _templated_host(url: str) -> bool:
    rest = url.split("://", 1)[1] if "://" in url else url
    host = rest.split("/", 1)[0].split("?", 1)[0]
    return any(mark in host for mark in ("{{", "$", "<"))


def _opens_watchdog(argv: list[str], fed: Sequence[str] = ()) -> str | None:
    """The file that acts which `argv` may open: a path among its words, or among what a
    command substitution in a word (or a stage before an `xargs`: `fed`) prints."""
    name = argv[0].rsplit("/", 1)[-1]
    if name in NAMES_ONLY or name == "file" and not {"-s", "--special-files"} & set(argv):
        return None
    folder = _folder.get()
    found = next((in_folder(path) for w in argv[1:] if "/" in w or folder
                  for path in _paths_in(w) if arms(in_folder(path))), None)
    if found is not None:
        return found
    printed = [word for w in argv[1:] if isinstance(w, Templated) for word in _printed_in(w)]
    return next((f"{device}{_PRINTED}{word}" for word in [*printed, *fed]
                 if "/" in word and (device := listed(in_folder(word))) is not None), None)


_PRINTED = " | printed from "


def _armed(found: str) -> str:
    """The refusal for what `_opens_watchdog` found: a path, or a device a command was
    handed by what another printed."""
    device, _, word = found.partition(_PRINTED)
    said = arming(device)
    return f"{said} (the command is handed what {word} names or lists)" if word else said


# what bash expands in a word: a command substitution, a parameter, a value of the plan
_EXPANSION = re.compile(r"\$\((?:[^()]|\([^()]*\))*\)|`[^`]*`|\$\{[^}]*\}|\$\w+|\{\{.*?\}\}")
_SUBSTITUTION = re.compile(r"\$\(((?:[^()]|\([^()]*\))*)\)|`([^`]*)`")
_NOT_A_PATH = re.compile(r"[\s'\"();|&<>`$=]+")


def _paths_in(word: str) -> list[str]:
    """The path a word names: itself, a `--flag=PATH`'s, or a short flag's attached value
    (`-f/dev/watchdog`, `-ef/dev/x`: from the first `/` of a word of flags). A word that
    expands in a folder that holds a device is judged as the glob of what its expansions may
    be (`/dev/$(echo watchdog)`, `/dev/${X:-watchdog}` are `/dev/*`)."""
    paths = [word.split("=", 1)[-1]]
    if word.startswith("-") and "/" in word:
        paths.append(word[word.index("/"):])
    if isinstance(word, Templated) and _EXPANSION.search(word):
        paths += [glob for path in paths if (glob := _EXPANSION.sub("*", path)) != path and
                  listed(glob.split("*", 1)[0] or "/") is not None]
    return paths


def _printed_in(word: str) -> list[str]:
    """The path words written inside a word's command substitutions: what it may print
    (`$(echo /dev/watchdog)`, `$(find /dev -name 'watch*')`) is what the command opens."""
    return [piece for m in _SUBSTITUTION.finditer(word)
            for piece in _NOT_A_PATH.split(m.group(1) or m.group(2) or "") if "/" in piece]


def _printed_credentials(argv: list[str], fed: Sequence[str] = ()) -> str | None:
    """Why `argv` opens a file that holds credentials which a command substitution in a word
    (`cat $(echo /etc/shadow)`) or a stage before an xargs (`echo ~/.aws/credentials | xargs
    cat`) names or lists (`find /etc | xargs cat`), as `_opens_watchdog` finds a device."""
    name = argv[0].rsplit("/", 1)[-1]
    if name in NAMES_ONLY:
        return None
    printed = [word for w in argv[1:] if isinstance(w, Templated) for word in _printed_in(w)]
    for word in [*printed, *fed]:
        path = in_folder(word)
        if holds_credentials(path) or holds_credentials_beneath(path):
            return (f"{name} is handed what {word} names or lists, and {credential_reason(word)}")
    return None


def _fed(stages: Sequence[Sequence[str]]) -> list[str]:
    """The path words the stages print (`find /dev | xargs cat`): what an xargs after them
    hands its command."""
    return [piece for stage in stages for word in stage[1:]
            for piece in [word, *_printed_in(word)] if "/" in piece]


def _judge(argv: list[str]) -> None:
    if not argv:
        raise NotRead("an empty command", cause="tool")
    base = argv[0].rsplit("/", 1)[-1] if isinstance(argv[0], str) and \
        not isinstance(argv[0], Templated) else ""
    if base in _EDITORS or base.endswith("-edit"):  # bin/gkms-vault-edit: wherever it lives
        raise NotRead(f"{base} {EDITOR}", cause="interactive", effect="interactive")
    if _check_plugin(argv[0]):
        return
    name, args = _program(argv[0]), argv[1:]
    wrapper = _WRAPPERS.get(name)
    if wrapper is not None:
        wrapper(name, args)
        return
    if name in _EXEC_TOOLS and _exec(name, args):
        return
    if name in _SHELLS and ("-c" in args or any(not a.startswith("-") for a in args)):
        # `sh wraparound.sh -p 95`, `sudo sh -c "echo 80 > /proc/..."`: a script runs, and a
        # script is never read-only; a bare `sh` or `bash -l` is a person's terminal
        raise NotRead(f"{name} runs a script, and a script is never read-only", cause="tool")
    if name in _PERSON:
        raise NotRead(f"{name} needs a person at a terminal", cause="interactive",
                      effect="interactive")
    if name in _LIVE_SCREENS:
        raise NotRead(f"{name} is a live screen {UNTIL_STOPPED}: a person's job",
                      cause="interactive", effect="interactive")
    if _logs_in(name, args):
        raise NotRead(f"a {name} {LOGIN}",
                      cause="interactive", effect="interactive")
    if name == "vault" and [a for a in args if not a.startswith("-")] == ["operator", "unseal"]:
        # `vault operator unseal` with no key: it asks a key holder for theirs, hidden
        raise NotRead(f"{name} operator unseal asks a key holder for an unseal key",
                      cause="interactive", effect="interactive")
    if name == "crontab" and "-e" in args:
        raise NotRead(f"{name} {EDITOR}", cause="interactive", effect="interactive")
    if name in _INTERPRETERS:
        raise NotRead(f"{name} runs a program, and a script is never read-only", cause="tool")
    if name in ("gitlab-rails", "rails"):
        if args[:1] in (["console"], ["c"], ["dbconsole"], ["db"]):
            raise NotRead(f"{name} {args[0]} opens a console: a person's job",
                          cause="interactive", effect="interactive")
        raise NotRead(f"{name} runs Ruby code, and a script is never read-only", cause="tool")
    _container_environment(name, args)
    if name in _KLOG and (loud := logged_bodies(name, args)) is not None:
        raise NotRead(loud, cause="flag")
    rule = TABLE.get(name)
    if rule is None:
        raise NotRead(f"{name} is not on the read-only list", cause="tool")
    armed = _opens_watchdog(argv)
    if armed is not None:
        raise NotRead(_armed(armed), cause="operand")
    held = _printed_credentials(argv)
    if held is not None:
        raise NotRead(held, cause="operand")
    chosen = _server_from_a_value(name, args)
    if chosen is not None:
        raise NotRead(f"a value ({chosen}) picks the server that {name} sends its credentials "
                      "to", cause="operand")
    config, runs = _CONFIG_FLAGS.get(name, ((), ""))
    chosen = _picked_by_a_value(args, config)
    if chosen is not None:
        raise NotRead(f"a value ({chosen}) picks the configuration {name} reads, and what it "
                      f"says runs as it is read ({runs})", cause="operand")
    if _moved_by_a_value.get():
        if name in _FOLDER_RUNS:
            raise NotRead(f"{name} runs in a folder a value picked, and loads from it "
                          f"{_FOLDER_RUNS[name]}", cause="operand")
        relative = _relative_config(args, config)
        if relative is not None:
            raise NotRead(f"{name} reads {relative} from a folder a value picked, and what "
                          f"it says runs as it is read ({runs})", cause="operand")
    if name in DATABASE_CLIENTS:
        if _remote.get():  # its read-only guard is a word of argv or the environment
            raise NotRead(f"{name} on another host cannot be held to a read-only session "
                          "(the guard an ungated step gives it does not reach there)",
                          cause="wrapper")
        if (found := _clients.get()) is not None:
            found.append(argv)
    if isinstance(rule, Tool):
        judge(name, rule, args)
    else:
        rule(name, args)
    if name not in NAMES_ONLY and (opened := opened_credentials(args, _folder.get() or "")) \
            is not None and not _its_own(name, opened) and \
            not (name in DEVICE_INFO and reads_a_disk(opened)):
        raise NotRead(credential_reason(opened), cause="operand")
    if isinstance(rule, Tool) and (above := _recursed_above(name, rule, args)) is not None:
        raise NotRead(f"{name} reads every file beneath {above}, the credentials kept there "
                      "among them (a password, a token or a private key): not a read to keep",
                      cause="operand")


# Tools that, handed a disk or a volume (`df -h /dev/sdb`, `smartctl -a /dev/nvme0n1`, `lsblk
# /dev/sda`, `mdadm --detail /dev/md0`), say what it is (its size, health, filesystem, members),
# never what its blocks hold; every other tool handed one reads its blocks
# (`engine.effects.credentials`: `strings /dev/sda` prints every file on it)
DEVICE_INFO = frozenset("df lsblk smartctl findmnt file mdadm pvs pvdisplay lvs lvdisplay vgs "
                         "vgdisplay multipath mount iostat lsof zpool zfs".split())


# A tool handed its own kind of file, which it shows as it should: terraform a state, whose
# sensitive values `show` and `state show` redact (its `-json` and `output -raw`, which do not,
# are gated by its row); `cat terraform.tfstate` prints them in clear
_OWN_FILES = {"terraform": re.compile(r"\.tfstate(?:\.backup)?$")}


def _its_own(name: str, opened: str) -> bool:
    own = _OWN_FILES.get(name)
    return own is not None and own.search(opened.rpartition("=")[2]) is not None


# Tools that open every file beneath a folder they are given, by the flags that say so
_RECURSES = {"grep": ("-r", "-R", "--recursive", "--dereference-recursive"),
             "diff": ("-r", "--recursive")}
_RECURSES.update(dict.fromkeys(("egrep", "fgrep", "zgrep"), _RECURSES["grep"]))


def _recursed_above(name: str, rule: Tool, args: list[str]) -> str | None:
    """The folder above a place that holds credentials (`engine.effects.credentials`) that a
    recursive grep or diff reads every file of (`grep -r . /etc`, `cd ~ && grep -r x .`)."""
    if name not in _RECURSES:
        return None
    p = parse(args, rule.flags, name)
    if not p.has(*_RECURSES[name]) and "recurse" not in p.values("-d", "--directories"):
        return None
    folders = p.operands
    if name != "diff" and not p.has("-e", "--regexp", "-f", "--file"):
        folders = folders[1:]
    for word in folders or ["."]:
        if holds_credentials_beneath(in_folder(word)):
            return word
    return None


# -- wrappers: the command they run is what is judged ---------------------------------------------

_SUDO = F("EHnPSkVlu:g:C:p:r:t:T:D:U:is", """preserve-env=? set-home non-interactive
    preserve-groups stdin reset-timestamp user= group= close-from= prompt= role= type=
    command-timeout= chdir= other-user= list login shell""", posix=True, why={
    # `sudo -h HOST CMD`: sudo takes the word after a bare -h as the host, where getopt
    # would take it as the command (`sudo -h host rm x` would be judged as `host`)
    "-h": "names a host to run the command on", "--host": "names a host to run the command on",
    "-e": "edits files", "--edit": "edits files", "-b": "runs the command in the background",
    "--background": "runs the command in the background", "-A": "runs an askpass program",
    "-R": "runs in another root directory", "--chroot": "runs in another root directory"})


def _sudo(name: str, args: list[str]) -> None:
    p = parse(args, _SUDO, name)
    if not p.operands:
        if p.has("-l", "--list", "-V"):
            return
        raise NotRead(f"{name} with no command opens a root shell: a person's job",
                      cause="interactive", effect="interactive")
    if "=" in p.operands[0]:
        raise NotRead(f"{name} {p.operands[0]} sets the environment of the command it runs",
                      cause="wrapper")
    head = args[:len(args) - len(p.operands)]
    token = _logged_in.set(_logged_in.get() or p.has("-i", "--login"))
    try:
        if _picked_by_a_value(head, ("-D", "--chdir")) is not None:
            with in_a_folder_a_value_gives():  # `sudo -D {{ inputs.dir }} git status`
                _judge(p.operands)
            return
        _judge(p.operands)
    finally:
        _logged_in.reset(token)


def _inner(flags: Flags, skip: int = 0) -> Grammar:
    """A wrapper that takes flags, `skip` operands of its own, then the command it runs."""
    def wrapper(name: str, args: list[str]) -> None:
        p = parse(args, flags, name)
        if len(p.operands) <= skip:
            raise NotRead(f"{name} names no command to run", cause="wrapper")
        _judge(p.operands[skip:])
    return wrapper


_XARGS = F("0a:d:E:e::I:i::L:l::n:P:rs:tx", """null arg-file= delimiter= eof=? replace=?
    max-lines=? max-args= max-procs= no-run-if-empty max-chars= verbose exit""",
    posix=True, why={
    "--process-slot-var": "sets an environment variable of the command it runs (zgrep runs "
    "the program $GREP names)",
    "-p": "asks a person before each command", "--interactive": "asks a person before each "
    "command", "-o": "gives the command the terminal", "--open-tty": "gives the command the "
    "terminal"})


def _xargs(name: str, args: list[str]) -> None:
    p = parse(args, _XARGS, name)
    for listed_file in p.values("-a", "--arg-file"):  # its words go to the command: printed
        if holds_credentials(in_folder(listed_file)):
            raise NotRead(f"{name} -a {listed_file}: {credential_reason(listed_file)}",
                          cause="operand")
    inner = p.operands or ["echo"]
    _judge(inner)
    tool = _program(inner[0])
    rule = TABLE.get(tool)
    if tool not in APPENDABLE and not (isinstance(rule, Tool) and rule.any_args):
        raise NotRead(f"{name} adds words read at run time to {tool}, and a word such as "
                      f"-delete can make it write", cause="wrapper")


_SSH = F("46CqTtvnyfNMb:c:i:J:l:m:o:p:L:R:D:W:w:S:O:", posix=True, why={
    "-E": "writes a log file", "-F": "reads a configuration that can run commands "
    "(ProxyCommand)", "-X": "forwards X11", "-Y": "forwards X11", "-A": "forwards the agent",
    "-G": "prints a configuration"})
_TUNNEL = ("-L", "-R", "-D", "-W", "-w", "-N")
_SSH_OPTIONS = frozenset(o.lower() for o in """ConnectTimeout BatchMode LogLevel Port User
    IdentityFile IdentitiesOnly ServerAliveInterval ServerAliveCountMax ConnectionAttempts
    StrictHostKeyChecking UserKnownHostsFile Compression HostKeyAlgorithms
    PubkeyAcceptedKeyTypes PubkeyAcceptedAlgorithms PreferredAuthentications
    PasswordAuthentication AddressFamily CheckHostIP HashKnownHosts""".split())
_REMOTE_SEPARATORS = frozenset({";", "&&", "||", "|"})
_REMOTE_EXPANDS = set("$`*?[]{}~\\!#\n")


def _ssh(name: str, args: list[str]) -> None:
    p = parse(args, _SSH, name)
    tunnel = next((f for f, _ in p.flags if f in _TUNNEL), None)
    if tunnel:
        raise NotRead(f"{name} {tunnel} holds a tunnel open: a person's job",
                      cause="interactive", effect="interactive")
    if p.has("-f", "-M", "-S", "-O"):
        raise NotRead(f"{name} -f, -M, -S or -O leaves or controls a connection in the "
                      "background", cause="flag")
    for option in p.values("-o"):
        key = option.replace("=", " ").split(" ", 1)[0].strip().lower()
        if key not in _SSH_OPTIONS:
            raise NotRead(f"{name} -o {key} is not a read-only ssh option (ProxyCommand and "
                          "LocalCommand run programs)", cause="flag")
    remote_words = p.operands[1:]
    if remote_words[:1] == ["--"]:  # `ssh HOST -- CMD`: ssh's getopt ends its flags there
        remote_words = remote_words[1:]
    if not remote_words:
        raise NotRead(f"{name} with no remote command opens a shell: a person's job",
                      cause="interactive", effect="interactive")
    remote = " ".join(remote_words)
    forced = sum(1 for f, _ in p.flags if f == "-t") > 1  # -tt: a terminal even for a step
    token = _remote.set(True)
    try:
        _ssh_pipelines(name, remote, forced)
    finally:
        _remote.reset(token)


def _ssh_pipelines(name: str, remote: str, forced: bool) -> None:
    for pipeline in _remote_pipelines(remote, name):
        if forced and any(stage and stage[0].rsplit("/", 1)[-1] in _PAGERS
                          for stage in pipeline):
            raise NotRead(f"{name} -tt gives the remote pager a terminal: it waits for a person",
                          cause="interactive", effect="interactive")
        verdict = classify_pipeline(pipeline)
        if not verdict.read:
            raise NotRead(f"{name}'s remote command: {verdict.reason}", cause=verdict.cause or
                          "wrapper", effect=verdict.effect)


def _remote_pipelines(text: str, name: str) -> list[list[list[str]]]:
    """The remote shell's reading of `text`, when it is plain words, pipes and sequences."""
    if _REMOTE_EXPANDS & set(text):
        raise NotRead(f"{name}'s remote command holds characters its shell expands "
                      "($, globs, quotes escapes)", cause="wrapper")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    pipelines: list[list[list[str]]] = [[[]]]
    try:
        tokens = list(lexer)
    except ValueError:
        raise NotRead(f"{name}'s remote command has an unclosed quote", cause="wrapper") from None
    for token in tokens:
        if token in _REMOTE_SEPARATORS:
            if token == "|":
                pipelines[-1].append([])
            else:
                pipelines.append([[]])
        elif token and set(token) <= set(";&|<>()"):
            raise NotRead(f"{name}'s remote command uses shell redirection or grouping "
                          f"({token})", cause="wrapper")
        else:
            pipelines[-1][-1].append(token)
    if any(not stage for pipeline in pipelines for stage in pipeline):
        raise NotRead(f"{name}'s remote command has an empty part", cause="wrapper")
    return pipelines


# Ansible's ad-hoc command: `ansible web -b -m shell -a 'df -h /var'` runs one module on each
# host of the pattern. It reads when the module only gathers (`ping`, `setup`, the `*_facts`)
# or runs a command (`command`, the default; `shell`; `raw`) that the table reads.
_ANSIBLE = F("m:a:i:l:u:bf:oT:vC", """module-name= args= inventory= inventory-file= limit= user=
    become become-user= become-method= forks= one-line timeout= verbose private-key= key-file=
    connection= check diff list-hosts playbook-dir= vault-id= vault-password-file=""",
             why={"-k": "asks a person for the ssh password",
                  "--ask-pass": "asks a person for the ssh password",
                  "-K": "asks a person for the become password",
                  "--ask-become-pass": "asks a person for the become password",
                  "-t": "writes each host's output to a directory",
                  "--tree": "writes each host's output to a directory",
                  "-e": "sets variables a module can act on",
                  "--extra-vars": "sets variables a module can act on"})
_ANSIBLE_GATHER = frozenset({"ping", "setup", "gather_facts", "service_facts", "package_facts",
                             "ansible.builtin.ping", "ansible.builtin.setup",
                             "ansible.builtin.gather_facts", "ansible.builtin.service_facts",
                             "ansible.builtin.package_facts"})
_ANSIBLE_RUN = frozenset({"command", "shell", "raw", "ansible.builtin.command",
                          "ansible.builtin.shell", "ansible.builtin.raw"})


def _ansible(name: str, args: list[str]) -> None:
    p = parse(args, _ANSIBLE, name)
    if len(p.operands) != 1:
        raise NotRead(f"{name} takes one host pattern", cause="wrapper")
    modules = p.values("-m") + p.values("--module-name")
    module = modules[-1] if modules else "command"
    given = p.values("-a") + p.values("--args")
    if module in _ANSIBLE_GATHER and not given:
        return
    if module not in _ANSIBLE_RUN:
        raise NotRead(f"{name} -m {module} is not a module that only reads", cause="subcommand")
    if not given:
        raise NotRead(f"{name} -m {module} names no command to run", cause="wrapper")
    token = _remote.set(True)
    try:
        _ssh_pipelines(f"{name} -m {module}", given[-1], forced=False)
    finally:
        _remote.reset(token)


# Salt's remote execution: `salt 'osd-*' cmd.run 'chronyc tracking'` runs one function on each
# minion the target matches (`salt-call` on this one). It reads when the function only gathers
# (`test.ping`, `grains.get`, `service.status`, ...), runs a command the table reads
# (`cmd.run`), or applies states as a dry run (`state.apply chrony test=True`). `pillar.*`
# prints the minion's secrets: never listed.
_SALT = F("CEGILNSRt:b:l:v", """compound pcre grain list nodegroup pillar ipcidr range
    timeout= batch-size= batch= log-level= out= output= out-indent= output-indent= static
    verbose hide-timeout state-output= state-verbose= no-color force-color""",
          why={"--async": "starts the job and does not wait to show what it did",
               "-a": "chooses how the minions are reached (an eauth login asks a person)",
               "--eauth": "logs in, asking a person for a password"})
_SALT_GATHER = frozenset("""test.ping test.version test.versions_report grains.items grains.get
    grains.item grains.ls service.status service.available service.get_all service.enabled
    status.uptime status.loadavg status.diskusage status.meminfo status.cpuinfo disk.usage
    disk.inodeusage pkg.version pkg.list_pkgs network.interfaces network.ip_addrs
    network.ping network.netstat saltutil.running state.show_sls state.show_highstate
    state.show_top sys.doc sys.list_functions ntp.stats""".split())
_SALT_RUN = frozenset("cmd.run cmd.run_all cmd.run_stdout".split())
_SALT_STATES = frozenset("state.apply state.sls state.highstate".split())


def _salt(name: str, args: list[str]) -> None:
    p = parse(args, _SALT, name)
    words = p.operands if name == "salt-call" else p.operands[1:]
    if name != "salt-call" and not p.operands:
        raise NotRead(f"{name} names no target", cause="wrapper")
    if not words:
        raise NotRead(f"{name} names no function to run", cause="wrapper")
    function, rest = words[0], words[1:]
    if function in _SALT_GATHER:
        return
    if function in _SALT_STATES and "test=True" in rest:
        return  # a dry run: what the states would change, nothing changed
    if function not in _SALT_RUN:
        raise NotRead(f"{name} {function} is not a function that only reads", cause="subcommand")
    if len(rest) != 1:
        raise NotRead(f"{name} {function} takes the command as one word", cause="wrapper")
    token = _remote.set(True)
    try:
        _ssh_pipelines(f"{name} {function}", rest[0], forced=False)
    finally:
        _remote.reset(token)


_WRAPPERS: dict[str, Grammar] = {
    "salt": _salt,
    "salt-call": _salt,
    "ansible": _ansible,
    "sudo": _sudo,
    "timeout": _inner(F("k:s:v", "kill-after= signal= preserve-status foreground verbose",
                        posix=True), skip=1),
    "nice": _inner(F("n:", "adjustment=", posix=True, numeric=True)),
    "nohup": _inner(F("", posix=True)),
    "time": _inner(F("pvqf:", "portability verbose quiet format=", posix=True,
                     why={"-o": "writes a file", "--output": "writes a file"})),
    "stdbuf": _inner(F("i:o:e:", "input= output= error=", posix=True)),
    "ionice": _inner(F("c:n:tu:", "class= classdata= ignore", posix=True,
                       why={"-p": "changes another process", "-P": "changes other processes"})),
    "xargs": _xargs,
    "ssh": _ssh,
}

# -- `exec` subcommands: the command after `--` (or after the container) is judged ------------

_EXEC_TOOLS = {
    "kubectl": ("n:s:v:", "namespace= context= kubeconfig= cluster= user= server= as= token= "
                "request-timeout= insecure-skip-tls-verify", "c:f:", "container= filename= "
                "pod-running-timeout= quiet q"),
    "docker": ("H:c:l:D", "host= context= config= log-level= tls tlsverify debug", "u:w:",
               "user= workdir="),
    "crictl": ("r:i:t:D", "runtime-endpoint= image-endpoint= timeout= debug config=", "s",
               "sync timeout="),
}
_EXEC_TOOLS.update({"oc": _EXEC_TOOLS["kubectl"], "podman": _EXEC_TOOLS["docker"],
                    "nerdctl": _EXEC_TOOLS["docker"]})
_TTY = ("-i", "-t", "--stdin", "--tty", "--interactive")


@functools.cache
def _exec_flags(name: str) -> tuple[Flags, Flags]:
    """`name`'s global flags (before `exec`) and its exec flags, built once per tool."""
    global_short, global_long, exec_short, exec_long = _EXEC_TOOLS[name]
    kube = name in ("kubectl", "oc")
    head = F(global_short, global_long, posix=True)
    own = F(exec_short + "it" + (global_short if kube else ""), exec_long +
            " stdin tty interactive" + (" " + global_long if kube else ""), go=kube,
            posix=not kube, why={
                "-e": "sets the environment of the command", "--env": "sets the environment "
                "of the command", "-d": "runs in the background", "--detach": "runs in the "
                "background", "--privileged": "runs with every privilege"})
    return head, own


def _exec(name: str, args: list[str]) -> bool:
    """Judge `name exec ... -- cmd` by cmd; False if it is not an exec command."""
    kube = name in ("kubectl", "oc")
    head_flags, flags = _exec_flags(name)
    try:
        head = parse(args, head_flags, name, stop_at_operand=True)
    except NotRead:
        return False  # not an exec this reading knows: the table judges it
    if head.operands[:1] != ["exec"]:
        return False
    rest = head.operands[1:]
    if kube and "--" not in rest:
        raise NotRead(f"{name} exec without `--` runs a session: a person's job",
                      cause="interactive", effect="interactive")
    if kube:
        cut = rest.index("--")
        own, inner = parse(rest[:cut], flags, f"{name} exec"), rest[cut + 1:]
    else:
        own = parse(rest, flags, f"{name} exec")
        inner = own.operands[1:]
    # kubectl and oc drop the terminal when their input is not one ("Unable to use a TTY"), and
    # a step's input is never a terminal: `kubectl exec -it POD -- df -h` runs df like `exec POD
    # -- df -h` does, so it is judged by df (a shell or console after `--` is still a person's).
    # docker, podman and crictl refuse `-t` without a terminal: there it stays a person's.
    if own.has(*_TTY) and not kube:
        raise NotRead(f"{name} exec -it opens a terminal session: a person's job",
                      cause="interactive", effect="interactive")
    if not inner:
        raise NotRead(f"{name} exec names no command", cause="wrapper")
    token = _in_container.set(name)
    try:
        _judge(inner)
    finally:
        _in_container.reset(token)
    return True


_KLOG = frozenset({"kubectl", "oc", "virtctl"})  # klog's -v: from 8 on, the API's answers


def _container_environment(name: str, args: list[str]) -> None:
    """`env` or `printenv` run where the environment is not the runner's, however wrapped:
    inside a container (`kubectl exec P -- sudo env`, `docker exec C nice printenv`), whose
    environment holds the Secrets injected into it (secretKeyRef, envFrom, --env-file); on
    another host (`ssh HOST env`, ansible's and salt's commands), or in another user's login
    (`sudo -i env`), whose environment is what that user's profile exports (a cloud's keys, a
    token). No redactor knows those; the runner's own are redacted (`timeout 5 printenv`)."""
    tool = _in_container.get()
    if tool is None and not _remote.get() and not _logged_in.get():
        return
    if name == "printenv" or name == "env" and all(
            "=" in w or w.startswith("-") for w in args):
        if tool is not None:
            raise NotRead(f"{tool} exec {name} prints the container's environment, the "
                          "secrets injected into it among it: not a read to keep",
                          cause="wrapper")
        where = "another host's" if _remote.get() else "another user's login"
        raise NotRead(f"{name} prints {where} environment, not the runner's (what a profile "
                      "exports, a token or a cloud's keys among it): not a read to keep",
                      cause="wrapper")
