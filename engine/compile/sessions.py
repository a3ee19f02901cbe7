"""Commands a guide runs inside a session it opened: they run there, never on this machine.

A guide that says `oc debug node/X`, then `chroot /host`, then `crictl ps` means crictl to run
on the node; `ssh host` then `journalctl -u kubelet` means journalctl on that host; `kubectl
exec -it POD -- bash` (or `oc rsh POD`) then `ceph status` means ceph in the pod; `sudo -i`
then `docker ps` means docker as root. A session lasts until `exit` (or `logout`), until a
new session, until the section ends, or until a line is typed at the opener's prompt again
after the session's lines showed another one (`$ docker run -it img sh`, `# git clone ..`,
then `$ docker-machine rm`: back on the machine that opened it). A workstation tool (`oc`,
`kubectl`, `gcloud` ...) between a session's commands runs here and leaves the session open:
`kubectl top nodes`, then `sensors`, after `kubectl debug node/X` reads the node's sensors.
A session on another machine or in a container that the guide never left (`ssh node` in
"## Diagnosis", no `exit`) makes a later section's lines a person's (`SessionReader._carried`):
`systemctl restart kubelet` under "## Mitigation" means some machine the guide does not name,
most likely the node, never surely this one.

Each command of a session becomes one non-interactive step where the session's tool has a
form for it, the command given as argv words (never text for a local shell):

    oc debug node/X [+ chroot /host]   oc debug node/X -- [chroot /host] CMD
    oc rsh POD, kubectl|oc exec -it    kubectl|oc exec POD -- CMD
      POD -- bash
    docker|podman|crictl exec -it      docker|podman|crictl exec C CMD
      C bash                             (`docker exec -it C CMD` alone: `without_terminal`)
    nsenter -t PID -n [-- sh],         nsenter -t PID -n CMD, ip netns exec NS CMD,
      ip netns exec NS bash,             lxc exec C -- CMD
      lxc|incus exec C -- bash
    ssh HOST                           ssh HOST -- 'CMD'   (the guide's literal text: the remote
                                                            shell splits it; no values in it)
    ssh HOST + sudo -i                 ssh HOST -- sudo 'CMD'
    sudo -i, sudo su [-] [USER]        sudo [-u USER] CMD
    docker|podman run -it IMG sh,      (none: each run is a new container or pod; a person's
      kubectl run -it -- sh,            session, one manual step holding its lines)
      machinectl shell U@, su [U],
      aws ssm start-session, gcloud
      compute ssh, az ssh vm, virtctl
      console (a cloud CLI's remote shell),
      docker compose exec S sh, vagrant
      ssh, virsh console VM, tsh ssh H,
      mosh H, multipass|incus shell X,
      docker run -it IMG, kubectl run -it
      --image=IMG (no command: the image's
      shell), kubectl node-shell N,
      runuser -l U, heroku run bash, fly
      ssh console, cf ssh, eb ssh
    [sudo] psql|gitlab-psql ARGS       [sudo] psql ARGS -c STATEMENT [-c STATEMENT ...]
    mysql|mariadb ARGS                 mysql ARGS -e STATEMENT
    clickhouse-client ARGS             clickhouse-client ARGS --query STATEMENT
    [sudo] [gitlab-]redis-cli ARGS     redis-cli ARGS WORDS...   (`> slowlog get 10`)

A database console's statement is the guide's literal text, up to its `;` (it may span lines,
after continuation prompts `db-# `); the console's printed lines (`(1 row)`, `OK`, `1) "x"`)
never run. psql's display toggles (`\\x`, `\\timing`) go with the statements after them
(`-c '\\x' -c STATEMENT`). A statement with a value to fill in (`<pid>`, `$VAR`, `{x}`), a
meta-command only a person runs (`\\!`, `\\e`, `\\o`, `\\copy`), a change of the session's
state (`BEGIN`, `SET`, `\\c db`, `USE db`, redis `SELECT 2`: what follows depends on it), an
opener that asks for a password (`mysql -p`, `psql -W`), or a console opened over ssh (its
statement would be text spliced into the remote shell) is a person's. The first statement's
step says the opener's lines and the statement; later ones say the statement; each spans
from the opener.

The wrapped argv goes through the read-only table like any other (`engine.effects`): a session
whose wrapper is not read-only (`oc debug` starts a pod) is gated whatever it runs. Only a
pipeline's first stage runs in the session; later stages run here, so they must be filters of
what it prints (grep, head, sort ... reading no file). Any other session (`kubectl debug`,
`toolbox`, `mongo`, `gdb`, `gitlab-rails console`, a shell state change such as `cd` or `export`
inside a session, a value spliced into the remote shell's text) is one manual step holding the
session's script. It does not parse shell syntax (`engine.compile.shellwords`) or judge effects.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from engine import placement
from engine.compile import placeholders
from engine.compile.nodes import WHERE_UNSAID, Action
from engine.compile.phrases import may_guard
from engine.compile.shellwords import Parsed, Word, parse_line
from engine.effects import Templated, classify, classify_pipeline, looks_like_command
from engine.effects.options import NotRead, parse
from engine.effects.rules import Tool
from engine.effects.services import _REDIS_READ, _REDIS_READ_SUBS
from engine.effects.table import TABLE
from engine.plan import Span, StepKind
from engine.templating import is_template, literal

if TYPE_CHECKING:
    from engine.compile.blocks import CommandLine
    from engine.compile.outline import _OutlineBuilder
    from engine.compile.phrases import SectionClass
    from engine.guide import Element

Opened = tuple[list[Word] | None, dict[str, Any]]
"""What opens a session: its opener's words (None: a console of its own) and its params."""

_TTY = frozenset({"-i", "-t", "-it", "-ti", "--stdin", "--tty", "--stdin=true", "--tty=true",
                  "--interactive", "--interactive=true"})
_SHELLS = frozenset({"sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/bash", "zsh", "ash"})
_WORKSTATION = frozenset("""oc kubectl ocm virtctl knife gcloud gsutil aws az scp helm firefox
open xdg-open ansible ansible-playbook pdsh clush salt pssh parallel-ssh openstack nova""".split())
# words before the tool that leave the tool the same: `bundle exec knife ssh ...`, `sudo aws`
_LEADS = ("bundle exec ", "sudo ", "env ", "command ")
_CLOSE = frozenset({"exit", "logout", "\\q", "quit", "exit;", "quit;"})
# an interactive program whose lines follow it in the guide: a session with no form to run them
_CONSOLES = frozenset("""psql gitlab-psql mysql mariadb redis-cli mongo mongosh sqlite3 toolbox
clickhouse-client cqlsh gitlab-rails rails irb gitlab-redis-cli gdb lldb dlv cockroach
zkCli.sh zookeeper-shell zookeeper-shell.sh tmsh vtysh clish imish""".split())
# a network device's own shell, entered with no arguments (`tmsh` on a BIG-IP, `vtysh` on an
# FRR router): its `show ...` / `modify ...` lines are typed at its prompt, not run here
_DEVICE_SHELLS = frozenset({"tmsh", "vtysh", "clish", "imish"})
# what is typed at a device's CLI and is no program a shell could run (`commit`, `show ...`,
# `rollback 1`, `no shutdown`): a line so typed at `name# ` is the device's
_DEVICE_ONLY = re.compile(r"(?:show|configure|conf|commit|rollback|interface|switchport|vlan|"
                          r"neighbor|address-family|no|request)\b")
# a console given its work on its command line: the flags (short letters, long names) that do it
_PSQL = ("cfl", ("--command", "--file", "--list"))
_GIVEN = {"psql": _PSQL, "gitlab-psql": _PSQL, "mysql": ("eB", ("--execute", "--batch")),
          "mariadb": ("eB", ("--execute", "--batch")),
          "clickhouse-client": ("q", ("--query", "--queries-file")),
          "mongo": ("", ("--eval", "--file")), "mongosh": ("f", ("--eval", "--file")),
          "cqlsh": ("ef", ("--execute", "--file")),
          "cockroach": ("ef", ("--execute", "--file"))}
_STATE = frozenset("""cd export source . set unset alias pushd popd umask ulimit su""".split())
# local filters after a remote first stage: tool -> operands it takes when it reads stdin
_FILTERS = {"grep": 1, "egrep": 1, "fgrep": 1, "awk": 1, "sed": 1, "jq": 1, "tr": 2,
            "head": 0, "tail": 0, "sort": 0, "uniq": 0, "wc": 0, "cut": 0, "column": 0}
# cloud CLIs that open a shell on a remote machine (`aws ssm start-session --target i-0ab`):
# `argv[1:]` starts with these words, and the flags that would give it its work instead
_REMOTE_SHELLS: dict[str, tuple[tuple[tuple[str, ...], ...], frozenset[str]]] = {
    "aws": ((("ssm", "start-session"),), frozenset({"--document-name"})),
    "gcloud": ((("compute", "ssh"), ("alpha", "compute", "ssh"), ("beta", "compute", "ssh"),
                ("cloud-shell", "ssh")), frozenset({"--command", "--"})),
    "az": ((("ssh", "vm"), ("ssh", "arc")), frozenset({"--"})),
    "virtctl": ((("console",), ("ssh",), ("vnc",)), frozenset({"--command", "-c"})),
}
# other programs that open a shell on a machine or in a VM, given no command (`vagrant ssh`,
# `tsh ssh root@node-1`, `virsh console vm-7`): the subcommand, the operands it may take (the
# machine's name), and the flags that would give it its work instead
_SHELL_ON: dict[str, tuple[tuple[str, ...], int, frozenset[str]]] = {
    "vagrant": (("ssh",), 1, frozenset({"-c", "--command", "--"})),
    "minikube": (("ssh",), 0, frozenset({"--"})),
    "colima": (("ssh",), 0, frozenset({"--"})),
    "multipass": (("shell",), 1, frozenset()),
    "tsh": (("ssh",), 1, frozenset({"--"})),
    "mosh": ((), 1, frozenset({"--"})),
    "virsh": (("console",), 1, frozenset()),
    "lxc": (("shell",), 1, frozenset()),
    "incus": (("shell",), 1, frozenset()),
    "fly": (("ssh", "console"), 1, frozenset({"-C", "--command"})),
    "flyctl": (("ssh", "console"), 1, frozenset({"-C", "--command"})),
    "cf": (("ssh",), 1, frozenset({"-c", "--command"})),
    "eb": (("ssh",), 1, frozenset({"-c", "--command"})),
    "heroku": (("run", "bash"), 1, frozenset()),
}
# a shell entered in a namespace or a container by a tool that also runs one command there
# (`nsenter -t PID -n`, `ip netns exec NS bash`, `lxc exec C -- bash`, `docker compose exec S sh`)
_ENTERS = frozenset({"nsenter", "ip", "lxc", "incus", "docker-compose", "podman-compose"})
_OPENERS = frozenset({"oc", "kubectl", "ssh", "sudo", "chroot", "docker", "podman", "nerdctl",
                      "crictl", "machinectl", "su", "runuser", *_CONSOLES, *_REMOTE_SHELLS,
                      *_SHELL_ON, *_ENTERS})
_SHELL_INTO = re.compile(r"\s*(?:sudo\s+)?(?:oc|kubectl)\s(?!.*\s--\s+\S).*\b(?:rsh|debug)\b|"
                         r"\s*(?:sudo\s+)?(?:oc|kubectl)\s.*\bexec\b.*\s-\w*i\w*\b.*\s(?:ba)?sh"
                         r"\s*$")
_KUBE_VALUE_FLAGS = frozenset({"-n", "--namespace", "--context", "--kubeconfig", "--cluster",
                               "--user", "-s", "--server", "--as", "--token", "-v"})
_PROGRAM = re.compile(r"(?:\./|/)?[a-z][a-z0-9_.+/-]*")
_COLUMNS = re.compile(r"\S {2,}(?=\S)")
_KUBE_SHELL = re.compile(r"\s(?:debug|rsh|exec|run|node-shell)\s")  # kubectl, oc ... may open one
_EXECS = frozenset({"oc", "kubectl", "docker", "podman", "nerdctl", "crictl"})
_FIRST_WORD = re.compile(r"\s*(\S+)")
_BOUND_FROM = re.compile(r"""\s*[A-Za-z_]\w*=["']?\$\(\s*([^\s()]+)""")  # V=$(TOOL ...)
# `psql -h db <<EOF` .. `EOF`: a console given its statements on its input, not typed at it
_FED = re.compile(r"""(?P<cmd>[^\n<]*?)\s*<<-?\s*(?P<q>['"]?)(?P<mark>\w+)(?P=q)[ \t]*\n"""
                  r"""(?P<body>.*)\n[ \t]*(?P=mark)[ \t]*""", re.S)


@dataclass
class Session:
    """An open session: how to run a command in it, or None when only a person can."""

    opener: str  # the guide's lines that opened it (for manual scripts)
    start: int
    section: int | None
    prefix: list[Word] | None  # exec-style: argv words before the command
    ssh: list[Word] | None = None  # `ssh HOST --`: the command goes as one remote text
    remote: list[str] = field(default_factory=list)  # words before it remotely: sudo -u U
    debug_node: bool = False  # `oc debug node/X`: `chroot /host` may follow
    broken: bool = False  # a line changed the session's state: the rest is a person's
    fresh: bool = True  # the opener's manual step holds only the opening lines so far
    last: Action | None = None  # the session's latest step, for manual lines to join
    outer: Session | None = None  # the session a console was opened in (`sudo -i`, `psql`)
    depth: int = 1  # a person's session holds the shells opened in it: one `exit` each
    steps: list[Action] = field(default_factory=list)
    joined: int | None = None  # the element whose lines `last` (a manual step) holds
    prompt: str = ""  # the prompt the opener was typed at (`$`)
    moved: bool = False  # a line in the session showed another prompt (`#` in the container)
    hosts: set[str] = field(default_factory=set)  # the machine it is on, as its prompts name it
    console: list[Word] | None = None  # a database console's opener (`sudo gitlab-psql -d x`)
    upto: int = 0  # the last line a console statement took (a statement spans lines)
    carried: list[str] = field(default_factory=list)  # `\\x` lines for the next statement's text
    device: bool = False  # a network device's shell (`tmsh`): untagged blocks are typed there


_GENERIC_HOSTS = frozenset("""host hostname localhost server machine node box computer laptop
workstation desktop local your-host your-server yourhost myhost""".split())


_PROMPT_HOST = re.compile(r"\[?[\w.-]+@([\w.-]+)|([\w.-]+):[~/]")


def prompt_host(prompt: str) -> str | None:
    """The machine a prompt names (`root@broker-1:~#`, `[root@db-02 ~]#`, `db-02.example.com:~$`),
    as `_machine` names it."""
    m = _PROMPT_HOST.match(prompt)
    return _machine(m.group(1) or m.group(2)) if m else None


def _machine(name: str) -> str | None:
    """A host name's first label, lower-cased, or None for a stand-in (`host`, `<node>`)."""
    label = name.split(".")[0].lower()
    return label if label and label not in _GENERIC_HOSTS and not label.startswith("<") else None


# ssh's options that take the next word as their value
_SSH_VALUES = frozenset("-B -b -c -D -E -e -F -I -i -J -L -l -m -O -o -p -Q -R -S -W -w".split())


def _ssh_target(text: str) -> str | None:
    """The machine `ssh [options] [user@]HOST [CMD]` reaches, as `_machine` names it."""
    try:
        argv = shlex.split(text)
    except ValueError:
        return None
    while argv and argv[0] in ("sudo", "command", "env"):
        argv = argv[1:]
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in _SSH_VALUES else 1
    return _machine(argv[i].rpartition("@")[2]) if i < len(argv) else None


def _tty(arg: str) -> bool:
    """Whether a flag asks for a terminal (`-it`, `--tty`, `-itd`)."""
    return arg in _TTY or arg.startswith(("-it", "-ti"))


def _w(text: str) -> Word:
    return Word((("lit", text),))


def _plain(words: tuple[Word, ...] | list[Word]) -> list[str]:
    return [w.plain() for w in words]


def _opener(parsed: Parsed, text: str) -> Opened | None:
    """(prefix words or None, extra Session fields) if `parsed` opens a session, else None."""
    if parsed.unsupported and (_SHELL_INTO.match(text) or _bare_exec(text)):
        return None, {}  # `oc rsh $(oc get pods -o name | head -1)`: a person opens it
    if len(parsed.pipelines) != 1 or len(parsed.pipelines[0].stages) != 1:
        return None
    words = list(parsed.pipelines[0].stages[0])
    argv = _plain(words)
    tool = argv[0].rsplit("/", 1)[-1]
    if tool in ("oc", "kubectl"):
        return _kube_opener(words, argv)
    if tool == "sudo":
        return _sudo_opener(words, argv) or _sudo_console(words, argv)
    if tool in ("docker", "podman", "nerdctl", "crictl") and argv[1:2] == ["exec"] and \
            argv[-1] in _SHELLS and any(a in _TTY for a in argv[2:-1]):
        return [w for w in words[:-1] if w.plain() not in _TTY], {}  # docker exec C CMD
    if tool in ("docker", "podman", "nerdctl") and argv[1:2] == ["run"] and \
            (argv[-1] in _SHELLS and any(a in _TTY for a in argv[2:-1]) or _attached_run(argv)):
        return None, {}  # a shell in a new container: each run would be another container
    entered = _entered(tool, words, argv)
    if entered is not None:
        return entered
    if tool in _SHELL_ON and _shell_on(tool, argv):
        return None, {}  # a shell on a VM or a machine that tool reaches: a person's session
    if tool == "ssh":
        verdict = classify(argv)
        if verdict.effect == "interactive" and "opens a shell" in verdict.reason:
            return None, {"ssh": words + [_w("--")]}
        return None
    if tool == "chroot" and argv[1:] == ["/host"] or tool == "toolbox" and len(argv) == 1:
        return None, {}
    if tool == "machinectl" and argv[1:2] in (["shell"], ["login"]) or \
            tool in ("su", "runuser") and not any(
                a in ("-c", "--command", "--") or a.startswith("--command=") for a in argv[1:]):
        return None, {}  # a login shell as another user: a person's session
    if tool in _REMOTE_SHELLS and _remote_shell(tool, argv):
        return None, {}  # a shell on a machine only that CLI reaches: a person's session
    if tool in _CONSOLES and _console(tool, argv):
        # a console: what follows it is typed into it (one step each where it has a form)
        return None, ({"console": words} if _one_shot(tool, argv) else
                      {"device": True} if tool in _DEVICE_SHELLS else {})
    return None


# `docker run`'s flags that take a value (as the next word), to find its image and command
_RUN_VALUES = frozenset("""-e --env --env-file -v --volume --mount --name --net --network -p
--publish -w --workdir -u --user --entrypoint --pid --ipc --uts --cap-add --cap-drop --device
-h --hostname -l --label --platform --add-host --dns -m --memory --cpus --restart
--security-opt --tmpfs --ulimit --runtime --log-driver --log-opt --expose --link --shm-size
--gpus --pull --userns --cgroupns --group-add --stop-signal --stop-timeout --mac-address
--ip --ip6 --network-alias --health-cmd --cidfile --volumes-from""".split())


def _attached_run(argv: list[str]) -> bool:
    """`docker run -it --rm nicolaka/netshoot`: a terminal on a new container's own command
    (the image's shell), given no command of the guide's. A container that publishes a port
    (`-p 5000:5000`) is a server the next lines use from here, no shell."""
    if not any(_tty(a) for a in argv[2:]) or \
            any(a.split("=", 1)[0] in ("-p", "--publish", "-P", "--publish-all", "-d",
                                       "--detach") for a in argv[2:]):
        return False
    j = 2
    while j < len(argv) and argv[j].startswith("-"):
        j += 2 if argv[j] in _RUN_VALUES else 1
    return j == len(argv) - 1  # the image, and nothing after it


def _shell_on(tool: str, argv: list[str]) -> bool:
    """Whether `vagrant ssh web`, `tsh ssh root@node-1`, `virsh console vm-7`, `mosh host`
    opens a shell there rather than running one command (`vagrant ssh -c CMD`, `tsh ssh host
    CMD`, `mosh host -- CMD`)."""
    sub, most, given = _SHELL_ON[tool]
    if any(a in given or a.split("=", 1)[0] in given for a in argv[1:]):
        return False
    words = [a for a in argv[1:] if not a.startswith("-")]
    at = next((i for i in range(len(words) + 1) if tuple(words[i:i + len(sub)]) == sub), None)
    return at is not None and len(words) - at - len(sub) <= most


_NSENTER_VALUES = frozenset({"-t", "--target", "-S", "--setuid", "-G", "--setgid"})


def _entered(tool: str, words: list[Word], argv: list[str]) -> Opened | None:
    """A shell entered in a namespace or a container by a tool with a form that runs one
    command there: `nsenter -t PID -n` (no program: nsenter starts a shell), `ip netns exec
    NS bash`, `lxc exec C -- bash` run each later line as `nsenter -t PID -n CMD`, `ip netns
    exec NS CMD`, `lxc exec C -- CMD`; `docker compose exec SVC sh` (compose gives the shell a
    terminal) and an `lxc exec` with options are a person's session."""
    if tool == "nsenter":
        i = 1
        while i < len(argv) and argv[i].startswith("-") and argv[i] != "--":
            i += 2 if argv[i] in _NSENTER_VALUES else 1
        rest = argv[i + 1:] if argv[i:i + 1] == ["--"] else argv[i:]
        if not rest:
            return list(words), {}
        if len(rest) == 1 and rest[0] in _SHELLS:
            return list(words[:-1]), {}
        return None
    if argv[-1] not in _SHELLS or len(argv) < 3:
        return None
    if tool == "ip" and argv[1:3] == ["netns", "exec"] and len(argv) == 5:
        return list(words[:-1]), {}
    if tool in ("lxc", "incus") and argv[1] == "exec":
        middle = [a for a in argv[2:-1] if a != "--"]
        if len(middle) == 1 and not middle[0].startswith("-"):
            kept = list(words[:-1])
            return (kept if argv[-2] == "--" else kept + [_w("--")]), {}
        return None, {}
    if tool in ("docker", "podman") and argv[1:3] == ["compose", "exec"] or \
            tool in ("docker-compose", "podman-compose") and argv[1] == "exec":
        return None, {}
    return None


def _remote_shell(tool: str, argv: list[str]) -> bool:
    """Whether a cloud CLI line opens an interactive shell on another machine (`aws ssm
    start-session --target X`, `gcloud compute ssh X`, `az ssh vm -n X`, `virtctl console X`)
    rather than running one command there (`--document-name`, `--command`, `-- CMD`)."""
    subcommands, given = _REMOTE_SHELLS[tool]
    words = [a for a in argv[1:] if not a.startswith("-")]
    if not any(tuple(words[i:i + len(sub)]) == sub for sub in subcommands
               for i in range(len(words))):  # (`gcloud --project p compute ssh X`)
        return False
    return not any(a in given or a.split("=", 1)[0] in given for a in argv[1:])


# A console's one-shot form: the flag that gives it one statement (redis-cli takes the words)
_ONE_SHOT = {"psql": "-c", "gitlab-psql": "-c", "mysql": "-e", "mariadb": "-e",
             "cockroach": "-e", "cqlsh": "-e", "clickhouse-client": "--query", "redis-cli": "",
             "gitlab-redis-cli": "", "sqlite3": ""}
_SQLITE_FLAGS = frozenset("""-readonly -header -noheader -column -csv -json -line -list -box
-table -markdown -batch -bail""".split())
_ASKS_PASSWORD = frozenset({"-W", "--password", "-p", "--askpass", "--ask-password"})


# the flag that makes a client ask for its password at the terminal, by client
_PASSWORD_PROMPT = {**dict.fromkeys(("mysql", "mariadb", "mysqladmin", "mysqldump", "mysqlcheck"),
                                    frozenset({"-p", "--password"})),
                    **dict.fromkeys(("psql", "gitlab-psql", "pg_dump", "pg_dumpall", "pg_restore",
                                     "vacuumdb", "reindexdb", "clusterdb"),
                                    frozenset({"-W", "--password"})),
                    **dict.fromkeys(("redis-cli", "valkey-cli", "gitlab-redis-cli"),
                                    frozenset({"--askpass"}))}


def asks_a_password(argv: list[str]) -> bool:
    """Whether a command line asks a person for a password at the terminal: `mysql -u admin
    -p -e '...'`, `psql -W -c '...'`, `redis-cli --askpass`, `pt-kill --ask-pass` (a step has
    no terminal: it hung or failed, and a password is a person's to type, never the plan's)."""
    if not argv:
        return False
    args = argv[1:]
    if argv[0] == "sudo":  # (`sudo -u postgres psql -W`)
        i = 0
        while i < len(args) and args[i].startswith("-"):
            i += 2 if args[i] in ("-u", "--user", "-g", "--group") else 1
        return asks_a_password(args[i:])
    tool = argv[0].rsplit("/", 1)[-1]
    return any(a in ("--ask-pass", "--askpass") for a in args) or \
        any(a in _PASSWORD_PROMPT.get(tool, ()) for a in args)


def _one_shot(tool: str, argv: list[str]) -> bool:
    """Whether the console has a one-shot form and its opener asks no one for a password
    (`mysql -u root -p`, `psql -W`: a person types it)."""
    if tool not in _ONE_SHOT:
        return False
    if tool in ("redis-cli", "gitlab-redis-cli"):
        return "--askpass" not in argv
    if tool == "sqlite3":  # one database file, and no flag that takes a value or runs more
        args = argv[1:]
        return len([a for a in args if not a.startswith("-")]) == 1 and \
            all(a in _SQLITE_FLAGS for a in args if a.startswith("-"))
    asks = _ASKS_PASSWORD if tool in ("mysql", "mariadb") else {"-W", "--password"}
    return not any(a in asks for a in argv[1:])


def _sudo_console(words: list[Word], argv: list[str]) -> tuple[None, dict[str, Any]] | None:
    """`sudo [-u USER] [-H] gitlab-psql ...`: a console run as another user."""
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in ("-u", "--user", "-g", "--group") else 1
    if i >= len(argv):
        return None
    tool = argv[i].rsplit("/", 1)[-1]
    if tool not in _CONSOLES or not _console(tool, argv[i:]):
        return None
    return None, ({"console": words} if _one_shot(tool, argv[i:]) else {})


def console_opener(text: str) -> bool:
    """Whether a shell line opens a database console its next lines are typed into
    (`sudo gitlab-psql`, `redis-cli -h H`), for the block reader's `> ` prompts."""
    first = _FIRST_WORD.match(text)
    if first is None or first.group(1).rsplit("/", 1)[-1] not in ("sudo", *_CONSOLES):
        return False
    found = _opener(parse_line(text), text)
    return found is not None and found[0] is None and "console" in found[1]


# a connection a person types a protocol's lines into (`telnet cache-1 11211`, then `stats`)
_CONNECTS = frozenset({"telnet", "nc", "ncat", "netcat"})


def typed_into(text: str) -> bool:
    """Whether a shell line starts a program a person types the block's next lines into, with
    no form that takes them on its command line: a console (`mongosh URI`, `cqlsh`, `rails c`)
    or a connection (`telnet cache-1 11211`, `nc host 6379`, `openssl s_client -connect h:443`).
    A console with a one-shot form (`psql`, `redis-cli`) is the session reader's, unless its
    opener asks for a password (`mysql -u root -p`)."""
    first = _FIRST_WORD.match(text)
    if first is None or first.group(1).rsplit("/", 1)[-1] not in (
            "sudo", "openssl", *_CONSOLES, *_CONNECTS):
        return False
    parsed = parse_line(text)
    if len(parsed.pipelines) != 1 or len(parsed.pipelines[0].stages) != 1:
        return False
    argv = _plain(parsed.pipelines[0].stages[0])
    if argv[0] == "sudo":
        argv = [a for a in argv[1:] if not a.startswith("-")][1:] if "-u" in argv else \
            [a for a in argv[1:] if not a.startswith("-")]
    if not argv:
        return False
    tool = argv[0].rsplit("/", 1)[-1]
    if tool in _CONSOLES:
        return _console(tool, argv) and not (tool in _ONE_SHOT and _one_shot(tool, argv))
    if tool == "openssl":
        return argv[1:2] == ["s_client"]
    if tool not in _CONNECTS:
        return False
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-") and not a.startswith("--"))
    operands = [a for a in argv[1:] if not a.startswith("-")]
    # `nc -z host 443` only probes the port; `nc -l 9000` listens
    return "z" not in flags and "l" not in flags and len(operands) >= (
        1 if tool == "telnet" else 2)


def workstation_tool(text: str) -> bool:
    """Whether a shell line runs a tool that reaches its target from any machine (`kubectl`,
    `gcloud`, `aws`, `knife ssh`, `ansible`, `pdsh` ..., also after `bundle exec` or `sudo`):
    it runs here whatever machine the sentence names."""
    text = text.lstrip()
    while text.startswith(_LEADS):
        text = text.split(" ", 2)[2] if text.startswith("bundle exec ") else \
            text.split(" ", 1)[1].lstrip()
    first = _FIRST_WORD.match(text)
    return first is not None and first.group(1).rsplit("/", 1)[-1] in _WORKSTATION


def reaches_its_machine(text: str) -> bool:
    """Whether a shell line reaches the machine it acts on by itself: a workstation tool, or
    `ssh HOST ...` (the place a sentence names is then where ssh goes, not where it runs)."""
    if workstation_tool(text):
        return True
    text = text.lstrip()
    while text.startswith(_LEADS) and " " in text:
        text = text.split(" ", 1)[1].lstrip()
    first = _FIRST_WORD.match(text)
    if first is not None and first.group(1).rsplit("/", 1)[-1] in _NETWORK_CLIENTS and \
            (host := _HOST_OPTION.search(text)) is not None and \
            not _LOCAL_HOST.match(host.group("host")):
        # "On the replica:" over `redis-cli -h redis-replica-2 info replication`: the client
        # reaches the host it names (a person was asked to type it there); not `-h localhost`
        return True
    return first is not None and first.group(1).rsplit("/", 1)[-1] == "ssh"


# database and cache clients that reach the server their host option names
_NETWORK_CLIENTS = frozenset({"redis-cli", "valkey-cli", "keydb-cli", "psql", "pg_isready",
                              "pg_dump", "pg_dumpall", "pg_restore", "mysql", "mysqladmin",
                              "mariadb", "clickhouse-client", "mongosh", "mongo", "nodetool",
                              "memcstat", "cqlsh", "mosquitto_pub", "mosquitto_sub",
                              "mosquitto_rr"})
_HOST_OPTION = re.compile(r"\s(?:-h\s*|--host(?:=|\s+)|--servers=)['\"]?(?P<host>[\w.:\[\]-]+)")
_LOCAL_HOST = re.compile(r"^(?:localhost|127\.\d+\.\d+\.\d+|::1|\[::1\]|0\.0\.0\.0)(?::\d+)?$",
                         re.I)


_CONTAINER_EXECS = frozenset({"docker", "podman", "nerdctl"})
# `docker exec`'s flags that take the next word as their value, to find its container
_CONTAINER_EXEC_VALUES = frozenset({"-e", "--env", "--env-file", "-u", "--user", "-w",
                                    "--workdir", "--detach-keys"})


def without_terminal(parsed: Parsed) -> Parsed:
    """`docker exec -it C CMD` (podman, nerdctl; also after `sudo`) as a step runs
    `docker exec C CMD`: a step has no terminal, docker refuses `-t` without one ("the input
    device is not a TTY"), and CMD is the guide's point; it is judged by CMD, as
    `kubectl exec -it POD -- CMD` is (kubectl drops the terminal itself). `-i` goes too
    where nothing feeds the exec (the first stage of its pipeline). A shell alone
    (`docker exec -it C bash`) opens a session (`_opener`), and a console stays a person's
    (the table judges CMD)."""
    pipelines = [replace(p, stages=(_exec_without_terminal(p.stages[0]), *p.stages[1:]))
                 for p in parsed.pipelines]
    return parsed if pipelines == parsed.pipelines else replace(parsed, pipelines=pipelines)


def _exec_without_terminal(stage: tuple[Word, ...]) -> tuple[Word, ...]:
    argv = _plain(stage)
    at = 1 if argv[:1] == ["sudo"] else 0
    if len(argv) < at + 2 or argv[at].rsplit("/", 1)[-1] not in _CONTAINER_EXECS or \
            argv[at + 1] != "exec":
        return stage
    j = at + 2
    while j < len(argv) and argv[j].startswith("-"):
        j += 2 if argv[j] in _CONTAINER_EXEC_VALUES else 1
    command = argv[j + 1:]  # after the container
    if not command or command[0] in _SHELLS and len(command) == 1 or \
            not any(a in _TTY for a in argv[at + 2:j]):
        return stage
    return tuple(w for k, w in enumerate(stage) if not (at + 2 <= k < j and argv[k] in _TTY))


def opens_session(text: str) -> bool:
    """Whether a shell line opens a session its next lines run in (`ssh host`, `sudo -u git`,
    `kubectl exec -it pod -- sh`, `gitlab-psql`)."""
    first = _FIRST_WORD.match(text)
    if first is None or first.group(1).rsplit("/", 1)[-1] not in _OPENERS:
        return False
    return _opener(parse_line(text), text) is not None


def _console(tool: str, argv: list[str]) -> bool:
    """Whether `argv` opens the tool's console rather than giving it its work (`psql -c`,
    `psql -qtc`, `mysql -e`, `clickhouse-client --query`, `gitlab-rails runner`)."""
    args = argv[1:]
    if tool in ("gitlab-rails", "rails"):
        return args[:1] in (["console"], ["c"], ["dbconsole"], ["db"])
    if tool == "redis-cli":
        return _redis_bare(argv)
    if tool in ("zkCli.sh", "zookeeper-shell", "zookeeper-shell.sh"):
        return len([a for a in args if not a.startswith("-")]) <= 1  # the server alone
    if tool in ("toolbox", "irb", *_DEVICE_SHELLS):
        return not args  # `toolbox apt install jq` runs one command in the toolbox
    if tool == "cockroach" and args[:1] != ["sql"]:
        return False  # `cockroach start`, `cockroach node status`: one command, no console
    if tool == "sqlite3":
        return len([a for a in args if not a.startswith("-")]) <= 1
    shorts, longs = _GIVEN.get(tool, ("", ()))
    for a in args:
        if a.startswith("--"):
            if a.split("=", 1)[0] in longs:
                return False
        elif a.startswith("-") and len(a) <= 5 and a[1:].isalpha() and \
                any(c in shorts for c in a[1:]):
            return False  # `-c SQL`, and bundles that end in it: `-qtc SQL`, `-tAc SQL`
    return True


# redis-cli's own modes: a flag that is the work itself (`redis-cli -h H --bigkeys` scans and
# prints, then exits), not a console the next lines are typed into
_REDIS_MODES = frozenset({"--bigkeys", "--memkeys", "--hotkeys", "--keystats", "--scan",
                          "--stat", "--latency", "--latency-history", "--latency-dist",
                          "--intrinsic-latency", "--rdb", "--functions-rdb", "--pipe",
                          "--cluster", "--replica", "--slave", "--eval"})


def _redis_bare(argv: list[str]) -> bool:
    """redis-cli with flags only (`-h H -p 6379`): its commands follow it; a mode flag
    (`--bigkeys`, `--stat`, `--scan`) is a command of its own."""
    i = 1
    while i < len(argv):
        if not argv[i].startswith("-") or argv[i].split("=", 1)[0] in _REDIS_MODES:
            return False
        i += 1 if argv[i] in ("--no-auth-warning", "--tls", "-c", "--raw", "--no-raw") else 2
    return True


def _subcommand(argv: list[str]) -> tuple[int, str] | None:
    """Where kubectl's subcommand stands, past its global flags (`kubectl -n ns debug ...`)."""
    i = 1
    while i < len(argv):
        a = argv[i]
        if not a.startswith("-"):
            return i, a
        i += 2 if a in _KUBE_VALUE_FLAGS else 1
    return None


_EXEC_VALUE_FLAGS = frozenset({"-c", "--container", "-f", "--filename",
                               "--pod-running-timeout", *_KUBE_VALUE_FLAGS})
_SUBSTITUTION = re.compile(r"\$\((?:[^()]|\([^()]*\))*\)|`[^`]*`")


def _exec_operands(argv: list[str], i: int) -> list[str]:
    """The operands of `kubectl exec` (argv[i] is `exec`), past its flags and their values."""
    operands, j = [], i + 1
    while j < len(argv):
        a = argv[j]
        if a.startswith("-"):
            j += 2 if a in _EXEC_VALUE_FLAGS else 1
            continue
        operands.append(a)
        j += 1
    return operands


def _bare_exec(text: str) -> bool:
    """`kubectl exec -c etcdctl -n ns $(kubectl get po ... )`: an exec with no command (one
    kubectl refuses), the pod named by a command substitution: "exec into" it, by a person."""
    if not re.match(r"\s*(?:sudo\s+)?(?:oc|kubectl)\s", text) or not _SUBSTITUTION.search(text):
        return False
    parsed = parse_line(_SUBSTITUTION.sub("POD", text))
    if parsed.unsupported or len(parsed.pipelines) != 1 or \
            len(parsed.pipelines[0].stages) != 1:
        return False
    argv = _plain(parsed.pipelines[0].stages[0])
    found = _subcommand(argv)
    return found is not None and found[1] == "exec" and "--" not in argv and \
        len(_exec_operands(argv, found[0])) == 1


def _kube_opener(words: list[Word], argv: list[str]) -> Opened | None:
    found = _subcommand(argv)
    if found is None:
        return None
    i, sub = found
    if sub == "exec" and "--" not in argv and len(_exec_operands(argv, i)) == 1:
        # `kubectl exec -c etcdctl -n ns POD`: no command, which kubectl refuses: the guide
        # means "exec into" the pod, and the lines after it run there (`... POD -- CMD`)
        return [w for w in words if w.plain() not in _TTY] + [_w("--")], {}
    if "--" in argv:
        cut = argv.index("--")
        inner = argv[cut + 1:]
        if sub == "exec" and len(inner) == 1 and inner[0] in _SHELLS and \
                any(a in _TTY for a in argv[:cut]):
            kept = [w for w in words[:cut] if w.plain() not in _TTY]
            return kept + [_w("--")], {}
        if sub == "run" and len(inner) == 1 and inner[0] in _SHELLS and \
                any(_tty(a) for a in argv[:cut]):
            return None, {}  # a shell in a new pod: a person's session
        return None
    if sub == "exec" and argv[-1] in _SHELLS and any(a in _TTY for a in argv[i + 1:-1]) and \
            any(not a.startswith("-") for a in argv[i + 1:-1]):
        # `kubectl exec -it POD -c C sh`, the form from before `--`: the same shell
        kept = [w for w in words[:-1] if w.plain() not in _TTY]
        return kept + [_w("--")], {}
    if sub == "run" and "--" not in argv and \
            any(_tty(a) for a in argv[i + 1:]):
        return None, {}  # attached to a new pod's own command (`--image=busybox`: its shell)
    if sub == "node-shell" and "--" not in argv:
        return None, {}  # the kubectl plugin's root shell on a node: a person's session
    if sub == "debug":
        operands = [a for a in argv[i + 1:] if not a.startswith("-")]
        if argv[0].endswith("oc") and operands[:1] and operands[0].startswith("node/"):
            kept = [w for w in words if w.plain() not in _TTY]
            return kept + [_w("--")], {"debug_node": True}
        return None, {}  # kubectl debug leaves its pod behind: a person runs that session
    if sub == "rsh":
        kept, j = [], 1
        while j < len(words):
            a = argv[j]
            if a in ("-T", "-t", "--no-tty", "-q", "--quiet") or a.startswith("--shell="):
                j += 1
                continue
            if a == "--shell":
                j += 2
                continue
            kept.append(words[j])
            j += 1
        if argv[0].endswith("oc") and len([a for a in _plain(kept) if a != "rsh" and
                                           not a.startswith("-")]) >= 1:
            rest = [w if w.plain() != "rsh" else _w("exec") for w in kept]
            return [words[0], *rest, _w("--")], {}
        return None, {}
    return None


def _sudo_opener(words: list[Word], argv: list[str]) -> tuple[list[Word], dict[str, Any]] | None:
    rest = argv[1:]
    user: list[Word] = []
    if rest in (["-i"], ["-s"], ["su"], ["su", "-"], ["bash"], ["-i", "bash"], ["su", "-l"]):
        pass
    elif len(rest) == 3 and rest[:2] in (["su", "-"], ["su", "-l"]) or \
            len(rest) == 2 and rest[0] == "su" and not rest[1].startswith("-"):
        user = [_w("-u"), words[-1]]
    elif len(rest) == 3 and rest[0] == "-i" and rest[1] == "-u" or \
            len(rest) == 3 and rest[0] == "-u" and rest[2] == "-i":
        user = [_w("-u"), words[3] if rest[0] == "-i" else words[2]]
    elif len(rest) == 2 and rest[0] in ("-iu", "-ui"):
        user = [_w("-u"), words[2]]
    else:
        return None
    return [words[0], *user], {"remote": ["sudo", *_plain(user)]}


class SessionReader:
    """The session a guide has open, and the steps its commands become."""

    def __init__(self) -> None:
        self.open: Session | None = None
        # the latest session opened on another machine or in a container (`ssh node`, `oc
        # debug node/X`, `kubectl exec -it POD -- bash`) and not closed by `exit`: it outlives
        # its section as the place the guide last worked (see `_carried`)
        self.away: Session | None = None

    def take(self, b: _OutlineBuilder, line: CommandLine, el: Element, cls: SectionClass,
             owner: int, block: int | None) -> list[Action] | None:
        """Steps for `line` if it opens, runs in or closes a session; None if it is not one's."""
        was = self.open
        steps = self._take(b, line, el, cls, owner, block)
        if was is not None and was is self.away and self.open is None and \
                was.section == el.section:
            self.away = None  # left in its own section (`exit`, the opener's prompt again)
        if steps is None and self.open is None and self.away is not None:
            return self._carried(b, self.away, line, el, cls, owner)
        return steps

    def row_done(self) -> None:
        """A procedure table's row is over: the next row's command is its own step, titled by
        its row, never the opener's step taken over ("Log in to PE-ROUTER-07" ran `show bgp
        summary`), as across list items (`_placeholder`)."""
        if self.open is not None:
            self.open.fresh = False
            self.open.last = None  # (a person's session: the next row's lines a step of their own)

    def here(self) -> None:
        """The guide says its next lines are typed on the reader's own machine ("Then, from
        your laptop:"): no session is open, and none is carried into later sections."""
        self.open = self.away = None

    def _carried(self, b: _OutlineBuilder, away: Session, line: CommandLine, el: Element,
                 cls: SectionClass, owner: int) -> list[Action] | None:
        """A later section's line after the guide opened a session on another machine (or in
        a container) and never left it: "## Diagnosis" ssh-es to the node, "## Mitigation"
        says `systemctl restart kubelet`. Where it is typed the section does not say: on the
        node, as its author surely meant, or here, where it would restart (or report) the
        wrong machine's kubelet (and "## Filer side" may mean a third machine). Neither is the
        plan's to guess: a person's step, its script the line under a note naming the
        guide's last session. A workstation tool (`kubectl`), a line that reaches
        its own machine (`ssh db-2 ...`) or opens a session run as they did, and so does all
        of it once the guide says "from your laptop"; a line at another machine's prompt is a
        person's step there (`outline._commands`)."""
        text = line.text.strip()
        host = prompt_host(line.prompt) if line.prompt else None
        if host is not None and host not in away.hosts:
            self.away = None  # at another machine's prompt: the guide has moved on
            return None
        if opens_session(text) or not (_command_like(text) or device_verb(text)) or \
                _names_its_server(text) or any(
                reaches_its_machine(stage) for stage in re.split(r"[|;&\n]+", text)):
            return None
        opened = away.opener.split("\n", 1)[0]
        s = self.open = Session(f"{WHERE_UNSAID} (the guide's last session: `{opened}`, line "
                                f"{away.start})", line.start, el.section, None, broken=True,
                                fresh=False, hosts=set(away.hosts))
        return self._manual(b, s, line, el, cls, owner)

    def _take(self, b: _OutlineBuilder, line: CommandLine, el: Element, cls: SectionClass,
              owner: int, block: int | None) -> list[Action] | None:
        s = self.open
        if s is not None and s.section != el.section:
            s = self.open = None  # sessions end with their section
        if s is not None and line.console:
            s.moved = True  # typed at the console's own prompt (`sqlite> `, `>>> `)
        first = _FIRST_WORD.match(line.text)
        if first is None:
            return None
        if s is None and "<<" in line.text and "\n" in line.text:
            fed = self._fed(b, line, el, cls, owner, block)
            if fed is not None:
                return fed
        if s is not None and s.console is not None:
            taken = self._console_line(b, s, line, el, cls, owner, block)
            if taken is not None:
                return taken
            s = self.open  # back at the shell that opened the console
        if s is not None and line.prompt and s.prompt:
            host = prompt_host(line.prompt)
            if host and s.hosts and host not in s.hosts:
                # `[root@db-02 ~]#` in the session, then `root@broker-1:~#`: another machine's
                # prompt, typed at after the session (the guide has moved on)
                s = self.open = None
            elif line.prompt != s.prompt:
                if host and not s.moved:
                    s.hosts.add(host)  # where the session's lines are typed
                s.moved = True
            elif s.moved:
                # back at the opener's prompt (`$ docker run -it img sh`, `# git clone`, then
                # `$ docker-machine rm`): the line runs where the opener did; the session is over
                s = self.open = s.outer if s.outer is not None and s.outer.prompt != \
                    line.prompt else None
        tool = first.group(1).rsplit("/", 1)[-1]
        if s is not None and tool == "ssh" and s.hosts and \
                _ssh_target(line.text) in s.hosts:
            # `ssh gpu-a07 dcgmi diag -r 1` after `$ ssh gpu-a07` and its lines: nobody ssh-es
            # to the machine they are on; the line is typed where the session was opened (it
            # ran as `ssh gpu-a07 -- 'ssh gpu-a07 dcgmi ...'`), and the session is over
            s = self.open = s.outer
        bound = _BOUND_FROM.match(line.text)
        if bound is not None and s is not None and \
                bound.group(1).rsplit("/", 1)[-1] in _WORKSTATION:
            tool = bound.group(1).rsplit("/", 1)[-1]  # `ID=$(kubectl get ...)`: runs here
        if (s is None or tool in _WORKSTATION) and (
                tool not in _OPENERS or tool in _EXECS and not _KUBE_SHELL.search(
                    line.text)):
            return None  # most lines: no session, and none opened (no second parse)
        parsed = parse_line(line.text)
        if s is None:
            return self._start(b, line, el, cls, owner, parsed)
        if tool in _WORKSTATION and _opener(parsed, line.text) is None:
            return None  # `kubectl get pods` between a session's commands runs here
        if line.text.strip() in _CLOSE:
            s.depth -= 1
            if s.depth <= 0:
                self.open = s.outer
            if s.last is not None and s.last.kind == StepKind.MANUAL:
                self._join(s.last, line)
            return []
        return self._inside(b, s, line, el, cls, owner, block, parsed)

    def _start(self, b: _OutlineBuilder, line: CommandLine, el: Element, cls: SectionClass,
               owner: int, parsed: Parsed | None = None,
               found: Opened | None = None
               ) -> list[Action] | None:
        found = found or (_opener(parsed, line.text) if parsed is not None else None)
        if found is None:
            return None
        prefix, extra = found
        s = Session(line.text.strip(), line.start, el.section, prefix, prompt=line.prompt,
                    **extra)
        if s.ssh is not None and (target := _machine(s.ssh[-2].plain().rpartition("@")[2])):
            s.hosts.add(target)  # (`ssh [options] [user@]HOST --`: the line ends with it)
        self.open = s
        if s.console is None and not s.device and _on_another_machine(line.text):
            self.away = s
        step = b._manual(owner, cls, b._title(owner, el), line.text, Span(
            start=line.start, end=line.end), el.index, script=line.text.strip())
        s.last = step
        s.steps.append(step)
        return [step]

    def _inside(self, b: _OutlineBuilder, s: Session, line: CommandLine, el: Element,
                cls: SectionClass, owner: int, block: int | None, parsed: Parsed) -> list[Action]:
        text = line.text.strip()
        if not (parsed.pipelines or parsed.assign or parsed.unsupported):
            return []  # nothing to run
        argv = _plain(parsed.pipelines[0].stages[0]) if parsed.pipelines else []
        if s.debug_node and argv == ["chroot", "/host"] and len(parsed.pipelines) == 1 and \
                len(parsed.pipelines[0].stages) == 1 and s.prefix is not None:
            s.prefix = s.prefix + [_w("chroot"), _w("/host")]
            s.debug_node = False
            s.opener += "\n" + text
            return self._opening_line(s, line)
        nested = _sudo_opener(list(parsed.pipelines[0].stages[0]), argv) \
            if argv[:1] == ["sudo"] and len(parsed.pipelines) == 1 else None
        if nested is not None and not s.remote and (s.prefix is not None or s.ssh is not None):
            user = nested[0][1:]
            if s.prefix is not None:
                s.prefix = s.prefix + [_w("sudo"), *user]
            s.remote = nested[1]["remote"]
            s.opener += "\n" + text
            return self._opening_line(s, line)
        found = _opener(parsed, line.text)
        if found is not None and s.prefix is None and s.ssh is None and \
                not workstation_tool(line.text):
            s.depth += 1  # a shell within a person's session: its lines are theirs too
            return self._manual(b, s, line, el, cls, owner)
        if found is not None:
            return self._reopen(b, s, found, line, el, cls, owner)
        if parsed.assign or parsed.bind or parsed.unsupported or any(
                st and st[0].plain() in _STATE for p in parsed.pipelines for st in p.stages):
            s.broken = True  # cd, export, X=$(..): what follows depends on the session's state
        steps = None if s.broken or not _command_like(text) else self._wrapped(b, s, parsed, line)
        if steps is None:
            return self._manual(b, s, line, el, cls, owner)
        out: list[Action] = []
        for text_, argv_, mutating, uses in steps:
            step = self._placeholder(s, b, el)
            span = Span(start=s.start, end=line.end)
            context = ""
            if step is None and any(x.kind == StepKind.COMMAND for x in s.steps) and \
                    text_.startswith(s.opener + "\n"):
                # the session's first step says how it was opened; later ones say their own
                # line (their approval still names the session)
                context, text_ = s.opener, text_[len(s.opener) + 1:]
            if step is not None:  # the opener's manual step becomes the session's first run
                step.kind, step.text, step.span, step.plugin = StepKind.COMMAND, text_, span, \
                    "shell"
                step.params, step.mutating, step.uses, step.block = {"pipeline": argv_}, \
                    mutating, uses, block
            else:
                title = b._title(owner, el)
                step = Action(b._id(owner, cls, title), StepKind.COMMAND, title, text_, span,
                              el.index, cls, plugin="shell", params={"pipeline": argv_},
                              mutating=mutating, uses=uses, block=block, context=context)
                out.append(step)
            s.last = step
            s.steps.append(step)
        return out

    def _fed(self, b: _OutlineBuilder, line: CommandLine, el: Element, cls: SectionClass,
             owner: int, block: int | None) -> list[Action] | None:
        """`psql -h db <<EOF` with its statements, then `EOF`: the statements the console
        reads from its input, one step each in its one-shot form (`psql -h db -c STATEMENT`),
        judged as if typed at it. None (the line stays as it is: a person's) when any of
        them could not be one: a statement that changes the session's state (`BEGIN`,
        `\\c db`), a value spliced into it (`$VAR`, `<id>`), a console with no one-shot
        form or one that asks for a password."""
        m = _FED.fullmatch(line.text.strip())
        if m is None or "\n" in m.group("cmd"):
            return None
        cmd = m.group("cmd").strip()
        found = _opener(parse_line(cmd), cmd)
        if found is None or found[0] is not None or "console" not in found[1]:
            return None
        console: list[Word] = found[1]["console"]
        tool = _console_tool(console)
        redis = tool in ("redis-cli", "gitlab-redis-cli")
        body = m.group("body")
        statements = [x.strip() for x in body.split("\n") if x.strip()] if redis else \
            _split_sql(body)
        runs = []
        for statement in statements:
            argv = _console_argv(tool, statement)
            if _console_kind(statement, redis, True) != "statement" or argv is None or \
                    _holes(statement):
                return None
            words = list(console) + [_w(a) for a in argv]
            stage = [b.scope.word(w) for w in words]
            if _value_in_code(stage):
                return None
            judged = [w.plain() if w.is_literal else Templated(w.plain()) for w in words]
            effect = classify_pipeline([judged]).effect
            if effect == "interactive":
                return None
            uses = frozenset(v for w in words for v in b.scope.refs(w))
            runs.append((statement, stage, effect == "mutate", uses))
        if not runs:
            return None
        title = b._title(owner, el)
        span = Span(start=line.start, end=line.end)
        return [Action(b._id(owner, cls, title), StepKind.COMMAND, title,
                       cmd + "\n" + statement, span, el.index, cls, plugin="shell",
                       params={"pipeline": [stage]}, mutating=mutating, uses=uses, block=block)
                for statement, stage, mutating, uses in runs]

    def typed_at_shell(self, line: CommandLine) -> None:
        """A person's line typed at a shell prompt (`$ python3`): a database console open
        before it is over, and so is a session whose lines showed another prompt (`sqlite> `)
        when this one is the prompt it was opened from: the lines after it are not typed
        into them."""
        if line.console or not line.prompt:
            return
        s = self.open
        if s is not None and s.console is not None:
            self.open = s = s.outer  # a shell prompt again: the console is over
        if s is not None and s.moved and line.prompt == s.prompt:
            self.open = s.outer if s.outer is not None and s.outer.prompt != line.prompt \
                else None

    def enter(self, b: _OutlineBuilder, line: CommandLine, el: Element, cls: SectionClass,
              owner: int) -> list[Action] | None:
        """A console a person opens inside the open session (`ssh worker-3`, then `rails c`
        and the lines typed into it): their step in that session, in the guide's order (it
        was a step of its own, after the lines typed into it, and on this machine). None if
        no session is open."""
        s = self.open
        if s is None or s.section != el.section:
            return None
        s.broken, s.depth = True, s.depth + 1
        return self._manual(b, s, line, el, cls, owner)

    def device_shell(self, el: Element) -> bool:
        """Whether a network device's shell (`tmsh`, `vtysh`) is open in `el`'s section: an
        untagged block's lines are typed at its prompt."""
        s = self.open
        return s is not None and s.device and s.section == el.section

    def typed_at_device(self, b: _OutlineBuilder, el: Element, cls: SectionClass, owner: int,
                        lines: list[CommandLine]) -> list[Action]:
        """The lines of block `el` typed at the open device shell (`show ltm pool x`, `modify
        ltm pool x members modify {...}`, `save sys config`): a person's step in that session,
        whatever they would look like here (SQL's `show`, a program's output). `quit` / `exit`
        leave the shell, and the session it was opened in, one level each. `lines`: the
        block's lines, stripped, one each (the caller makes them: blocks reads sessions' rules,
        so sessions does not import blocks)."""
        out: list[Action] = []
        here: Action | None = None  # the step this block's lines went to
        for line in lines:
            text = line.text
            s = self.open
            if not text or s is None:
                continue
            if text in _CLOSE or text.rstrip(";").lower() in ("exit", "quit"):
                if here is not None:  # (an earlier block's step says nothing of leaving)
                    self._join(here, line)
                self.open = s.outer
                continue
            out.extend(self._manual(b, s, line, el, cls, owner))
            here = s.last
        return out

    def console_open(self, el: Element) -> bool:
        """Whether a database console is open in `el`'s section: its lines are typed into it."""
        return self.open is not None and self.open.console is not None and \
            self.open.section == el.section

    def _console_line(self, b: _OutlineBuilder, s: Session, line: CommandLine, el: Element,
                      cls: SectionClass, owner: int, block: int | None) -> list[Action] | None:
        """A line typed into a database console: one step running the console's one-shot form
        with the statement, a person's step, or nothing (sample output). None when the line
        is back at the shell (a shell prompt again): the console is over."""
        text = line.text.strip()
        if line.start <= s.upto:
            return []  # a line of a statement already taken
        first = _FIRST_WORD.match(text)
        if line.prompt and not line.console or not line.console and first is not None and \
                first.group(1).rsplit("/", 1)[-1] in _OPENERS and \
                _opener(parse_line(text), text) is not None:
            self.open = s.outer  # back at the shell, or another session opened from it
            return None
        if text in _CLOSE or text.rstrip(";").lower() in ("exit", "quit", "\\q"):
            self.open = s.outer
            if s.last is not None and s.last.kind == StepKind.MANUAL:
                self._join(s.last, line)
            return []
        console = s.console or []
        tool = _console_tool(console)
        redis = tool in ("redis-cli", "gitlab-redis-cli")
        if not line.console and first is not None and _shell_program(first.group(1), redis):
            self.open = s.outer  # `knife ssh ...` after the console: back at a shell
            return None
        if s.broken:
            return self._manual(b, s, line, el, cls, owner)
        kind = _console_kind(text, redis, line.console)
        if kind == "output":
            return []  # what the console printed (`(1 row)`, `OK`, `1) "x"`)
        if kind == "display" and tool in ("psql", "gitlab-psql"):
            s.console = [*console, _w("-c"), _w(text)]  # `\\x`: how later results print
            if s.fresh and s.steps:
                s.opener += "\n" + text
                return self._opening_line(s, line)
            s.carried.append(text)
            return []
        if kind != "statement":
            s.broken = True  # `\\c db`, `BEGIN`, `USE db`, `SELECT 2`: what follows depends on
            return self._manual(b, s, line, el, cls, owner)  # the session's state
        if redis:
            statement, last = text, line.end
        else:
            found = _statement(text, line, el)
            if found is None:
                return self._manual(b, s, line, el, cls, owner)
            statement, last = found
        s.upto = last
        whole = "\n".join([*s.carried, statement])
        argv = _console_argv(tool, statement)
        if argv is None or _holes(statement):
            # a value would be spliced into the statement: a person types it
            return self._manual(b, s, replace(line, text=statement, end=last), el, cls, owner)
        words = list(console) + [_w(a) for a in argv]
        if s.outer is not None:  # a console opened in another session: wrapped as it wraps
            if s.outer.prefix is None or s.outer.broken:
                return self._manual(b, s, replace(line, text=statement, end=last), el, cls,
                                    owner)
            words = list(s.outer.prefix) + words
        stage = [b.scope.word(w) for w in words]
        if _value_in_code(stage):
            return self._manual(b, s, replace(line, text=statement, end=last), el, cls, owner)
        judged = [w.plain() if w.is_literal else Templated(w.plain()) for w in words]
        effect = classify_pipeline([judged]).effect
        if effect == "interactive":
            return self._manual(b, s, replace(line, text=statement, end=last), el, cls, owner)
        s.carried = []
        uses = frozenset(v for w in words for v in b.scope.refs(w))
        span = Span(start=s.start, end=last)
        step = self._placeholder(s, b, el)
        if step is not None:  # the opener's step runs the first statement: it says both
            step.kind, step.text, step.span, step.plugin = StepKind.COMMAND, \
                s.opener + "\n" + whole, span, "shell"
            step.params, step.mutating, step.uses, step.block = {"pipeline": [stage]}, \
                effect == "mutate", uses, block
            out: list[Action] = []
        else:  # the statement as the guide wrote it; the step runs it in the console
            title = b._title(owner, el)
            step = Action(b._id(owner, cls, title), StepKind.COMMAND, title, whole, span,
                          el.index, cls, plugin="shell", params={"pipeline": [stage]},
                          mutating=effect == "mutate", uses=uses, block=block)
            out = [step]
        s.last = step
        s.steps.append(step)
        return out

    def _reopen(self, b: _OutlineBuilder, s: Session, found: Opened,
                line: CommandLine, el: Element, cls: SectionClass, owner: int) -> list[Action]:
        """A session opened inside another: a console (`psql` after `sudo -i`) is a person's
        session within it; any other replaces it (the guide has moved on), and so does a
        workstation tool's shell (`gcloud compute ssh X` after `sudo su - postgres`: a
        workstation tool runs here, whatever session the guide had open)."""
        prefix, extra = found
        nested = prefix is None and set(extra) <= {"console", "device"} and \
            not workstation_tool(line.text)
        self.open = None
        steps = self._start(b, line, el, cls, owner, found=found) or []
        if nested and self.open is not None:
            inner = self.open
            inner.outer = s
            inner.start = s.start
            inner.opener = s.opener + "\n" + inner.opener
            for step in steps:
                step.params = {"script": literal(inner.opener)}
                step.text = inner.opener
            if (inner.console is not None or inner.device) and s.fresh and s.steps and \
                    s.steps[0].kind == StepKind.MANUAL and s.steps[0].pos == el.index:
                # `sudo -i`, then `gitlab-psql`: the opener's step is the console's, which
                # holds both lines (no step of `sudo -i` alone is left behind)
                s.fresh = False
                first = s.steps[0]
                self._join(first, line)
                inner.steps, inner.last = [first], first
                return []
        return steps

    def _opening_line(self, s: Session, line: CommandLine) -> list[Action]:
        """`chroot /host`, `sudo -i` inside a session: part of how its commands run."""
        if s.fresh and s.steps:
            self._join(s.steps[0], line)
        return []

    @staticmethod
    def _placeholder(s: Session, b: _OutlineBuilder, el: Element) -> Action | None:
        """The opener's manual step while it holds only the opening lines: the step the
        session's first command takes over (a session that runs nothing stays a manual step).
        Not across a part that may guard the command (`ssh web-1` in one block, "If the disk
        is full, clean the cache:" over `sudo rm -rf ...` in the next): the command ran at
        the opener's place, before the guard, whatever its answer, and the guard scoped the
        step after it; the opener stays the person's step and the command has its own. Nor
        across list items ("1. Log in: `ssh admin@nas`", "2. Check the volume: `volume show`"):
        the command is the next item's step (it ran titled "Log in", and "Check the volume"
        was a person's step with nothing to do)."""
        if s.fresh and s.steps:
            s.fresh = False
            opened = s.steps[0].pos
            if any(e.kind != "code" and may_guard(e.text)
                   for e in b.els[opened + 1:el.index + 1]):
                return None
            if _another_item(b, opened, el.index):
                return None
            return s.steps[0]
        return None

    @staticmethod
    def _join(step: Action, line: CommandLine) -> None:
        script = str(step.params.get("script") or step.text)
        script = script + "\n" + line.text.strip()
        step.text = script
        step.params = {"script": literal(script)}
        step.span = Span(start=min(step.span.start, line.start), end=max(step.span.end, line.end))

    def _manual(self, b: _OutlineBuilder, s: Session, line: CommandLine, el: Element,
                cls: SectionClass, owner: int) -> list[Action]:
        last = s.last
        if last is not None and last.kind == StepKind.MANUAL and (
                last.pos == el.index or s.fresh or s.joined == el.index):
            s.fresh = False  # the session is a person's: its opener's step holds its script
            s.joined = el.index  # the block's next lines join the same step
            self._join(last, line)
            return []
        script = s.opener + "\n" + line.text.strip()
        step = b._manual(owner, cls, b._title(owner, el), script,
                         Span(start=line.start, end=line.end), el.index, script=script)
        s.last = step
        s.steps.append(step)
        return [step]

    def _wrapped(self, b: _OutlineBuilder, s: Session, parsed: Parsed, line: CommandLine
                 ) -> list[tuple[str, list[list[str]], bool, frozenset[str]]] | None:
        """(text, argv stages, mutating, uses) per pipeline, or None if only a person can."""
        if s.prefix is None and s.ssh is None:
            return None
        if s.ssh is not None:
            return self._over_ssh(b, s, parsed, line)
        assert s.prefix is not None  # neither None (returned above) nor ssh: a prefix
        out = []
        for pipeline in parsed.pipelines:
            first, *rest = pipeline.stages
            if not all(_filter(stage) for stage in rest):
                return None
            words = [list(s.prefix) + list(first), *[list(st) for st in rest]]
            argv = [[b.scope.word(w) for w in stage] for stage in words]
            if any(_value_in_code(stage) for stage in argv):
                return None
            judged = [[w.plain() if w.is_literal else Templated(w.plain()) for w in stage]
                      for stage in words]
            effect = classify_pipeline(judged).effect
            if effect == "interactive":
                return None
            uses = frozenset(v for st in words for w in st for v in b.scope.refs(w))
            # the step says what the guide wrote: the session's opening lines and the command
            out.append((s.opener + "\n" + line.text.strip(), argv, effect == "mutate", uses))
        return out

    def _over_ssh(self, b: _OutlineBuilder, s: Session, parsed: Parsed, line: CommandLine
                  ) -> list[tuple[str, list[list[str]], bool, frozenset[str]]] | None:
        """ssh HOST -- 'TEXT': the guide's own literal text, for the remote shell to split."""
        text = line.text.strip()
        if "\n" in text or "#" in text or not all(
                w.is_literal for p in parsed.pipelines for st in p.stages for w in st):
            return None  # a value in a remote shell's text would be code
        head = [b.scope.word(w) for w in s.ssh or []]
        argv = [head + [literal(w) for w in s.remote] + [literal(text)]]
        if _value_in_code(argv[0]):
            return None
        judged = [w.plain() if w.is_literal else Templated(w.plain()) for w in s.ssh or []]
        effect = classify(judged + s.remote + [text]).effect
        if effect == "interactive":
            return None
        uses = frozenset(v for w in s.ssh or [] for v in b.scope.refs(w))
        return [(s.opener + "\n" + text, argv, effect == "mutate", uses)]


def _another_item(b: _OutlineBuilder, opened: int, at: int) -> bool:
    """Whether the element at `at` belongs to a list item other than the opener's (an item
    that opens the session in its own words is its own)."""
    def item_of(pos: int) -> int | None:
        return pos if b.els[pos].kind == "list_item" else b.owner.get(pos)
    owner = item_of(at)
    return owner is not None and owner != item_of(opened) and \
        b.els[owner].kind == "list_item"


_ENTERED_SUBCOMMANDS = frozenset({"exec", "rsh", "debug", "attach", "node-shell"})


def _on_another_machine(text: str) -> bool:
    """Whether a session's opener enters a machine or a container that lives on after it: a
    shell on a host (`ssh node`, `gcloud compute ssh`, `oc debug node/X`), in a running pod
    or container (`kubectl exec -it POD -- bash`, `oc rsh`, `docker exec -it C sh`). Not a
    login as another user here (`sudo -i`, `su postgres`), a console, a new container of its
    own (`docker run -it img sh`, `kubectl run -it`: gone when it exits), nor `ssh git@host`
    (a git server's test of the key, which gives no shell)."""
    try:
        argv = shlex.split(text)
    except ValueError:
        argv = text.split()
    while argv and argv[0].rsplit("/", 1)[-1] in ("sudo", "env", "command"):
        argv = argv[1:]
        while argv and argv[0].startswith("-"):
            argv = argv[1:]
    if not argv:
        return False
    tool = argv[0].rsplit("/", 1)[-1]
    if tool == "ssh":
        target = next((a for a in argv[1:] if not a.startswith("-")), "")
        return not target.startswith("git@")
    if tool in ("oc", "kubectl"):
        found = _subcommand(argv)
        return found is not None and found[1] in _ENTERED_SUBCOMMANDS
    if tool in _CONTAINER_EXECS or tool == "crictl":
        return "exec" in argv[1:3]
    # (and `chroot /host`, `nsenter -t PID`, `ip netns exec NS bash`, `lxc exec C -- bash`)
    return tool in _REMOTE_SHELLS or tool in _SHELL_ON or tool in ("chroot", "nsenter", "ip",
                                                                   "lxc", "incus")


# A client given the server it talks to by a URL, or by an address option whatever the tool
# (`kafka-topics.sh --bootstrap-server kafka-1:9092`, `etcdctl --endpoints=...`; a database
# client's `-h db-1` is `reaches_its_machine`'s)
_URL_HOST = re.compile(r"\bhttps?://\[?([^/:\s\]'\"]+)", re.I)
_ADDRESS_OPTION = re.compile(r"(?:^|\s)(?:--bootstrap-server|--endpoints?|--brokers?|--server|"
                            r"--address|-addr|--url)[=\s]+['\"]?([\w.-]+)")


def _names_its_server(text: str) -> bool:
    """Whether a line reaches the server it acts on by name from any machine (`curl
    https://web.example.net/healthz`, `psql -h orders-db -c ...`): it runs where it did.
    `curl localhost:9200` asks the machine it runs on."""
    hosts = [m.group(1) for m in _URL_HOST.finditer(text)] + \
        [m.group(1) for m in _ADDRESS_OPTION.finditer(text)]
    return any(not _LOCAL_HOST.match(h) for h in hosts)


def device_verb(text: str) -> bool:
    """Whether a line opens with what only a network device's CLI has (`configure`, `commit`,
    `show ...`, `rollback 1`): no program on this machine's PATH answers it."""
    return _DEVICE_ONLY.match(text.strip()) is not None


def _command_like(text: str) -> bool:
    """A line that reads as a command typed into the session, not a line of what it printed
    (`apiVersion: v1`, `cluster1-pxc-0`, a table row): only those run by themselves."""
    if looks_like_command(text):
        return True
    words = text.split()
    return len(words) >= 2 and bool(_PROGRAM.fullmatch(words[0])) and \
        not words[1].endswith(":") and len(_COLUMNS.findall(text)) < 2


def _filter(stage: tuple[Word, ...]) -> bool:
    """A later pipeline stage that only filters what the session printed (reads no file)."""
    argv = _plain(stage)
    limit = _FILTERS.get(argv[0]) if argv else None
    rule = TABLE.get(argv[0]) if argv else None
    if limit is None or not isinstance(rule, Tool) or classify(argv).effect != "read":
        return False
    try:
        parsed = parse(argv[1:], rule.flags, argv[0])
    except NotRead:
        return False
    if argv[0] in ("grep", "egrep", "fgrep", "sed") and parsed.has("-e", "--regexp", "-f",
                                                                   "--expression", "--file"):
        limit = 0
    return len(parsed.operands) <= limit


def _value_in_code(argv: list[str]) -> bool:
    return any(sink in ("program", "script") and is_template(word)
               for word, sink in zip(argv, placement.argv_sinks(argv)))


# -- database consoles ---------------------------------------------------------------------------

_SQL_RUNS = frozenset("""select with show explain insert update delete create drop alter truncate
grant revoke vacuum analyze analyse reindex cluster checkpoint copy table values call do refresh
comment kill describe desc optimize flush purge system detach attach rename exists check repair
pragma notify replace load install uninstall stop change""".split())
# statements whose effect is the session's own state: what follows them depends on it
_SQL_STATE = frozenset("""begin start commit rollback end abort savepoint release set use lock
prepare execute deallocate declare fetch close listen unlisten discard reset""".split())
_PSQL_DISPLAY = re.compile(r"\\(?:x|a|t|timing)(?:\s+(?:on|off|auto))?")
_PSQL_READ_META = re.compile(r"\\(?:d[A-Za-z]*\+?|l\+?|conninfo|encoding)(?:\s+[\w.\"*]+)*")
_REDIS_STATE = frozenset("""select multi exec discard watch unwatch auth hello reset readonly
readwrite subscribe psubscribe ssubscribe monitor sync psync""".split())
_REDIS_OUTPUT = frozenset({"OK", "PONG", "QUEUED"})
_CONTINUED = re.compile(r"""^\s*(?:[\w.-]*[-'"(]#|[\w.-]*[-'"(]>|->|:-\])\s?""")
_LONGEST = 200  # lines a statement may span: its reading stays linear in a block of SQL lines
_HOLE = re.compile(r"<[A-Za-z][\w .:/-]{0,40}>|\$\{?[A-Za-z_]")
_PRINTED = re.compile(r"""^\s*(?:[\d("'|+#\[{-]|\S+:|\S*\s*\|)""")


def _console_tool(words: list[Word]) -> str:
    argv = _plain(words)
    i = 0
    if argv and argv[0] == "sudo":
        i = 1
        while i < len(argv) and argv[i].startswith("-"):
            i += 2 if argv[i] in ("-u", "--user", "-g", "--group") else 1
    return argv[i].rsplit("/", 1)[-1] if i < len(argv) else ""


def _console_kind(text: str, redis: bool, typed: bool) -> str:
    """What a line in a console is: "statement" (one step runs it), "display" (psql's `\\x`:
    how results print), "state" (`BEGIN`, `\\c db`, `USE db`, `SELECT 2`, `\\! cmd`: later
    lines depend on it, or a person runs it), "output" (what the console printed). `typed`:
    the line stood at the console's prompt."""
    first = text.split(None, 1)[0] if text.split() else ""
    if redis:
        if not re.fullmatch(r"[A-Za-z][A-Za-z-]*", first) or first in _REDIS_OUTPUT or \
                _PRINTED.match(text):
            return "output"
        return "state" if first.lower() in _REDIS_STATE else "statement"
    if text.startswith("\\"):
        if _PSQL_DISPLAY.fullmatch(text):
            return "display"
        return "statement" if _PSQL_READ_META.fullmatch(text) else "state"
    word = first.lower().rstrip(";")
    if word in _SQL_STATE and not (word == "set" and re.match(r"(?i)set\s+global\b", text)):
        return "state"
    if word in _SQL_RUNS and not (word == "start" and re.match(r"(?i)start\s+transaction\b",
                                                                text)):
        return "statement"
    if not typed and (_PRINTED.match(text) or len(_COLUMNS.findall(text)) >= 1):
        return "output"
    return "state"  # typed at the console, but nothing this reader knows: a person's


_REDIS_WRITES = frozenset("""set setex setnx psetex mset msetnx getset getdel getex append del
unlink expire expireat pexpire pexpireat persist rename renamenx move copy incr incrby decr decrby
incrbyfloat hset hsetnx hmset hdel hincrby hincrbyfloat lpush rpush lpushx rpushx lpop rpop lrem
ltrim lset linsert lmove blpop brpop sadd srem spop smove zadd zrem zincrby zpopmin zpopmax
zremrangebyrank zremrangebyscore xadd xdel xtrim xgroup xack xclaim pfadd pfmerge publish eval
evalsha fcall config flushall flushdb bgsave save bgrewriteaof shutdown debug slaveof replicaof
failover sentinel cluster client memory latency slowlog script acl module function swapdb wait
migrate restore setrange setbit bitop bitfield geoadd""".split())


def redis_command(line: str) -> bool:
    """Whether a line reads as a command typed at redis-cli's prompt: its first word (any
    letter case) names one of redis's commands and no word looks like output (`key:value`)."""
    words = line.split()
    if not words or not re.fullmatch(r"[A-Za-z][A-Za-z-]*", words[0]) or \
            words[0] in _REDIS_OUTPUT or _PRINTED.match(line):
        return False
    name = words[0].lower()
    return name in _REDIS_WRITES or name in _REDIS_READ or name in _REDIS_READ_SUBS or \
        name in _REDIS_STATE


def _shell_program(word: str, redis: bool) -> bool:
    """A line in a console that starts with a program this machine runs (`knife`, `kubectl`,
    `sudo`) and no word of the console's own: the guide is back at a shell."""
    name = word.rsplit("/", 1)[-1]
    low = name.lower()
    if redis and (low in _REDIS_WRITES or low in _REDIS_READ or low in _REDIS_READ_SUBS):
        return False
    if not redis and (low.rstrip(";") in _SQL_RUNS or low.rstrip(";") in _SQL_STATE):
        return False
    return "/" in word or name in _WORKSTATION or name in TABLE or name in ("sudo", "env")


def _ends(text: str) -> bool:
    """Whether a line ends its SQL statement (`;`, or `\\G`, `\\g`), a `-- comment` after it."""
    body = re.sub(r"\s+--[^'\"]*$", "", text).rstrip()
    return body.endswith((";", "\\G", "\\g"))


def _statement(text: str, line: CommandLine, el: Element) -> tuple[str, int] | None:
    """The SQL statement typed from `line` on, up to its `;` (it may span lines: the block's
    next lines, each after a continuation prompt `db-# ` when the console showed prompts),
    and the line it ends on. None when its end cannot be told."""
    if text.startswith("\\") or _ends(text):
        return text, line.end
    rows = el.text.split("\n")
    base = el.span.start + 1 if el.fenced else el.span.start
    at = line.end - base
    if not 0 <= at < len(rows):
        return text, line.end
    prompted = rows[at].strip() != text
    parts = [text]
    for k in range(at + 1, min(len(rows), at + _LONGEST)):
        raw = rows[k]
        if prompted:
            m = _CONTINUED.match(raw)
            if m is None:
                break
            raw = raw[m.end():]
        if not raw.strip() or raw.strip().startswith("\\"):
            break
        parts.append(raw.rstrip())
        if _ends(raw):
            return "\n".join(parts), base + k
    if _complete(text):
        return text, line.end  # `select 1` with its `;` left off, then what it printed
    return None


def _complete(text: str) -> bool:
    return text.count("(") == text.count(")") and text.count("'") % 2 == 0 and not re.search(
        r"(?i)(?:[,(=<>+*/-]|\b(?:from|where|and|or|by|join|on|select|set|in|not))\s*$", text)


def _split_sql(text: str) -> list[str]:
    """Statements of one input, cut at each `;` outside quotes."""
    out, cur, quote = [], [], ""
    for ch in text:
        cur.append(ch)
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == ";":
            out.append("".join(cur).strip())
            cur = []
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def _console_argv(tool: str, statement: str) -> list[str] | None:
    """The one-shot words that give the console `statement`: `-c STATEMENT` (psql, once per
    statement: they run in order in one session; `cockroach sql -e` likewise), `-e STATEMENT`
    (mysql, cqlsh), `--query STATEMENT` (clickhouse-client, one statement), the command's
    words (redis-cli), the statement after the database file (sqlite3)."""
    if tool in ("redis-cli", "gitlab-redis-cli"):
        try:
            return shlex.split(statement)
        except ValueError:
            return None
    if tool == "sqlite3":  # `sqlite3 FILE SQL`: the statements after the database file
        parts = _split_sql(statement)
        if not parts or any(_console_kind(p, False, True) != "statement" for p in parts):
            return None
        return [statement]
    flag = _ONE_SHOT.get(tool)
    if not flag:
        return None
    if tool in ("psql", "gitlab-psql", "cockroach") and not statement.startswith("\\"):
        parts = _split_sql(statement)
        if any(_console_kind(p, False, True) != "statement" for p in parts):
            return None  # `select 1; begin;`: the session's state changes
        return [w for p in parts for w in (flag, p)]
    if tool == "clickhouse-client" and len(_split_sql(statement)) > 1:
        return None
    return [flag, statement]


def _holes(statement: str) -> bool:
    """A value the reader fills in (`<pid>`, `$VAR`, `{x}`): never spliced into a statement."""
    return bool(_HOLE.search(statement) or placeholders.find(statement) or
                is_template(statement))
