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
_TABLE_HEADER = re.compile(r"^\s*[A-Z][A-Z_-]+(?:\s{2,}[A-Z][A-Z_ -]*)+\s*$")
_CONFIG_LINE = re.compile(r"^\s*(?:[\w.\"-]+\s*:\s|[\w.-]+\s*=\s|\[[\w. \"-]+\]\s*$|[{}\[\]]|<\?xml|"
                          r"apiVersion:|kind:|- [\w\"])")
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
    if tag in PLUGIN_TAGS or tag.startswith("mendflow:"):
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
    return bool(_TABLE_HEADER.match(lines[0])) or logs * 2 >= len(lines)


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
    while j + 1 < len(lines):
        stripped = text.rstrip()
        if stripped.endswith("\\"):
            text = stripped[:-1] + " " + _PROMPT_CONT.sub("", lines[j + 1]).strip()
        elif stripped.endswith(("|", "&&", "||")) or _open_quote(text):
            text = text + ("\n" if _open_quote(text) else " ") + lines[j + 1].strip()
        elif heredoc and not _heredoc_closed(text, heredoc.group(1)):
            text = text + "\n" + lines[j + 1]
        elif control and not _control_closed(text, control.group(1)):
            text = text + "\n" + lines[j + 1]
        else:
            break
        j += 1
    return text, j


_PROMPT_CONT = re.compile(r"^\s*>\s")


def _open_quote(text: str) -> bool:
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c == "\\":
            i += 2
            continue
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t"):
            return False
        i += 1
    return bool(quote)


def _heredoc_closed(text: str, marker: str) -> bool:
    return any(ln.strip() == marker for ln in text.split("\n")[1:])


def _control_closed(text: str, keyword: str) -> bool:
    close = _CONTROL_CLOSE[keyword]
    opened = len(re.findall(rf"(?:^|[;\s]){keyword}\b", text))
    closed = len(re.findall(rf"(?:^|[;\s]){close}\b", text))
    return closed >= opened
