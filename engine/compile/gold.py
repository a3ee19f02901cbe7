"""The gold facts of a guide, for `mendflow eval`: a port of the reference scorer's gold.py
(../shared/fidelity/gold.py), kept line for line so that both give the same facts;
tests/engine/compile/test_eval.py checks that they agree on the shared corpora. Only its
command-line entry point is left out. What follows is the reference's own description.

extract the gold facts of Markdown SRE runbooks, to score a runbook-to-DAG compiler against.

usage: gold.py PATH... [-o FILE] [--summary [--json]]
  PATH: .md files or folders (searched recursively). JSON, a list with one object per file, goes to -o FILE,
  else to stdout; --summary prints a table of counts per file and totals (JSON then goes to stdout only with
  --json). `file` is relative to the folder given (or the path as given, for a file).

Parsing: the markdown-it-py (CommonMark + tables) syntax tree. Spans are [first, last] 1-based source lines,
trailing blank lines trimmed. Front matter is blanked first, keeping line numbers.

sections  every heading: level, text, anchor (GitHub slug), span (heading .. end of section), own_role, role.
  Words: meaning/description/summary -> meaning; impact -> impact; diagnos*/troubleshoot*/investigat*/check*
  -> diagnosis; mitigat*/resolution/resolv*/remediat*/fix*/recover* -> mitigation; else other. The outermost
  matching heading of level >= 2 decides ("## Mitigation > ### Check X" is mitigation), then the H1.
units  every fenced/indented code block, and every inline code span of >= 2 words that starts with a known CLI
  verb (tool names; English-like verbs such as cat/top/set only with a path- or option-like argument).
  class: the tag first (promql/logql/sql/kql.. query; yaml/json/hcl/toml/ini/xml.. config; ruby/python..
  command script; mermaid/plantuml other; text/log output unless it holds tool commands). Else each line is
  judged command (prompt `$ ` `user@host$ ` `sh-5.1# ` `db=# ` or `# `+verb, or a verb first), output (timestamps,
  klog `E1203 ..`, level=/msg=, JSON log lines, `NAME  READY` tables, `Key:   value`, `k = v`, error: lines,
  k8s events) or unknown, and the block is: command if a line starts with a tool or prompt; output if the
  paragraph before announces output ("Example output:"); query if PromQL/SQL/LogQL; config if YAML/JSON data;
  command if any command line, or unknown lines under a shell tag; else output. Under prompts, unprompted
  lines are output. Each unit has id, kind, lang, class, span, role, section, text; command units also carry
  `mutating` (any line) and `commands`: logical lines (prompt stripped; `\\`, open quote or paren,
  trailing pipe, do..done, heredoc and wrapped `-n VALUE` continuations joined; whitespace collapsed; comment
  lines and trailing comments dropped) with span, verb and `mutating` (else read-only): a mutating subcommand
  (delete patch apply edit scale drain cordon uncordon rollout restart reboot annotate label create replace
  set stop start ...; for kubectl/oc/helm only the verb word), a mutating verb (rm kill reboot touch mv tee
  chown chef-client ..), curl -X POST|PUT|PATCH|DELETE or -d, sed -i, find -delete, `> /etc|/var|/sys..`,
  SQL DROP/DELETE/UPDATE/INSERT/ALTER/TRUNCATE; looking through sudo/env/xargs/chroot/watch, `$( )`,
  `oc exec|debug .. -- cmd`, `ssh host cmd`, `knife ssh Q 'cmd'` and `sh -c 'cmd'`.
guards  headings, list items and sentences beginning (after "1." "a." "Step 3:", bold or "Note:") with If/When/
  Whenever/Otherwise/Else/Unless/In case/In the case/Should; kind else for Otherwise/Else/"If not,". guarded:
  heading -> its section; item (first sentence of a list item) -> the item, plus the following sibling items
  up to the next guard item when the item is a bare "If X:"; paragraph (its first sentence) -> it and the
  following sibling blocks up to the next paragraph guard or heading in the same container (into the next
  items when it ends its item with ':'); a later sentence -> itself, or as a paragraph when it ends the
  paragraph with ':'. introduces = the text ends with ':'. An else guard is exclusive_with the If chain
  before it in the same list, container or parent section.
  Guards, jumps, links and ordered lists also carry the role of the section they sit in.
jumps  "skip to/go to/see/refer to/follow .. [X](#anchor)", "go to/proceed to/continue with/return to/see step
  N [of the <section>]", "skip the next step", 'skip to the "X" section'. Targets: anchor -> heading (slug,
  else slug without punctuation); step N -> numbered item (list start + index) or "Step N:"/"N." heading or
  paragraph, in the enclosing list, else the named or same section, else anywhere, nearest first. guard = the
  innermost guard whose guarded span holds the jump.
ordered_lists  every ordered list: span, start, depth, items (n = start + index) in tree order; continues = the
  previous ordered list of the same container whose numbering it carries on (a list split by code blocks).
variables  defs (VAR=.., export/local VAR=.., for VAR in, read VAR) and uses ($VAR, ${VAR}, not in '..') in
  command units; placeholders <POD_NAME>, {{ var }} and $VAR in prose, inline code and non-output units.
  pairs: use -> nearest earlier def of the name, and earlier ones while that def is under a guard that does
  not cover the use. inputs: names used with no def before them, grouped case-insensitively.
links  links to .md files (relative, URLs, Hugo {{< ref "x.md" >}}) with target path and whether it exists.
"""
# ruff: noqa: E501, E731  (the reference's layout is kept, for diffing against it)

import os
import re
import shlex
from collections.abc import Iterator
from typing import Any, Protocol, TypedDict, cast

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

# Types only (the reference has none). A fact (section, unit, command, guard, jump, ordered list, step,
# link, variable def or use) stays a JSON-shaped dict, as the reference builds and later edits it.
Fact = dict[str, Any]
ChainKey = tuple[str, int] | tuple[str, str | None, int]   # ('l'|'c', id(node)) or ('h', parent, level)


class Node(Protocol):
    """A markdown-it SyntaxTreeNode, as this file reads it. markdown-it types `map` and `parent` Optional
    because the root and the inline children (text, code_inline, link) lack them; this file reads `map`
    only on blocks and inline nodes, and `parent` only on list items, which all have them."""

    @property
    def type(self) -> str: ...
    @property
    def tag(self) -> str: ...
    @property
    def map(self) -> tuple[int, int]: ...
    @property
    def parent(self) -> 'Node': ...
    @property
    def children(self) -> list['Node']: ...
    @property
    def content(self) -> str: ...
    @property
    def markup(self) -> str: ...
    @property
    def info(self) -> str: ...
    @property
    def attrs(self) -> dict[str, str | int | float]: ...
    def walk(self) -> Iterator['Node']: ...


class Variables(TypedDict):
    """`Gold['variables']`: the defs and uses of variables, def -> use pairs, and the inputs."""

    defs: list[Fact]
    uses: list[Fact]
    pairs: list[Fact]
    inputs: list[Fact]


class Gold(TypedDict):
    """The gold facts of one guide: what `Runbook.extract` returns and `fidelity.score_file` reads."""

    file: str
    lines: int
    sections: list[Fact]
    units: list[Fact]
    guards: list[Fact]
    jumps: list[Fact]
    ordered_lists: list[Fact]
    variables: Variables
    links: list[Fact]


def W(s: str) -> frozenset[str]:
    return frozenset(s.split())


ROLES = [('meaning', r'meaning|description|summary'), ('impact', r'impact'),
         ('diagnosis', r'diagnos\w*|troubleshoot\w*|investigat\w*|check\w*'),
         ('mitigation', r'mitigat\w*|resolution|resolv\w*|remediat\w*|fix\w*|recover\w*')]
STRONG = W("""kubectl oc curl systemctl journalctl grep egrep zgrep ps df du ls ssh scp virtctl helm psql redis-cli
 gitlab-ctl gitlab-rake gitlab-rails gitlab-psql chef-client knife gcloud gsutil bq aws az docker crictl podman
 etcdctl promtool amtool dig nslookup traceroute ip ss netstat lsblk ceph rados rbd radosgw-admin ocm rpm-ostree jq
 yq sed awk xargs base64 openssl nc ncat telnet tcpdump iptables nft lsof vmstat iostat mpstat sar dmesg uptime
 pkill killall pgrep rm mkdir chmod chown sudo chroot bash zsh sh python python3 git terraform vault consul kubeadm
 nsenter ostree rpm dnf yum apt apt-get dpkg modprobe sysctl strace perf htop iotop nvidia-smi patronictl pg_ctl
 pg_dump pgbench mysql sqlite3 mongo mongosh velero argocd istioctl odf wget nmap mtr ethtool hostnamectl
 timedatectl chronyc ntpq reboot shutdown poweroff systemd-analyze coredumpctl loginctl tar gzip zcat unzip
 openshift-install oc-mirror ovs-appctl ovn-appctl ovs-vsctl ovs-ofctl ovn-nbctl ovn-sbctl ovn-trace odf-cli bundle
 ansible ansible-playbook prlimit gpg""")
WEAK = W("""top free cat tail head less more echo export mount umount ping host date find sort cut tr kill touch mv cp
 ln dd tee watch sleep cd source env set unset read test file stat which wc uniq printf make id""")
TAGS = {'shell': W('bash sh shell console zsh powershell ps1 pwsh shell-session shellsession terminal cmd bat fish ksh '
                   'sudo'),
        'query': W('promql logql sql kql pgsql postgresql postgres mysql plpgsql traceql metricsql esql influxql flux'),
        'config': W('yaml yml json jsonc json5 hcl toml ini xml conf cfg properties terraform tf jsonnet libsonnet '
                    'nginx cron dockerfile'),
        'script': W('ruby rb irb python py python3 js javascript go golang'),
        'text': W('text txt plaintext plain log logs output none nohighlight fatal error'),
        'other': W('mermaid plantuml math dot graphviz')}
MULTI = W("""kubectl oc helm systemctl ceph rbd rados radosgw-admin docker podman crictl etcdctl gcloud aws az virtctl
 gitlab-ctl gitlab-rake knife ip amtool redis-cli velero ocm rpm-ostree git terraform vault consul patronictl
 argocd istioctl odf nft sysctl chronyc hostnamectl timedatectl apt apt-get dnf yum docker-machine aptly
 chef-server-ctl rake service""")
MUT_SUB = W("""delete patch apply edit scale drain cordon uncordon restart reboot annotate label create replace set
 unset stop start kill rm rmp rmi remove taint undo pause resume rollback install uninstall upgrade enable disable mask
 unmask reload daemon-reload reset purge destroy evict expose autoscale reconfigure terminate failover switchover
 reinit promote import update add del flushall flushdb out defrag compact migrate approve deny archive archive-all
 prune rebase mark maint push commit update-ref drop merge""")
READ_SUB = W("""get describe logs log explain top api-resources version whoami project projects status port-forward
 proxy list ls show info inspect dump df stat health perf history ps images events detail tree query diff wait
 must-gather cluster-info""")
KUBE_GROUPS = W('rollout adm set sa serviceaccounts policy certificate secrets image config')
VALUE_OPTS = W("""-n --namespace -l --selector -c --container -o --output --context --kubeconfig -f --filename -p
 --patch --type --field-selector -h --host --region --project --zone --profile -w --format -C --endpoint-url -a""")
MUT_VERB = W("""rm rmdir kill pkill killall reboot shutdown poweroff halt touch mv truncate dd mkfs chef-client
 chef-client-enable chef-client-disable wipefs shred chmod chown tee""")
WRAPPERS = W('sudo env time nohup watch timeout nice ionice command exec chroot xargs stdbuf bundle')
HTML_TAGS = W("""a b i u s p br hr em strong code pre div span img sup sub kbd ul ol li table tr td th details summary
 small big center font tt h1 h2 h3 h4 h5 h6 none nil null unknown""")

PROMPT = re.compile(r'^\s*(?:(?:\[[^\]\n]{1,60}\]|[\w.-]+@[\w.:~/-]+|(?:sh|bash|zsh)-[\d.]+)\s?[$#%]\s*'
                    r'|\$\s+|[\u276f\u279c]\s+|PS [^>\n]{0,40}>\s*|[\w-]+=[#>]\s*)(?=\S)')
ROOT_PROMPT = re.compile(r'^\s*[#%]\s+(?=\S)')
ASSIGN = re.compile(r'''^[A-Za-z_]\w*=(?:\$\(|\(|(?:\$\{?\w+\}?|"[^"]*"|'[^']*'|<[^>]*>|[\w./:@%+{}-])*'''
                    r'''\s*(?:[;&].*|\s#.*)?$)''')
OUTPUT = re.compile(r'^\s*(?:[IWEF]\d{4}\s+\d\d:\d\d:\d\d|\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d|[A-Z][a-z]{2}\s+\d{1,2}\s+'
                    r'\d\d:\d\d:\d\d|\{\s*"[^"]+"\s*:.*\}\s*$|(?:error|warning|warn|fatal|panic|info|debug|err)\s*[:\]]'
                    r'|HTTP/\d|"[^"]*"?,?\s*$|(?:Normal|Warning)\s+[A-Z]\w+\s|[A-Za-z][\w ./()-]*:\s{2,}\S'
                    r'|[\w.-]+\s+=\s+\S)'
                    r'|\blevel=\w+|\bts=\d{4}-|\bmsg="|"msg"=|\b[1-5]\d\d (?:OK|Internal Server Error|Not Found|'
                    r'Forbidden|Unauthorized|Bad Request|Service Unavailable|Bad Gateway)\b', re.I)
TABLE_HEAD = re.compile(r'^\s*[A-Z][A-Z0-9_-]+(?:\s{2,}[A-Z][A-Z0-9_()%./-]*(?: [A-Z][A-Z0-9_()%-]*)?)+\s*$')
PROMQL = re.compile(r'(?m)^[\s(]*[a-z][a-z0-9]*(?:_[a-z0-9]+){2,}(?:\{[^}]*\})?\s*[-+*/><=!]|\b(?:sum|rate|irate|'
                    r'increase|count|avg|max|min|histogram_quantile|topk|bottomk|absent|\w+_over_time|label_replace|'
                    r'predict_linear|delta|deriv)\s*(?:by\s*\([^)]*\)\s*)?\(|^[a-zA-Z_:][\w:]*\{[^}]*\}|\[\d+[smhdw]\]')
SQL = re.compile(r'(?is)^\s*(?:select\b.*\bfrom\b|with\b.*\bas\s*\(|explain\b|update\b.*\bset\b|delete\s+from\b|'
                 r'insert\s+into\b|alter\s+table\b|drop\s+(?:table|index)\b|vacuum\b)')
LOGQL = re.compile(r'^\s*(?:sum|count_over_time|rate)?\s*\(?\s*\{\s*\w+\s*=~?\s*"[^"]*"[^}]*\}')
SQL_MUT = re.compile(r'\b(DROP|DELETE|UPDATE|INSERT|TRUNCATE|ALTER)\b')
YAML_KEY = re.compile(r'''^\s*-?\s*(?:"[^"]+"|'[^']+'|[\w./-]+(?: [\w./-]+){0,2}):(\s|$)''')
OUTPUT_CUE = re.compile(r'\b(output|logged|logs?( like)? the following|following (error|message|log|output|lines?)s?|'
                        r'(expect|see) (logs|output|messages)|looks? like|similar to)\b[^.:]{0,40}[:.]?\s*$', re.I)
GUARD = re.compile(r'^(?:[*_]{0,2}(?:note|important|tip|warning|caution)[*_]{0,2}\s*:\s*[*_]{0,2}\s*)?'
                   r'(?:(?:\d{1,2}|[a-z]|[ivx]{1,4})[.)]\s+|step\s+\d+\s*[:.)-]\s*)?[*_]{0,2}\s*'
                   r'(if|when|whenever|otherwise|else|unless|in\s+(?:the\s+)?case|should)\b', re.I)
ELSE = re.compile(r'(?:otherwise|else)\b|if not\s*[,.;]|if (?:this|that) is not the case', re.I)
STEP_LABEL = re.compile(r'^\s*[*_]{0,2}\s*(?:step\s+)?(\d{1,2})\s*[.:)]\s', re.I)
JUMPS = [('anchor', re.compile(r'\b(?:skip|jump|go|proceed|continue|move|return|head|refer|see|follow|consult|'
                               r'check\s*out|use|repeat|run|redo)\b[^.\[\]\n]{0,40}?\[[^\]]*\]'
                               r'\((?P<anchor>#[^)\s]*)\)', re.I)),
         ('step', re.compile(r'\b(?:skip|jump|go|proceed|continue|move|return|head|back|repeat|see|refer|restart)'
                             r'(?:\s+(?:ahead|back|directly|straight|on))?(?:\s+(?:to|with|from|at))?(?:\s+the)?'
                             r'\s+steps?\s+(?P<n>\d{1,2})\b(?:\s+(?:of|in)\s+the\s+(?P<sec>[A-Za-z][\w ]{2,30}?)'
                             r'(?:\s+section|'
                             r'\s+below|\s+above|[.,;:)]|$))?', re.I)),
         ('next', re.compile(r'\bskip\s+(?:the\s+)?(?:next|following)\s+step\b', re.I)),
         ('named', re.compile(r'\b(?:skip|jump|go|proceed|continue|move|return|head|see|refer|look)(?:\s+(?:ahead|'
                              r'back|directly|straight|on|at|with))?\s+(?:to\s+)?the\s+["\u201c*`]*'
                              r'(?P<name>[A-Z][^"\u201d*`\n]{1,40}?)["\u201d*`]*\s+(?:section|step|heading)\b'))]
SHVAR = re.compile(r'\$(?:\{([A-Za-z_]\w*)[^}]*\}|([A-Za-z_]\w*))')
PLACEHOLDER = re.compile(r'<([A-Za-z][\w.-]*(?: [\w.-]+){0,4})>|\{\{\s*([A-Za-z_]\w*)\s*\}\}')
DEF = re.compile(r'(?:^\s*|[;&|(]\s*|\b(?:export|local|declare|readonly)\s+(?:-\w+\s+)?)([A-Za-z_]\w*)=(?!=)'
                 r'|\bfor\s+([A-Za-z_]\w*)\s+in\b|\bread\s+(?:-\w+\s+)*([A-Za-z_]\w*)')
ABBREV = re.compile(r'\b(?:e\.g|i\.e|etc|vs|approx|incl|no|fig|ex|cf)\.$', re.I)
HUGO_REF = re.compile(r'\{\{<\s*ref\s+"([^"#]+\.md)(#[^"]*)?"\s*>\}\}')


def verb_level(text: str, assign: bool = True) -> int:
    """2: tool name or path; 1: English-like verb with an argument, shell loop or assignment; 0: no command."""
    w = text.split()
    if not w:
        return 0
    if w[0] in STRONG or re.match(r'^(\./|~/|/usr/|/bin/|/opt/)\S', w[0]):
        return 2
    if assign and ASSIGN.match(text) or w[0] == 'for' and len(w) > 2 and w[2] == 'in' or \
            w[0] in ('if', 'while', 'until') and len(w) > 1 and w[1] in ('[', '[[', 'true', ':', 'read', '!', 'test'):
        return 1
    return int(w[0] in WEAK and len(w) > 1 and bool(re.match(r'''^[-/$.~"'\d{(\[]|.*[=/.]''', w[1])))


def mask_quotes(s: str) -> tuple[str, str | None]:
    """(s with the insides of '..' and ".." blanked, offsets kept; the quote left open or None)."""
    out, q = [], None
    for i, c in enumerate(s):
        out.append(c if not q or c == q else ' ')
        if q and c == q and not (q == '"' and s[i - 1] == '\\'):
            q = None
        elif not q and c in '\'"' and not (i and s[i - 1] == '\\'):
            q = c
    return ''.join(out), q


def mutating(cmd: str, depth: int = 0) -> tuple[bool, str]:
    """(mutating?, verb) of one normalized command line, looking into $( ) substitutions."""
    if depth > 4:
        return False, ''
    subs, flat, level, start = [], '', 0, 0
    for i, c in enumerate(cmd):
        if not level and cmd.startswith('$(', i):
            level, start, flat = 1, i + 2, flat + 'SUB'
        elif level and i >= start:
            level += (c == '(') - (c == ')')
            if not level:
                subs.append(cmd[start:i])
        elif not level:
            flat += c
    subs += [cmd[start:]] if level else []
    masked = mask_quotes(flat)[0]
    m = re.search(r'>\s*(/(?:etc|sys|proc|var|run|usr|boot)/\S*)', masked)
    if m:
        return True, '> ' + m.group(1)
    cuts = [0] + [m.end() for m in re.finditer(r'\|\|?|&&|;', masked)] + [len(flat)]
    found = [segment_mutating(flat[a:b].strip(' |&;'), depth) for a, b in zip(cuts, cuts[1:])]
    found += [mutating(sub, depth + 1) for sub in subs]
    return next(((True, v) for mut, v in found if mut), (False, next((v for _, v in found if v), '')))


def segment_mutating(seg: str, depth: int) -> tuple[bool, str]:
    try:
        w = shlex.split(seg)
    except ValueError:
        w = seg.split()
    while w and (re.match(r'^[A-Za-z_]\w*=', w[0]) or w[0] in ('export', 'then', 'do', 'else', '{', '(')):
        w = w[1:]
    v = ''
    while w and w[0] in WRAPPERS:
        v, w = w[0], w[1:]
        while w and (w[0].startswith('-') or re.match(r'^[A-Za-z_]\w*=|^\d+[smh]?$', w[0])):
            w = w[2:] if v == 'sudo' and w[0] in ('-u', '-g') else w[1:]
        w = w[1:] if v in ('chroot', 'bundle') else w
    if not w:
        return False, v
    v = os.path.basename(w[0])
    v = v[7:] if v.startswith('gitlab-') and v[7:] in MULTI else v
    if v in MUT_VERB or v == 'sed' and any(x.startswith('-i') for x in w) or v == 'find' and '-delete' in w or \
            v.upper() in ('ALTER', 'DROP', 'DELETE', 'UPDATE', 'INSERT', 'TRUNCATE', 'CREATE') or \
            v in ('psql', 'gitlab-psql', 'mysql', 'sqlite3') and SQL_MUT.search(seg.upper()) or \
            v in ('mount', 'umount') and len(w) > 2 - (v == 'umount') or v == 'curl' and re.search(
                r'(?:-X\s*|--request[= ])["\']?(?:POST|PUT|PATCH|DELETE)|\s(?:-d|--data\S*|-F|--form)\s', ' ' + seg):
        return True, v
    pos, skip = [], False   # positional words, skipping options and the values of VALUE_OPTS
    for x in w[1:]:
        if not skip and not x.startswith('-'):
            pos.append(x)
        skip = not skip and x in VALUE_OPTS
    remote = 1 if v == 'ssh' else 2 if v == 'knife' and pos[:1] == ['ssh'] else 0   # ssh HOST cmd, knife ssh Q cmd
    if remote and len(pos) > remote or v in ('sh', 'bash') and '-c' in w:
        return mutating(' '.join(pos[remote:]) if remote else w[-1], depth + 1)
    if v not in MULTI:
        return False, v
    if '--' in w and v in ('oc', 'kubectl'):
        return mutating(' '.join(w[w.index('--') + 1:]), depth + 1)
    kube = v in ('oc', 'kubectl', 'helm')   # the verb is the first word; group verbs take the next one or two
    pos = (pos[:3] if pos and pos[0] in KUBE_GROUPS else pos[:1]) if kube else pos[:5]
    for k, x in enumerate(pos):
        parts = [x.lower()] + ([] if kube else re.split(r'[-:]', x.lower()))
        if parts[0] in READ_SUB:
            break
        if any(p in MUT_SUB for p in parts) or re.match(r'^(add|remove|new|set|delete|create)-', parts[0]):
            return True, ' '.join([v] + pos[:k + 1])
    return False, ' '.join([v] + pos[:1])


def slug(text: str) -> str:
    return re.sub(r'\s', '-', re.sub(r'[^\w\- ]', '', text.strip().lower()))


def plain(md: str) -> str:
    s = re.sub(r'!?\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\[[^\]]*\]', lambda m: m.group(1) or m.group(2) or '', md)
    s = re.sub(r'\\([\\`*_{}\[\]()#+\-.!<>])', r'\1', s.replace('**', '').replace('__', '').replace('`', ''))
    return ' '.join(re.sub(r'(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])', '', s).split())


class Runbook:
    sections: list[Fact]
    units: list[Fact]
    guards: list[Fact]
    jumps: list[Fact]
    olists: list[Fact]
    links: list[Fact]
    defs: list[Fact]
    uses: list[Fact]
    steps: list[Fact]
    chains: dict[ChainKey, list[Fact]]

    def __init__(self, path: str, rel: str, root: str) -> None:
        self.rel, self.root = rel, root
        self.lines = open(path, encoding='utf-8', errors='replace').read().split('\n')
        if self.lines[0].strip() in ('---', '+++'):
            end = next((i for i in range(1, len(self.lines)) if self.lines[i].strip() == self.lines[0].strip()), -1)
            self.lines[:end + 1] = [''] * (end + 1)
        self.tree = cast(Node, SyntaxTreeNode(MarkdownIt('commonmark').enable('table').parse('\n'.join(self.lines))))
        self.sections, self.units, self.guards, self.jumps, self.olists, self.links = [], [], [], [], [], []
        self.defs, self.uses, self.steps, self.chains = [], [], [], {}

    def span(self, node: Node) -> list[int]:
        s, e = node.map
        while e > s + 1 and not self.lines[e - 1].strip():
            e -= 1
        return [s + 1, e]

    def section_of(self, line: int) -> Fact | None:   # the last heading at or before a line is its innermost section
        return next((s for s in reversed(self.sections) if s['span'][0] <= line), None)

    def role(self, line: int) -> str:
        return cast(str, (self.section_of(line) or {'role': 'other'})['role'])   # a role is a str

    def build_sections(self) -> None:
        heads = [n for n in self.tree.walk() if n.type == 'heading']
        slugs: dict[str, int]
        last, slugs = max([i + 1 for i, l in enumerate(self.lines) if l.strip()] or [1]), {}
        for i, h in enumerate(heads):
            lvl = int(h.tag[1])
            end = next((x.map[0] for x in heads[i + 1:] if int(x.tag[1]) <= lvl), last)
            while end > h.map[0] + 1 and not self.lines[end - 1].strip():
                end -= 1
            text = plain(h.children[0].content)
            a = slug(text)
            slugs[a] = slugs.get(a, -1) + 1
            own = next((r for r, pat in ROLES if re.search(r'\b(?:%s)\b' % pat, text, re.I)), 'other')
            self.sections.append({'id': f's{i + 1}', 'level': lvl, 'text': text, 'node': h, 'own_role': own,
                                  'anchor': a + (f'-{slugs[a]}' if slugs[a] else ''), 'span': [h.map[0] + 1, end]})
        for s in self.sections:
            chain = sorted((p for p in self.sections if p['level'] <= s['level'] and p['own_role'] != 'other'
                            and p['span'][0] <= s['span'][0] <= p['span'][1]),
                           key=lambda p: (p['level'] == 1, p['level']))
            s['role'] = chain[0]['own_role'] if chain else 'other'
            m = STEP_LABEL.match(s['text'] + ' ')
            if m:
                self.steps.append({'n': int(m.group(1)), 'span': s['span'], 'kind': 'heading', 'list': None,
                                   'text': s['text']})

    # ---------- code blocks
    def classify(self, lang: str, body: list[str], cue: bool = False) -> tuple[str, list[str]]:
        """(class, kind of each line: cmd/cont/out/comment/blank/text/script)."""
        shellish = lang in TAGS['shell'] or lang not in TAGS['text'] and 'sh' in lang or re.match(r'#!.*sh\b', body[0])
        kinds: list[str]
        kinds, has_prompt, pending, in_table, strong = [], any(PROMPT.match(x) for x in body), None, False, False
        for i, l in enumerate(body):
            s = l.strip()
            if pending is None and s and not has_prompt and kinds and kinds[-1] in ('cmd', 'cont') and \
                    (body[i - 1].split() or [''])[-1] in VALUE_OPTS and \
                    not (verb_level(s) or s[0] == '#' or OUTPUT.search(s)):
                pending = ''   # a line wrapped after an option that takes a value
            if pending is not None:
                kinds.append('cont')
                pending = self.cont_state(pending + '\n' + re.sub(r'^\s*>\s', '', l))
                continue
            if not s:
                k, in_table = 'blank', False
            elif PROMPT.match(l):
                k, strong = 'cmd', True
            elif ROOT_PROMPT.match(l):
                k = 'cmd' if verb_level(ROOT_PROMPT.sub('', l), assign=False) else 'comment'
                strong = strong or k == 'cmd'
            elif s[0] == '#' or s.startswith('//'):
                k = 'comment'
            elif has_prompt:
                k = 'cmd' if (s.split()[0] in STRONG and not OUTPUT.search(s) and not in_table) else 'out'
            elif not in_table and verb_level(s):
                k, strong = 'cmd', strong or verb_level(s) == 2
            elif in_table or OUTPUT.search(s) or TABLE_HEAD.match(l):
                k, in_table = 'out', in_table or bool(TABLE_HEAD.match(l))
            else:
                k = 'text'
            kinds.append(k)
            if k == 'cmd':
                pending = self.cont_state(PROMPT.sub('', ROOT_PROMPT.sub('', l)))
        if lang in TAGS['script'] and not has_prompt:
            return 'command', ['script' if k not in ('blank', 'comment') else k for k in kinds]
        text, nonblank = '\n'.join(body), [x for x in body if x.strip()]
        query = 'out' not in kinds and (PROMQL.search(text) or SQL.search(text) or LOGQL.search(text))
        data = 'out' not in kinds and 'cmd' not in kinds and (
            re.search(r'^\s*(apiVersion|kind):', text, re.M) or re.match(r'^\s*[\[{][\s\S]*[\]}]\s*$', text)
            or sum(bool(YAML_KEY.match(x)) for x in nonblank) >= 0.6 * max(1, len(nonblank)))
        cls = next((c for c in ('query', 'config', 'other') if lang in TAGS[c]), None) or (
            'command' if strong else 'output' if cue else 'query' if query else 'output' if lang in TAGS['text']
            else 'config' if data else 'command' if 'cmd' in kinds or (
                shellish and lang != 'console' and 'text' in kinds and 'out' not in kinds) else 'output')
        if cls == 'command' and shellish and 'out' not in kinds and not has_prompt:
            kinds = ['cmd' if k == 'text' else k for k in kinds]
        return cls, kinds

    @staticmethod
    def cont_state(acc: str) -> str | None:
        """None when the accumulated command is complete, else the text to keep accumulating."""
        masked, q = mask_quotes(acc)
        lines = acc.split('\n')
        heredoc = re.search(r'<<-?\s*[\'"]?(\w+)', masked)
        if q or lines[-1].rstrip().endswith(('\\', '|', '&&', '||', '(', '{')) or masked.count('(') > \
                masked.count(')') or heredoc and not any(x.strip() == heredoc.group(1) for x in lines[1:]):
            return acc
        opened = len(re.findall(r'(?:^|[;&|\s])(?:do|then|case)(?=$|[\s;])', masked))
        return acc if opened > len(re.findall(r'(?:^|[;&|\s])(?:done|fi|esac)(?=$|[\s;)])', masked)) else None

    def commands(self, body: list[str], kinds: list[str], first_line: int) -> list[Fact]:
        cmds: list[Fact]
        cmds = []
        for i, (l, k) in enumerate(zip(body, kinds)):
            if k == 'cmd':
                cmds.append({'parts': [PROMPT.sub('', ROOT_PROMPT.sub('', l))], 'span': [first_line + i] * 2})
            elif k == 'cont' and cmds and cmds[-1]['span'][1] == first_line + i - 1:
                cmds[-1]['parts'].append(re.sub(r'^\s*>\s', '', l))
                cmds[-1]['span'][1] = first_line + i
        out = []
        for c in cmds:
            text = c['parts'][0].rstrip()
            for p in c['parts'][1:]:
                if text.endswith('\\'):
                    text = text[:-1]
                elif not (re.search(r'(\||&&|\b(do|then|else)|[({\'"])$', text) or mask_quotes(text)[1] or
                          re.search(r'<<-?\s*[\'"]?\w+', text) or (text.split() or [''])[-1] in VALUE_OPTS):
                    text += ';'
                text += ' ' + p.rstrip()
            m = re.search(r'\s#.*$', mask_quotes(text)[0])
            text = ' '.join((text[:m.start()] if m else text).split())
            if text:
                out.append(dict(zip(('text', 'span', 'mutating', 'verb'), (text, c['span']) + mutating(text))))
        return out

    def add_unit(self, kind: str, lang: str, cls: str, span: list[int], text: str, body: list[str],
                 kinds: list[str], first: int, scan: list[tuple[str, int]] | None = None) -> Fact:
        u: Fact
        u = {'id': f'u{len(self.units) + 1}', 'kind': kind, 'lang': lang, 'class': cls, 'span': span,
             'role': self.role(span[0]), 'section': (self.section_of(span[0]) or {}).get('id'), 'text': text}
        if cls == 'command' and 'script' in kinds:
            code = '\n'.join(x for x, k in zip(body, kinds) if k == 'script')
            mut = bool(re.search(r'\b(delete|destroy|update|save|create|enable|disable|remove|kill|clear|flush|set|'
                                 r'del|push|perform_async)\w*[!(\s]', code))
            u['commands'] = [{'text': code, 'span': span, 'mutating': mut, 'verb': lang, 'script': True}]
        elif cls == 'command':
            u['commands'] = self.commands(body, kinds, first)
        if cls == 'command':
            u['mutating'] = any(c['mutating'] for c in u['commands'])
        elif cls == 'query' and (lang in TAGS['query'] - W('promql logql traceql metricsql') or SQL.search(text)):
            u['mutating'] = bool(SQL_MUT.search(text.upper()) and re.search(
                r'(?i)\b(delete\s+from|update\s+\S+\s+set|insert\s+into|drop\s+\w+|truncate|alter\s+\w+)\b', text))
        self.units.append(u)
        if cls in ('command', 'query', 'config'):
            for x, ln in scan or [(x, first + i) for i, (x, k) in enumerate(zip(body, kinds))
                                  if cls != 'command' or k in ('cmd', 'cont', 'script')]:
                self.scan_vars(x, ln, u['id'], code=cls == 'command')
        return u

    # ---------- variables
    def scan_vars(self, line: str, ln: int, where: str, code: bool) -> None:
        quotes = [i for i, c in enumerate(line) if c == "'"] if code else []
        if code:
            bare = PROMPT.sub('', ROOT_PROMPT.sub('', line))
            for m in DEF.finditer(mask_quotes(bare)[0]):
                name = m.group(1) or m.group(2) or m.group(3)
                self.defs.append({'name': name, 'line': ln, 'col': m.start() + len(line) - len(bare), 'unit': where})
        for rx in (SHVAR, PLACEHOLDER):
            for m in rx.finditer(line):
                name = m.group(1) or m.group(2)
                if name.lower() not in HTML_TAGS if rx is PLACEHOLDER else sum(q < m.start() for q in quotes) % 2 == 0:
                    self.uses.append({'name': name, 'form': m.group(0), 'line': ln, 'col': m.start(), 'in': where})

    def guard_of(self, line: int) -> Fact | None:
        inner = [g for g in self.guards if g['guarded'][0] <= line <= g['guarded'][1]]
        return max(inner, key=lambda g: g['guarded'][0]) if inner else None

    def pair_vars(self) -> tuple[list[Fact], list[Fact]]:
        inputs: dict[str, dict[str, Any]]
        pairs, inputs = [], {}
        for u in self.uses:
            before = [d for d in self.defs if d['name'] == u['name'] and (d['line'], d['col']) < (u['line'], u['col'])]
            for d in ([] if u['form'][0] in '<{' else reversed(before)):
                pairs.append({'name': u['name'], 'def': [d['line']] * 2, 'use': [u['line']] * 2,
                              'def_unit': d['unit'], 'use_in': u['in']})
                g = self.guard_of(d['line'])   # a def under a guard that misses the use does not hide earlier defs
                if not g or g['guarded'][0] <= u['line'] <= g['guarded'][1]:
                    break
            if not any(d['name'] == u['name'] and d['line'] <= u['line'] for d in self.defs):
                key = re.sub(r'[-\s]', '_', u['name'].lower())
                e = inputs.setdefault(key, {'name': u['name'], 'forms': [], 'lines': []})
                e['forms'] += [] if u['form'] in e['forms'] else [u['form']]
                e['lines'].append(u['line'])
        return pairs, list(inputs.values())

    # ---------- guards
    def add_guard(self, text: str, span: list[int], guarded: list[int], form: str,
                  keys: list[ChainKey]) -> Fact:
        m = cast(re.Match[str], GUARD.match(text))   # callers pass text GUARD matched
        kind = 'else' if ELSE.match(text[m.start(1):m.start(1) + 40]) else 'if'
        g: Fact
        g = {'id': f'g{len(self.guards) + 1}', 'kind': kind, 'word': ' '.join(m.group(1).lower().split()), 'form': form,
             'text': plain(text), 'span': span, 'guarded': guarded, 'introduces': text.rstrip('*_ ').endswith(':'),
             'role': self.role(span[0]), 'exclusive_with': []}
        for key in keys:   # an else guard is exclusive with the If chain before it under the same key
            if kind == 'if':
                self.chains[key] = [g]
            elif self.chains.get(key):
                for o in self.chains[key]:
                    if o['id'] not in g['exclusive_with']:
                        g['exclusive_with'].append(o['id'])
                        o['exclusive_with'].append(g['id'])
                self.chains[key].append(g)
        self.guards.append(g)
        return g

    def sibling_end(self, item: Node, end: int) -> int:
        """End line after taking in the items that follow `item`, up to the next guard item."""
        sib = item.parent.children
        for nxt in sib[sib.index(item) + 1:]:
            if GUARD.match(self.first_text(nxt)):
                break
            end = self.span(nxt)[1]
        return end

    @staticmethod
    def first_text(node: Node) -> str:
        return next((n.content for n in node.walk() if n.type == 'inline'), '')

    @staticmethod
    def ancestors(n: Node) -> Iterator[Node]:
        while n.parent is not None:
            n = n.parent
            yield n

    def walk(self, node: Node) -> None:
        """Guards, units, lists, links and jumps of one container (root, list item, blockquote), in order."""
        open_g: Fact | None
        prev_end: int | None
        prev_ol: Fact | None
        kids, open_g, open_i, prev_end, prev_ol = node.children, None, -1, None, None

        def close(end: int) -> None:
            if open_g:
                open_g['guarded'][1] = max(open_g['guarded'][0], end)
        for i, ch in enumerate(kids):
            t = ch.type
            if t == 'heading':
                close(prev_end or ch.map[0])
                open_g, prev_ol, sec = None, None, next(s for s in self.sections if s['node'] is ch)
                self.inline(ch.children[0], ch)
                if GUARD.match(plain(ch.children[0].content)):
                    parent = next((p['id'] for p in reversed(self.sections) if p['level'] < sec['level']
                                   and p['span'][0] < sec['span'][0] <= p['span'][1]), None)
                    self.add_guard(ch.children[0].content, [sec['span'][0]] * 2, list(sec['span']), 'heading',
                                   [('h', parent, sec['level'])])
            elif t == 'paragraph':
                inline = ch.children[0]
                raw, masked = self.inline(inline, ch)
                sents = self.sentences(masked)
                for j, (a, b) in enumerate(sents):
                    seg = masked[a:b]
                    if not GUARD.match(seg.lstrip()):
                        continue
                    text = raw[a:b].strip()
                    sspan = [self.line_at(inline, raw, a + len(seg) - len(seg.lstrip())),
                             self.line_at(inline, raw, a + max(0, len(seg.rstrip()) - 1))]
                    if j == 0 and i == 0 and node.type == 'list_item':
                        span = self.span(node)
                        if len(kids) == 1 and len(sents) == 1 and text.rstrip('*_ ').endswith(':'):
                            span[1] = self.sibling_end(node, span[1])
                        self.add_guard(text, sspan, span, 'item', [('l', id(node.parent)), ('c', id(node))])
                    elif j == 0 or (j == len(sents) - 1 and text.rstrip('*_ ').endswith(':')):
                        close(self.span(kids[i - 1])[1] if i else ch.map[0])
                        open_i, open_g = i, self.add_guard(text, sspan, [sspan[0], self.span(ch)[1]],
                                                           'paragraph' if j == 0 else 'sentence', [('c', id(node))])
                    else:
                        self.add_guard(text, sspan, list(sspan), 'sentence', [('c', id(node))])
            elif t in ('fence', 'code_block'):
                lang = (ch.info or '').strip().split(' ')[0].strip('{}.').lower() if t == 'fence' else ''
                body = ch.content.rstrip('\n').split('\n')
                prev = plain(kids[i - 1].children[0].content) if i and kids[i - 1].type == 'paragraph' else ''
                cue = OUTPUT_CUE.search(prev[-90:]) and not re.search(r'\b(command|run|execute|enter)', prev, re.I)
                cls, kinds = self.classify(lang, body, bool(cue))
                self.add_unit(t, lang, cls, self.span(ch), ch.content.rstrip('\n'), body, kinds,
                              ch.map[0] + (2 if t == 'fence' else 1))
            elif t in ('bullet_list', 'ordered_list'):
                if t == 'ordered_list':
                    start = int(ch.attrs.get('start', 1))
                    items = [{'n': start + k, 'span': self.span(it), 'text': plain(self.first_text(it))[:100]}
                             for k, it in enumerate(ch.children)]
                    cont: str | None
                    cont = prev_ol['id'] if prev_ol and start == prev_ol['items'][-1]['n'] + 1 else None
                    prev_ol = {'id': f'ol{len(self.olists) + 1}', 'span': self.span(ch), 'start': start,
                               'continues': cont, 'depth': sum(p.type.endswith('_list') for p in self.ancestors(ch)),
                               'role': self.role(ch.map[0] + 1), 'items': items}
                    self.olists.append(prev_ol)
                    self.steps += [dict(it, kind='item', list=id(ch)) for it in items]
                for it in ch.children:
                    self.walk(it)
            elif t == 'blockquote':
                self.walk(ch)
            elif t == 'table':
                for n in ch.walk():
                    if n.type == 'inline':
                        self.inline(n, ch)
            if t != 'html_block':
                prev_end = self.span(ch)[1]
        close(prev_end or 0)
        if open_g and open_g['introduces'] and open_i == len(kids) - 1 and node.type == 'list_item':
            open_g['guarded'][1] = self.sibling_end(node, open_g['guarded'][1])

    # ---------- inline content
    def line_at(self, inline: Node, raw: str, off: int) -> int:
        return inline.map[0] + 1 + raw.count('\n', 0, off)

    @staticmethod
    def sentences(masked: str) -> list[tuple[int, int]]:
        out, start = [], 0
        for m in re.finditer(r'[.!?]["\')\]*_]*\s+(?=[\[*_`"(]*[A-Z0-9])', masked):
            if not ABBREV.search(masked[max(0, m.start() - 7):m.start() + 1]):
                out.append((start, m.end()))
                start = m.end()
        return out + ([(start, len(masked))] if masked[start:].strip() else [])

    def inline(self, inline: Node, block: Node) -> tuple[str, str]:
        """Inline code units, placeholders, links and jumps of a paragraph, heading or table cell -> (raw, masked)."""
        raw, cur, codes, links = inline.content, 0, [], []
        for ch in inline.children:   # find each code span and link in the raw text, in order
            if ch.type == 'code_inline' and raw.find(ch.markup, cur) >= 0:
                p = raw.find(ch.markup, cur)
                q = raw.find(ch.markup, p + len(ch.markup))
                cur = q + len(ch.markup) if q >= 0 else p + len(ch.markup)
                codes.append((p, cur, ch.content))
            elif ch.type == 'link':
                p = raw.find('](', cur) if raw.find('](', cur) >= 0 else cur
                links.append((p, ch.attrs.get('href', ''), plain(''.join(c.content for c in ch.children))))
                cur = p + 2
        chars = list(raw)
        for p, q, _ in codes:
            chars[p:q] = [c if c == '\n' else 'x' for c in raw[p:q]]
        masked = ''.join(chars)
        if block.type == 'paragraph' and (label := STEP_LABEL.match(raw)):
            self.steps.append({'n': int(label.group(1)), 'span': self.span(block),
                               'kind': 'paragraph', 'list': None, 'text': plain(raw)[:100]})
        for p, q, content in codes:
            ln, text = self.line_at(inline, raw, p), PROMPT.sub('', content).strip()
            parts = [(x, ln + k) for k, x in enumerate(raw[p:q].strip('`').split('\n'))]
            if verb_level(text, assign=False) and len(text.split()) >= 2:
                span = [ln, parts[-1][1]]
                for c in self.add_unit('inline', '', 'command', span, content, [text], ['cmd'], ln, parts)['commands']:
                    c['span'] = span
            else:
                for x, k in parts:
                    self.scan_vars(x, k, 'text', code=False)
        prose = re.sub(r'\]\([^)]*\)', lambda m: ' ' * len(m.group(0)), masked)
        for k, l in enumerate(prose.split('\n')):
            self.scan_vars(re.sub(r'<!--.*?-->', '', l), inline.map[0] + 1 + k, 'text', code=False)
        for p, href, text in links + [(m.start(), m.group(1) + (m.group(2) or ''), '') for m in HUGO_REF.finditer(raw)]:
            path = href.split('#')[0].split('?')[0]
            if path.lower().endswith('.md'):
                ext = bool(re.match(r'^[a-z]+:', path))
                tgt = path if ext else os.path.normpath(os.path.join(os.path.dirname(self.rel), path))
                exists = None if ext else os.path.isfile(os.path.join(self.root, tgt))
                self.links.append({'id': f'l{len(self.links) + 1}', 'text': text, 'href': href, 'target': tgt,
                                   'external': ext, 'exists': exists, 'line': self.line_at(inline, raw, p),
                                   'role': self.role(inline.map[0] + 1)})
        for kind, rx in JUMPS:
            for m in rx.finditer(masked if kind in ('step', 'next') else raw):
                self.jumps.append({'id': f'j{len(self.jumps) + 1}', 'kind': kind, 'text': plain(m.group(0)),
                                   'line': self.line_at(inline, raw, m.start()), 'm': m, 'block': block})
        return raw, masked

    def resolve_jump(self, j: Fact) -> None:
        m, block, line, kind, target = j.pop('m'), j.pop('block'), j['line'], j['kind'], None
        if kind in ('anchor', 'named'):
            a = m.group('anchor')[1:].lower() if kind == 'anchor' else m.group('name').strip().lower()
            key = 'anchor' if kind == 'anchor' else 'text'
            sec = next((s for s in self.sections if s[key].lower() == a), None) or next(
                (s for s in self.sections if re.sub(r'[\W_]', '', s[key].lower()) == re.sub(r'[\W_]', '', a)
                 or kind == 'named' and a in s['text'].lower()), None)
            target = sec and {'kind': 'heading', 'id': sec['id'], 'text': sec['text'], 'span': sec['span']}
        else:
            lists = [p for p in self.ancestors(block) if p.type == 'ordered_list']
            item = next((p for p in self.ancestors(block) if p.type == 'list_item' and p.parent in lists), None)
            if kind == 'next':
                n = item and int(item.parent.attrs.get('start', 1)) + item.parent.children.index(item) + 2
                pool = [s for s in self.steps if item and s['list'] == id(item.parent) and s['n'] == n]
            else:
                n, name = int(m.group('n')), (m.group('sec') or '').strip().lower()
                pool = [s for s in self.steps if s['n'] == n]
                named = [s['span'] for s in self.sections if name and name in s['text'].lower()]
                if named:
                    pool = [s for s in pool if any(a <= s['span'][0] <= b for a, b in named)]
                else:
                    pool = next(([s for s in pool if s['list'] == id(lst)] for lst in lists
                                 if any(s['list'] == id(lst) for s in pool)), pool)
                    here = self.section_of(line)
                    pool = [s for s in pool if here and here['span'][0] <= s['span'][0] <= here['span'][1]] or pool
            best = min(pool, key=lambda s: abs(s['span'][0] - line), default=None)
            target = best and {'kind': best['kind'], 'n': best['n'], 'text': best['text'], 'span': best['span']}
        g = self.guard_of(line)
        j.update(target=target, resolved=bool(target), role=self.role(line), guard=g and g['id'])

    def extract(self) -> Gold:
        self.build_sections()
        self.walk(self.tree)
        for j in self.jumps:
            self.resolve_jump(j)
        pairs, inputs = self.pair_vars()
        for s in self.sections:
            del s['node']
        return {'file': self.rel, 'lines': len(self.lines), 'sections': self.sections, 'units': self.units,
                'guards': self.guards, 'jumps': self.jumps, 'ordered_lists': self.olists,
                'variables': {'defs': [dict(d, span=[d['line']] * 2) for d in self.defs], 'uses': self.uses,
                              'pairs': pairs, 'inputs': inputs}, 'links': self.links}

