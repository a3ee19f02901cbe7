"""What a command does to the world: read-only, mutating, or interactive (a person's job).

This module owns the tables of command-line tools that runbooks use and the rule for each:
`kubectl get` reads, `kubectl delete` changes the world, `kubectl exec -it` needs a person at a
terminal. A tool nobody listed is treated as mutating, so that an unknown command always meets
an approval gate before it runs. It does not parse shell syntax (`engine.compile.shellwords`).
"""

from __future__ import annotations

from typing import Literal

Effect = Literal["read", "mutate", "interactive"]

# Tools whose first word is enough to recognise a command in prose or untagged blocks.
KNOWN_CLIS = frozenset("""
kubectl oc virtctl systemctl journalctl curl wget gitlab-ctl gitlab-rake gitlab-rails gitlab-psql
gitlab-redis-cli redis-cli psql sudo ssh cat grep egrep zgrep tail head ls df du ps top free dmesg
docker crictl gcloud gsutil aws knife chef-client consul vault etcdctl helm git jq yq dig nslookup
ping traceroute mtr openssl netstat ss ip lsof iostat vmstat find rm kill pkill killall mv cp chmod
chown mkdir tar zcat awk sed sort uniq wc echo export promtool amtool nc mount umount lsblk
terraform ansible service apt apt-get yum dnf pip bundle thanos uptime hostname uname date
reboot shutdown cd chroot exit watch less more vi vim nano tee xargs env printenv stat file
systemd-analyze iptables nft tcpdump strace gdb pgrep pidof top htop iotop sv gitaly praefect
mysql kubeadm crio containerd ctr podman sar nvidia-smi ethtool hdparm smartctl mdadm
""".split())

_READ_ONLY = frozenset("""
cat grep egrep zgrep head ls df du ps free dmesg jq yq dig nslookup ping traceroute mtr netstat ss
lsof iostat vmstat awk sort uniq wc echo uptime hostname uname date printenv stat file
systemd-analyze pgrep pidof sar nvidia-smi zcat cut tr column base64 md5sum sha256sum which
whoami id getent lsblk findmnt nproc lscpu ethtool true sleep false test getconf basename
dirname realpath readlink tac nl od hexdump strings diff cmp comm sum cksum seq
""".split())

_INTERACTIVE = frozenset("""
bash sh zsh su cd chroot exit top htop iotop less more vi vim nano watch mysql telnet tmux screen
logout gdb strace
""".split())

# tool -> (read-only subcommands, mutating subcommands, default for other subcommands)
_SUBCOMMANDS: dict[str, tuple[frozenset[str], frozenset[str], Effect]] = {}


def _table(tools: str, read: str, mutate: str, default: Effect = "mutate") -> None:
    for tool in tools.split():
        _SUBCOMMANDS[tool] = (frozenset(read.split()), frozenset(mutate.split()), default)


_table("kubectl oc", "get describe logs top explain api-resources api-versions version "
       "cluster-info auth events diff wait whoami",
       "delete patch apply edit scale rollout cordon uncordon drain label annotate create "
       "replace set taint cp run expose autoscale adm")
_table("virtctl", "version guestosinfo fslist userlist", "migrate restart stop start pause "
       "unpause migrate-cancel addvolume removevolume soft-reboot")
_table("systemctl", "status is-active is-enabled is-failed list-units list-timers show cat "
       "list-unit-files", "restart stop start reload disable enable kill mask unmask")
_table("gitlab-ctl", "status show-config", "restart stop start reconfigure kill hup term "
       "deploy-page")
_table("docker podman crictl ctr", "ps logs inspect images stats info version top pods",
       "rm rmi kill stop restart start exec run pull prune")
_table("gcloud", "", "", "mutate")
_table("gsutil", "ls cat stat du", "rm mv cp rsync")
_table("aws", "", "")
_table("knife", "search status", "")
_table("consul", "members info version monitor catalog", "leave force-leave kv")
_table("vault", "read list status version", "write delete")
_table("etcdctl", "get endpoint member alarm version check", "put del defrag compact snapshot")
_table("helm", "list ls status get history show template version search",
       "install upgrade uninstall delete rollback")
_table("git", "log status show diff branch remote fetch rev-parse ls-files grep blame",
       "push commit reset checkout merge rebase")
_table("promtool amtool", "check query test version", "silence")
_table("ip", "a addr address route r link neigh rule", "")
_table("journalctl", "", "", "read")
_table("redis-cli", "info ping get keys scan ttl type llen scard hget hgetall smembers "
       "slowlog client dbsize memory --bigkeys --stat", "del flushall flushdb set config "
       "shutdown expire")
_table("openssl", "s_client x509 verify req version", "")
_table("service", "", "")


def effect(argv: list[str]) -> Effect:
    """Effect of one argv (plain words, placeholders rendered as `<x>`)."""
    argv = _unwrap(argv)
    if not argv:
        return "interactive"
    tool = argv[0].rsplit("/", 1)[-1]
    rest = argv[1:]
    if tool in _INTERACTIVE:
        return "interactive"
    if tool == "ssh":
        remote = _positionals(rest, value_opts={"-i", "-p", "-l", "-o", "-J", "-F"})
        return effect(" ".join(remote[1:]).split()) if len(remote) > 1 else "interactive"
    if tool in ("kubectl", "oc"):
        return _kubectl(rest)
    if tool in ("tail", "journalctl") and any(a in ("-f", "--follow", "-F") for a in rest):
        return "interactive"
    if tool in ("psql", "gitlab-psql"):
        return "mutate" if any(a in ("-c", "--command", "-f") for a in rest) else "interactive"
    if tool in ("gitlab-rails", "rails") and rest[:1] in (["console"], ["c"], ["dbconsole"]):
        return "interactive"
    if tool in ("redis-cli", "gitlab-redis-cli") and not _positionals(rest, value_opts={
            "-h", "-p", "-a", "-n", "--user", "--pass"}) and "--bigkeys" not in rest:
        return "interactive"
    if tool == "curl":
        return _curl(rest)
    if tool == "sed":
        return "mutate" if any(a.startswith("-i") or a == "--in-place" for a in rest) else "read"
    if tool == "find":
        return "mutate" if any(a in ("-delete", "-exec", "-execdir") for a in rest) else "read"
    if tool in _READ_ONLY:
        return "read"
    if tool in _SUBCOMMANDS:
        read, mutate, default = _SUBCOMMANDS[tool]
        args = _positionals(rest, value_opts=set())
        if tool in ("gcloud", "aws", "knife", "service"):
            # `gcloud compute instances list`, `knife node show x`: the verb comes later
            words = set(args[:4])
            if words & {"list", "describe", "show", "get", "status", "search", "info", "ls"}:
                return "read"
            return default
        sub = args[0] if args else ""
        if tool == "redis-cli":
            sub = next((a for a in rest if a.lower() in read | mutate), sub).lower()
        if sub in read:
            return "read"
        if sub in mutate:
            return "mutate"
        return default
    return "mutate"


def pipeline_effect(stages: list[list[str]]) -> Effect:
    """A pipeline changes the world if any stage does; it needs a person if its first does."""
    effects = [effect(s) for s in stages]
    if effects[0] == "interactive":
        return "interactive"
    if any(e != "read" for e in effects):
        return "mutate"
    return "read"


def looks_like_command(text: str) -> bool:
    """Whether a line of prose or an untagged block starts with a known command-line tool."""
    words = text.strip().split()
    if not words:
        return False
    first = words[0].rsplit("/", 1)[-1] if words[0].startswith("/") else words[0]
    if first == "sudo" and len(words) > 1:
        return looks_like_command(" ".join(words[1:]))
    return first in KNOWN_CLIS and (len(words) > 1 or first in _READ_ONLY)


def _unwrap(argv: list[str]) -> list[str]:
    """Drop wrappers that run another command: sudo, time, nice, timeout N, xargs."""
    while argv:
        head = argv[0]
        if head == "sudo":
            rest = argv[1:]
            if any(a in ("-i", "-s") for a in rest[:2]) and len(rest) <= 2:
                return ["bash"]
            argv = _positionals(rest, value_opts={"-u", "-g", "-C"}, keep_tail=True)
        elif head in ("time", "nice", "nohup", "stdbuf"):
            argv = argv[1:]
        elif head == "timeout":
            argv = _positionals(argv[1:], value_opts={"-s", "-k"}, keep_tail=True)[1:]
        elif head == "xargs":
            argv = _positionals(argv[1:], value_opts={"-n", "-I", "-P", "-L", "-d"},
                                keep_tail=True)
        else:
            return argv
    return argv


def _positionals(args: list[str], *, value_opts: set[str], keep_tail: bool = False) -> list[str]:
    """Arguments that are not options. With keep_tail, everything from the first positional."""
    out: list[str] = []
    skip = False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if a == "--":
            return out + args[i + 1 :] if not keep_tail else args[i + 1 :]
        if a.startswith("-") and len(a) > 1:
            if a in value_opts:
                skip = True
            continue
        if keep_tail:
            return args[i:]
        out.append(a)
    return out


_KUBECTL_VALUE_OPTS = {"-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user",
                       "-l", "--selector", "-o", "--output", "-c", "--container", "-s",
                       "--server", "--as", "--token"}


def _kubectl(rest: list[str]) -> Effect:
    args = _positionals(rest, value_opts=_KUBECTL_VALUE_OPTS)
    sub = args[0] if args else ""
    if sub in ("exec", "attach", "debug", "port-forward", "proxy"):
        if sub == "exec" and "--" in rest and not any(
                a in ("-it", "-ti", "-i", "-t", "--stdin", "--tty") for a in rest):
            inner = rest[rest.index("--") + 1 :]
            return effect(inner) if inner else "interactive"
        return "interactive"
    if sub == "logs" and any(a in ("-f", "--follow") for a in rest):
        return "interactive"
    if sub == "rollout" and len(args) > 1 and args[1] in ("status", "history"):
        return "read"
    if sub in ("config",):
        return "read" if len(args) > 1 and args[1].startswith(("view", "get-", "current")) \
            else "mutate"
    read, mutate, default = _SUBCOMMANDS["kubectl"]
    if sub in read:
        return "read"
    return "mutate"


def _curl(rest: list[str]) -> Effect:
    for i, a in enumerate(rest):
        if a in ("-X", "--request") and i + 1 < len(rest):
            return "read" if rest[i + 1].upper() in ("GET", "HEAD", "OPTIONS") else "mutate"
        if a.startswith("-X") and len(a) > 2:
            return "read" if a[2:].upper() in ("GET", "HEAD", "OPTIONS") else "mutate"
        if a in ("-d", "--data", "--data-raw", "--data-binary", "--data-urlencode", "-F",
                 "--form", "-T", "--upload-file", "-o", "--output", "-O"):
            return "mutate"
    return "read"
