"""Code blocks -> what they are (command, query, configuration, sample output, script).

This module owns reading one fenced or indented block: choosing its class and plugin from the
language tag or, when untagged, from its content (`$`/`#` prompts, known tools, log-line and
table shapes), stripping prompts, joining `\\` continuations and multi-line constructs, and
dropping the output lines of `console` sessions. Only `command` and `query` blocks become
executable steps; `script` blocks (Ruby for a Rails console, ...) become manual steps; the rest
become nothing. Turning lines into argv is `engine.compile.shellwords`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from engine.effects import looks_like_command
from engine.guide import Element

BlockClass = Literal["command", "query", "config", "output", "script", "plugin", "other"]

SHELL_TAGS = frozenset({"bash", "sh", "shell", "zsh", "console", "shell-session", "terminal"})
QUERY_TAGS = {"promql": "prometheus", "sql": "sql", "postgresql": "sql", "psql": "sql",
              "pgsql": "sql", "logql": "logs"}
CONFIG_TAGS = frozenset({"yaml", "yml", "json", "toml", "ini", "conf", "xml", "hcl", "terraform",
                         "jsonnet", "nginx", "cron", "properties", "diff", "dockerfile"})
SCRIPT_TAGS = frozenset({"ruby", "rb", "irb", "python", "py", "js", "javascript", "go", "groovy",
                         "lua", "perl", "rails"})
OUTPUT_TAGS = frozenset({"text", "txt", "plaintext", "log", "logs", "output", "none"})
OTHER_TAGS = frozenset({"mermaid", "plantuml", "math", "markdown", "md", "dot", "graphviz"})
# Blocks whose body is a plugin's parameters in YAML (`detect` names its detector inside).
PLUGIN_TAGS = {"detect": None, "opcua": "opcua", "http": "http", "logs": "logs"}

_PROMPT = re.compile(r"^\s*(?:\$|[\w.@-]+(?:@[\w.-]+)?:[^\s$#]*[$#]|\[[^\]\n]{1,60}\][$#]|"
                     r"[\w.-]+-\d[\d.]*[$#]|PS>)\s+")
_ROOT_PROMPT = re.compile(r"^\s*#\s+(?=\S)")
_LOG_LINE = re.compile(
    r"^\s*(?:\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\[?\d{2}:\d{2}:\d{2}|[A-Z][a-z]{2} [ \d]\d \d{2}:|"
    r"(?:level|lvl|ts|time)=|\{\s*\"|I\d{4} \d{2}:|E\d{4} \d{2}:|W\d{4} \d{2}:|"
    r"(?:ERROR|WARN|WARNING|INFO|DEBUG|FATAL|PANIC)\b)")
_CONFIG_LINE = re.compile(r"^\s*(?:[\w.\"-]+\s*:\s|[\w.-]+\s*=\s|\[[\w. \"-]+\]\s*$|[{}\[\]]|<\?xml|"
                          r"apiVersion:|kind:|- [\w\"])")
_PARAM_LINE = re.compile(r"^\s*(?:#|[\w.-]+\s*:(?:\s|$))")
_CONTROL_OPEN = re.compile(r"^\s*(for|while|until|if|case|select)\b")
_CONTROL_CLOSE = {"for": "done", "while": "done", "until": "done", "select": "done", "if": "fi",
                  "case": "esac"}
_HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")


@dataclass(frozen=True)
class CommandLine:
    """One logical command: continuation lines joined, prompt stripped, absolute lines."""

    text: str
    start: int
    end: int


@dataclass
class Block:
    cls: BlockClass
    plugin: str | None = None
    lines: list[CommandLine] = field(default_factory=list)  # for command blocks
    text: str = ""  # the whole content (queries, scripts)
    start: int = 1
    end: int = 1


def read_block(el: Element) -> Block:
    """Classify a code element and extract what runs."""
    first_line = el.span.start + 1 if el.fenced else el.span.start
    raw = el.text
    tag = (el.lang or "").lower()
    start, end = el.span.start, el.span.end
    meaningful = [ln for ln in raw.split("\n") if ln.strip()]
    if not meaningful:
        return Block("other", start=start, end=end)
    if (tag in PLUGIN_TAGS and _PARAM_LINE.match(meaningful[0])) or tag.startswith("mendflow:"):
        # (hook, explain helper: an ```http block holding `HTTP/1.1 200 OK` is a sample message,
        # not the plugin's `key: value` parameters; it is read like an untagged block)
        plugin = tag.split(":", 1)[1] if tag.startswith("mendflow:") else PLUGIN_TAGS[tag]
        return Block("plugin", plugin=plugin, text=raw, start=start, end=end)
    if tag in QUERY_TAGS:
        query = _strip_comments(raw, "--" if QUERY_TAGS[tag] == "sql" else "#")
        cls: BlockClass = "query" if query.strip() else "other"
        return Block(cls, plugin=QUERY_TAGS[tag], text=query.strip(), start=start, end=end)
    if tag in CONFIG_TAGS:
        return Block("config", text=raw, start=start, end=end)
    if tag in SCRIPT_TAGS:
        return Block("script", text=raw, start=start, end=end)
    if tag in OUTPUT_TAGS:
        return Block("output", text=raw, start=start, end=end)
    if tag in OTHER_TAGS:
        return Block("other", text=raw, start=start, end=end)
    lines = raw.split("\n")
    prompted = any(_PROMPT.match(ln) for ln in lines)
    if tag in SHELL_TAGS:
        if prompted or tag in ("console", "shell-session", "terminal"):
            cmds = _prompted_lines(lines, first_line)
        else:
            cmds = _script_lines(lines, first_line)
    else:
        cmds = _untagged(lines, first_line, prompted)
        if cmds is None:
            cls = "output" if _looks_like_output(meaningful) else (
                "config" if _looks_like_config(meaningful) else "output")
            return Block(cls, text=raw, start=start, end=end)
    if not cmds:
        return Block("output", text=raw, start=start, end=end)
    return Block("command", plugin="shell", lines=cmds, text=raw, start=start, end=end)


def _untagged(lines: list[str], first_line: int, prompted: bool) -> list[CommandLine] | None:
    meaningful = [ln for ln in lines if ln.strip()]
    if prompted:
        cmds = _prompted_lines(lines, first_line, root_prompt=True)
        return [c for c in cmds if looks_like_command(c.text)] or None
    if _looks_like_output(meaningful):
        return None
    if any(_ROOT_PROMPT.match(ln) and looks_like_command(_ROOT_PROMPT.sub("", ln))
           for ln in meaningful):
        cmds = _prompted_lines(lines, first_line, root_prompt=True)
        return [c for c in cmds if looks_like_command(c.text)] or None
    code = [ln for ln in meaningful if not ln.lstrip().startswith("#")]
    if not code or not looks_like_command(code[0]):
        return None
    cmds = _script_lines(lines, first_line)
    # An untagged block mixing commands with other text: keep only lines that look like commands.
    return [c for c in cmds if looks_like_command(c.text) or c.text.split()[0] == "export"]


def _looks_like_output(lines: list[str]) -> bool:
    logs = sum(1 for ln in lines if _LOG_LINE.match(ln))
    return _table_header(lines[0]) or logs * 2 >= len(lines)


_RUNS = re.compile(r"\s+|\S+")
_FIRST_COLUMN = re.compile(r"[A-Z][A-Z_-]+")
_CAPITALS = re.compile(r"[A-Z_-]+")


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


def _looks_like_config(lines: list[str]) -> bool:
    return sum(1 for ln in lines if _CONFIG_LINE.match(ln)) * 2 >= len(lines)


def _strip_comments(text: str, marker: str) -> str:
    return "\n".join(ln for ln in text.split("\n") if not ln.strip().startswith(marker))


def _prompted_lines(lines: list[str], first_line: int, *,
                    root_prompt: bool = False) -> list[CommandLine]:
    """Console sessions: prompted lines are commands (with their continuations); others output."""
    out: list[CommandLine] = []
    i = 0
    while i < len(lines):
        ln = lines[i]
        m = _PROMPT.match(ln)
        if not m and root_prompt:
            m = _ROOT_PROMPT.match(ln)
        if not m:
            i += 1
            continue
        text, j = _gather(lines, i, ln[m.end():])
        if text.strip():
            out.append(CommandLine(text.strip(), first_line + i, first_line + j))
        i = j + 1
    return out


def _script_lines(lines: list[str], first_line: int) -> list[CommandLine]:
    """A script with no prompts: each non-comment line (with continuations) is a command."""
    out: list[CommandLine] = []
    i = 0
    while i < len(lines):
        ln = lines[i]
        if not ln.strip() or ln.lstrip().startswith("#"):
            i += 1
            continue
        text, j = _gather(lines, i, _PROMPT.sub("", ln, count=1))
        out.append(CommandLine(text.strip(), first_line + i, first_line + j))
        i = j + 1
    return out


def _gather(lines: list[str], i: int, text: str) -> tuple[str, int]:
    """Join continuations, open quotes, trailing pipes, heredocs and loops into one line."""
    j = i
    control = _CONTROL_OPEN.match(text)
    heredoc = _HEREDOC.search(text)
    line = _LogicalLine(text, marker=heredoc.group(1) if heredoc else None,
                        keyword=control.group(1) if control else None)
    while j + 1 < len(lines):
        if line.ends_with_backslash():
            line.drop_backslash()
            line.append(" " + _PROMPT_CONT.sub("", lines[j + 1]).strip())
        elif line.ends_with_join() or line.quote_open():
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
