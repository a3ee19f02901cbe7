"""The fidelity measures of `mendflow eval`: a port of the reference scorer's matcher
(../shared/fidelity/score.py), kept line for line so that both give the same numbers;
tests/engine/compile/test_eval.py checks that they agree on the shared corpora. Its file
handling and report are left out (`engine.compile.eval` does those). What follows is the
reference's own description.

score compiled execution plans against the gold facts of their runbooks (gold.py).

usage: score.py GOLD.json PLANS_DIR --guides ROOT [--include GLOB] [--exclude GLOB] [--files] [--misses FILE]
                [--json FILE] [--label NAME]
  GOLD.json: gold.py's output for the folder ROOT. PLANS_DIR: searched recursively for *.plan.json; a plan
  belongs to the gold file whose relative path ends its `source.path` (plans may sit beside their guides, so
  basenames that repeat do not collide); a gold file with no plan scores every gold fact as "no plan" (the
  compiler refused the guide), a miss. ROOT: the guide folder, to read the guide's own text. --include and
  --exclude filter gold files by glob (`mendflow compile DIR` skips README.md by design: exclude them).

Vocabulary
  executed step  a plan step of kind command, query or detect (a machine runs it). manual, decide, approve,
                 call and end steps are not executed steps.
  overlap        a plan step's source span [start, end] and a gold span [first, last] share a line.
  norm(x)        a command's text with `\\`+newline joined, trailing `# comment` (outside quotes) dropped,
                 Mendflow's template escapes ({{ '{{' }}) undone, placeholders <X>, {{ x }}, $X, ${X}
                 each replaced by one token, `;` treated as a space, whitespace collapsed. A text A
                 "holds" B when B's tokens are a contiguous run of A's tokens.
  squash(x)      what runs, as characters: templates/placeholders/$VARs one mark, sql bound args (:p1)
                 their template, quotes, backslashes, whitespace, `;` and `&&` dropped. For a step, its
                 argv stages joined by `|` (or its query); for a gold line, the line (for `V=$(cmd)` or
                 V=`cmd`, the cmd: the compiler runs cmd and binds V).
  Matcher fix: gold.py leaves `\\` continuation lines as commands of their own when the block's first word
  is a tool it does not know (`runc \\ exec \\ ...`); they are joined back before scoring.

METRICS (each counted per gold item)
1. Command recall. Denominator: every gold command line (units of class `command`, fenced or inline,
   `commands[*]`), reported by unit kind (block / inline) and by the role of its section (action =
   diagnosis, mitigation; descriptive = meaning, impact; other). Each line gets exactly one status:
     executed  executed steps overlap the line, their text holds norm(line), and what they run matches
               it: squash(step) == squash(line) for one of them, or the squashes of all of them in order
               (`a && b` runs as two steps), or the step holds more only because it joined further
               lines (extra text from lines outside the gold span).
     mangled   a step's text holds the line but what it runs differs (an unstripped prompt), or it runs a
               shell builtin as a program (`export`, `alias`, `cd` ..: no such program, or no effect
               outside a shell): it would not do what the guide says. A miss.
     partial   executed steps overlap it, but only ones whose text is a strict part of the line (the
               compiler split one logical command into pieces). A miss.
     absorbed  the line is a constant assignment (`[export] VAR=value`, quoted or not, no `$(`): the
               compiler turns it into a plan input with that default, not a step. Left out of the recall
               denominator and reported on its own.
     manual    a manual step overlaps the line and its script (or, for a manual step without a script,
               its text with backticks dropped) holds norm(line): a person is told to run it.
     dropped   none of the above. (no plan: the file did not compile.)
   recall = executed / (lines - absorbed). Script lines (Ruby/Python blocks) are counted with the rest;
   the compiler makes them manual by design.
   Information, not a gold fact: executed lines that the guide runs inside an interactive session opened
   by an earlier line of the same section (oc rsh, oc debug node/X, oc exec -it .. bash, ssh HOST,
   chroot /host, toolbox; closed by `exit`; workstation tools such as oc/kubectl/scp are taken to run
   outside it): the plan runs them on its own machine instead. A heuristic: reported, not a gold metric.
   Query recall: gold units of class `query`: executed when an executed step overlaps the unit and its
   text holds, or is held by, the unit's text (comment lines dropped); manual when a manual step
   overlapping it holds the query's first words; else dropped.
2. Precision / invented. For every executed step, what would run: each literal piece of each argv word
   of a shell pipeline (template parts cut out, quotes and backslashes ignored), or each line of a
   query, must occur in the guide: in the step's own span, else anywhere in the guide (a value an earlier
   assignment gave); the step's text, line by line, too. invented = executed steps with a piece or line
   found nowhere in the guide. Must be 0.
3. Output as action. Gold units of class output or config overlapped by an executed step (units and
   steps counted). Must be 0. Reported beside it (gold has no class for it): executed steps that overlap a
   command unit but none of its command lines (the output lines of a console block run as commands).
4. Branch recall. Gold guards of kind `if` (If/When/Unless/In case/Should): hit when either
   (a) a decide step (not the compiler's own `start` fan-out nor its two synthetic gates, "The diagnosis
   found a cause ..." and "The issue is resolved", whose words are not the guide's) overlaps the guard's
   sentence span or lies inside its guarded span, and the two texts match: >= 60% of the shorter one's
   words (at least two) occur in the other; or (b) an edge of kind branch/else/jump carrying a condition
   whose text matches and whose target lies inside the guarded span (an "if it fails" error branch has no
   decide step). Gold guards of kind `else` (Otherwise/Else/If not) are hit by an `else` edge whose
   condition text matches or whose (non-end) target lies inside the guarded span. Reported for action
   sections (diagnosis, mitigation), descriptive sections (meaning, impact) and other; hits are split
   into deterministic (the condition has an expr) and judgment. Misses are sub-classified: "steps
   unconditional" (executed steps, or else manual/call steps, inside the guarded span run with no
   decide), "in a manual step" (no executed step; the guard sentence is inside a prose manual step that a
   person reads), "nothing compiled".
5. Jump recall. Gold jumps with a resolved target: hit when an edge of kind `jump` has a source step
   inside the innermost gold section that holds the jump's line, and a target step whose span starts
   inside the gold target's span (or, when the plan has no step inside that span, the first step after
   it). Reported apart: control jumps (skip/go/proceed/continue/return/follow/repeat ..) and references
   (see/refer/consult/check out/look/use ..), which are mostly "see also" links, not control flow.
   Unresolved gold jumps are counted, not scored.
6. Unsafe parallelism. Two steps (command, query, detect, manual or call) can run concurrently when both
   are reachable from the entry, neither is reachable from the other along any edges, and they are not on
   exclusive sides of one choice: no edge on every entry path of one and edge on every entry path of the
   other leave the same step as a branch/else pair (different condition texts) or a success/failure pair.
   (Mendflow's join semantics make a step wait for every graph ancestor, so no path = no wait.) Counted:
     mutating-ordered  a concurrent pair where one step is mutating (it executes a gold mutating command,
                       or the plan marks it mutating) and the guide orders them: both in one gold ordered
                       list, or both in the same innermost gold section (other pairs: info line).
     def-use           a gold variables pair (def line -> use line) whose def step and use step (steps
                       other than decide/approve/end overlapping those lines) differ and run concurrently;
                       `use before def` counts pairs whose use step reaches the def step. Pairs on one line
                       (`PATH=x:$PATH`) cannot be told apart by line and are left out.
   Both must be 0.
7. Hard gates. Executed steps that run a gold mutating command line: gated when every path from the plan's
   entry to the step passes through the step's own approve step (`approve-<id>`), checked by searching
   from the entry with that approve step removed. Cleanup steps (no edges, run after the end) are counted
   apart. gated% must be 100. Also: gold mutating lines executed / manual / dropped, executed steps whose
   plan `mutating` flag is false though gold says mutating, and plan-mutating steps on gold read-only
   commands (over-gating) or on no gold command at all (mostly output run as commands).
"""
# ruff: noqa: E501  (the reference's layout is kept, for diffing against it)

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, TypedDict

from engine.compile.gold import Fact, Gold

# Types only (the reference has none): a plan, a step, an edge or a miss is a JSON object.
Json = dict[str, Any]


class Scored(TypedDict):
    """What `score_file` returns: the counters of one file and its misses."""

    file: str
    plan: bool
    counts: Counter[str]
    misses: list[Json]


EXEC_KINDS = ('command', 'query', 'detect')
SESSION = re.compile(r'^\s*(?:sudo\s+)?(?:(?:oc|kubectl)\s+(?:-n\s+\S+\s+)?(?:rsh|debug)\b(?!.*\s--\s)'
                     r'|(?:oc|kubectl)\s+exec\b.*\s-\w*i\w*t?\b.*\s--\s*(?:/bin/)?(?:ba)?sh\s*$'
                     r'|ssh\s+\S+\s*$|chroot\s+/host\s*$|toolbox\s*$|sudo\s+(?:-i|su)\b'
                     r'|(?:oc|kubectl)\s+exec\b.*\s-\w*i\w*t?\b.*\s(?:bash|sh)\s*$)')
WORKSTATION = re.compile(r'\s*(?:sudo\s+)?(?:oc|kubectl|ocm|virtctl|knife|gcloud|gsutil|aws|az|scp|firefox|'
                         r'open|xdg-open)\b')  # tools run from a workstation: a session is over by then
BUILTINS = frozenset('export alias unalias cd source . set unset ulimit eval shopt declare local readonly pushd popd '
                     'umask trap'.split())   # shell builtins: no program of that name runs them
SYNTHETIC = ('The diagnosis found a cause that the mitigation addresses', 'The issue is resolved')
REFERENCE = re.compile(r'(?i)\s*(?:see|refer|consult|check\s*out|look|use)\b')
ACTION_ROLES = ('diagnosis', 'mitigation')
DESCRIPTIVE_ROLES = ('meaning', 'impact')
PH = '\u00abP\u00bb'
ESCAPE = re.compile(r"\{\{ '(\{\{|\{%|\{#|\{)' \}\}")
TEMPLATE = re.compile(r'\{\{.*?\}\}', re.S)


# ---------------------------------------------------------------- text normalisation
def unescape(s: str | None) -> str:
    return ESCAPE.sub(lambda m: m.group(1), s or '')


def mask_quotes(s: str) -> str:
    out, q = [], None
    for i, c in enumerate(s):
        out.append(c if not q or c == q else ' ')
        if q and c == q and not (q == '"' and i and s[i - 1] == '\\'):
            q = None
        elif not q and c in '\'"' and not (i and s[i - 1] == '\\'):
            q = c
    return ''.join(out)


def strip_comment(line: str) -> str:
    m = re.search(r'(?:^|\s)#.*$', mask_quotes(line))
    return line[:m.start()] if m else line


def norm(s: str, comments: bool = True) -> tuple[str, ...]:
    s = unescape(s)
    s = re.sub(r'\\[ \t]*\n', ' ', s)
    if comments:
        s = '\n'.join(strip_comment(x) for x in s.split('\n'))
    s = TEMPLATE.sub(PH, s)
    s = re.sub(r'<[A-Za-z][^<>\n|;&]{0,80}?>', PH, s)
    s = re.sub(r'\$\{[A-Za-z_]\w*[^}]*\}|\$[A-Za-z_]\w*', PH, s)
    s = re.sub(r'(?<=\s)\\(?=\s)', ' ', ' ' + s + ' ')
    s = s.replace(';', ' ')
    return tuple(s.split())


def holds(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """a's tokens contain b's tokens as a contiguous run."""
    if not b:
        return False
    n = len(b)
    return any(a[i:i + n] == b for i in range(len(a) - n + 1))


def words(text: str | None) -> list[str]:
    t = re.sub(r'`[^`]*`', lambda m: m.group(0).strip('`'), text or '')
    return [w for w in re.findall(r'[a-z0-9]+', t.lower())]


def text_match(x: str | None, y: str | None) -> bool:
    """The two texts name the same condition: >= 60% of the shorter one's words (at least two) occur in the
    other (a decide step keeps the clause, gold the sentence; either may be cut short)."""
    a, b = words(x), words(y)
    if len(a) > len(b):
        a, b = b, a
    hits = sum(w in set(b) for w in a)
    return hits >= 2 and hits >= 0.6 * len(a)


def flat(s: str) -> str:
    """Guide text or a piece for the invented check: no quotes, backslashes or whitespace runs."""
    return ' '.join(re.sub(r'[\'"\\`]', '', unescape(s)).split())


def overlap(span: Sequence[int], a: int, b: int) -> bool:
    return span[0] <= b and a <= span[1]


def inside(span: Sequence[int], a: int, b: int) -> bool:
    return a <= span[0] and span[1] <= b


CONST_ASSIGN = re.compile(r'''^(?:export\s+|local\s+|readonly\s+)?[A-Za-z_]\w*=(?!.*\$\()(?!.*`)'''
                          r'''(?:'[^']*'|"[^"]*"|<[^<>]*>|[^\s'"<])*\s*$''')
BIND = re.compile(r'''^\s*(?:export\s+)?[A-Za-z_]\w*=(["']?)(?:\$\((.*)\)|`(.*)`)\1\s*$''', re.S)


def squash(s: str) -> str:
    """A command as the characters that run: templates and placeholders one mark, no quotes, backslashes,
    whitespace, `;` or `&&` (the compiler runs `a && b` as two steps)."""
    s = TEMPLATE.sub('\x00', unescape(s))
    s = re.sub(r'<[A-Za-z][^<>\n|;&]{0,80}?>', '\x00', s)
    s = re.sub(r'\$\{[A-Za-z_]\w*[^}]*\}|\$[A-Za-z_]\w*', '\x00', s)
    return re.sub(r'[\'"\\\s;]|&&', '', s)


def squash_cmd(text: str) -> str:
    m = BIND.match(text)
    return squash((m.group(2) or m.group(3) or '') if m else text)


def squash_step(s: Json) -> str:
    """What an executed step runs, squashed: its argv stages joined by `|`, or its query."""
    p = s.get('params') or {}
    if 'pipeline' in p:
        return squash('|'.join(' '.join(w for w in stage) for stage in p['pipeline']))
    return squash(bind_args(p['query'], p) if 'query' in p else s.get('text', ''))


# ---------------------------------------------------------------- plans
class PlanView:
    steps: dict[str, Json]
    edges: list[Json]
    succ: defaultdict[str, list[str]]
    _reach: dict[str, set[str]]
    cleanup: set[str]

    def __init__(self, plan: Json) -> None:
        self.plan = plan
        self.steps = {s['id']: s for s in plan['steps']}
        for s in plan['steps']:
            s['span'] = (s['source']['start'], s['source']['end'])
        self.edges = plan['edges']
        self.succ = defaultdict(list)
        for e in self.edges:
            self.succ[e['source']].append(e['target'])
        self._reach = {}
        self.cleanup = set(plan.get('cleanup', []))

    def reach(self, sid: str, removed: str | None = None) -> set[str]:
        if removed is None and sid in self._reach:
            return self._reach[sid]
        seen, todo = set(), [sid]
        while todo:
            x = todo.pop()
            for y in self.succ.get(x, ()):
                if y not in seen and y != removed:
                    seen.add(y)
                    todo.append(y)
        if removed is None:
            self._reach[sid] = seen
        return seen

    def path(self, a: str, b: str) -> bool:
        return b in self.reach(a)

    def required_edges(self) -> tuple[set[str], defaultdict[str, set[int]]]:
        """{step: set of edge indexes on every path from the entry to it}, for the edges that can be
        exclusive (conditional, failure, or leaving a step that has such an edge)."""
        entry = self.plan['entry']
        base = self.reach(entry) | {entry}
        req = defaultdict(set)
        choosers = {e['source'] for e in self.edges if e.get('condition') or e.get('on') == 'failure'}
        for i, e in enumerate(self.edges):
            if e['source'] not in choosers:
                continue
            seen, todo = {entry}, [entry]
            while todo:
                x = todo.pop()
                for k, f in enumerate(self.edges):
                    if k != i and f['source'] == x and f['target'] not in seen:
                        seen.add(f['target'])
                        todo.append(f['target'])
            for x in base - seen:
                req[x].add(i)
        return base, req

    def exclusive_edges(self, i: int, k: int) -> bool:
        """Two edges from one step that are never both taken."""
        e, f = self.edges[i], self.edges[k]
        if i == k or e['source'] != f['source']:
            return False
        if e.get('on', 'success') != f.get('on', 'success'):
            return True
        ce, cf = e.get('condition'), f.get('condition')
        return bool(ce or cf) and (ce or {}).get('text') != (cf or {}).get('text')

    def concurrent_pairs(self, kinds: tuple[str, ...]) -> set[frozenset[str]]:
        """{frozenset(a, b)} of steps of `kinds` that can run at once (see metric 6): both reachable from the
        entry, no path between them, and not on two exclusive sides of one choice."""
        base, req = self.required_edges()
        ids = [s['id'] for s in self.plan['steps'] if s['kind'] in kinds and s['id'] in base]
        pairs = set()
        for n, a in enumerate(ids):
            for b in ids[n + 1:]:
                if self.path(a, b) or self.path(b, a):
                    continue
                if any(self.exclusive_edges(i, k) for i in req[a] for k in req[b]):
                    continue
                pairs.add(frozenset((a, b)))
        return pairs


def step_code_texts(s: Json) -> list[str]:
    """What an executed step runs, as literal pieces (template parts cut out)."""
    p = s.get('params') or {}
    texts = []
    if 'pipeline' in p:
        for stage in p['pipeline']:
            for w in stage:
                texts.append(w)
    for k in ('query', 'sql', 'expr', 'url', 'script'):
        if isinstance(p.get(k), str):
            texts.append(bind_args(p[k], p))
    pieces = []
    for t in texts:
        for line in unescape(t).split('\n'):
            for piece in TEMPLATE.split(line):
                piece = flat(piece)
                if piece and re.search(r'\w', piece):
                    pieces.append(piece)
    return pieces


def bind_args(query: str, params: Json) -> str:
    """The sql plugin's bound arguments (`:p1` -> args.p1) as the templates they stand for."""
    args = params.get('args') or {}
    return re.sub(r':(p\d+)\b', lambda m: str(args.get(m.group(1), m.group(0))), query) if args else query


# ---------------------------------------------------------------- scoring one file
def role_group(role: str) -> str:
    return 'action' if role in ACTION_ROLES else 'descriptive' if role in DESCRIPTIVE_ROLES else 'other'


def merge_continuations(d: Gold) -> None:
    """Matcher fix for a gold.py slip: in a block whose first word is a tool gold.py does not know (runc ..),
    `\\` continuation lines come out as commands of their own. Join them back to the line they continue."""
    for u in d['units']:
        out: list[dict[str, Any]] = []
        for c in u.get('commands', []):
            prev = out[-1] if out else None
            if prev and not c.get('script') and prev['text'].endswith('\\') and c['span'][0] == prev['span'][1] + 1:
                prev['text'] = prev['text'][:-1].rstrip() + ' ' + c['text']
                prev['span'] = [prev['span'][0], c['span'][1]]
                prev['mutating'] = prev['mutating'] or c['mutating']
                prev['merged'] = True
                continue
            out.append(dict(c))
        if 'commands' in u:
            u['commands'] = out


def score_file(d: Gold, plan: Json | None, guide_lines: list[str]) -> Scored:
    merge_continuations(d)
    r: Scored
    r = {'file': d['file'], 'plan': plan is not None, 'counts': Counter(), 'misses': []}
    C = r['counts']
    miss = r['misses']
    pv = PlanView(plan) if plan else None
    steps = plan['steps'] if plan else []
    execd = [s for s in steps if s['kind'] in EXEC_KINDS]
    manual = [s for s in steps if s['kind'] == 'manual']
    guide_flat = flat('\n'.join(guide_lines))

    def span_text(a: int, b: int) -> str:
        return '\n'.join(guide_lines[a - 1:b])

    # --- 1. commands
    step_of_line = {}          # gold command (unit id, idx) -> [step ids executing it]
    mut_lines = []
    claimed: set[str] = set()  # executed step ids matched to some gold command/query
    for u in d['units']:
        if u['class'] != 'command':
            continue
        kind = 'inline' if u['kind'] == 'inline' else 'block'
        grp = role_group(u['role'])
        for k, c in enumerate(u['commands']):
            a, b = c['span']
            g = norm(c['text'])
            if not c.get('script') and CONST_ASSIGN.match(c['text']):
                status = 'absorbed'
                hit = []
            else:
                ov = [s for s in execd if overlap(s['span'], a, b)]
                hit = [s for s in ov if holds(norm(s['text']), g)]
                part = [s for s in ov if holds(g, norm(s['text']))]
                runs = squash_cmd(c['text'])
                ran = ''.join(squash_step(s) for s in hit)
                joined = len(hit) == 1 and (ran.startswith(runs) and hit[0]['span'][1] > b or
                                            ran.endswith(runs) and hit[0]['span'][0] < a)
                builtin = [s for s in hit if (s['params'].get('pipeline') or [['']])[0][0] in BUILTINS]
                if hit and not builtin and (ran == runs or joined or any(squash_step(s) == runs for s in hit)):
                    status = 'executed'
                elif hit:
                    status = 'mangled'
                    hit = []
                elif part:
                    status = 'partial'
                elif any(overlap(s['span'], a, b) and (
                        holds(norm(s['params']['script']), g) if 'script' in s['params']
                        else holds(norm(s.get('text', '').replace('`', ' ')), g)) for s in manual):
                    status = 'manual'
                else:
                    status = 'dropped'
            if plan is None and status != 'absorbed':
                status = 'noplan'
            claimed.update(s['id'] for s in hit)
            step_of_line[(u['id'], k)] = [s['id'] for s in hit]
            C[f'cmd_{status}'] += 1
            C[f'cmd_{kind}_{status}'] += 1
            C[f'cmd_{grp}_{status}'] += 1
            if c.get('script'):
                C[f'cmd_script_{status}'] += 1
            if c['mutating']:
                C[f'mut_{status}'] += 1
                mut_lines.append((u, c, status, hit))
            if status in ('mangled', 'partial', 'manual', 'dropped', 'noplan'):
                what = ('; '.join(f"{s['id']}({s['kind']}): {s['text'][:80]!r}" for s in steps
                                  if overlap(s['span'], a, b) and s['kind'] not in ('end',)) or 'no step')
                miss.append({'metric': 'command', 'status': status, 'line': a, 'kind': kind, 'role': u['role'],
                             'lang': u['lang'], 'prompted': bool(re.match(r'\s*(\$|#)\s', u['text'])),
                             'mutating': c['mutating'], 'text': c['text'][:160], 'plan': what[:400]})

    # queries
    for u in d['units']:
        if u['class'] != 'query':
            continue
        a, b = u['span']
        body = '\n'.join(x for x in u['text'].split('\n') if not re.match(r'\s*(#|--|//)', x))
        g = norm(body, comments=False)
        ov = [s for s in execd if overlap(s['span'], a, b)]
        hit = [s for s in ov if holds(norm(s['text'], comments=False), g) or
               holds(g, norm(s['text'], comments=False))]
        if plan is None:
            status = 'noplan'
        elif hit:
            status = 'executed'
        elif any(overlap(s['span'], a, b) and
                 holds(norm(s['params'].get('script') or s.get('text', ''), comments=False), g[:8]) for s in manual):
            status = 'manual'
        else:
            status = 'dropped'
        claimed.update(s['id'] for s in hit)
        C[f'query_{status}'] += 1
        C[f'query_{role_group(u["role"])}_{status}'] += 1
        if status != 'executed':
            what = '; '.join(f"{s['id']}({s['kind']})" for s in steps if overlap(s['span'], a, b)) or 'no step'
            miss.append({'metric': 'query', 'status': status, 'line': a, 'role': u['role'], 'lang': u['lang'],
                         'text': u['text'][:160], 'plan': what[:400]})

    # --- 1b. session context (information): a command the guide runs inside an interactive session that an
    # earlier line of the same section opened (oc rsh, oc debug node, ssh HOST, chroot /host ..) but that the
    # plan executes as a step of its own, i.e. on the machine running the plan.
    sec_of: dict[int, str]
    sec: Fact | str | None   # a section, then a section's id, then a section again
    sec_of = {}
    for sec in d['sections']:
        sec_of.update({ln: sec['id'] for ln in range(sec['span'][0], sec['span'][1] + 1)})
    opened: dict[str | None, str] = {}
    for u in sorted((u for u in d['units'] if u['class'] == 'command'), key=lambda u: u['span'][0]):
        for k, c in enumerate(u['commands']):
            sec = sec_of.get(c['span'][0])
            if re.match(r'\s*exit\s*$', c['text']):
                opened.pop(sec, None)
                continue
            if step_of_line.get((u['id'], k)) and opened.get(sec) and not WORKSTATION.match(c['text']):
                C['exec_outside_session'] += 1
                miss.append({'metric': 'outside_session', 'line': c['span'][0], 'text': c['text'][:120],
                             'session': opened[sec], 'steps': step_of_line[(u['id'], k)]})
            if SESSION.search(c['text']):
                opened[sec] = f"{c['span'][0]}: {c['text'][:60]}"

    # --- 2. invented
    for s in execd:
        a, b = s['span']
        local = flat(span_text(a, b))
        bad: list[Any] = []  # pieces here; (step, step) pairs in section 6
        far: list[str] = []
        for piece in step_code_texts(s):
            if piece in local:
                continue
            (far if piece in guide_flat else bad).append(piece)
        tlines = [flat(x) for x in s.get('text', '').split('\n') if flat(x)]
        text_ok = bool(tlines) and all(x in local or x in guide_flat for x in tlines)
        C['exec_steps'] += 1
        if bad or not text_ok:
            C['invented'] += 1
            miss.append({'metric': 'invented', 'line': a, 'step': s['id'], 'pieces': bad[:5],
                         'text_in_guide': text_ok, 'text': s.get('text', '')[:160]})
        elif far:
            C['exec_value_from_elsewhere'] += 1

    # --- 3. output as action
    cmd_lines: defaultdict[str, set[int]] = defaultdict(set)
    for u in d['units']:
        if u['class'] == 'command':
            for c in u['commands']:
                cmd_lines[u['id']].update(range(c['span'][0], c['span'][1] + 1))
    for u in d['units']:
        a, b = u['span']
        ov = [s for s in execd if overlap(s['span'], a, b)]
        if u['class'] in ('output', 'config') and ov:
            C['outact_units'] += 1
            C['outact_steps'] += len(ov)
            C['outact_mut_steps'] += sum(bool(s['mutating']) for s in ov)
            miss.append({'metric': 'output_as_action', 'line': a, 'class': u['class'], 'lang': u['lang'],
                         'role': u['role'], 'steps': [f"{s['id']}: {s['text'][:60]!r}" for s in ov][:6],
                         'n_steps': len(ov), 'mutating_steps': sum(bool(s['mutating']) for s in ov)})
        elif u['class'] == 'command' and u['kind'] != 'inline':
            stray = [s for s in ov if s['id'] not in claimed and
                     not any(ln in cmd_lines[u['id']] for ln in range(s['span'][0], s['span'][1] + 1))]
            if stray:
                C['outline_exec_steps'] += len(stray)
                miss.append({'metric': 'output_line_executed', 'line': stray[0]['span'][0],
                             'steps': [f"{s['id']}: {s['text'][:60]!r}" for s in stray][:6]})
    C['exec_unmatched'] += sum(s['id'] not in claimed for s in execd)

    # --- 4. branches
    decides = [s for s in steps if s['kind'] == 'decide' and s['id'] != 'start' and s.get('text') not in SYNTHETIC]
    cond_edges = [e for e in (plan['edges'] if plan else []) if e.get('condition')]
    for gd in d['guards']:
        grp = role_group(gd['role'])
        sa, sb = gd['span']
        ga, gb = gd['guarded']
        found, det = None, False
        if gd['kind'] == 'if':
            for s in decides:
                if (overlap(s['span'], sa, sb) or inside(s['span'], ga, gb)) and text_match(s.get('text') or s['title'],
                                                                                            gd['text']):
                    found = s['id']
                    assert plan is not None  # decides is empty without a plan
                    det = any(e['source'] == s['id'] and e.get('condition') and e['condition'].get('expr')
                              for e in plan['edges'])
                    break
            if not found:
                for e in cond_edges:
                    assert pv is not None  # cond_edges is empty without a plan
                    t = pv.steps.get(e['target'])
                    if e['kind'] in ('branch', 'else', 'jump') and t and \
                            text_match(e['condition']['text'], gd['text']) \
                            and (inside(t['span'], ga, gb) or overlap(t['span'], sa, sb)):
                        found, det = f"edge {e['source']}->{e['target']}", bool(e['condition'].get('expr'))
                        break
        else:
            for e in cond_edges:
                assert pv is not None  # cond_edges is empty without a plan
                t = pv.steps.get(e['target'])
                if e['kind'] == 'else' and t and (text_match(e['condition']['text'], gd['text']) or
                                                  inside(t['span'], ga, gb) and t['kind'] != 'end'):
                    found, det = f"else {e['source']}->{e['target']}", bool(e['condition'].get('expr'))
                    break
        C[f'guard_{grp}'] += 1
        if found:
            C[f'guard_{grp}_hit'] += 1
            C[f'guard_{grp}_hit_{"expr" if det else "judgment"}'] += 1
        else:
            within = [s for s in steps if s['kind'] in EXEC_KINDS + ('manual', 'call') and
                      inside(s['span'], ga, gb)]
            prose = [s for s in manual if not s['params'].get('script') and overlap(s['span'], sa, sb)
                     and text_match(gd['text'], s.get('text', ''))]
            why = 'noplan' if plan is None else \
                'steps unconditional' if any(s['kind'] in EXEC_KINDS for s in within) else \
                'in a manual step' if prose else 'steps unconditional' if within else 'nothing compiled'
            C[f'guard_{grp}_miss_{why}'] += 1
            near = [f"{s['id']}({s['kind']})" for s in steps if overlap(s['span'], ga, gb) and s['kind'] != 'end']
            miss.append({'metric': 'guard', 'role': gd['role'], 'form': gd['form'], 'kind': gd['kind'],
                         'line': sa, 'guarded': gd['guarded'], 'why': why, 'text': gd['text'][:160],
                         'plan': ', '.join(near)[:300] or 'no step'})

    # --- 5. jumps
    secs = d['sections']

    def section_of(line: int) -> Fact | None:
        return next((s for s in reversed(secs) if s['span'][0] <= line), None)
    jedges = [e for e in (plan['edges'] if plan else []) if e['kind'] == 'jump']
    for j in d['jumps']:
        ref = bool(REFERENCE.match(j['text']))
        kind = 'jumpref' if ref else 'jump'
        if not j['resolved']:
            C[f'{kind}_unresolved'] += 1
            continue
        C[kind] += 1
        ta, tb = j['target']['span']
        sec = section_of(j['line'])
        sa, sb = sec['span'] if sec else (1, d['lines'])
        real = [s for s in steps if s['kind'] != 'end' and sa <= s['span'][0] <= sb]
        in_target = [s for s in steps if s['kind'] != 'end' and ta <= s['span'][0] <= tb]
        ok = False
        for e in jedges:
            assert pv is not None  # jedges is empty without a plan
            src, tgt = pv.steps.get(e['source']), pv.steps.get(e['target'])
            if not src or not tgt or src not in real:
                continue
            if ta <= tgt['span'][0] <= tb:
                ok = True
            elif not in_target:
                after = sorted((s for s in steps if s['span'][0] > tb and s['kind'] != 'end'),
                               key=lambda s: s['span'][0])
                ok = tgt in after[:1] or (not after and tgt['kind'] == 'end')
            if ok:
                break
        if ok:
            C[f'{kind}_hit'] += 1
        else:
            C[f'{kind}_miss'] += 1
            miss.append({'metric': kind, 'line': j['line'], 'text': j['text'], 'target': j['target']['text'],
                         'target_span': j['target']['span'],
                         'plan': ', '.join(f"{e['source']}->{e['target']}" for e in jedges)[:300] or 'no jump edge'})

    # --- 6. unsafe parallelism
    if pv:
        conc = pv.concurrent_pairs(EXEC_KINDS + ('manual', 'call'))
        C['concurrent_pairs'] += len(conc)
        gold_mut_steps = {sid for (_, c, st, hit) in mut_lines for sid in (s['id'] for s in hit)}
        olists = d['ordered_lists']

        def same_list(s: Json, t: Json) -> bool:
            return any(o['span'][0] <= s['span'][0] <= o['span'][1] and o['span'][0] <= t['span'][0] <= o['span'][1]
                       for o in olists)
        for pair in conc:
            s, t = (pv.steps[x] for x in sorted(pair))
            mut = [x for x in (s, t) if x['id'] in gold_mut_steps or x.get('mutating')]
            if not mut:
                continue
            ordered = same_list(s, t) or (section_of(s['span'][0]) or {}).get('id') == \
                (section_of(t['span'][0]) or {}).get('id')
            C['unsafe_mut_ordered' if ordered else 'conc_mut_other'] += 1
            if ordered:
                miss.append({'metric': 'unsafe_parallel', 'line': s['span'][0], 'steps': [s['id'], t['id']],
                             'why': 'mutating, ordered by the guide'})
        for p in d['variables']['pairs']:
            da, db = p['def']
            ua, ub = p['use']
            ds = [s for s in steps if s['kind'] not in ('decide', 'approve', 'end') and overlap(s['span'], da, db)]
            us = [s for s in steps if s['kind'] not in ('decide', 'approve', 'end') and overlap(s['span'], ua, ub)]
            if not ds or not us or (da, db) == (ua, ub):   # unmapped, or `X=..$X` on one line
                C['defuse_unmapped'] += 1
                continue
            C['defuse_pairs'] += 1
            bad = [(x, y) for x in ds for y in us if x['id'] != y['id'] and frozenset((x['id'], y['id'])) in conc]
            back = [(x, y) for x in ds for y in us if x['id'] != y['id'] and pv.path(y['id'], x['id'])
                    and not pv.path(x['id'], y['id'])]
            if bad:
                C['unsafe_defuse'] += 1
                miss.append({'metric': 'unsafe_parallel', 'line': ua, 'var': p['name'], 'why': 'def/use concurrent',
                             'steps': [bad[0][0]['id'], bad[0][1]['id']]})
            if back:
                C['use_before_def'] += 1
                miss.append({'metric': 'use_before_def', 'line': ua, 'var': p['name'],
                             'steps': [back[0][0]['id'], back[0][1]['id']]})

    # --- 7. hard gates
    for u, c, status, hit in mut_lines:
        if status != 'executed':
            continue
        for s in hit:
            assert pv is not None and plan is not None  # without a plan no command is 'executed'
            C['mut_exec_steps'] += 1
            if s['id'] in pv.cleanup:
                C['mut_exec_cleanup'] += 1
                continue
            gate = 'approve-' + s['id']
            entry = plan['entry']
            reached = entry == s['id'] or (entry != gate and s['id'] in pv.reach(entry, removed=gate))
            if gate not in pv.steps or reached:
                C['mut_exec_ungated'] += 1
                miss.append({'metric': 'ungated', 'line': c['span'][0], 'step': s['id'], 'text': c['text'][:160],
                             'plan_mutating': s['mutating']})
            else:
                C['mut_exec_gated'] += 1
            if not s['mutating']:
                C['mut_flag_disagree'] += 1
    if plan:
        gold_ro = {sid for ids in step_of_line.values() for sid in ids}
        mut_ids = {s['id'] for (_, c, st, hit) in mut_lines for s in hit}
        C['plan_mut_gold_ro'] += sum(1 for s in execd if s['mutating'] and s['id'] in gold_ro - mut_ids)
        C['plan_mut_steps'] += sum(1 for s in execd if s['mutating'])
        C['approve_steps'] += sum(1 for s in steps if s['kind'] == 'approve')
        C['approve_on_nongold'] += sum(1 for s in execd if s['mutating'] and s['id'] not in claimed)
    return r

