"""A shell statement from a guide -> what it does to the world, and the names it reads.

Some guide lines need a shell to mean what they say: `for p in $(pgrep haproxy); do ps -o
pid,etimes $p; done`, `kubectl logs $(kubectl get po -l app=x -oname) > /tmp/x.log`,
`ls /var/log/*.gz`, `FOO=1 ./bin/tool`; so does one statement written over several lines (a
`for`/`while` loop or an `if` spelled out line by line, `kubectl apply -f - <<EOF` with its
manifest). The `bash` plugin runs such a statement as the guide wrote it; this module reads it
with tree-sitter's bash grammar and judges it with the same read-only table as every argv
(`engine.effects.classify`):

- every simple command (inside pipelines, lists, loops, conditions, `$( )` and `<( )`) is
  judged as an argv; a word that expands anything (`$X`, `$(...)`, a glob) is a value
  (`Templated`): it never picks a program and never counts as a literal operand;
- a redirection that writes (`>`, `>>`, `&>`, `>|`) to anything but `/dev/null` writes a file;
- a heredoc's body is the command's input (data); what it expands is read like any word; a
  heredoc that only becomes a file (`cat > x.conf <<EOF`, `tee x.yml <<EOF`) is a
  configuration for a person to adapt and write, not a script step;
- an environment prefix (`FOO=1 cmd`) is not read-only, unless it only selects a
  configuration, locale or output format with a value written out (`ETCDCTL_API=3`,
  `LANG=C`: `engine.effects.table.SETTINGS_ENV`); `eval`/`source`/`exec`, a function
  definition, or any construct this reader does not know is not read-only;
- a program that needs a person (an editor, `ssh host`, `watch`) makes the script
  interactive: a manual step.

`read_script` returns None for what cannot become a script step at all: text the grammar cannot
parse completely, several statements over several lines (each line is a step of its own), a
background job (`&`: the step would end before the work), `<placeholder>` notation (the shell
would read it as a redirection), positional parameters (`$1`: there are none), a function
definition alone, or a line that only changes the shell's own state (`cd x`, `export X=1`).
The caller keeps such a line as a manual step.

It does not run anything and does not decide where a name's value comes from.
"""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from engine.effects.classify import (
    DEVICE_INFO,
    NAMES_ONLY,
    READ,
    Verdict,
    classify_pipeline,
    current_folder,
    in_a_folder_a_value_gives,
    in_folder,
    in_the_folder,
    sends_its_input,
)
from engine.effects.credentials import credential_reason, holds_credentials, reads_a_disk
from engine.effects.devices import arming, arms
from engine.effects.table import sets_only_a_setting
from engine.effects.words import Templated

# Where programs live: `./bin/x`, `/usr/local/bin/x`, `/opt/gitlab/bin/x`, `~/bin/x`.
_PROGRAM_PATH = re.compile(r"(?:\.{1,2}/|~/|/usr/|/bin/|/sbin/|/opt/|/var/opt/|/etc/init\.d/|"
                           r"[A-Za-z0-9_.-]+/)")
_PLACEHOLDER = re.compile(r"<[A-Za-z][^<>\n|;&]{0,80}?>")
# Names the shell itself gives a meaning; a step never sets them (`PATH`, `IFS` would change
# what runs) and a script reads them from its own environment.
SHELL_NAMES = frozenset("""
PATH IFS ENV BASH_ENV CDPATH GLOBIGNORE SHELLOPTS BASHOPTS PS1 PS2 PS3 PS4 PROMPT_COMMAND HOME
OLDPWD PWD SHELL TMPDIR HISTFILE MAIL MAILPATH OPTIND OPTARG OPTERR FUNCNEST EXECIGNORE
POSIXLY_CORRECT TIMEFORMAT HOSTNAME USER LOGNAME UID EUID PPID RANDOM SECONDS LINENO REPLY
LANG TERM EDITOR VISUAL PAGER
""".split())
_SHELL_PREFIXES = ("BASH", "LD_", "LC_", "SRANDOM", "EPOCH")
# Builtins that only read or only touch the script's own shell state.
_SHELL_STATE = frozenset("cd export local declare readonly set unset shift pushd popd alias "
                         "unalias umask".split())
_READING_BUILTINS = frozenset("echo printf true false test [ [[ read sleep wait pwd type "
                              ": break continue return".split())
_RUNS_CODE = frozenset("eval source . exec trap command builtin enable coproc".split())
_WRITES = frozenset({">", ">>", "&>", "&>>", ">|"})
# Builtins that take a variable's name, which may be an array element (`test -v 'a[i]'`,
# `printf -v`, `read`, `unset`): bash evaluates the subscript as arithmetic, and runs any
# command substitution in it, quoted or not (`[[ 'a[$(x)]' -eq 1 ]]`, `${a['$(x)']}` too).
_NAMING_BUILTINS = frozenset("test [ printf read unset wait mapfile readarray export local "
                             "declare readonly typeset".split())
_ARITHMETIC_TESTS = frozenset("-eq -ne -lt -le -gt -ge".split())
_SUBSCRIPT_CODE = re.compile(r"\[[^\]]*(?:\$\(|`)")
_COMPOUND = frozenset({
    "program", "list", "pipeline", "subshell", "compound_statement", "do_group",
    "for_statement", "c_style_for_statement", "while_statement", "if_statement",
    "elif_clause", "else_clause", "case_statement", "case_item", "negated_command",
    "redirected_statement", "command_substitution", "process_substitution", "comment",
})


# Unquoted text bash expands: a glob, a brace expansion (`{a,b}`, `{1..3}`), a tilde (or a `$`
# the grammar left in a word); a word holding one is a value, whatever else it spells.
_EXPANDS_UNQUOTED = re.compile(r"[*?\[~$`]|\{[^}]*(?:,|\.\.)")
_ANSI_C = re.compile(r"\\(?:([abeEfnrtv\\'\"?])|([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|"
                     r"u([0-9A-Fa-f]{1,4})|U([0-9A-Fa-f]{1,8})|c(.))", re.S)
_ANSI_C_SIMPLE = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n",
                  "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


def _unescaped(text: str) -> str:
    """Unquoted text as bash passes it: `\\x` is `x`, a backslash-newline is nothing."""
    return re.sub(r"\\(.)", lambda m: "" if m.group(1) == "\n" else m.group(1), text,
                  flags=re.S)


def _unquoted_in_string(text: str) -> str:
    """Text inside double quotes as bash passes it: a backslash escapes only $ ` " \\ and a
    newline."""
    return re.sub(r"\\([$`\"\\\n])", lambda m: "" if m.group(1) == "\n" else m.group(1),
                  text)


def _ansi_c(body: str) -> str:
    """The text of `$'...'` as bash makes it (its escapes decoded; a NUL ends it)."""
    def one(m: re.Match[str]) -> str:
        if m.group(1):
            return _ANSI_C_SIMPLE[m.group(1)]
        if m.group(2):
            return chr(int(m.group(2), 8) & 0xFF)
        if m.group(3):
            return chr(int(m.group(3), 16))
        if m.group(4) or m.group(5):
            code = int(m.group(4) or m.group(5), 16)
            return chr(code) if code <= 0x10FFFF else "\ufffd"
        return chr(ord(m.group(6)) & 0x1F)
    return _ANSI_C.sub(one, body).split("\0", 1)[0]


def _tools_in(node: Node) -> set[str]:
    """The names of the commands a statement runs (a loop's body among them)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "command_name":
            found.add(n.text.decode(errors="replace").rsplit("/", 1)[-1] if n.text else "")
        else:
            stack.extend(n.children)
    return found


@dataclass(frozen=True)
class Script:
    """A line that runs as a script: its effect, the outside names it reads (`$NS`), and the
    names it sets for itself (`for p in ...`, `X=1; ...`)."""

    text: str
    verdict: Verdict
    reads: frozenset[str]


def is_shell_name(name: str) -> bool:
    return name in SHELL_NAMES or name.startswith(_SHELL_PREFIXES)


@functools.cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_bash.language()))


class _NotScript(Exception):
    pass


def read_script(line: str) -> Script | None:
    """The line as a script step, or None when it cannot be one (the module says which)."""
    text = line.strip()
    if not text or _PLACEHOLDER.search(text):
        return None
    tree = _parser().parse(text.encode())
    root = tree.root_node
    if root.has_error:
        return None
    statements = [c for c in root.named_children if c.type != "comment"]
    if "\n" in text and (len(statements) != 1 or statements[0].start_point[0] != 0):
        return None  # lines that are statements of their own: each is its own step
    if any(c.type in ("variable_assignment", "variable_assignments", "declaration_command")
           for c in statements):
        return None  # `X=$(...)`: the value is the point, and a script's shell ends with it
    if all(c.type == "function_definition" for c in statements):
        return None  # `collect() { ... }` over lines: it runs nothing; a person's shell keeps it
    comments = [c for c in root.named_children if c.type == "comment"]
    if comments:  # what runs is the command, not the note after it
        text = text.encode()[:comments[0].start_byte].decode().rstrip()
        if not text:
            return None
    walk = _Walk(text.encode())
    try:
        walk.node(root)
        if walk.moved:  # `cd "$DIR" && git status`: every command may run where it went
            walk = _Walk(text.encode())
            with in_a_folder_a_value_gives():
                walk.node(root)
    except _NotScript:
        return None
    if not walk.commands or walk.commands <= walk.state_only:
        return None  # only `cd`/`export`: nothing happens outside the shell
    reads = frozenset(n for n in walk.used - walk.defined if not is_shell_name(n))
    return Script(text=text, verdict=walk.worst, reads=reads)


class _Walk:
    def __init__(self, source: bytes) -> None:
        self.src = source
        self.used: set[str] = set()
        self.defined: set[str] = set()
        self.worst: Verdict = READ
        self.commands: set[int] = set()
        self.state_only: set[int] = set()
        self.data: set[str] = set()  # names set from what commands print, globs or `read`
        # names the script set to text it wrote (`F=/x`), each value it may hold (a branch
        # may have set any)
        self.values: dict[str, list[str]] = {}
        self.moved = False  # a `cd`/`pushd` to a folder a value gives
        # where its commands run: the step's folder, then where a `cd` the guide wrote went
        self.folder: str | None = current_folder()

    def text(self, node: Node) -> str:
        return self.src[node.start_byte:node.end_byte].decode()

    def judge(self, verdict: Verdict) -> None:
        if verdict.effect == "interactive":
            raise _NotScript  # a person's job: the whole line stays manual
        if self.worst.read and not verdict.read:
            self.worst = verdict

    def node(self, node: Node) -> None:
        kind = node.type
        if kind == "&":
            raise _NotScript  # a background job outlives the step
        if kind in ("while_statement", "until_statement") and self.endless(node):
            raise _NotScript  # `while true; do ...; sleep 5; done`: a person watches it
        if kind == "redirected_statement" and self.writes_heredoc(node):
            raise _NotScript  # a file's content for a person to adapt and write
        if kind == "redirected_statement":
            self.fed_input(node)
        if kind == "pipeline":
            self.pipeline(node)
        elif kind == "command":
            self.pipeline_of([node])
        elif kind == "test_command":
            inner = [c for c in node.children if c.type not in ("[[", "]]", "[", "]")]
            opening = node.children[0].type if node.children else "[["
            self.subscript_code(inner, "`[[ ]]`" if opening == "[[" else "`[ ]`")
            if opening == "[[":  # `[ ]` compares integers; `[[ ]]` evaluates expressions
                self.arithmetic_tests(node)
            self.words(node)
        elif kind in ("unary_expression", "binary_expression",
                      "parenthesized_expression", "arithmetic_expansion", "string",
                      "simple_expansion", "expansion", "concatenation", "word", "number",
                      "raw_string", "ansi_c_string", "translated_string", "string_content",
                      "test_operator", "regex", "extglob_pattern", "variable_name",
                      "special_variable_name", "heredoc_body"):
            self.words(node)
        elif kind == "variable_assignment":
            self.assignment(node)
        elif kind in ("file_redirect", "herestring_redirect"):
            self.redirect(node)
        elif kind == "heredoc_redirect":
            self.heredoc(node)
        elif kind == "for_statement":
            var = node.child_by_field_name("variable")
            for value in node.children_by_field_name("value"):
                # `for f in /dev/watch*; do cat $f; done`: the body gets each file it names
                said = self.spelled(value)[0]
                if arms(said):
                    self.judge(Verdict("mutate", "its loop hands each file it names to its "
                                       f"body: {arming(said)}", "operand"))
                elif holds_credentials(said) and not (
                        reads_a_disk(said) and _tools_in(node) <= DEVICE_INFO | NAMES_ONLY):
                    # (`for d in /dev/sd?; do smartctl -H $d; done` says what each disk is)
                    self.judge(Verdict("mutate", "its loop hands each file it names to its "
                                       f"body: {credential_reason(said)}", "operand"))
            if var is not None:
                self.defined.add(self.text(var))
                if not all(self.literal(v) for v in node.children_by_field_name("value")):
                    self.data.add(self.text(var))
            self.children(node)
        elif kind in _COMPOUND or not node.is_named:
            if kind == "compound_statement" and node.children and node.children[0].type == "((":
                self.arithmetic(node, "`(( ))`")
            self.children(node)
        else:  # a function definition, `declare -f`, anything this reader does not know
            self.judge(Verdict("mutate", f"the script holds shell syntax ({kind}) that is not "
                               "checked", "tool"))
            self.children(node)

    def endless(self, node: Node) -> bool:
        """A loop that only a person ends: `while true`, `while :`, `while sleep 5`, `until
        false`, with no `break` in it."""
        cond = node.child_by_field_name("condition")
        said = self.text(cond).strip().rstrip(";").strip() if cond is not None else ""
        forever = ("false",) if node.type == "until_statement" else ("true", ":", "[ 1 ]")
        endless = said in forever or (node.type == "while_statement" and
                                      said.startswith("sleep "))
        return endless and not re.search(r"\bbreak\b|\bexit\b", self.text(node))

    def children(self, node: Node) -> None:
        for child in node.children:
            self.node(child)

    def pipeline(self, node: Node) -> None:
        stages = [c for c in node.named_children if c.type == "command"]
        others = [c for c in node.children if c.type != "command"]
        self.pipeline_of(stages)
        for other in others:
            self.node(other)

    def pipeline_of(self, commands: list[Node]) -> None:
        stages: list[list[str]] = []
        for cmd in commands:
            argv = self.command(cmd)
            name = cmd.child_by_field_name("name")
            if not argv and name is not None and self.text(name) in ("echo", "printf"):
                # what the builtin prints feeds the stages after it (`echo PATH | xargs cat`)
                argv = [self.as_written(c.named_children[0] if c.type == "command_name" and
                                        c.named_child_count == 1 else c)
                        for c in cmd.named_children
                        if c.type not in ("file_redirect", "herestring_redirect",
                                          "heredoc_redirect", "variable_assignment")]
            if argv:
                stages.append(argv)
        if stages:
            with in_the_folder(self.folder):
                self.judge(classify_pipeline(stages))
                for k, stage in enumerate(stages):
                    for way in self.followed(stage):
                        self.judge(classify_pipeline([*stages[:k], way, *stages[k + 1:]]))

    def command(self, node: Node) -> list[str]:
        """One simple command's argv (values marked); its builtins judged here, not by the
        table; its substitutions and redirections walked."""
        self.commands.add(node.id)
        self.fed_input(node)
        name_node = node.child_by_field_name("name")
        argv: list[str] = []
        for child in node.children:
            kind = child.type
            if kind == "variable_assignment":
                self.assignment(child)
                self.environment(child)
            elif kind in ("file_redirect", "herestring_redirect"):
                self.redirect(child)
            elif kind == "heredoc_redirect":
                self.heredoc(child)
            elif child.is_named:
                argv.append(self.word(child))
        if name_node is None or not argv:
            return []
        name = argv[0]
        if name in _NAMING_BUILTINS:
            self.subscript_code(node.children[1:], f"`{name}`")
            self.names_read_at_run_time(name, [c for c in node.children[1:] if c.is_named and
                                               "redirect" not in c.type])
        if isinstance(name, Templated):
            self.judge(Verdict("mutate", "the program's name comes from a value", "tool"))
            return []
        if "/" in name and not _PROGRAM_PATH.match(name):
            raise _NotScript  # `/mnt/file-09 ext4 defaults`: a line of a file, not a command
        if name in _SHELL_STATE:
            self.state_only.add(node.id)
            if name in ("cd", "pushd"):  # `cd /dev && cat watchdog`: the files are there
                where = [w for w in argv[1:] if not w.startswith("-")]
                if any(isinstance(w, Templated) for w in argv[1:]):
                    # what a tool loads from a folder a value gives is the value's to choose;
                    # a home's folder (`cd ~/.kube`, `cd "$HOME/.aws"`) is followed as what it
                    # may expand to, as `cat $HOME/.aws/credentials` is judged
                    self.moved = True
                    if where and _HOME.match(where[0]):
                        self.folder = where[0]
                else:
                    self.folder = with_folder(self.folder, where[0]) if where else None
            if name in ("export", "local", "declare", "readonly"):
                for word in argv[1:]:
                    self.defined.add(word.split("=", 1)[0])
            return []
        if name == "read":
            self.defined.update(w for w in argv[1:] if not w.startswith("-"))
            self.data.update(w for w in argv[1:] if not w.startswith("-"))
            return []
        if name in _READING_BUILTINS:
            return []
        if name in _RUNS_CODE:
            self.judge(Verdict("mutate", f"`{name}` runs code the guide does not show", "tool"))
            return []
        return argv

    def word(self, node: Node) -> str:
        """An argument as the table sees it: literal text, or `Templated` when it expands."""
        if node.type == "command_name" and node.named_child_count == 1:
            node = node.named_children[0]
        self.words(node)
        return self.as_written(node)

    def as_written(self, node: Node) -> str:
        """A word's text as bash passes it, quotes and escapes taken off (`'-del'ete` is
        `-delete`, `"-o$X"` is `-o$X`, `$'\\x2d'` is `-`); `Templated` when bash expands
        anything in it. The table reads a flag or a path from what the program receives,
        never from how the guide quoted it."""
        text, literal = self.spelled(node)
        return text if literal else Templated(text)

    def spelled(self, node: Node) -> tuple[str, bool]:
        """(the word with its quoting taken off, whether nothing in it expands). What expands
        (`$X`, `$(...)`, a glob, a brace, `~`) is kept as written."""
        kind, text = node.type, self.text(node)
        if kind in ("word", "number"):
            return _unescaped(text), _EXPANDS_UNQUOTED.search(text) is None
        if kind == "raw_string":
            return text[1:-1], True
        if kind == "ansi_c_string":
            return _ansi_c(text[2:-1]), True
        if kind in ("string", "concatenation", "translated_string"):
            quoted = kind != "concatenation"
            pieces: list[str] = []
            literal, at = True, node.start_byte
            for child in node.children:
                gap = self.src[at:child.start_byte].decode()
                if gap:
                    pieces.append(_unquoted_in_string(gap) if quoted else _unescaped(gap))
                    literal = literal and (quoted or _EXPANDS_UNQUOTED.search(gap) is None)
                at = child.end_byte
                if child.type in ('"', "$") and quoted:
                    continue
                if child.type == "string_content" and quoted:
                    pieces.append(_unquoted_in_string(self.text(child)))
                elif quoted and not child.is_named:
                    pieces.append(self.text(child))
                    literal = False
                elif child.is_named:
                    piece, fixed = self.spelled(child)
                    pieces.append(piece)
                    # `{a,b}` is three pieces here (`{`, `a,b`, `}`): a brace expands
                    literal = literal and fixed and not (child.type == "word" and "{" in piece)
                else:
                    pieces.append(self.text(child))
                    literal = False
            return "".join(pieces), literal
        return text, False

    def subscript_code(self, nodes: list[Node], where: str) -> None:
        """Not read-only when text that bash reads as an array subscript (`a[...]`) holds a
        command substitution that was not already expanded (quoted, escaped): bash runs it
        when it evaluates the subscript, where the walk never looked."""
        for node in nodes:
            if _SUBSCRIPT_CODE.search(self.unexpanded(node)):
                self.judge(Verdict("mutate", f"an array subscript in {where} holds a command "
                                   "substitution, which bash runs when it evaluates the "
                                   "subscript", "script"))
                return

    def expansion(self, node: Node) -> None:
        """`${x@P}` expands the value as a prompt, running the command substitutions in it;
        `${!x}` reads the value as a variable's name, whose subscript bash evaluates."""
        ops = [self.text(c) for c in node.children if node.field_name_for_child(
            node.children.index(c)) == "operator"]
        if ops[-2:] == ["@", "P"]:
            self.judge(Verdict("mutate", f"{self.text(node)} expands the value as a prompt, "
                               "which runs the command substitutions in it", "script"))
        name = next((c for c in node.children if c.type == "variable_name"), None)
        if ops[:1] == ["!"] and name is not None and self.text(name) in self.data:
            self.judge(Verdict("mutate", f"{self.text(node)} takes ${self.text(name)}, a value "
                               "read at run time, as a variable's name (a[$(cmd)] in it runs "
                               "cmd)", "script"))

    def literal(self, node: Node) -> bool:
        """A `for` value written out: a number, a word with no glob, a quoted constant."""
        text = self.text(node)
        if node.type in ("number", "raw_string", "brace_expression"):
            return True
        if node.type == "word":
            return not any(c in text for c in "*?[")
        return node.type == "string" and all(c.type in ('"', "string_content")
                                              for c in node.children)

    def names_read_at_run_time(self, builtin: str, args: list[Node]) -> None:
        """A variable's name that a command printed (`test -v "$x"`, `printf -v "$x"`, `read
        $x`, `unset $x`): bash evaluates `a[$(cmd)]` in it as an array subscript."""
        words = [self.text(a) for a in args]
        if builtin in ("test", "[", "printf", "wait"):
            flag = {"printf": "-v", "wait": "-p"}.get(builtin)
            names = [a for k, a in enumerate(args) if k and words[k - 1] in
                     ((flag,) if flag else ("-v", "-R"))]
        else:
            names = args
        for arg in names:
            found = self.data_in(arg)
            if found is not None:
                self.judge(Verdict("mutate", f"`{builtin}` takes {found}, a value read at run "
                                   "time, as a variable's name (a[$(cmd)] in it runs cmd)",
                                   "script"))
                return

    def arithmetic_tests(self, node: Node) -> None:
        """`[[ X -gt Y ]]` evaluates X and Y as arithmetic expressions; `[[ -v X ]]` reads X
        as a variable's name, whose subscript it evaluates."""
        for child in node.named_children:
            if child.type == "unary_expression":
                op = child.child_by_field_name("operator")
                if op is not None and self.text(op) in ("-v", "-R"):
                    self.arithmetic(child, f"`[[ {self.text(op)} ]]`")
                else:
                    self.arithmetic_tests(child)
            elif child.type == "binary_expression":
                op = child.child_by_field_name("operator")
                if op is not None and self.text(op) in _ARITHMETIC_TESTS:
                    self.arithmetic(child, f"`[[ {self.text(op)} ]]`")
                else:
                    self.arithmetic_tests(child)
            elif child.type == "parenthesized_expression":
                self.arithmetic_tests(child)

    def arithmetic(self, node: Node, where: str) -> None:
        """Bash evaluates a value in an arithmetic expression as an expression itself, and one
        that holds `a[$(cmd)]` runs cmd: what a command printed (its substitution, or a name
        the script set from one, from a glob or from `read`) is not read-only there. A count
        from `wc` is a number."""
        found = self.data_in(node)
        if found is not None:
            self.judge(Verdict("mutate", f"{where} evaluates {found}, a value read at run "
                               "time, as an expression (a[$(cmd)] in it runs cmd)", "script"))

    def data_in(self, node: Node) -> str | None:
        if node.type == "command_substitution":
            last = [c for c in node.named_children if c.type in ("command", "pipeline",
                                                                 "redirected_statement")]
            if len(last) == 1 and re.fullmatch(r"(?:.*\|)?\s*wc\s+-[lcmw]+(?:\s+[^|;&>$`]*)?",
                                               self.text(last[0]).strip()):
                return None
            return self.text(node)
        if node.type == "variable_name" and self.text(node) in self.data:
            return f"${self.text(node)}"
        for child in node.children:
            found = self.data_in(child)
            if found is not None:
                return found
        return None

    def unexpanded(self, node: Node) -> str:
        """The node's text with the command substitutions the walk judges blanked out."""
        if node.type in ("command_substitution", "process_substitution"):
            return " " * (node.end_byte - node.start_byte)
        if not node.children:
            return self.text(node)
        parts, at = [], node.start_byte
        for child in node.children:
            parts.append(self.src[at:child.start_byte].decode())
            parts.append(self.unexpanded(child))
            at = child.end_byte
        parts.append(self.src[at:node.end_byte].decode())
        return "".join(parts)

    def words(self, node: Node) -> None:
        """The names a word reads, and the commands it substitutes."""
        kind = node.type
        if kind == "expansion":
            self.expansion(node)
        if kind == "subscript":
            self.subscript_code([node], "an expansion")
        elif kind == "arithmetic_expansion":
            self.arithmetic(node, "`$(( ))`")
        if kind in ("simple_expansion", "expansion"):
            for child in node.named_children:
                if child.type == "variable_name":
                    self.used.add(self.text(child))
                elif child.type == "special_variable_name":
                    if self.text(child) in ("@", "*", "#"):
                        raise _NotScript  # positional parameters: a script step has none
                else:
                    self.words(child)
            if re.fullmatch(r"\$\{?\d+\}?", self.text(node)):
                raise _NotScript
            return
        if kind in ("command_substitution", "process_substitution"):
            self.children(node)
            return
        for child in node.named_children:
            self.words(child)

    def writes_heredoc(self, node: Node) -> bool:
        """`cat > /etc/x.conf <<EOF`, `tee x.yml <<EOF`: the heredoc is a file's content (a
        configuration the guide shows, often with values to change), not a program's input."""
        command = node.child_by_field_name("body")
        heredoc = next((c for c in node.children if c.type == "heredoc_redirect"), None)
        if command is None or command.type != "command" or heredoc is None or any(
                c.type in ("pipeline", "list") for c in heredoc.children):
            return False
        name = command.child_by_field_name("name")
        program = self.text(name).rsplit("/", 1)[-1] if name is not None else ""
        return program == "tee" or program == "cat" and any(
            c.type == "file_redirect" for n in (node, command, heredoc) for c in n.children)

    def heredoc(self, node: Node) -> None:
        """`cmd <<EOF ... EOF`: the body is the command's input, data; what it expands (`$X`,
        `$(date)`, not under a quoted delimiter) is read and judged like any word. A pipeline
        or redirection written after the delimiter (`cat <<EOF | kubectl apply -f -`) is
        walked like the rest of the line."""
        for child in node.children:
            if child.type == "heredoc_body":
                self.words(child)
            elif child.type in ("heredoc_start", "heredoc_end", "<<", "<<-"):
                continue
            else:
                self.node(child)

    def environment(self, node: Node) -> None:
        """`NAME=value cmd`: the command keeps its own verdict when NAME only selects a
        configuration, a locale or an output format and the guide wrote its value out
        (`ETCDCTL_API=3`, `LANG=C`, `PAGER=cat`: `engine.effects.table.SETTINGS_ENV`); any
        other variable, or a value that expands, can change what the program runs."""
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        said = "" if value is None else \
            self.text(value) if value.type == "number" else self.as_written(value)
        if name is not None and not isinstance(said, Templated) and \
                sets_only_a_setting(self.text(name), said):
            return
        self.judge(Verdict("mutate", "it sets an environment variable for a program, which "
                           "can change what the program runs", "flag"))

    def assignment(self, node: Node) -> None:
        name = node.child_by_field_name("name")
        if name is not None:
            self.defined.add(self.text(name))
        value = node.child_by_field_name("value")
        if value is not None:
            self.words(value)
        if name is not None:
            said, literal = self.spelled(value) if value is not None else ("", True)
            if literal:
                self.values.setdefault(self.text(name), []).append(said)

    def followed(self, argv: list[str]) -> list[list[str]]:
        """`argv` with each variable the script set to text it wrote put in its place, once
        for each value it may hold (`F=/etc/shadow && cat "$F"` opens /etc/shadow); at most
        16 ways, none when it names no such variable."""
        ways = [list(argv)]
        for k, word in enumerate(argv):
            if not isinstance(word, Templated):
                continue
            for m in _A_VARIABLE.finditer(word):
                name = m.group(1) or m.group(2)
                ways = [[*way[:k], way[k].replace(m.group(0), v), *way[k + 1:]]
                        for way in ways for v in self.values.get(name, [])[:16]][:16] or ways
        return [[Templated(n) if isinstance(w, Templated) and _EXPANDS_UNQUOTED.search(n)
                 else n for n, w in zip(way, argv, strict=True)]
                for way in ways if way != list(argv)]

    def fed_input(self, node: Node) -> None:
        """What a here-string, a heredoc or `< FILE` (not /dev/null) feeds a command that sends
        its input to the server it connects to (`openssl s_client ... <<< FLUSHALL`): a
        message to that server, not a read. `node` is a command or a redirected statement
        (whose pipeline's last command takes the input)."""
        if not any(self.feeds(c) for c in node.children):
            return
        target: Node | None = node if node.type == "command" else next(
            (c for c in node.children if c.type in ("command", "pipeline")), None)
        if target is not None and target.type == "pipeline":
            target = next((c for c in reversed(target.children) if c.type == "command"), None)
        if target is None:
            return
        words = [self.text(c) for c in target.named_children if "redirect" not in c.type]
        if words and (sent := sends_its_input(words)):
            self.judge(Verdict("mutate", f"{sent} what its input redirection holds", "operand"))

    def feeds(self, redirect: Node) -> bool:
        if redirect.type in ("herestring_redirect", "heredoc_redirect"):
            return True
        op = next((c.type for c in redirect.children if not c.is_named), "")
        dest = redirect.child_by_field_name("destination")
        return redirect.type == "file_redirect" and op in ("<", "<>") and (
            dest is None or self.spelled(dest)[0] != "/dev/null")

    def redirect(self, node: Node) -> None:
        op = next((c.type for c in node.children if not c.is_named), "")
        dest = node.child_by_field_name("destination")
        target = self.spelled(dest)[0] if dest is not None else ""
        if dest is not None:
            self.words(dest)
        else:  # `<<< "$(cmd)"`: a here-string's word is expanded like any other
            for child in node.named_children:
                self.words(child)
        with in_the_folder(self.folder):
            target = in_folder(target) if target and dest is not None else target
        if arms(target):
            self.judge(Verdict("mutate", arming(target), "operand"))
        elif op in ("<", "<>") and holds_credentials(target):
            self.judge(Verdict("mutate", credential_reason(target), "operand"))
        elif op in _WRITES and target != "/dev/null":
            self.judge(Verdict("mutate", f"it writes to {target or 'a file'}", "flag"))
        elif op in (">&", "<&") and not re.fullmatch(r"\d+|-", target):
            self.judge(Verdict("mutate", f"it writes to {target}", "flag"))


_A_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_HOME = re.compile(r"~[\w.-]*(?:/|$)|\$\{?HOME\}?(?:/|$)|/")  # (a folder from a home or /)


def with_folder(folder: str | None, to: str) -> str:
    """Where `cd TO` goes from `folder` (None: wherever the step runs)."""
    return posixpath.join(folder, to) if folder else to


def bash_verdict(script: str) -> Verdict:
    """A bash step's effect: its script's, or not read-only when it cannot be a script."""
    found = read_script(script)
    if found is None:
        return Verdict("mutate", "the script cannot be checked (a background job, or syntax "
                       "the reader does not follow)", "tool")
    return found.verdict


def hidden_by_and(script: str) -> list[tuple[int, int]]:
    """The commands of a line whose failure an `a && b` list hides, as (start, end) byte
    offsets in `script`: every operand of a chain of `&&` but its last. bash's ERR trap does
    not fire for them, and the list's status is lost when a statement follows it (`for f in
    a b; do cat $f && echo; done`: a `cat` that failed on `a` left the loop's status 0).
    Not the operands of a chain that holds `||` or sits in one (the failure has a branch:
    `(cd x && ls) || echo none`), of one in a condition (`if`, `while`, `until`, `!`: a
    failure is the test's answer), a negated command, one whose complaints the guide
    discards (`ls x.old 2>/dev/null && echo old`: it asks, as after `if`), or one that holds
    a heredoc (its body follows the line)."""
    root = _parser().parse(script.encode()).root_node
    if root.has_error:
        return []
    spans: list[tuple[int, int]] = []

    def visit(node: Node, tested: bool) -> None:
        if node.type == "list":
            operands, operators = _chain(node)
            if not tested and all(op == "&&" for op in operators):
                spans.extend((o.start_byte, o.end_byte) for o in operands[:-1]
                             if o.type != "negated_command" and not _silenced(o)
                             and not _holds_heredoc(o))
            for operand in operands:  # (`(cd x && ls) || echo none`: a branch for both)
                visit(operand, tested or "||" in operators)
            return
        conditions = {c.id for c in node.children_by_field_name("condition")} \
            if node.type in ("if_statement", "elif_clause", "while_statement",
                             "until_statement") else set()
        for child in node.children:
            visit(child, tested or child.id in conditions or node.type == "negated_command")

    visit(root, False)
    return spans


def _chain(node: Node) -> tuple[list[Node], list[str]]:
    """A list's operands and operators, left to right (`a && b && c` nests to the left)."""
    operands: list[Node] = []
    operators: list[str] = []
    for child in node.children:
        if child.type == "list":
            inner, ops = _chain(child)
            operands.extend(inner)
            operators.extend(ops)
        elif child.type in ("&&", "||"):
            operators.append(child.type)
        elif child.is_named and child.type != "comment":
            operands.append(child)
    return operands, operators


_TO_NOWHERE = re.compile(r"(?:2|&)>>?\s*/dev/null")


def _silenced(node: Node) -> bool:
    """`cmd 2>/dev/null`, `cmd &>/dev/null`: its error messages go nowhere."""
    return node.type == "redirected_statement" and any(
        c.type == "file_redirect" and _TO_NOWHERE.fullmatch((c.text or b"").decode())
        for c in node.children)


def _holds_heredoc(node: Node) -> bool:
    return node.type == "heredoc_redirect" or any(_holds_heredoc(c) for c in node.children)


def pipeline_stages(line: str) -> list[list[str]] | None:
    """The stages of a line that is one pipeline (`grep x f 2>/dev/null | tail -5`), each as
    its words with their quotes taken off (a stage that is no simple command: no words); None
    for any other line. What `engine.exits` reads to judge a stage's status."""
    root = _parser().parse(line.strip().encode()).root_node
    statements = [c for c in root.named_children if c.type != "comment"]
    if root.has_error or len(statements) != 1 or statements[0].type != "pipeline":
        return None
    stages = []
    for stage in statements[0].named_children:
        if stage.type == "redirected_statement" and stage.named_children:
            stage = stage.named_children[0]
        stages.append(_words(stage) if stage.type == "command" else [])
    return stages


def command_words(text: str) -> list[str]:
    """The words of one simple command as bash shows it (`$BASH_COMMAND`: `grep -c x "$f"`),
    quotes taken off; [] for anything else (an assignment, `[[ ... ]]`, a compound)."""
    root = _parser().parse(text.strip().encode()).root_node
    statements = [c for c in root.named_children if c.type != "comment"]
    if root.has_error or len(statements) != 1:
        return []
    statement = statements[0]
    if statement.type == "redirected_statement" and statement.named_children:
        statement = statement.named_children[0]
    return _words(statement) if statement.type == "command" else []


def _words(command: Node) -> list[str]:
    words = []
    for part in command.named_children:
        text = (part.text or b"").decode(errors="replace")
        if part.type in ("raw_string", "string") and len(text) >= 2:
            text = text[1:-1]
        elif part.type not in ("command_name", "word", "number", "concatenation"):
            continue  # an expansion, a substitution: its value is the shell's
        words.append(text)
    return words
