"""Read-only rows for the daemons a host runs and the tools that look after them: process
supervisors (supervisorctl, pm2, OpenRC), web servers and proxies checking their configuration
(nginx, apachectl, haproxy, varnish), mail and name servers (postconf, mailq, postqueue,
qshape, exim, named-checkconf), the kernel's packet tables (nft, ipvsadm, conntrack), storage
volumes (zpool, zfs, LVM, multipath), a batch cluster's scheduler (Slurm's sinfo, squeue,
scontrol show), a log store's client (Loki's logcli) and a data pipeline's scheduler
(Airflow's listings of DAGs, runs and task states).

Each row lists the forms that only show state or test a configuration; any other form is not
read-only (`supervisorctl restart`, `nginx -s reload`, `postconf -e`, `conntrack -D`,
`zpool clear`).
"""

from __future__ import annotations

import re
from functools import partial

from engine.effects.options import Flags, NotRead, Parsed
from engine.effects.rules import UNTIL_STOPPED, Rule, Tool, bounded, rows
from engine.effects.rules import needs as _needs_any
from engine.effects.services import service_status

F = Flags.of
NONE = Tool()
_needs = partial(_needs_any, cause="flag")  # a mode flag, not an operand, makes them read

# -- process supervisors ------------------------------------------------------------------------

_FOLLOW = frozenset({"-f"})
_SUPERVISORCTL = Tool(F("c:s:u:p:", "configuration= serverurl= username= password="),
                      bare="interactive", subcommands={
    "status": NONE, "avail": NONE, "pid": NONE, "version": NONE,
    # `tail NAME [stdout|stderr]`, `tail -1600 NAME` (its last bytes); `-f` follows
    **rows("tail maintail", Tool(F("f", numeric=True), follow=_FOLLOW)),
})


# pm2: `logs` streams unless --nostream; `jlist`, `prettylist` and `describe` print each
# process's environment (its secrets): not listed
_PM2 = Tool(subcommands={
    **rows("list ls l status", Tool(F("", "sort= mini-list"), max_operands=0)),
    "logs": Tool(F("", "lines= nostream raw err out timestamp= json format highlight="),
                 max_operands=1, check=bounded("--nostream")),
    "ping": Tool(max_operands=0),
})


# -- web servers and proxies: their configuration tests -----------------------------------------

# (the system's own configuration only: -c, -p and -g name another one, whose load_module
# lines would load code)
_NGINX = Tool(F("tTqvV"), max_operands=0,
              check=_needs("-t", "-T", "-v", "-V", what="runs the server (or signals it: -s)"))
def _apache(p: Parsed, name: str) -> None:
    """`apachectl configtest` / `-t`, `-S` (its virtual hosts), `-M` (modules), `-v`, `-V`."""
    if p.operands and p.operands != ["configtest"]:
        raise NotRead(f"`{name} {p.operands[0]}` is not a read-only subcommand",
                      cause="subcommand")
    if not p.operands and not p.has("-t", "-S", "-M", "-v", "-V", "-l", "-L"):
        raise NotRead(f"{name} without -t, -S or -M starts the server", cause="flag")


_APACHECTL = Tool(F("tSMvVlL"), max_operands=1, check=_apache)  # (not -f, -d: as nginx's -c)


_HAPROXY = Tool(F("cf:qvV", why={"-sf": "replaces a running server",
                                  "-st": "stops a running server"}),
                max_operands=0, check=_needs("-c", "-v", "-V", what="runs the server"))
_VARNISHADM_READ = frozenset("""backend.list status param.show vcl.list vcl.show ban.list
    panic.show ping help storage.list""".split())


def _varnishadm(p: Parsed, name: str) -> None:
    if not p.operands or p.operands[0] not in _VARNISHADM_READ:
        said = p.operands[0] if p.operands else "(none: an interactive console)"
        raise NotRead(f"`{name} {said}` is not a read-only command", cause="subcommand",
                      effect="mutate" if p.operands else "interactive")


# -- mail and name servers ----------------------------------------------------------------------

# postconf: parameter names are operands; -e/-X/-# edit main.cf, -M/-F/-P with operands
# that say `name=value` edit master.cf
def _no_assignment(p: Parsed, name: str) -> None:
    if any("=" in o for o in p.operands):
        raise NotRead(f"{name} NAME=VALUE sets a parameter", cause="operand")


_POSTCONF = Tool(F("ndhxc:"), check=_no_assignment)
# exim's options are one dash and long: -bp lists the queue, -bpc counts it, -bV and -bP show
# the build and the configuration
_EXIM = Tool(F("", "bp bpc bpr bpu bpa bV bP", one_dash=True),
             check=_needs("-bp", "-bpc", "-bpr", "-bpu", "-bpa", "-bV", "-bP",
                          what="delivers, queues or runs mail"), max_operands=1)

# -- packet tables ------------------------------------------------------------------------------

_NFT = Tool(F("ansjtTyN", "handle numeric stateless json terse debug= echo"),
            subcommands={"list": NONE})
_IPVSADM = Tool(F("Lln", "list numeric stats rate exact thresholds persistent-conn sort "
                  "connection daemon timeout"),
                max_operands=0)
_CONNTRACK = Tool(F("LSCp:s:d:o:f:m:u:w:",
                    """dump stats count proto= src= dst= orig-src= orig-dst= reply-src=
                    reply-dst= sport= dport= orig-port-src= orig-port-dst= reply-port-src=
                    reply-port-dst= output= family= mark= status= zone= state="""),
                  max_operands=0, check=_needs("-L", "--dump", "-S", "--stats", "-C", "--count",
                                               what="changes the table (-D, -F, -U, -I)"))

# -- storage volumes ----------------------------------------------------------------------------

_ZPOOL = Tool(subcommands={
    "status": Tool(F("vxDgLPpte")),
    "list": Tool(F("HgLpPvo:")),
    "get": Tool(F("Hpo:")),
    "history": Tool(F("il")),
})
_ZFS = Tool(subcommands={
    "list": Tool(F("rHpd:o:s:S:t:")),
    "get": Tool(F("rHpd:o:s:t:")),
})
_LVM_REPORT = Tool(any_args=True)  # lvs, vgs, pvs and their *display: reports, no writes
# -l/-ll list the maps, -t prints the configuration in use
_MULTIPATH = Tool(F("lvd:t"), check=_needs("-l", "-t", what="reloads or flushes the maps"))


# postqueue: -p (and -j, as JSON) list the queue, as mailq; -f flushes it, -s and -i deliver
_POSTQUEUE = Tool(F("pjc:"), max_operands=0,
                  check=_needs("-p", "-j", what="flushes or delivers the queue (-f, -s, -i)"))

# -- a batch cluster's scheduler: Slurm --------------------------------------------------------


def _slurm_report(name: str, args: list[str]) -> None:
    """sinfo and squeue only report; -i/--iterate repeats the report until stopped."""
    for a in args:
        if a == "--":
            break
        if a.startswith("--iterate") or _ITERATE.match(a):
            raise NotRead(f"{name} {a} repeats its report {UNTIL_STOPPED}: a person's job",
                          cause="interactive", effect="interactive")


# `-i 5`, `-i5`, `-li 5`: an -i among the short flags before one that takes a value (`-o FMT`)
_ITERATE = re.compile(r"^-[^-oOpntSMuwjAqLk\W\d]*i")


_SCONTROL = Tool(F("adoQv", "all details oneliner quiet verbose"), subcommands={
    "show": Tool(any_args=True), "ping": NONE, "version": NONE})

# -- a log store's client: Loki's logcli --------------------------------------------------------

_LOGCLI_RANGE = "since= from= to= "
_LOGCLI = Tool(F("qo:z:", """addr= org-id= tls-skip-verify quiet stats output= timezone=
    query-tags= cert= key= ca-cert= bearer-token-file= username="""), inherit=True,
               subcommands={
    # `query --tail` follows new lines until stopped
    "query": Tool(F("t", _LOGCLI_RANGE + """limit= batch= forward no-labels exclude-label=
        include-label= labels-length= step= interval= tail delay-for="""),
                  follow=frozenset({"-t", "--tail"})),
    "instant-query": Tool(F("", "now= limit= forward"), max_operands=1),
    "labels": Tool(F("", _LOGCLI_RANGE + "quiet"), max_operands=1),
    "series": Tool(F("", _LOGCLI_RANGE + "analyze-labels"), max_operands=1),
})

# -- a data pipeline's scheduler: Airflow ------------------------------------------------------

# what DAGs, runs and task instances exist and in which state (`tasks states-for-dag-run`,
# `dags list-runs -d DAG`); `tasks clear`, `dags trigger`, `tasks run` and `test` change or run
# the pipeline, `connections` and `config` print its secrets: not listed
_ANY = Tool(any_args=True)
_AIRFLOW = Tool(subcommands={
    "dags": Tool(subcommands=rows("list list-runs list-jobs list-import-errors state details "
                                  "next-execution report", _ANY)),
    "tasks": Tool(subcommands=rows("list state states-for-dag-run failed-deps", _ANY)),
    "jobs": Tool(subcommands={"check": _ANY}),
    "version": NONE,
})

DAEMONS: dict[str, Rule] = {
    "airflow": _AIRFLOW,
    "supervisorctl": _SUPERVISORCTL,
    "pm2": _PM2,
    "rc-service": Tool(check=service_status),
    "rc-status": Tool(F("aslmcuSC", "all servicelist list manual crashed unused supervised "
                        "nocolor"), max_operands=1),
    "nginx": _NGINX,
    **rows("apachectl apache2ctl", _APACHECTL),
    "haproxy": _HAPROXY,
    "varnishstat": Tool(F("1jlxf:n:"), check=_needs("-1", "-j", "-l", "-x",
                                                          what="is a live screen")),
    "varnishadm": Tool(F("n:T:S:t:"), check=_varnishadm),
    "named-checkconf": Tool(F("jlpzt:"), max_operands=1),
    # (not -o: it writes the zone to a file)
    "named-checkzone": Tool(F("djqc:f:k:m:M:n:r:s:S:T:W:"), max_operands=2),
    "sshd": Tool(F("tTf:C:"), max_operands=0, check=_needs("-t", "-T",
                                                           what="runs the server")),
    "postconf": _POSTCONF,
    "mailq": Tool(max_operands=0),
    "postqueue": _POSTQUEUE,
    "qshape": Tool(any_args=True),  # (a report of the queue's ages by domain)
    **rows("sinfo squeue", _slurm_report),
    "scontrol": _SCONTROL,
    "logcli": _LOGCLI,
    "exim": _EXIM, "exim4": _EXIM,
    "nft": _NFT,
    "ipvsadm": _IPVSADM,
    "conntrack": _CONNTRACK,
    "zpool": _ZPOOL,
    "zfs": _ZFS,
    **rows("lvs vgs pvs lvdisplay vgdisplay pvdisplay", _LVM_REPORT),
    "multipath": _MULTIPATH,
}
