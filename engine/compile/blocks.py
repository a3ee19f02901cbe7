"""Code blocks -> what they are (command, query, configuration, sample output, script).

This module owns reading one fenced or indented block: choosing its class and plugin from the
language tag or, when untagged, from its content, and picking out the lines that run. The
rules, each one a guide author would recognise:

- A prompt makes a line a command: `$ `, `user@host:~$ `, `[root@host ~]# `, `sh-5.1# `,
  fish's `user@host ~> `, `PS C:\\> `, and `# ` when what follows is a command (a known
  tool, a path, a shell keyword; `# Check the pods` is a comment). A block with prompts is a
  transcript: only its prompted lines run, everything else is their output.
- A database console's prompt (`db=# `, `mysql> `, `ch-1 :) `, `irb(main)> `) or a psql meta-command
  (`\\dt`) marks a line typed into that console, never a shell line: a person's step, unless
  the guide opened the console (`engine.compile.sessions` runs it with the console's one-shot
  form). After a console opener, `> cmd` and `db# select ...` lines are its prompts too.
- A shell-tagged block without prompts (`bash`, `sh`, `console`, ...) is read as commands,
  line by line, unless a line looks like output (log lines, tables, `Key: value`, JSON, error
  messages, `ps` rows) or like prose (a capitalised first word).
- An untagged block runs the lines that clearly are commands (a known tool, a path, a loop, an
  assignment); one that clearly holds PromQL or SQL is a query; YAML/JSON is configuration;
  the rest is output.
- A block after "Example output:" / "should look like" / "the output" / "Sample response:" /
  "It prints:" / "You should see:" is output (unless it carries prompts). A word in a code
  span (`client-output-buffer-limit`) is a name, no cue. Nor is the header of the table it
  printed a command (`ip        heap.percent name` over its rows names columns).
- What a command printed is output even where it shows a prompt: a `$ ` or `# ` line
  indented deeper than the transcript's own prompts (inside YAML `kubectl get -o yaml`
  printed) never runs; a `# cmd` line in the text of a file a command printed (`cat`,
  `crontab -l`, `systemctl cat`) may be the file's comment or the next command typed at a root
  prompt: shown to a person, never run.
- An untagged block that opens with a log line (`ERROR ...`, `{"level":...`) is output, a
  command line further down included: a command typed after output carries its prompt.
- A commented-out command (`# kubectl annotate hco -n "$NS" key-`, a whole command with an
  option or path, not words about one) is an alternative the author offers: shown to a person,
  never run, never lost. `#` and two blanks under a comment line continue that comment
  (`# Examples: mv a b` / `#           mv a c`): no root prompt.
- A command whose printed lines ask the reader (`Enter password:`, `Your selection? 8`,
  `(y/N)`, `Press enter`) or that opens a console the next lines type into (`gpg> `) waits
  for a person: a person's step.
- `name# cmd` / `name$ cmd` (`mon-a# cat /etc/ceph/keyring`) is a prompt when a command
  follows it; so are busybox's `/ # cmd`, `/app # cmd` (a directory, then `#`) and a prompt
  that shows the git branch (`~/src/app (main) $ `).
- `promql` and `sql` blocks are queries; `logql`, `kql` and other query languages Mendflow
  has no plugin for, and database transcripts, are shown to a person (`script`: a manual step
  holding the text), never dropped.

Only `command` and `query` blocks become executable steps; `script` blocks become manual
steps; the rest become nothing. Turning lines into argv is `engine.compile.shellwords`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Literal

from engine.compile import placeholders
from engine.compile.powershell import windows_command
from engine.effects import KNOWN_CLIS, sql_verdict
from engine.guide import Element

BlockClass = Literal["command", "query", "config", "output", "script", "plugin", "other"]

SHELL_TAGS = frozenset({"bash", "sh", "shell", "zsh", "ksh", "console", "shell-session",
                        "shellsession", "terminal", "sudo"})
QUERY_TAGS = {"promql": "prometheus", "sql": "sql", "postgresql": "sql", "psql": "sql",
              "pgsql": "sql", "postgres": "sql", "plpgsql": "sql", "mysql": "sql",
              "metricsql": "prometheus"}
# Query languages with no plugin: the query is shown to a person (a manual step).
MANUAL_QUERY_TAGS = frozenset({"logql", "kql", "traceql", "esql", "influxql", "flux", "cql",
                               "cypher", "spl", "lucene", "kusto", "tsql", "t-sql", "mssql",
                               "sqlserver", "sqlcmd"})
# SQL Server's own words in a ```sql block: its batch separator (`GO` on a line of its own),
# `DBCC ...`, `KILL 53`, `EXEC sp_who2`, its `sys.dm_*` views. No plugin talks to SQL Server
# (the sql plugin's databases are PostgreSQL and SQLite): a script a person runs in sqlcmd.
_TSQL = re.compile(r"^\s*(?:GO(?:\s+\d+)?\s*;?\s*$|DBCC\s|KILL\s+\d+\b|EXEC(?:UTE)?\s+"
                   r"(?:master\.dbo\.|dbo\.)?sp_|sp_who2?\b)|\bsys\.dm_\w+", re.I | re.M)
CONFIG_TAGS = frozenset({"yaml", "yml", "json", "jsonc", "json5", "toml", "ini", "conf", "cfg",
                         "xml", "hcl", "tf", "terraform", "jsonnet", "libsonnet", "nginx", "cron",
                         "properties", "diff", "patch", "dockerfile", "apache", "systemd",
                         "csv", "html", "css"})
MACHINE_CODE_TAGS = frozenset({"gcode", "g-code", "ngc", "krl", "rapid",
                               "urscript", "karel"})
# G-code lines: `M104 S230`, `G1 E-30 F300`, `G28 X Y` (a word letter and its number, then
# the axis and parameter words), a comment after `;`
_GCODE_LINE = re.compile(r"^\s*[GMT]\d{1,3}(?:\.\d)?(?:\s+[A-Z](?:[-+]?\d*\.?\d+)?)*\s*"
                         r"(?:;.*)?$")
SCRIPT_TAGS = frozenset({"ruby", "rb", "irb", "python", "py", "python3", "js", "javascript",
                         "ts", "typescript", "go", "golang", "groovy", "lua", "perl", "rails", "r",
                         "java", "rust", "c", "cpp", "php", "powershell", "ps1", "pwsh", "cmd",
                         "bat", "batch", "fish", "tcl", "expect", "gdb", "redis", "mongo",
                         "mongodb", "javascript-repl", "pycon", "rbconsole", "vim",
                         # a network device's CLI, typed at the router (a person's there)
                         "cisco", "ios", "iosxr", "nxos", "eos", "junos", "routeros", "vyos",
                         # a machine's own program language, sent from its terminal or
                         # pendant (a printer's G-code, a robot's KRL, RAPID or URScript)
                         *MACHINE_CODE_TAGS})
OUTPUT_TAGS = frozenset({"text", "txt", "plaintext", "plain", "log", "logs", "output", "none",
                         "nohighlight", "fatal", "error", "stdout", "stderr", "out"})
OTHER_TAGS = frozenset({"mermaid", "plantuml", "math", "markdown", "md", "dot", "graphviz",
                        "latex", "tex", "ascii", "svg"})
# A diagram in a block with no tag (or another): Mermaid's `graph TD` / `flowchart LR` /
# `sequenceDiagram`, PlantUML's `@startuml`, Graphviz's `digraph G {`: an illustration.
_DIAGRAM = re.compile(r"^\s*(?:(?:graph|flowchart)(?:\s+(?:TD|TB|BT|RL|LR))?\s*;?\s*$|"
                      r"(?:sequenceDiagram|stateDiagram(?:-v2)?|classDiagram|erDiagram|gantt|"
                      r"mindmap|gitGraph|journey|timeline)\s*$|%%\{\s*init\b|@start(?:uml|mindmap)\b|"
                      r"(?:strict\s+)?(?:di)?graph\s+[\w\"]*\s*\{)")
# Blocks whose body is a plugin's parameters in YAML (`detect` names its detector inside).
PLUGIN_TAGS = {"detect": None, "opcua": "opcua", "http": "http", "logs": "logs"}

# -- prompts ------------------------------------------------------------------------------------

_PROMPT = re.compile(
    r"^\s*(?:\([\w.@-]{1,40}\)\s)?"                # a virtualenv's or conda's `(venv) `
    r"(?:\$>?"
    r"|[\w.-]+@[\w.-]+(?::[^\s$#]*)?(?:\s\([\w./-]+\))?\s?[$#%]"  # user@host:~$ , user@host$
    r"|[\w.-]+@[\w.-]+\s(?:[~/][^\s$#%]*|[\w.-]+)\s%"  # zsh's user@host ~ %
    r"|[\w.-]+@[\w.-]+\s[~/][^\s$#%>]*[>#]"          # fish's user@host ~> , root@host /e/x#
    r"|[\w.-]+:(?:~|/)[^\s$#]*\s?[$#]"              # host:~$ , host:/srv#
    r"|\[[^\]\n]{1,60}\]\s?[$#]"                    # [root@host ~]#
    r"|\[[\w.-]+@[\w.-]+:[~/][^\]\s]{0,40}\]"        # ESXi's [root@esx07:~] (no $ or #)
    r"|[\w.-]+-\d[\d.]*[$#]"                        # sh-5.1# , bash-4.2$
    r"|PS(?: [^>\n]{0,40})?>"                       # PS C:\>
    # oh-my-zsh's `➜  ~ `, `➜  app git:(main) ✗ `: the directory is the prompt's, not a command
    r"|\u279c\s+(?:~[\w./-]*(?:\s+git:\([^)\s]*\))?|[\w.-]+\s+git:\([^)\s]*\))(?:\s+\u2717)?"
    r"|[\u276f\u279c]"                             # ❯ ➜
    r"|[\w.~/-]+(?:\s+\([\w./-]+\))?\s+[$%])\s+(?=\S)")  # chef-repo $ , ~/app (main) $
_DB_PROMPT = re.compile(
    r"^\s*(?:[\w.-]+[=-]#|[\w.-]+=>|mysql>|MariaDB \[[^\]\n]*\]>|sqlite>|cqlsh(?::[\w.]+)?>"
    r"|(?:\d{1,3}\.){3}\d{1,3}:\d+>|redis[\w.:-]*>|irb\([^)\n]*\)[\w:]*[>*]"
    r"|(?:\[[^\]\n]+\]\s*)?pry\([^)\n]*\)>|>>>|[\w./:()][\w./:()-]{0,30}>"
    # mongosh's `rs0 [direct: primary] admin> `, the legacy shell's `Enterprise rs0:PRIMARY> `
    r"|(?:(?:MongoDB\s+)?Enterprise\s+|Atlas\s+)?(?:[\w.-]+\s+)?\[(?:direct:\s*)?"
    r"(?:primary|secondary|mongos|arbiter|standalone)\]\s+[\w.-]+>"
    r"|(?:MongoDB\s+)?Enterprise\s+[\w.:-]+>"
    r"|\[zk:\s[^\]\n]{1,80}\]"  # ZooKeeper's zkCli: `[zk: zk-1:2181(CONNECTED) 0] `
    r"|(?:[\w.-]+\s)?:\)"  # clickhouse-client's `ch-events-2 :) `
    r"|\((?:gdb|lldb|[Pp]db|dlv|cuda-gdb)\))\s*(?=\S)")  # a debugger's `(gdb) bt`
# a console's continuation prompt, right under a line typed at it: mysql's `    -> `, Python's
# `... ` (its indentation after the prompt is the statement's own)
_DB_CONTINUED = re.compile(r"^\s*(?:->\s+(?=\S)|\.\.\. ?(?= *\S)|:-\]\s+(?=\S))")
# A network device's CLI: IOS/NX-OS/EOS `edge-rtr-01#show ip route` (the command right after the
# `#`), `sw1(config-if)# shutdown`, `sw1# show vlan`; Junos `ops@mx1> show bgp summary` and,
# in configuration mode (after `[edit]` or that operational prompt), `ops@mx1# rollback 1`.
_DEVICE_VERBS = (r"(?:show|sh|configure|conf|interface|int|shutdown|shut|no|end|exit|clear|copy|"
                 r"write|wr|ping|traceroute|enable|terminal|debug|undebug|reload|router|ip|ipv6|"
                 r"commit|rollback|run|request|set|delete|edit|top|monitor|display|save|do|"
                 r"vlan|switchport|neighbor|network|address-family|load|compare|restart)\b")
# (a mode's name may hold the interface's: Arista's `leaf-3(config-if-Et49/1)#`)
_DEVICE_PROMPT = re.compile(
    r"^\s*(?:[A-Za-z][\w-]*(?:\((?:config|cfg)[\w/.:-]*\))?#(?=[a-z])"
    r"|[A-Za-z][\w.-]*\((?:config|cfg)[\w/.:-]*\)#\s*(?=\S)"
    r"|[A-Za-z][\w.-]*#\s+(?=(?:show|configure)\b)"
    rf"|(?P<junos>[\w.-]+@[\w.-]+)>\s+(?={_DEVICE_VERBS}))")
# `sw1# end` alone may be a root shell's `host# exit`: a device's only beside a surer prompt
_DEVICE_SPACED = re.compile(rf"^\s*[A-Za-z][\w.-]*#\s+(?={_DEVICE_VERBS})")
_JUNOS_EDIT = re.compile(r"^\s*\[edit(?:\s[^\]\n]*)?\]\s*$")
_DOLLAR = re.compile(r"^\s*\$\s+(?=\S)")  # a shell's `$ ` prompt
_ROOT_PROMPT = re.compile(r"^\s*#\s+(?=\S)")
_NAMED_PROMPT = re.compile(r"^\s*[A-Za-z][\w.-]*[#$]\s+(?=\S)")  # `mon-a# `: a command follows
# busybox/ash's root prompt, its directory first: `/ # `, `~ # `, `/app # ` (a command follows)
_DIR_ROOT_PROMPT = re.compile(r"^\s*[~/][\w.~/-]*\s#\s+(?=\S)")
_GT_PROMPT = re.compile(r"^\s*>\s+(?=\S)")
# zsh/csh `% cmd`: a prompt only before a known tool (curl's `% Total  % Received` is output)
_PERCENT_PROMPT = re.compile(r"^\s*%\s+(?=\S)")
_PSQL_META = re.compile(r"^\s*\\[a-zA-Z?!]")
# IPython's numbered prompt `In [3]: `: a `!cmd` shell escape typed at it is a shell line, as
# after `$ `; Python typed at it is a console's, a person's (`Out[3]:` and the rest: output)
_IPYTHON_PROMPT = re.compile(r"^\s*In \[\d*\]:\s+(!?)(?=\S)")
_REDIS_CLI = re.compile(r"(?:^|[\s/])(?:gitlab-)?redis-cli(?:\s|$)")
_PARAM_LINE = re.compile(r"^\s*(?:#|[\w.-]+\s*:(?:\s|$))")  # a plugin block's `key: value`

# -- what a line looks like --------------------------------------------------------------------

_LOG_LINE = re.compile(
    r"^\s*(?:\[?\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}|\[?\d{2}:\d{2}:\d{2}|"
    r"[A-Z][a-z]{2} [ \d]\d \d{2}:|"
    r"(?:level|lvl|ts|time)=|\{\s*\"|[IWEF]\d{4} \d{2}:|"
    r"(?:ERROR|WARN|WARNING|INFO|DEBUG|FATAL|PANIC|TRACE|NOTICE|CRITICAL)\b)")
_OUTPUT_LINE = re.compile(
    r"^\s*(?:\{\s*\"[^\"]+\"\s*:.*\}\s*$|(?:error|warning|warn|fatal|panic|info|debug|err)\s*[:\]]"
    r"|HTTP/\d|\"[^\"]*\"?,?\s*$|(?:Normal|Warning)\s+[A-Z]\w+\s|[\w.-]+(?:\s[\w.-]+){0,3}\s+=\s)",
    re.I)
# ---+--- under a header
_SEPARATOR = re.compile(r"^\s*[-=]{2,}(?:[+|][-=]+)+[+|]?\s*$|^\s*\+[-=+]+\+\s*$")
# Signs of output anywhere in a line: weaker, a line that starts with a known tool is a command.
_OUTPUT_WORDS = re.compile(
    r"\blevel=\w+|\bts=\d{4}-|\bmsg=\"|\"msg\"=|\b[1-5]\d\d (?:OK|Internal Server Error|Not Found|"
    r"Forbidden|Unauthorized|Bad Request|Service Unavailable|Bad Gateway)\b")
_KEY_VALUE = re.compile(r"^\s*-?\s*[\w\"'./()-]+(?: [\w\"'./()-]+){0,3}:(?:\s|$)")
_PS_ROW = re.compile(r"^\s*\S+(?:\s+\d[\d.]*){3}\s")
_METRIC_SAMPLE = re.compile(r"^\s*[a-zA-Z_:][\w:]*(?:\{[^}]*\})?\s+[-+\d.eE]+(?:\s+\d+)?\s*$")
_FIRST_CHAR_OK = re.compile(r"^\s*(?:[a-z_./~\\]|\$\{?[A-Za-z_])")
_WORD0 = re.compile(r"^[a-z_][\w+.-]*$")
_PATH0 = re.compile(r"^(?:\./|\.\./|~/|/(?:[\w.@+-]+/)*(?:s?bin|libexec|scripts?|opt/[\w.@+-]+)/)"
                    r"[\w.@+~/-]*\w$|^/[\w.@+~/-]+\.(?:sh|py|rb|pl)$")  # a program, not a file
_SERVICE_SCRIPT = re.compile(r"^/etc/(?:rc\.d/)?init\.d/[\w.@+-]+$")
_COLUMNS = re.compile(r"\S {3,}[^\s#\\|&>]")  # column-aligned fields: output, not a command
_REDIRECT_FIRST = re.compile(r"^<\s*[\w./~$-]+\s+[a-z]")  # `< file cmd`
_RELATIVE0 = re.compile(r"^(?:s?bin|scripts?|tools|hack|util|utils)/[\w.@+/-]*\w$")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_ASSIGN0 = re.compile(r"^[A-Za-z_]\w*(?:\[[^\]]*\])?\+?=")
_KEYWORD0 = frozenset({"for", "while", "until", "if", "case", "function", "select", "export",
                       "source", ".", "alias", "unset", "cd", "pushd", "popd", "set", "eval",
                       "exec", "trap", "ulimit", "umask", "local", "declare", "readonly", "[",
                       "[[", "test", "let", "read", "time", "!", "{", "(", "exit"})
_WRAPPER0 = frozenset({"sudo", "env", "nohup", "time", "timeout", "nice", "ionice", "stdbuf",
                       "watch", "command", "exec", "doas", "xargs", "chroot", "strace"})
# A wrapper's options that take a value (`sudo -u git`, `watch -n 30`, `nice -n 10`).
_WRAPPER_VALUES = {"sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"}),
                   "watch": frozenset({"-n", "--interval"}),
                   "nice": frozenset({"-n", "--adjustment"}),
                   "ionice": frozenset({"-c", "-n", "-p", "--class", "--classdata"}),
                   "timeout": frozenset({"-s", "--signal", "-k", "--kill-after"})}
_DURATION = re.compile(r"^\d+(?:\.\d+)?[smhd]?$")
# Tools whose name is enough to read a line as a command (with KNOWN_CLIS).
_TOOLS = KNOWN_CLIS | frozenset("""
egrep fgrep zgrep zcat zless bzcat xzcat gunzip gzip unzip zip base64 openssl nc ncat telnet
tcpdump iptables ip6tables nft lsof vmstat iostat mpstat pidstat sar dmesg uptime pkill
killall pgrep rmdir ln cp dd truncate shred wipefs mkfs blkid lsblk fdisk parted growpart
resize2fs xfs_growfs e2fsck fsck xfs_repair tune2fs findmnt losetup blockdev multipath
iscsiadm nvme smartctl hdparm sysctl modprobe lsmod rmmod insmod ldconfig ldd
useradd usermod userdel groupadd passwd chpasswd chage id whoami who w last su
semanage restorecon chcon getenforce setenforce setsebool getsebool ausearch audit2allow
journalctl systemctl loginctl hostnamectl timedatectl localectl networkctl resolvectl
coredumpctl systemd-run systemd-cgls systemd-cgtop busctl service chkconfig update-rc.d
initctl supervisorctl sv svc runsv svlogd runit chpst
apt apt-get apt-cache aptitude dpkg dpkg-reconfigure yum dnf rpm zypper apk snap flatpak
pip pip3 gem npm npx yarn go cargo make cmake bundle rake rails rspec
kubectl oc kubeadm kubelet kubens kubectx kustomize helm helmfile k9s kind minikube k3s
k3d crictl ctr nerdctl docker docker-compose podman buildah skopeo runc crun conmon
virtctl virsh qemu-img istioctl linkerd cilium hubble calicoctl flux argocd velero
tkn kn knative stern kubeseal kubecolor krew odf odf-cli rook ceph rados rbd radosgw-admin
ceph-volume ceph-bluestore-tool ceph-objectstore-tool ceph-mon ceph-osd monmaptool crushtool
cephadm etcdctl etcdutl consul nomad vault terraform terragrunt packer ansible
ansible-playbook ansible-vault salt salt-call puppet chef-client knife chef-shell
chef-solo berks kitchen gcloud gsutil bq aws az eksctl doctl ibmcloud oci s3cmd rclone
mc rsync scp sftp ssh ssh-add ssh-keygen ssh-keyscan sshpass mosh tmux screen
curl wget http httpie grpcurl dig nslookup host whois ping ping6 traceroute tracepath
mtr arping ss netstat ip ifconfig route arp ethtool brctl bridge tc nmcli iw
conntrack ipvsadm ovs-vsctl ovs-ofctl ovs-appctl ovn-nbctl ovn-sbctl ovn-trace
ovn-appctl openssl certbot step keytool gpg gpg2 age sops cosign
psql pg_dump pg_dumpall pg_restore pg_basebackup pg_ctl pg_ctlcluster pg_isready
pg_controldata pg_resetwal pg_upgrade pg_repack pgbench pgbouncer patronictl
gitlab-psql gitlab-ctl gitlab-rake gitlab-rails gitlab-backup gitlab-redis-cli
mysql mysqladmin mysqldump mysqlcheck mariadb mongosh mongo mongodump mongorestore
redis-cli redis-server valkey-cli sqlite3 clickhouse-client clickhouse cqlsh nodetool
kafka-topics kafka-consumer-groups kafka-console-consumer kafka-configs zkCli.sh
elasticsearch-plugin opensearch-plugin cockroach influx promtool amtool thanos
mimirtool cortextool logcli lokitool tempo-cli vmctl vmbackup vmrestore
jq yq xq jid fx grep awk gawk sed perl python python3 ruby node bash sh zsh
cat tac head tail less more wc sort uniq cut tr tee xargs find locate stat file du df
ls tree realpath readlink basename dirname mktemp touch mv rm mkdir chmod chown chgrp
tar split diff cmp md5sum sha256sum sha1sum cksum date cal env printenv echo printf
sleep seq yes true false kill nohup watch timeout uname hostname lscpu lspci lsusb
free top htop atop iotop iftop nethogs dstat glances perf strace ltrace gdb pstack
gcore jstack jmap jcmd rbspy py-spy bpftrace numactl taskset chrt renice prlimit
ulimit nproc getconf dmidecode lshw nvidia-smi ipmitool racadm vi vim nano emacs
git gh glab hub svn openssl reboot shutdown poweroff halt crontab at
runuser sudo su doas chroot nsenter unshare toolbox machinectl
mount umount swapon swapoff sync fstrim lvs vgs pvs lvdisplay vgdisplay pvdisplay
lvcreate lvextend lvresize vgextend pvcreate pvresize mdadm dmsetup cryptsetup zpool zfs
btrfs xfs_info xfs_admin veracrypt gpgconf pass op
aptly hatop whois rspec time openstack nova neutron cinder swift glance
""".split())
# English-like tool names: a command only with an argument that looks technical.
_WEAK = frozenset("""
top free cat tail head less more echo export mount umount ping host date find sort cut tr
kill touch mv cp ln dd tee watch sleep cd source env set unset read test file stat which
wc uniq printf make id time yes true false w who last step pass at more help http
""".split())
_ALONE = frozenset("""
uptime df free top htop dmesg date hostname ps lsblk who w id whoami pwd ls env printenv
uname lscpu nproc sync exit logout iostat vmstat mpstat ifconfig route arp netstat ss
lsmod mount ip crontab tmux screen bash sh zsh history collect_results sudo reboot
tmsh vtysh clish imish
""".split())
_PROSE_WORDS = frozenset("""the a an to is are of and in for with this that you your be will
it on we our can should must may then when which was were has have from by as or not""".split())


def _outputish(line: str) -> bool:
    """A line that reads as a program's output: logs, errors, `Key: value`, JSON, ps rows,
    column-aligned fields (weaker signs yield to a line that starts with a known tool)."""
    s = line.strip()
    if not s:
        return False
    if _LOG_LINE.match(s) or _OUTPUT_LINE.match(s) or _table_header(s) or _PS_ROW.match(s):
        return True
    if (_OUTPUT_WORDS.search(s) or _COLUMNS.search(_QUOTED.sub("''", s.split(" #", 1)[0]))) \
            and not _shape(s, strict=True):
        return True
    if _KEY_VALUE.match(_QUOTED.sub("''", s)) and not _ASSIGN0.match(s) and \
            "://" not in s.split(":", 1)[0] + ":" and not _shape(s, strict=True):
        return True  # `Status: Running`, but not `curl -H 'Accept: text/plain' URL`
    if _REDIRECT_FIRST.match(s):
        return False
    return s[0] in "[{}]|+=*\"<>()…^" and not s.startswith(("[ ", "[[ ", "( ", "((", "{ ")) \
        or s.startswith(("...", "---", "--- ", "==")) or s[0].isdigit()


def _shape(text: str, *, strict: bool, depth: int = 0) -> bool:
    """Whether `text` reads as a shell command. Strict: a known tool, a path, a shell keyword
    or an assignment (untagged blocks, `# ` prompts). Loose: also any lowercase program name
    with arguments that do not read as prose (shell-tagged blocks)."""
    s = text.strip()
    if not s or depth > 3 or not (_FIRST_CHAR_OK.match(s) or _ASSIGN0.match(s)
                                  or s[0] in "[!({" or _REDIRECT_FIRST.match(s)):
        return False
    if _SQL_START.match(s) or _SQL_STATEMENT.match(s):
        return False  # SQL typed into a database console, not a shell line
    words = s.split()
    first = words[0]
    if _ASSIGN0.match(first):
        rest = " ".join(words[1:])
        if len(words) > 1 and not rest.startswith(("#", ";", "&")) and \
                re.match(r"^[A-Za-z_]\w*=(?:\"[^\"]*\"|'[^']*'|\S*)$", first):
            # `VAR=x cmd`; never `notAfter=Jun 14 23:59:59 2024 GMT` (openssl's answer): no
            # program's name starts with a digit
            return not rest[0].isdigit() or first.partition("=")[2][:1] in ("'", '"')
        return True
    if first.endswith(":") or (len(words) > 1 and words[1] in ("=", ":")):
        return False  # `key: value`, `name = value`
    if first in _KEYWORD0:
        return _keyword_command(first, words)
    if first == "chroot" and len(words) == 2 and words[1].startswith("/"):
        return True  # `chroot /host`: opens a shell in that root (a session)
    if first in _WRAPPER0 and len(words) > 1:
        args = words[1:]
        while args and args[0].startswith("-"):
            takes = args[0] in _WRAPPER_VALUES.get(first, ())
            args = args[2:] if takes else args[1:]
        if first == "timeout" and args and _DURATION.match(args[0]):
            args = args[1:]  # `timeout 30s cmd`
        rest = " ".join(args)
        if len(rest) > 2 and rest[0] in "'\"" and rest[-1] == rest[0] and rest[0] not in rest[1:-1]:
            rest = rest[1:-1]  # `watch -n 30 'patronictl list'`: the command it repeats
        return not args or _shape(rest, strict=False, depth=depth + 1) or first == "sudo"
    if not strict and re.match(r"^\$\{?[A-Za-z_]\w*\}?$", first) and len(words) > 1:
        return True  # `$EDITOR file`: a program named by a value (a person's step)
    if _PATH0.match(first) or _RELATIVE0.match(first) or s[0] == "<" and _REDIRECT_FIRST.match(s):
        return True
    if _ABSOLUTE0.match(first) and len(words) > 1 and _OPTION.match(words[1]):
        return True  # `/usr/lib/nagios/plugins/check_disk -w 10%`: a program, its options
    if _SERVICE_SCRIPT.match(first) and len(words) > 1:
        return True  # a SysV service script and its action: `/etc/init.d/x start`
    if (first.startswith("\\")
            or not _WORD0.match(first) and not re.match(r"^[\w.-]+\.(?:sh|py|rb|pl)$", first)):
        return False
    if len(words) == 1:
        return first in _ALONE or (not strict and first in _TOOLS)
    arg = words[1]
    technical = bool(re.match(r"""^[-/$.~"'\d{(\[<]|.*[=/.:@|]""", arg)) or arg in ("|", ">", ">>")
    if first in _WEAK and strict and not technical and _feeds_a_tool(words):
        return True  # `echo srvr | nc zk-1 2181`: a word typed into a program, not output
    if first in _TASK_RUNNERS and _recipe(words):
        return True  # `just rotate-certs`, `make reload-ingress ENV=prod`: a recipe run
    if first in _WEAK and (strict or technical):
        return technical
    if first in _TOOLS or first.startswith(("gitlab-", "chef-", "kube", "ceph-", "pg_", "pg-",
                                             "mkfs.", "fsck.", "ovs-", "ovn-")):
        return True
    if strict:
        return _with_options(words, s) or _into_a_filter(words)
    code = _QUOTED.sub("''", s).split(" #", 1)[0]  # a trailing comment is prose by right
    prose = sum(1 for w in code.split() if w.lower() in _PROSE_WORDS)
    s = code.rstrip()
    return prose < 2 and not s.endswith((".", ":", "?", "!")) or technical and prose < 3


# Programs that run a recipe named in a repository's task file (Makefile, justfile,
# Taskfile.yml, magefile): `just rotate-certs`, `make reload-ingress ENV=prod`, `task db:migrate`
_TASK_RUNNERS = frozenset({"make", "just", "task", "mage", "invoke", "rake"})
_RECIPE = re.compile(r"^[a-z][\w:-]*$")


def _recipe(words: list[str]) -> bool:
    """A task runner's line that names a recipe (`just expiring 14`, `make clean-cache`) and
    holds no prose (`make sure the disk is free` is advice): a command, not sample output (a
    justfile guide's untagged blocks were all dropped as output)."""
    if len(words) < 2 or not _RECIPE.match(words[1]) or words[-1].endswith((".", ":", "?", "!")):
        return False
    return not any(w.lower() in _PROSE_WORDS or w.lower() in ("sure", "certain") for w in words)


_SQL_STATEMENT = re.compile(r"(?i)^\s*(?:set|show|select|with|grant|revoke|create|drop|alter|"
                            r"insert|update|delete|vacuum|analyze|begin|commit|rollback|lock|"
                            r"reset)\s+(?!-)[^;]*;\s*$")
_LOGQL = re.compile(r'^\s*(?:\w+\s*\(\s*)*\{\s*\w+\s*[=!]~?\s*"[^"]*"[^}]*\}'
                    r'\s*(?:\||!=|!~|\[|\)|$)')
_TECHNICAL = re.compile(r"""^[-/$.~"'\d{(\[<]|.*[=/.:@|]""")


_ABSOLUTE0 = re.compile(r"^/(?:[\w.@+-]+/)+[\w.@+-]*\w$")
_OPTION = re.compile(r"^--?[A-Za-z][\w-]*(?:=\S*)?$")
_INTERACTIVE = frozenset({"-it", "-ti", "--interactive", "--tty"})  # a session a person holds


def _with_options(words: list[str], line: str) -> bool:
    """A program the compiler does not know, written as one (`icingacli monitoring acknowledge
    --host web-1`, `opcua-client read -e opc.tcp://plc:4840 -n "ns=3;s=X"`): options among
    its arguments, a technical argument beside them (a value with `=`, `/`, `:`, `<x>`,
    quotes, a number) or a name written as a program's (`check_nrpe`, `opcua-client`), and
    no prose (`use --dry-run first` is advice)."""
    args = words[1:]
    bare = _QUOTED.sub("''", line).split()[1:]  # (an option inside a quoted argument is its)
    if len(words[0]) < 3 or not any(_OPTION.match(w) for w in bare) or \
            words[-1].endswith((".", ":", "?", "!")) or \
            _COLUMNS.search(_QUOTED.sub("''", line)):
        return False  # (`k exec -it`, `tf plan`: the author's shell's aliases)
    if any(w in _INTERACTIVE for w in args) or {"-i", "-t"} <= set(args) or \
            sum(1 for w in words if w.lower() in _PROSE_WORDS) >= 1:
        return False
    return bool(re.search(r"[-_.]", words[0])) or sum(1 for w in bare if _OPTION.match(w)) > 1 \
        or any(re.search(r"[=/:@<$'\"]", w) for w in args if not _OPTION.match(w))


_FILTERS = frozenset("grep egrep fgrep awk sed sort uniq head tail wc jq cut tr column xargs"
                     .split())


def _feeds_a_tool(words: list[str]) -> bool:
    """`echo srvr | nc zk-1 2181 | grep Mode`, `echo stats | nc cache-01 11211`: an English-like
    program (`echo`, `printf`, `cat`) whose words are piped into a program the compiler knows,
    with no prose before the pipe: a command line (it was taken for sample output)."""
    bar = words.index("|") if "|" in words else -1
    return 0 < bar < len(words) - 1 and words[bar + 1] in _TOOLS and \
        words[bar + 1] not in _WEAK and \
        not any(w.lower() in _PROSE_WORDS for w in words[:bar])


def _into_a_filter(words: list[str]) -> bool:
    """A program the compiler does not know whose output is piped into a text filter
    (`exportfs -v | grep render`, `lsnrctl status | grep -i ready`): a command line, not the
    output of the one before it. Prose does not pipe into `grep`; nor is a name of one or two
    letters a program (`k get pods | grep x`: the author's shell's alias)."""
    bar = words.index("|") if "|" in words else -1
    return len(words[0]) >= 3 and 0 < bar < len(words) - 1 and words[bar + 1] in _FILTERS and \
        not any(w.lower() in _PROSE_WORDS for w in words[:bar])


def _keyword_command(first: str, words: list[str]) -> bool:
    """A line that starts with a shell keyword or builtin reads as shell, not prose: `for X in`,
    `while [ ...`, `export X=..`, `source ./env`, `set -e`; `set your own domain` is prose."""
    if len(words) == 1:
        return first in ("exit", "set", "{", "(")
    second = words[1].rstrip(";")
    if first == "for":
        return len(words) > 3 and words[2] == "in" or second.startswith("((")
    if first in ("while", "until", "if"):
        return second in ("[", "[[", "true", "false", ":", "!", "test", "read") or \
            second[0] in "$([!" or _shape(" ".join(words[1:]), strict=True)
    if first in ("export", "local", "declare", "readonly", "let"):
        return "=" in second or second.startswith("-") or bool(_ASSIGN0.match(second)) or \
            bool(re.fullmatch(r"[A-Za-z_]\w*", second)) and len(words) == 2
    if first in ("case", "function"):
        return True
    if first == "select":
        return len(words) > 2 and words[2] == "in"
    if first in ("{", "(", "!", "time", "exec"):
        return _shape(" ".join(words[1:]), strict=True)
    if first == "cd" and len(words) == 2 and _DIRECTORY.match(second):
        return True  # `cd dapr` after `git clone .../dapr.git`: where the next lines run
    return bool(_TECHNICAL.match(second))


_DIRECTORY = re.compile(r"^[\w@+-][\w.@+-]*(?:/[\w.@+-]+)*/?$")
_SQL_START = re.compile(r"(?is)^\s*(?:select\b.*\bfrom\b|select\s+[\w(*'\"]|with\b.*\bas\s*\(|"
                        r"explain\b|show\s+\w|update\b.*\bset\b|delete\s+from\b|insert\s+into\b|"
                        r"alter\s+(?:table|system|database|role|user|index)\b|"
                        r"drop\s+(?:table|index|database|view|role|user)\b|vacuum\b|analyze\s+\w|"
                        r"create\s+(?:table|index|view|role|user|database|extension)\b|"
                        r"grant\b|revoke\b|truncate\b|reindex\b|begin\b|optimize\s+table\b|"
                        # ClickHouse's SYSTEM statements name what they do (`SYSTEM SYNC
                        # REPLICA`); "System time     : 0.0003 seconds fast" is chronyc's output
                        r"system\s+(?:flush|sync|reload|drop|stop|start|restart|shutdown|kill|"
                        r"freeze|unfreeze|wait|enable|disable|refresh|cancel|unload|restore)\b|"
                        r"detach\s+\w|attach\s+\w)")
_SQL_READ = re.compile(r"(?is)^\s*(?:select\b|with\b(?!.*\b(?:insert|update|delete)\b)|show\b|"
                       r"explain\b(?!\s+analy[sz]e)|describe\b|desc\b)")
_PROMQL = re.compile(
    r"(?m)^[\s(]*[a-z][a-z0-9]*(?:_[a-z0-9]+){2,}(?:\{[^}]*\})?\s*(?:[-+*/><=!]|$)|\b(?:sum|rate|irate|"
    r"increase|count|avg|max|min|histogram_quantile|topk|bottomk|absent|\w+_over_time|label_replace|"
    r"predict_linear|delta|deriv|ceil|floor|round|clamp_max|clamp_min|quantile|stddev|"
    r"count_values|group)\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(|^[a-zA-Z_:][\w:]*\{[^}]*\}")
_PROMQL_NOT = re.compile(r"[;`]|^\s*(?:#|//|--)|\|\s*\w|\$\(|:=|::|^\s*\w+\s*=\s*[^~=]", re.M)


_RULE = re.compile(r"^\s*-{3,}\s*$")  # the rule under a one-column result's header


def _sql_over_its_result(meaningful: list[str]) -> list[str] | None:
    """The statement's lines when a block holds one SQL statement followed by the table it
    printed (a header over a `---+---` separator, rows, `(1 row)`)."""
    if not _SQL_START.match(meaningful[0]):
        return None
    end = next((k for k, ln in enumerate(meaningful) if ln.rstrip().endswith(";")), None)
    if end is None or end + 2 >= len(meaningful):
        return None
    rest = meaningful[end + 1:]
    if not any(_SEPARATOR.match(ln) or _RULE.match(ln) for ln in rest[:2]) or \
            any(_SQL_START.match(ln) for ln in rest):
        return None
    return meaningful[:end + 1]


def _query_of(meaningful: list[str]) -> str | None:
    """'sql' or 'prometheus' when an untagged block clearly holds one query."""
    code = [ln for ln in meaningful if not ln.strip().startswith(("--", "//"))]
    if not code:
        return None
    text = "\n".join(code)
    if _SQL_START.match(text) and not any(
            _table_header(ln) or ln.strip().startswith(("|", "+-", "---", "(")) for ln in code):
        return "sql"
    promql = [ln for ln in code if not ln.strip().startswith("#")]  # PromQL's own comments
    text = "\n".join(promql)
    if not promql or any(_METRIC_SAMPLE.match(ln) for ln in promql) or _PROMQL_NOT.search(text):
        return None
    if _PROMQL.search(text) and text.count("(") == text.count(")") and \
            text.count("{") == text.count("}"):
        return "prometheus"
    return None


_YAML_KEY = re.compile(r"""^\s*-?\s*(?:"[^"]+"|'[^']+'|[\w./-]+(?: [\w./-]+){0,2}):(\s|$)""")


def _looks_like_config(lines: list[str]) -> bool:
    text = "\n".join(lines)
    return bool(re.search(r"^\s*(apiVersion|kind):", text, re.M) or
                re.match(r"^\s*[\[{][\s\S]*[\]}]\s*$", text) or
                sum(bool(_YAML_KEY.match(x)) for x in lines) >= 0.6 * max(1, len(lines)) or
                re.match(r"^\s*[\w.-]+\+?::?\s*\{", text))


_OUTPUT_CUE = re.compile(
    # "It prints:", "which returns:", "You should see:" (with its colon: "you will see a
    # directory called `docker`." says what a command shows)
    r"\b(?:(?:it|this|that|which) (?:prints|returns|outputs|responds with)|"
    r"(?:you should|you'll|you will|you may) see)\b[^.:?!]{0,40}:\s*$|"
    r"\b(?:output|logged|logs?(?: like)? the following|following "
    r"(?:error|message|log|output|lines?)s?|(?:expect|see) (?:logs|output|messages)|"
    # (within the last sentence: "`Out of memory` in the output? Reboot it:" asks, then
    # says what to run)
    r"looks? like|similar to|should look)\b[^.:?!]{0,40}[:.]?\s*$",
    re.I)
_CUE_NOT = re.compile(r"\b(?:by (?:simply )?running|(?:to|and|then|please|now) run|"
                      r"run (?:the|this|these)|running the following|commands?|execut\w*|enter|"
                      r"paste)\b|\brun(?:ning)?\s*:?\s*$",
                      re.I)


_CODE_SPAN = re.compile(r"`[^`\n]*`")
_OUTPUT_HEAD = re.compile(r"(?i)^[*_]*(?:(?:example|sample|expected|typical|the)?\s*"
                          r"(?:command\s+)?(?:output|response)\b"
                          r"(?!\s+(?:of|from)\s+(?:the\s+)?(?:following|this|these)\s+command)|"
                          # "Expected result:" over the block a command printed
                          r"(?:example|sample|expected|typical)\s+results?\s*[*_]*:)")


_SUMMARY = re.compile(r"<summary>(.*?)</summary>", re.I | re.S)


# "Add the following line to the blacklist section", "Append this to /etc/hosts:", "Put the
# following in `values.yaml`": the block is text to write into a file, a person's edit.
_CONFIG_CUE = re.compile(
    r"\b(?:add|append|insert|put|paste|place|write|include|set)\s+(?:the\s+following|this|these|"
    r"the\s+(?:lines?|snippet|block|entry|entries|section|stanza|config(?:uration)?)\s+below)"
    r"(?:\s+(?:lines?|snippet|block|entry|entries|section|stanza|config(?:uration)?|settings?|"
    r"options?))?\s+(?:to|in|into|at|under|inside)\b", re.I)


# "Apply this change to `nginx.conf`:", "Edit `/etc/x.conf`:", "Then make the following
# change:" over a diff: the diff is a person's edit ("The change looks like:" shows one)
_CHANGE_CUE = re.compile(r"^\W*(?:(?:then|now|next|first|finally|also)\W+)?(?:apply|make|edit|"
                         r"change|update|modify|patch|amend)\b[^:]*:\s*$", re.I)
_DIFF_LINE = re.compile(r"^(?:[-+ ]|@@ |diff |index )")


def _diff(el: Element) -> bool:
    """A `diff`/`patch` block, or an untagged one of `-`/`+` lines (both kinds among them)."""
    tag = (el.lang or "").lower().strip("{}.")
    if tag in ("diff", "patch"):
        return True
    lines = [ln for ln in el.text.split("\n") if ln.strip()]
    return not tag and bool(lines) and all(_DIFF_LINE.match(ln) for ln in lines) and \
        any(ln.startswith("-") for ln in lines) and any(ln.startswith("+") for ln in lines)


def announces_config(intro: Element | None, el: Element | None = None) -> bool:
    """Whether the paragraph or item before a block says the block is text to write into a
    file ("Add the following line to the blacklist section:"), or, over a diff `el`, a
    change to make ("Apply this change to `nginx.conf`:")."""
    if intro is None or intro.kind not in ("paragraph", "list_item"):
        return False
    text = _CODE_SPAN.sub("`x`", intro.text)
    if _CONFIG_CUE.search(text) is not None:
        return True
    last = re.split(r"(?<=[.!?])\s+", text.strip())[-1]
    return el is not None and _diff(el) and _CHANGE_CUE.search(last) is not None


def announces_edit(intro: Element | None) -> bool:
    """Whether the paragraph or item before a block tells a person to edit something, its last
    sentence ending with a colon ("Edit the restart point in the `MainModule` before starting
    again:", "Change the restart point to:"): a block that is no command there is the text
    the person writes (a robot program's RAPID, a setting), not sample output."""
    if intro is None or intro.kind not in ("paragraph", "list_item"):
        return False
    text = _CODE_SPAN.sub("`x`", intro.text).strip()
    last = re.split(r"(?<=[.!?])\s+", text)[-1]
    return _CHANGE_CUE.search(last) is not None and not _ITEM_OUTPUT_TAIL.search(text)


# An item's last paragraph that names what follows as output ("1. Check `x`. Expected
# output:"); not the item's own words about what its command shows ("Watch the connections
# drain, until it prints 0:" introduces the command).
_ITEM_OUTPUT_TAIL = re.compile(r"(?:\b(?:expected|example|sample|typical)\s+(?:output|result|"
                               r"response)s?|(?:^|[.!?`]\s*)(?:output|result|response))\s*:\s*$",
                               re.I)


def announces_output(intro: Element | None) -> bool:
    """Whether the element before a block says the block is output: a paragraph ("Example
    output:"), the list item holding it ("1. Check `x`. Expected output:") or a collapsed
    `<details>` whose `<summary>` says so ("Sample output")."""
    if intro is None:
        return False
    if intro.kind == "paragraph":
        return output_cue(intro.text)
    if intro.kind == "list_item":  # an item's words end with its last paragraph's
        return _ITEM_OUTPUT_TAIL.search(_CODE_SPAN.sub("`x`", intro.text)) is not None
    if intro.kind == "html":
        m = _SUMMARY.search(intro.text)
        return m is not None and output_cue(re.sub(r"<[^>]*>", "", m.group(1)))
    return False


def output_cue(paragraph: str) -> bool:
    """Whether a paragraph announces that the block after it is output ("Example output:",
    "The result should look like:", "For example, the output is similar to:")."""
    # A word in a code span is a name (`client-output-buffer-limit`), not the author's word.
    text = _CODE_SPAN.sub("`x`", paragraph).strip()
    if _OUTPUT_HEAD.match(text):
        # "Expected output: `RUN`. If the CPU is in `STOP`:": the output was said inline, and
        # the last sentence introduces the block, a command for that case (it was ignored as
        # sample output)
        last = re.split(r"(?<=[.!?])\s+", text)[-1]
        return last == text or not last.rstrip(" *_").endswith(":") or \
            bool(_OUTPUT_HEAD.match(last) or _OUTPUT_CUE.search(last))
    return bool(_OUTPUT_CUE.search(text[-90:])) and not _CUE_NOT.search(text)


@dataclass(frozen=True)
class CommandLine:
    """One logical command: continuation lines joined, prompt stripped, absolute lines.
    `console`: typed into a program's own console (`db=# `, `\\dt`): a person's step.
    `shown`: a person's step, never run: a commented-out command (`# kubectl annotate ...`),
    an alternative the author offers; or a command whose printed lines ask questions the
    guide answers (`Enter password:`, `Your selection? 8`, a `gpg> ` console it opens)."""

    text: str
    start: int
    end: int
    console: bool = False
    shown: bool = False
    prompt: str = ""  # the prompt it was typed at (`$`, `#`, `mon-a#`), if the guide shows one


@dataclass
class Block:
    cls: BlockClass
    plugin: str | None = None
    lines: list[CommandLine] = field(default_factory=list)  # for command blocks
    text: str = ""  # the whole content (queries, scripts)
    start: int = 1
    end: int = 1


def read_block(el: Element, *, after_output_cue: bool = False,
               after_config_cue: bool = False) -> Block:
    """Classify a code element and extract what runs. `after_output_cue`: the paragraph before
    it announced output ("Example output:"); `after_config_cue`: text to write into a file
    ("Add the following line to ..."), unless the block's lines are commands at a prompt."""
    first_line = el.span.start + 1 if el.fenced else el.span.start
    raw = el.text
    tag = (el.lang or "").lower().strip("{}.")
    start, end = el.span.start, el.span.end
    lines = raw.split("\n")
    meaningful = [ln for ln in lines if ln.strip()]
    if not meaningful:
        return Block("other", start=start, end=end)
    if tag in _NOTEBOOK_TAGS:
        cell = _shell_cell(lines, bangs=tag != "")
        if cell is not None:  # a notebook's shell cell: read as a bash block
            skipped, lines = cell
            first_line += skipped
            raw, tag = "\n".join(lines), "bash"
            meaningful = [ln for ln in lines if ln.strip()]
    if (tag in PLUGIN_TAGS and _PARAM_LINE.match(meaningful[0])) or tag.startswith("mendflow:"):
        # An ```http block holding `HTTP/1.1 200 OK` is a sample message, not the plugin's
        # `key: value` parameters; it is read like an untagged block.
        plugin = tag.split(":", 1)[1] if tag.startswith("mendflow:") else PLUGIN_TAGS[tag]
        return Block("plugin", plugin=plugin, text=raw, start=start, end=end)
    if tag in _REST_CONSOLE_TAGS and _rest_console_requests(meaningful):
        # `GET _cluster/health`, `PUT _cluster/settings` over its JSON body: typed into Kibana's
        # (or OpenSearch Dashboards') Dev Tools console, which knows the cluster; no shell runs
        # them and no data source names it. A person's step holding them (they were dropped as
        # sample output or configuration, a `DELETE /logs-*` with them).
        return Block("script", text=raw.strip("\n"), start=start, end=end)
    if tag in QUERY_TAGS and any(_DOLLAR.match(ln) for ln in meaningful):
        # `$ kmp_mac_collisions > 1`: the query typed at a prompt; `$ cat schema.sql` then
        # its text: a shell transcript, a person's (the shell line is no query)
        if any(_DOLLAR.match(ln) and _shape(rest := _DOLLAR.sub("", ln, count=1), strict=True)
               and not (_SQL_START.match(rest) or _PROMQL.match(rest)) for ln in meaningful):
            return Block("script", text=raw.strip("\n"), start=start, end=end)
        raw = "\n".join(_DOLLAR.sub("", ln, count=1) for ln in lines)
        lines = raw.split("\n")
        meaningful = [ln for ln in lines if ln.strip()]
    if QUERY_TAGS.get(tag) == "sql" and _TSQL.search(raw):
        return Block("script", text=raw.strip("\n"), start=start, end=end)  # SQL Server's
    if tag in QUERY_TAGS:
        statement = _sql_over_its_result(meaningful) if QUERY_TAGS[tag] == "sql" else None
        if any(_DB_PROMPT.match(ln) or _PSQL_META.match(ln) for ln in statement or lines):
            return Block("script", text=raw, start=start, end=end)  # a console transcript
        # `SELECT ...;` then the table it printed: the statement runs, the table is output
        body = _strip_comments("\n".join(statement) if statement else raw,
                               "--" if QUERY_TAGS[tag] == "sql" else "#")
        cls: BlockClass = "query" if body.strip() else "other"
        return Block(cls, plugin=QUERY_TAGS[tag], text=body.strip(), start=start, end=end)
    if tag in MANUAL_QUERY_TAGS:
        return Block("script", text=raw.strip("\n"), start=start, end=end)
    if tag in CONFIG_TAGS:
        return Block("config", text=raw, start=start, end=end)
    if tag in SCRIPT_TAGS:
        return Block("script", text=raw, start=start, end=end)
    if tag in OTHER_TAGS or tag not in SHELL_TAGS and _DIAGRAM.match(meaningful[0]):
        return Block("other", text=raw, start=start, end=end)
    shell = tag in SHELL_TAGS or (tag not in OUTPUT_TAGS and "sh" in tag)
    prompts = _prompts(lines)
    if after_config_cue and not prompts:
        return Block("config", text=raw, start=start, end=end)
    if after_output_cue:
        # "Example output:": the block is output, unless it opens with the command that
        # printed it (a transcript: that command runs, the rest is its output); a comment
        # above that command (`# Capture the profile`, then `$ sudo perf record ...`) is
        # the author's note on it, not output.
        first = next((i for i, ln in enumerate(lines) if ln.strip() and (
            i in prompts or not ln.lstrip().startswith("#"))), None)
        if first is None or first not in prompts and not (
                _shape(lines[first], strict=True) and not _outputish(lines[first])
                and not _column_header(lines[first:])
                and _prints_below(lines[first + 1:])):
            return Block("output", text=raw, start=start, end=end)
        prompts = dict(prompts) if first in prompts else {first: ("sh", 0), **prompts}
    if not prompts and not shell and device_command(meaningful[0]):
        # `configure terminal` / `show ip bgp summary` over the lines that follow it: typed at a
        # router's CLI (no shell runs them, no database answers `show interfaces`)
        return Block("script", text=raw.strip("\n"), start=start, end=end)
    if prompts:
        cmds = _transcript(lines, first_line, prompts)
        if cmds:
            return Block("command", plugin="shell", lines=cmds, text=raw, start=start, end=end)
        return Block("output", text=raw, start=start, end=end)
    if tag in OUTPUT_TAGS:  # the author said it is text: only prompted lines run
        shown = _shown_commands(meaningful)
        if shown:  # a transcript tagged as text: its commands are a person's, never run
            return Block("script", text="\n".join(shown), start=start, end=end)
        return Block("output", text=raw, start=start, end=end)
    if shell:
        cmds = _shell_lines(lines, first_line)
        if cmds:
            return Block("command", plugin="shell", lines=cmds, text=raw, start=start, end=end)
        return Block("output", text=raw, start=start, end=end)
    if _LOG_LINE.match(meaningful[0]):
        # An untagged block that opens with a program's output (a log line, an error) is a
        # listing of what it printed: a command line in it is text it printed, not a step (a
        # command typed after output carries its prompt).
        return Block("output", text=raw, start=start, end=end)
    if all(_GCODE_LINE.match(ln) or ln.strip().startswith(";") for ln in meaningful):
        # `M104 S230`, `G1 E-30 F300`: G-code sent from the printer's (or the CNC's) own
        # terminal, a person's there (it was dropped as sample output)
        return Block("script", text=raw.strip("\n"), start=start, end=end)
    cmds = _untagged_commands(lines, first_line)
    if cmds:
        return Block("command", plugin="shell", lines=cmds, text=raw, start=start, end=end)
    if _LOGQL.match("\n".join(meaningful)):
        return Block("script", text=raw.strip("\n"), start=start, end=end)  # LogQL: no plugin
    statement = _sql_over_its_result(meaningful)
    if statement is not None:
        meaningful = statement  # `select ...;` then the table it printed: the query runs
    elif _SQL_START.match(meaningful[0]) and any(_SEPARATOR.match(ln) or _RULE.match(ln)
                                                 for ln in meaningful):
        return Block("script", text=raw.strip("\n"), start=start, end=end)  # a psql session
    query = _query_of(meaningful)
    if query:
        text = _strip_comments("\n".join(meaningful) if statement else raw,
                               "--" if query == "sql" else "#").strip()
        holes = re.search(r"<[A-Za-z][^<>\n]*>", placeholders.SERVER_TEXT.sub("", text))
        if query == "sql" and (not _SQL_READ.match(text) or not sql_verdict(text).read or
                               holes) or "{{" in text:
            # The author did not say which database: a write, or a query with holes to fill
            # in (`'<table_zpath>'`), is shown to a person.
            return Block("script", text=raw.strip("\n"), start=start, end=end)
        return Block("query", plugin=query, text=text, start=start, end=end)
    if any(_PSQL_META.match(ln) for ln in meaningful) and \
            all(_PSQL_META.match(ln) or _SQL_START.match(ln) or ln.strip().startswith("--")
                for ln in meaningful):
        return Block("script", text=raw.strip("\n"), start=start, end=end)  # psql session
    if any(_SQL_STATEMENT.match(ln) for ln in meaningful) and all(
            _SQL_STATEMENT.match(ln) or ln.strip().startswith("-- ") for ln in meaningful):
        # `SET statement_timeout TO '1h';` alone: a statement typed at the database's console
        # the guide is in, a person's (it is no query to run, and no sample output)
        return Block("script", text=raw.strip("\n"), start=start, end=end)
    if _looks_like_config(meaningful):
        return Block("config", text=raw, start=start, end=end)
    return Block("output", text=raw, start=start, end=end)


# A request of a search cluster's REST console (Kibana Dev Tools, OpenSearch Dashboards, the
# Elasticsearch docs' `console` blocks): a method, then a path (`_cat/indices?v`,
# `/logs-*/_search`), never a URL (`GET https://...` is a program's) nor an HTTP message
# (`POST /x HTTP/1.1`).
_REST_CONSOLE_TAGS = frozenset({"", "console", "json", "jsonc", "js", "javascript", "kibana",
                                "es", "elasticsearch", "opensearch", "sense"})
_REST_REQUEST = re.compile(r"^\s*(?:GET|POST|PUT|DELETE|HEAD|PATCH)\s+"
                           r"(?!https?://)/?[\w.*<>{}%-][^\s]*\s*$")
_REST_BODY = re.compile(r"^\s*(?:[{}\[\]\"]|//|#)|^\s+\S")


def _rest_console_requests(meaningful: list[str]) -> bool:
    """Whether a block's lines are requests of a search cluster's console: it opens with one,
    and each other line is another or a line of a request's JSON body (or a comment)."""
    return bool(_REST_REQUEST.match(meaningful[0])) and all(
        _REST_REQUEST.match(ln) or _REST_BODY.match(ln) for ln in meaningful[1:])


# A notebook exported to Markdown (Jupyter): a cell run by bash (`%%bash`, `%%sh`, `%%script
# bash`), or a Python cell of nothing but `!cmd` shell escapes. Its lines are shell lines, not a
# Python script for a person. (`!tweet ...` in an untagged block is a chat bot's command.)
_NOTEBOOK_TAGS = frozenset({"python", "py", "python3", "ipython", "ipython3", ""})
_CELL_MAGIC = re.compile(r"^\s*%%(?:bash|sh|script\s+(?:ba)?sh)\s*$")
_BANG = re.compile(r"^(\s*)!(?=[a-z./~])")


def _shell_cell(lines: list[str], bangs: bool) -> tuple[int, list[str]] | None:
    """(lines skipped, the shell lines) of a notebook's shell cell, else None; `bangs`: a
    Python cell's `!cmd` lines count."""
    at = next(i for i, ln in enumerate(lines) if ln.strip())
    if _CELL_MAGIC.match(lines[at]):
        return at + 1, lines[at + 1:]
    body = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if bangs and body and all(_BANG.match(ln) for ln in body):
        return 0, [_BANG.sub(r"\1", ln, count=1) for ln in lines]
    return None


def _column_header(lines: list[str]) -> bool:
    """Whether the first line is the header of the columns under it: `ip        heap.percent
    name` over `10.0.1.4  41           es-data-1` names the fields, it is no `ip` command.
    Each field the header starts after a run of spaces starts a field of the next line too."""
    rest = [ln for ln in lines[1:] if ln.strip()]
    head = lines[0].rstrip()
    if not rest or not _COLUMNS.search(head):
        return False
    row = rest[0]
    starts = [m.end() for m in re.finditer(r" {2,}", head.lstrip()) ]
    indent = len(head) - len(head.lstrip())
    return bool(starts) and all(
        indent + at < len(row) and row[indent + at] != " " and row[indent + at - 1] == " "
        for at in starts)


def _prints_below(rest: list[str]) -> bool:
    """Whether the lines under an announced output block's unprompted first command are what
    it printed: some line is not itself a command. A block of nothing but commands after
    "The output looks like:" is the listing a command printed (a script, a crontab), whose
    lines are text to read, never steps."""
    return any(ln.strip() and not ln.lstrip().startswith("#") and
               (_outputish(ln) or not _shape(ln, strict=True)) for ln in rest)


def _shown_commands(meaningful: list[str]) -> list[str]:
    """The commands a text-tagged block opens with (`apt install x`, then what it printed):
    the lines read as commands by the strict shape (a known tool, a path), before the first
    that does not. A block that opens with output has none."""
    shown: list[str] = []
    for ln in meaningful:
        if len(ln.split()) < 2 or not _shape(ln, strict=True) or _outputish(ln) or \
                _looks_like_config([ln]):
            break  # (a lone word or path is a name the text shows, not a command)
        shown.append(ln.strip())
    return shown


def shows_prompts(text: str) -> bool:
    """Whether a block's lines carry prompts (`$ `, `[root@h ~]# `, `user@host ~> `, `/ # `,
    `mysql> `): a transcript, whose unprompted lines are output."""
    return bool(_prompts(text.split("\n")))


def _prompts(lines: list[str]) -> dict[int, tuple[str, int]]:
    """Prompted lines: index -> (kind 'sh'/'db', where the command starts)."""
    found: dict[int, tuple[str, int]] = dict(_device_prompts(lines))
    roots: dict[int, tuple[str, int]] = {}
    for i, ln in enumerate(lines):
        if i in found:
            continue
        m = _IPYTHON_PROMPT.match(ln)
        if m:
            found[i] = ("sh" if m.group(1) else "db", m.end())
            continue
        m = _PROMPT.match(ln)
        if m:
            found[i] = ("sh", m.end())
            continue
        m = _DB_PROMPT.match(ln)
        if m:
            found[i] = ("db", m.end())
            continue
        m = _DB_CONTINUED.match(ln)
        if m and found.get(i - 1, ("",))[0] == "db":
            found[i] = ("db", m.end())  # `mysql> SELECT ...`, then `    -> FROM t;`
            continue
        m = _NAMED_PROMPT.match(ln) or _PERCENT_PROMPT.match(ln)
        if m and _shape(ln[m.end():], strict=True) and not _outputish(ln[m.end():]):
            found[i] = ("sh", m.end())
            continue
        m = _DIR_ROOT_PROMPT.match(ln)  # a directory before the `#` says prompt more surely
        if m and _shape(ln[m.end():], strict=False) and not _outputish(ln[m.end():]):
            found[i] = ("sh", m.end())
            continue
        m = _ROOT_PROMPT.match(ln)
        if m and _root_command(ln[m.end():]) and not _continues_comment(lines, i, roots):
            roots[i] = ("sh", m.end())
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    m = _GT_PROMPT.match(lines[first]) if first is not None else None
    if m and first is not None and not any(i < first for i in found):
        # A block that opens with `> cmd` uses `>` as its prompt: a shell's when what follows
        # is a shell command, else a program's console (`> info replication` in redis-cli).
        for i, ln in enumerate(lines):
            m = _GT_PROMPT.match(ln)
            if m and i not in found:
                found[i] = ("sh" if _shape(ln[m.end():], strict=True) else "db", m.end())
    if roots and not found:
        # `# cmd` is a root prompt unless the block also has unprompted commands (then the
        # `#` lines are comments: commented-out alternatives in a script).
        if any(i not in roots and ln.strip() and not ln.lstrip().startswith("#")
               and _shape(ln, strict=True) and not _outputish(ln) for i, ln in enumerate(lines)):
            return {}
    found.update(roots)
    for i in sorted(k for k, (kind, _) in found.items() if kind == "sh"):
        if not _console_opener(lines[i][found[i][1]:]):
            continue
        for j in range(i + 1, len(lines)):  # `$ redis-cli -h H`, then `> slowlog get 10`
            if j in found and found[j][0] == "db":
                continue
            m = _NAMED_PROMPT.match(lines[j])
            if m and (_SQL_START.match(lines[j][m.end():]) or
                      _SQL_STATEMENT.match(lines[j][m.end():])):
                found[j] = ("db", m.end())  # `template1# select ...`: SQL typed into the
                continue                    # console, not a shell line
            if j in found:
                break
            m = _GT_PROMPT.match(lines[j])
            if m:
                found[j] = ("db", m.end())
    return found


# A network device's command line in prose, without its prompt: "Save the configuration: `copy
# running-config startup-config`", "`show ip bgp summary`", "`commit confirmed 5`".
_DEVICE_LINE = re.compile(
    r"^\s*(?:(?:copy|show|sh)\s+(?:run(?:ning)?-config|start(?:up)?-config)\b"
    r"|(?:write|wr)\s+(?:mem(?:ory)?|erase|terminal)\b|conf(?:igure)?\s+t(?:erminal)?\s*$"
    r"|show\s+(?:ip|ipv6|bgp|interfaces?|vlan|version|running|logging|route|ospf|mpls|"
    r"spanning-tree|lldp|cdp|mac\s+address-table|chassis|system|configuration|"
    # a switch's port channels, peers and first-hop redundancy (NX-OS `show vpc brief`,
    # Arista `show mlag`, `show port-channel summary`, `show vrrp`), and its parts
    r"vpc|mlag|port-channel|etherchannel|lacp|vrrp|hsrp|standby|bfd|evpn|nve|vxlan|"
    r"environment|inventory|module|transceiver|ntp|clock|arp|access-lists?|policy-map)\b"
    r"|clear\s+(?:ip\s+bgp|bgp|counters|arp)\b|request\s+system\b"
    r"|commit\s+(?:confirmed|check|and-quit)\b|rollback\s+\d+\s*$"
    # MikroTik RouterOS: a menu's path, then what to do there (`/ip route print`, `/system
    # reboot`), at its `[admin@br-gw-07] > ` prompt or not
    r"|(?:\[[\w.-]+@[^\]\n]{1,60}\]\s*>\s*)?/(?:interface|ip|ipv6|system|routing|tool|queue|"
    r"user|certificate|ppp|snmp|log|file|caps-man|container|radius)(?:[ /][a-z][\w-]*)*?\s+"
    r"(?:print|set|add|remove|enable|disable|reboot|shutdown|reset-configuration|monitor|export|"
    r"get|find|unset|move|upgrade|check-for-updates|install|download|flush|release|renew)\b)")


def device_command(code: str) -> bool:
    """An inline span that is a router's or switch's command line (`copy running-config
    startup-config`, `show ip route`): typed at the device's CLI, a person's step there; never
    run by this machine's shell."""
    return _DEVICE_LINE.match(code) is not None


_USER_AT_HOST_HASH = re.compile(r"^\s*([\w.-]+@[\w.-]+)#\s+(?=\S)")  # `ops@mx1# `


def _device_prompts(lines: list[str]) -> dict[int, tuple[str, int]]:
    """Lines typed at a network device's CLI (`edge-rtr-01#show ip bgp summary`,
    `sw1(config-if)#no shutdown`, Junos `ops@mx1> configure`): typed into the router's own
    console, never a shell line (`rollback 1`, `commit confirmed 5` run on no shell). Junos's
    configuration prompt `ops@mx1# ` is the shell's `user@host# ` in form: it is the device's
    when the block shows that device's operational prompt or an `[edit]` line."""
    found: dict[int, tuple[str, int]] = {}
    junos: set[str] = set()
    for i, ln in enumerate(lines):
        m = _DEVICE_PROMPT.match(ln)
        if m:
            found[i] = ("db", m.end())
            if m.group("junos"):
                junos.add(m.group("junos"))
        elif (m := _DEVICE_SPACED.match(ln)) is not None and device_command(ln[m.end():]):
            # `leaf-3# clear ip bgp neighbor 10.0.0.1 soft`, `sw1# write memory` alone in a
            # block: what follows the prompt is a router's command, so the prompt is the
            # router's (it ran `clear` in this machine's shell, after a root prompt)
            found[i] = ("db", m.end())
    edit = any(_JUNOS_EDIT.match(ln) for ln in lines)
    if not found and not edit:  # no device's prompt, so no line below can be one's
        return _one_device_prompt(lines)
    for i, ln in enumerate(lines):
        m = _USER_AT_HOST_HASH.match(ln)
        if m and i not in found and (m.group(1) in junos or edit):
            found[i] = ("db", m.end())
        m = _DEVICE_SPACED.match(ln)
        if m and i not in found and found:
            found[i] = ("db", m.end())
    return found


def _one_device_prompt(lines: list[str]) -> dict[int, tuple[str, int]]:
    """A block whose every line is typed at one `name# ` prompt, one of them a device's own
    verb (`er1.fra# rollback 1` over `er1.fra# commit`, the back-out of a change made at the
    router earlier in the guide): the device's lines (it was sample output, the back-out lost)."""
    from engine.compile.sessions import device_verb
    typed = {i: _DEVICE_SPACED.match(ln) for i, ln in enumerate(lines) if ln.strip()}
    if not typed or not all(typed.values()):
        return {}
    names = {ln[:ln.index("#")].strip() for ln in (lines[i] for i in typed)}
    if len(names) != 1 or not any(device_verb(lines[i][m.end():])
                                  for i, m in typed.items() if m is not None):
        return {}
    return {i: ("db", m.end()) for i, m in typed.items() if m is not None}


def _root_command(body: str) -> bool:
    """What follows `# ` is a command typed at a root prompt, not a comment: a known tool or a
    path (`# kubectl get pods`), or a lowercase program with an option, path or value among its
    arguments and no sentence around them (`# nfsstat -m`, `# sha512sum /var/lib/x/*`,
    `# instance-manager process delete --name e-0`). `# Get the IP of the manager.`,
    `# see --help for details` and `# see https://...` are comments."""
    if _outputish(body):
        return False
    if _shape(body, strict=True):
        return True
    words = body.split()
    return len(words) > 1 and _shape(body, strict=False) and \
        any(_OPTIONISH.search(w) and "://" not in w for w in words[1:]) and \
        not body.rstrip().endswith((".", ":", "?", "!")) and \
        not any(w.lower() in _PROSE_WORDS for w in words)


def _continues_comment(lines: list[str], i: int, roots: dict[int, tuple[str, int]]) -> bool:
    """`#` then two or more blanks, right under a comment line: the comment goes on, aligned
    under its own words (`# Examples: mv a b` / `#           mv a c`), no root prompt."""
    return bool(i and re.match(r"^\s*#\s{2,}\S", lines[i]) and i - 1 not in roots
                and lines[i - 1].lstrip().startswith("#"))


_OPTIONISH = re.compile(r"""^-|[/=$]""")


def _commented_command(line: str, first_line: int, i: int) -> CommandLine | None:
    """A comment that is a whole command (`# kubectl annotate hco -n "$NS" key-`), not words
    about one: an alternative the author leaves for a person (shown, never run)."""
    body = line.strip().lstrip("#").strip()
    words = body.split()
    if len(words) < 2 or not _shape(body, strict=True) or _outputish(body) or \
            body.endswith((".", ":", "?", "!")) or \
            not any(_OPTIONISH.search(w) for w in words[1:]) or \
            sum(1 for w in words if w.lower() in _PROSE_WORDS) >= 2:
        return None
    return CommandLine(body, first_line + i, first_line + i, shown=True)


_ASKS = re.compile(
    r"(?i)\b(?:password|passphrase|pin|pim)(?: for [^:]*)?:\s*(?:\[enter\])?\s*$"
    r"|\bpress (?:enter|return|any key)\b"
    r"|\[enter\]\s*$|[\[(](?:y/n|yes/no)[\])]|\w\?(?:\s+(?:\[[^\]]*\]|\([^)]*\)))?(?:\s+\S+)?\s*$")


def _prompt_of(head: str) -> str:
    """A prompt as the place it names: `user@host:~$` and `user@host:/tmp$` are one place, as
    are IPython's `In [1]: !` and `In [2]: !`."""
    head = head.strip()
    if _IPYTHON_PROMPT.match(head + " x"):
        return "In: !"
    m = re.match(r"^([\w.-]+@[\w.-]+)", head)
    return (m.group(1) + head[-1:]) if m else re.sub(r"\s+", " ", head)


def _asking(lines: list[str], cmds: list[CommandLine], first_line: int) -> list[CommandLine]:
    """A command whose printed lines ask the reader (`Enter password:`, `Your selection? 8`,
    `Is this correct? (y/N)`) or that opens a console the next lines type into (`gpg> `)
    waits for a person: it is a person's step, never a plan's."""
    out = list(cmds)
    for k, cl in enumerate(cmds):
        if cl.console or cl.shown:
            continue
        nxt = cmds[k + 1] if k + 1 < len(cmds) else None
        stop = nxt.start if nxt is not None else first_line + len(lines)
        asks = any(_ASKS.search(lines[j - first_line]) for j in range(cl.end + 1, stop)
                   if 0 <= j - first_line < len(lines))
        if asks or nxt is not None and nxt.console and not _console_opener(cl.text):
            out[k] = replace(cl, shown=True)
    return out


_LEAVE = frozenset({"exit", "quit", "exit;", "quit;", "\\q", ".exit", "quit()", "exit()"})


def _typed_line(out: list[CommandLine], text: str, at: int) -> bool:
    """Add a line typed into the program the block started (its opener is a person's step);
    whether the lines after it are typed there too (not after its `exit`)."""
    if not out[-1].console:
        out[-1] = replace(out[-1], shown=True)
    out.append(CommandLine(text, at, at, console=True))
    return text not in _LEAVE


def _typed_into(text: str) -> bool:
    """A program a person types the next lines into (`mongosh`, `telnet host 11211`)."""
    from engine.compile.sessions import typed_into

    return typed_into(text)


def _redis_opener(text: str) -> bool:
    """`redis-cli -h H` (or `gitlab-redis-cli`) alone: a redis console its next lines are
    typed into."""
    return bool(_REDIS_CLI.search(text)) and _console_opener(text)


def _redis_typed(line: str) -> bool:
    """A line that is a redis command (`INFO memory`, `SLOWLOG GET 10`, `dbsize`)."""
    from engine.compile.sessions import redis_command

    return redis_command(line)


def _console_opener(text: str) -> bool:
    """A database console with a one-shot form (`sudo gitlab-psql`): the session reader runs
    the lines typed into it (`engine.compile.sessions`)."""
    from engine.compile.sessions import console_opener

    return console_opener(text)


def _transcript(lines: list[str], first_line: int,
                prompts: dict[int, tuple[str, int]]) -> list[CommandLine]:
    """A console session: prompted lines are commands (with their continuations, `> ` lines
    included); the other lines are their output."""
    out: list[CommandLine] = []
    first_prompt = min(prompts)
    i = 0
    while i < len(lines):
        if i not in prompts:
            ln = lines[i]
            # An unprompted command above the first prompt (at the block's top, or after a
            # blank line) is one the author left the prompt off; after a prompted command,
            # unprompted lines are its output (`$ cat x.sh` shows the script, not steps).
            shown = _commented_command(ln, first_line, i) if i and ln.lstrip().startswith("#") \
                and lines[i - 1].lstrip().startswith("#") and i - 1 not in prompts else None
            if shown is not None:  # a commented-out command under a comment: an example
                out.append(shown)
                i += 1
                continue
            if i < first_prompt and (i == 0 or not lines[i - 1].strip()) and \
                    _shape(ln, strict=True) and \
                    not _outputish(ln) and not ln.lstrip().startswith("#"):
                text, j = _gather(lines, i, ln)
                out.append(CommandLine(text.strip(), first_line + i, first_line + j))
                i = j + 1
                continue
            i += 1
            continue
        kind, at = prompts[i]
        ln = lines[i]
        printed = _in_printed_text(lines, i, at, prompts, out, first_line) if kind == "sh" \
            else None
        if printed is not None:
            if printed:  # `# mount -a` in the file `cat` printed, or the next command: shown
                out.append(CommandLine(ln[at:].strip(), first_line + i, first_line + i,
                                       shown=True))
            i += 1
            continue
        if kind == "db" or _PSQL_META.match(ln[at:]):
            # a continuation keeps its indentation after the prompt (Python's block body)
            typed = ln[at:].rstrip() if _DB_CONTINUED.match(ln) else ln[at:].strip()
            out.append(CommandLine(typed, first_line + i, first_line + i, console=True))
            i += 1
            continue
        text, j = _gather(lines, i, ln[at:], prompts)
        gt = _GT_PROMPT.match(lines[j + 1]) if j + 1 < len(lines) and j + 1 not in prompts \
            and "<<" not in text else None
        # (not `> Profile URL:   https://...`: the output, quoted)
        answers = gt is not None and not _outputish(lines[j + 1][gt.end():])
        if text.strip() and (answers or _CONNECTION.match(text) and _typed_into(text.strip())):
            # (`$ nsupdate -k key`, then `> update add ...` and `> send`: lines at the `> `
            # prompt of the program the command started, its own, not the shell's)
            # `$ nc ur-cell3 29999`, then `power on` and what the server answered, with no
            # prompt to tell them apart: the conversation is a person's, as the guide shows it
            k = j + 1
            while k < len(lines) and k not in prompts:
                k += 1
            while k - 1 > j and not lines[k - 1].strip():
                k -= 1
            said = "\n".join([text.strip(), *(ln.rstrip() for ln in lines[j + 1:k])])
            out.append(CommandLine(said, first_line + i, first_line + k - 1, shown=True,
                                   prompt=_prompt_of(ln[:at])))
            i = k
            continue
        if text.strip():
            out.append(CommandLine(text.strip(), first_line + i, first_line + j,
                                   prompt=_prompt_of(ln[:at])))
        i = j + 1
    return _asking(lines, out, first_line)


# a connection a person types a protocol's lines into (`telnet h 25`, `nc h 29999`)
_CONNECTION = re.compile(r"\s*(?:sudo\s+)?(?:telnet|nc|ncat|netcat|openssl\s+s_client)\s")


# commands that print a file's text, whose `# ` lines are that file's comments
_PRINTS_FILE = re.compile(r"^(?:sudo\s+(?:-\S+\s+)*)?(?:(?:cat|zcat|head|tac|nl|less|more|bat)\s|"
                          r"tail\s(?!.*\s-[a-zA-Z]*[fF])|crontab\s+(?:-u\s+\S+\s+)?-l\b|"
                          r"systemctl\s+cat\s|(?:kubectl|oc)\s.*\s-o\s?=?\s*(?:yaml|json)\b|"
                          r"helm\s+get\s)")


def _in_printed_text(lines: list[str], i: int, at: int, prompts: dict[int, tuple[str, int]],
                     out: list[CommandLine], first_line: int) -> bool | None:
    """Whether prompted line i stands inside the text the command before it printed: None
    when it is a command of the transcript; False when it is that text (a `$ echo` indented
    deeper than the transcript's prompts, inside the YAML `kubectl get cm -o yaml` printed);
    True for a `# cmd` line in a file's text (`cat /etc/fstab`, `crontab -l`), which may be
    the file's own comment or the next command typed at a root prompt: a person's to tell."""
    last = next((c for c in reversed(out) if not c.shown), None)
    if last is None or last.console or i == 0 or not lines[i - 1].strip():
        return None
    base = min(prompts)
    indent = len(lines[i]) - len(lines[i].lstrip())
    if indent > len(lines[base]) - len(lines[base].lstrip()):
        return False
    if i - 1 in prompts and not (out[-1].shown and out[-1].end == first_line + i - 1) or \
            lines[i][:at].strip() != "#" or not _PRINTS_FILE.match(last.text):
        return None
    since = last.end - first_line + 1
    return since < i and all(ln.strip() for ln in lines[since:i])


def _shell_lines(lines: list[str], first_line: int) -> list[CommandLine]:
    """A shell-tagged block without prompts: each line (with continuations) is a command
    unless it looks like output or prose; a table's rows are output."""
    out: list[CommandLine] = []
    i, in_table, typing = 0, False, False
    seen, redis = 0, False  # lines of `out` looked at; a redis console is open at its end
    while i < len(lines):
        ln = lines[i]
        s = ln.strip()
        if len(out) > seen:  # the console opened by the last shell line is still open
            last = out[-1]
            redis = redis if last.console else _redis_opener(last.text)
            seen = len(out)
        if not s:
            i, in_table = i + 1, False
            continue
        if redis and _redis_typed(s):
            # `redis-cli -h H`, then `INFO memory`, `CONFIG GET maxmemory`: redis commands
            # written as its documentation writes them (upper case) are typed at the console,
            # never output or prose
            out.append(CommandLine(s, first_line + i, first_line + i, console=True))
            i += 1
            continue
        if s.startswith("#"):
            shown = _commented_command(s, first_line, i)
            if shown is not None:
                out.append(shown)
            i += 1
            continue
        if _table_header(s) or i + 1 < len(lines) and _SEPARATOR.match(lines[i + 1]):
            in_table = True
        if s.startswith("> ") and out and (out[-1].console or _console_opener(out[-1].text)):
            # `redis-cli -h H`, then `> slowlog get 10`: typed at the console's prompt
            out.append(CommandLine(s[2:].strip(), first_line + i, first_line + i, console=True))
            i += 1
            continue
        if not in_table and windows_command(s):
            # `Restart-Service W3SVC` / `net stop w3svc` in a shell block: Windows' own command
            # line, which a POSIX shell cannot run and the prose test would drop: shown
            text, j = _gather(lines, i, ln)
            out.append(CommandLine(text.strip(), first_line + i, first_line + j, shown=True))
            i = j + 1
            continue
        if typing and not in_table and not _outputish(s):
            # `telnet cache-1 11211`, then `stats`: typed into the program the block started,
            # a person's line (it was dropped as prose, or run here)
            typing = _typed_line(out, s, first_line + i)
            i += 1
            continue
        if in_table or _outputish(s) or not _shape(s, strict=False):
            if _PSQL_META.match(s) or _SQL_START.match(s) or _SQL_STATEMENT.match(s):
                # typed into a database console the block opened: a person's (or the
                # session's) line, never a shell line and never dropped
                out.append(CommandLine(s, first_line + i, first_line + i, console=True))
            i = _past_continuations(lines, i)
            continue
        text, j = _gather(lines, i, ln)
        out.append(CommandLine(text.strip(), first_line + i, first_line + j))
        i, typing = j + 1, _typed_into(text)
    return _asking(lines, out, first_line)


def _past_continuations(lines: list[str], i: int) -> int:
    """The index after line i and the lines its trailing backslashes continue it onto."""
    while i + 1 < len(lines) and lines[i].rstrip().endswith("\\"):
        i += 1
    return i + 1


def _untagged_commands(lines: list[str], first_line: int) -> list[CommandLine]:
    """An untagged block: the lines that clearly are commands (a known tool, a path, a shell
    keyword or an assignment); the other lines are output or prose."""
    meaningful = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not meaningful:
        return []
    out: list[CommandLine] = []
    i, in_table, typing, logged_in = 0, False, False, False
    while i < len(lines):
        ln = lines[i]
        s = ln.strip()
        if not s:
            i, in_table = i + 1, False
            continue
        if _table_header(s) or i + 1 < len(lines) and _SEPARATOR.match(lines[i + 1]):
            in_table = True
        shown = _commented_command(s, first_line, i) if s.startswith("#") and not in_table \
            else None
        if shown is not None:
            out.append(shown)
            i += 1
            continue
        if not in_table and out and (out[-1].console or _console_opener(out[-1].text)) and (
                _PSQL_META.match(s) or _SQL_START.match(s) or _SQL_STATEMENT.match(s)):
            # `sudo -u postgres psql`, then `SELECT ...;` and `\q`: typed into the console the
            # block opened, as in a shell-tagged block (it was dropped as prose)
            text, j = _gather_sql(lines, i)
            out.append(CommandLine(text, first_line + i, first_line + j, console=True))
            i = j + 1
            continue
        if typing and not in_table and not s.startswith("#") and not _outputish(s):
            # typed into the program the block started (`mongosh URI`, then `rs.status()`)
            typing = _typed_line(out, s, first_line + i)
            i += 1
            continue
        if out and _BARE_SSH.match(out[-1].text):
            logged_in = True
        if s in ("exit", "logout"):
            logged_in = False
        if logged_in and not in_table and not s.startswith("#") and not _outputish(s) and \
                _shape(s, strict=False):
            # `ssh ops@as-controller-1`, then `asctl port status 12`: typed on the machine the
            # block logged in to, a command there whatever the program (it was taken for what
            # ssh printed, and the person's step held the login alone)
            text, j = _gather(lines, i, ln)
            out.append(CommandLine(text.strip(), first_line + i, first_line + j))
            i = j + 1
            continue
        if s.startswith("#") or in_table or _outputish(s) or not _shape(s, strict=True):
            i = _past_continuations(lines, i)  # a `\` line's rest is not a command of its own
            continue
        text, j = _gather(lines, i, ln)
        out.append(CommandLine(text.strip(), first_line + i, first_line + j))
        i, typing = j + 1, _typed_into(text)
    return out


# a login and nothing else: `ssh ops@as-controller-1`, `ssh -p 2222 -i key.pem admin@10.0.0.5`
_BARE_SSH = re.compile(r"^(?:sudo\s+)?ssh(?:\s+-[A-Za-z](?:\s+(?!-)\S+)?)*\s+[\w.@-]+$")


def _gather_sql(lines: list[str], i: int) -> tuple[str, int]:
    """A statement typed into a console, over the lines up to its `;` (a meta-command is one
    line)."""
    if _PSQL_META.match(lines[i]):
        return lines[i].strip(), i
    j = i
    while not lines[j].rstrip().endswith(";") and j + 1 < len(lines) and lines[j + 1].strip() \
            and not _PSQL_META.match(lines[j + 1]) and not _SQL_START.match(lines[j + 1]):
        j += 1
    return "\n".join(ln.strip() for ln in lines[i:j + 1]), j


_RUNS = re.compile(r"\s+|\S+")
_FIRST_COLUMN = re.compile(r"[A-Z][A-Z_-]+")
_CAPITALS = re.compile(r"[A-Z_()%/.-]+")


def _table_header(line: str) -> bool:
    """`NAME   READY   STATUS`: capitalised column names two or more blanks apart (a single
    space may join words of one column). Read run by run: the regular expression that said
    this backtracked exponentially on a line of `  A  A  A ... x`."""
    parts = _RUNS.findall(line.strip())
    if len(parts) < 3 or not _FIRST_COLUMN.fullmatch(parts[0]):
        return False
    for k in range(1, len(parts), 2):
        blank, word = parts[k], parts[k + 1]
        if not _CAPITALS.fullmatch(word):
            return False
        new_column = len(blank) >= 2 and "A" <= word[0] <= "Z"
        if not new_column and (k == 1 or blank.strip(" ")):
            return False
    return True


def _strip_comments(text: str, marker: str) -> str:
    return "\n".join(ln for ln in text.split("\n") if not ln.strip().startswith(marker))


_CONTROL_OPEN = re.compile(r"^\s*(for|while|until|if|case|select)\b")
_CONTROL_CLOSE = {"for": "done", "while": "done", "until": "done", "select": "done", "if": "fi",
                  "case": "esac"}
_HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")


def _gather(lines: list[str], i: int, text: str,
            prompted: Collection[int] = ()) -> tuple[str, int]:
    """Join continuations, open quotes, trailing pipes, heredocs and loops into one line. A
    quote left open never swallows the next `prompted` line: in a transcript a prompt starts a
    new command (`# grubby --args=”x=0"` with a typographic quote, then `# reboot`)."""
    j = i
    if text.rstrip().endswith("{") and _BRACE_OPEN.match(text):
        return _gather_braces(lines, i, text)
    control = _CONTROL_OPEN.match(text)
    heredoc = _HEREDOC.search(text)
    line = _LogicalLine(text, marker=heredoc.group(1) if heredoc else None,
                        keyword=control.group(1) if control else None)
    while j + 1 < len(lines):
        if line.ends_with_backslash():
            line.drop_backslash()
            line.append(" " + _PROMPT_CONT.sub("", lines[j + 1]).strip())
        elif (line.ends_with_join() or line.quote_open()) and j + 1 not in prompted:
            line.append(("\n" if line.quote_open() else " ") + lines[j + 1].strip())
        elif heredoc and not line.heredoc_closed():
            line.append("\n" + lines[j + 1])
        elif control and not line.control_closed():
            line.append("\n" + lines[j + 1])
        else:
            break
        j += 1
    return line.text(), j


_PROMPT_CONT = re.compile(r"^\s*>\s")
_BRACE_OPEN = re.compile(r"^\s*(?:function\s+[\w-]+|[\w-]+\s*\(\s*\))")


def _gather_braces(lines: list[str], i: int, text: str) -> tuple[str, int]:
    """A shell function (`name() {` ... `}`): one logical line, up to its closing brace."""
    depth, parts, j = 1, [text], i
    while j + 1 < len(lines) and depth > 0:
        j += 1
        s = lines[j].strip()
        depth += s.endswith("{") - s.startswith("}")
        parts.append(lines[j])
    return "\n".join(parts), j


class _LogicalLine:
    """The line `_gather` builds, with the answers to its questions kept up to date.

    After each line it joins, `_gather` asks: does the text (right-stripped) end with `\\`, a
    pipe or `&&`; is a quote open; has the heredoc's marker line come; are the loop's keywords
    balanced. Asking each question of the whole text again made a block with thousands of lines
    under an open quote, heredoc or loop quadratic; here each character is looked at a bounded
    number of times, and the answers are the same as for the whole text.
    """

    def __init__(self, first: str, *, marker: str | None, keyword: str | None) -> None:
        self.chars: list[str] = []
        self.last = -1  # index of the last non-blank character (-1: none)
        self.last_settled = True  # False after a `\\` is dropped, until asked
        self.line_start = 0  # where the current (last) line begins
        self.marker = marker
        self.marker_seen = False  # a finished line after the first one is the heredoc marker
        self.opens = re.compile(rf"(?:^|[;\s]){keyword}\b") if keyword else None
        self.closes = re.compile(rf"(?:^|[;\s]){_CONTROL_CLOSE[keyword]}\b") if keyword else None
        self.opened = self.closed = 0
        self.quotes = _Quotes()
        self.append(first)

    def text(self) -> str:
        return "".join(self.chars)

    def append(self, piece: str) -> None:
        start = len(self.chars)
        self.chars.extend(piece)
        nl = piece.rfind("\n")
        if nl >= 0:
            self._finish_lines(start, piece)
            self.line_start = start + nl + 1
        body = piece.rstrip()
        if body:
            self.last, self.last_settled = start + len(body) - 1, True
        self.quotes.feed(piece, self.chars[start - 1] if start else None)
        if self.opens is not None and self.closes is not None:
            # A piece after the first starts with a blank: no keyword straddles two pieces.
            self.opened += len(self.opens.findall(piece))
            self.closed += len(self.closes.findall(piece))

    def _finish_lines(self, start: int, piece: str) -> None:
        """Lines that a newline in `piece` ends: is one of them (not the first) the marker?"""
        if self.marker is None or self.marker_seen:
            return
        begin = self.line_start
        for k, c in enumerate(piece):
            if c == "\n":
                end = start + k
                if begin > 0 and "".join(self.chars[begin:end]).strip() == self.marker:
                    self.marker_seen = True
                    return
                begin = end + 1

    def _settle(self) -> None:
        while not self.last_settled:
            if self.last < 0 or not self.chars[self.last].isspace():
                self.last_settled = True
            else:
                self.last -= 1

    def ends_with_backslash(self) -> bool:
        self._settle()
        return self.last >= 0 and self.chars[self.last] == "\\"

    def ends_with_join(self) -> bool:
        """Ends (right-stripped) with `|`, `||` or `&&`: the command goes on."""
        self._settle()
        if self.last < 0:
            return False
        c = self.chars[self.last]
        return c == "|" or c == "&" and self.last > 0 and self.chars[self.last - 1] == "&"

    def drop_backslash(self) -> None:
        """`text.rstrip()[:-1]`: the continuation's backslash and the blanks after it go."""
        at = self.last
        self.quotes.unfeed_backslash(self.chars, at)
        del self.chars[at:]
        self.last, self.last_settled = at - 1, False
        if self.line_start > at:  # cannot happen (a newline after `\\` ends a line first)
            self.line_start = "".join(self.chars).rfind("\n") + 1

    def quote_open(self) -> bool:
        return self.quotes.open

    def heredoc_closed(self) -> bool:
        if self.marker_seen:
            return True
        return self.line_start > 0 and \
            "".join(self.chars[self.line_start:]).strip() == self.marker

    def control_closed(self) -> bool:
        return self.closed >= self.opened


_DOUBLE_QUOTED_STOP = re.compile(r'[\\"]')
_UNQUOTED_STOP = re.compile(r"[\\'\"#]")


class _Quotes:
    """Whether a quote is open at the end of a text fed piece by piece (a `#` comment outside
    quotes closes the question: nothing after it counts)."""

    def __init__(self) -> None:
        self.quote = ""
        self.skip = False  # the next character is escaped by a backslash
        self.comment = False
        self._run: tuple[int, int] | None = None  # (index, backslashes just before it)

    @property
    def open(self) -> bool:
        return bool(self.quote) and not self.comment

    def feed(self, text: str, before: str | None) -> None:
        """Scan `text`; `before` is the character ahead of it (None at the very start)."""
        i, n = 0, len(text)
        while i < n and not self.comment:
            if self.skip:
                self.skip = False
                i += 1
                continue
            if self.quote == "'":
                close = text.find("'", i)
                if close < 0:
                    return
                self.quote, i = "", close + 1
                continue
            m = (_DOUBLE_QUOTED_STOP if self.quote else _UNQUOTED_STOP).search(text, i)
            if m is None:
                return
            i = m.start()
            c = text[i]
            if c == "\\":
                self.skip = True
            elif self.quote:
                self.quote = ""
            elif c == "#":
                prev = text[i - 1] if i else before
                if prev is None or prev in " \t":
                    self.comment = True
                    return
            else:
                self.quote = c
            i += 1

    def unfeed_backslash(self, chars: list[str], at: int) -> None:
        """The state before `chars[at]`, a backslash followed only by blanks: the quote is as
        it is (a backslash and blanks open or close none), and the backslash was escaped
        itself exactly when an odd run of backslashes comes before it."""
        if self.comment:
            return
        if self._run is not None and self._run[0] == at + 1:
            count = self._run[1] - 1
        else:
            count = 0
            while at - count - 1 >= 0 and chars[at - count - 1] == "\\":
                count += 1
        self._run = (at, count)
        self.skip = self.quote != "'" and count % 2 == 1
