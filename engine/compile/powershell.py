"""PowerShell and Windows `cmd` blocks -> steps: run with pwsh where it is, else a person's.

This module owns reading the blocks of Microsoft-style guides: blocks tagged `powershell`,
`pwsh`, `ps1`, `ps` or `posh`; blocks whose lines carry PowerShell prompts (`PS C:\\> `,
`PS /home/me> `, `PS> `: the prompted lines are commands, the rest their output); untagged
blocks that start with a cmdlet (`Get-Service W32Time`); and `cmd`/`bat`/`batch` blocks,
`C:\\> ` prompts and untagged blocks that start with a Windows command line (`net stop w3svc`,
`taskkill /F /IM w3wp.exe`). An inline cmdlet or Windows command line is a person's step.
A line continues onto the next after PowerShell's `>> ` prompt, an open construct or a
trailing backtick, and after cmd's trailing `^` (the next line shown after `More? `).

A PowerShell block becomes steps of the `powershell` plugin (`plugins.powershell`): one per
statement, or one for the whole block when its statements share variables or a construct
spans lines (`$vm = Get-AzVM ...` then `$vm.Status`). The script is the guide's text, verbatim;
a `$Name` the block uses but never sets is a plan input passed as data (`args`), never spliced
into the text. A step is read-only only when the read-only table says so
(`engine.effects.powershell`), else gated; one that needs a person (`Get-Credential`), one with
a `<placeholder>` in its text, every `cmd` block, and every block on a machine without pwsh,
are manual steps holding the script. Nothing is dropped.

It does not read shell blocks (`engine.compile.blocks`) or decide edges.
"""

from __future__ import annotations

import functools
import re
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.compile.nodes import Action
from engine.effects.powershell import powershell_verdict
from engine.plan import Span, StepKind

if TYPE_CHECKING:
    from engine.compile.outline import Node, _OutlineBuilder
    from engine.compile.phrases import SectionClass
    from engine.guide import Element

POWERSHELL_TAGS = frozenset({"powershell", "pwsh", "ps1", "ps", "posh", "pwsh-session",
                             "powershell-session", "ps1con"})
CMD_TAGS = frozenset({"cmd", "bat", "batch", "dos", "doscon", "winbatch", "cmd.exe"})
# (PowerShell remoting's prompt names the machine first: `[WEB-IIS-01]: PS C:\> `)
_PS_PROMPT = re.compile(r"^\s*(?P<remote>\[[^\]\n]{1,80}\]:\s*)?PS(?: [^>\n]{0,200})?> ?")
_SESSION = re.compile(r"^\s*Enter-PSSession\b", re.I)
_PS_MORE = re.compile(r"^\s*>> ?")
_CMD_PROMPT = re.compile(r"^\s*[A-Za-z]:\\[^>\n]{0,200}> ?")
# cmd's line continuation: a `^` at the end of a line, the next line shown after `More? `
_CMD_CARET = re.compile(r"(?:^|\s)\^$")
_CMD_MORE = re.compile(r"^\s*More\? ?")
_CMDLET = re.compile(r"^\s*(?:\$\w+\s*=\s*)?(?:Get|Set|New|Remove|Test|Start|Stop|Restart|"
                     r"Invoke|Select|Update|Add|Enable|Disable|Install|Import|Export|Connect|"
                     r"Clear|Resolve|Measure|Register|Unregister|Suspend|Resume|Wait|Write|"
                     r"Out|Format|ConvertTo|ConvertFrom|Find|Move|Copy|Rename|Reset|Grant|"
                     r"Revoke|Repair|Sync|Use|Enter|Exit)-[A-Z]\w+(?:\s|$)")
# A Windows command line: a tool only Windows has, or one whose words are Windows' own
# (`net stop w3svc`, `sc.exe query W3SVC`, `del /q C:\temp\*`, `C:\tools\fix.exe /all`).
_WINDOWS_TOOL = re.compile(
    r"^\s*(?:(?:taskkill|tasklist|iisreset|netsh|ipconfig|wmic|schtasks|robocopy|icacls|appcmd|"
    r"certutil|dism|bcdedit|wevtutil|msiexec|diskpart|winrm|wbadmin|wusa|cscript|"
    # Windows Server's directory, policy and time tools (`repadmin /syncall DC02 /AdeP`)
    r"repadmin|dcdiag|nltest|ntdsutil|netdom|dsquery|dsget|dsmod|dsadd|dsrm|gpupdate|gpresult|"
    r"w32tm|setspn|dnscmd|systeminfo|chkdsk|sfc|bitsadmin|auditpol|secedit|fltmc|powercfg|"
    r"tracert|pathping)(?:\.exe)?(?:\s|$)|"
    r"net(?:\.exe)? (?:stop|start|use|user|localgroup|share|session|view)\b|"
    r"sc(?:\.exe)? (?:query|queryex|qc|stop|start|config|delete|failure)\b|"
    r"(?:reg|del|rd|rmdir|xcopy|copy|move|type|dir|attrib)(?:\.exe)? (?=.*(?:\s/[A-Za-z?]|\\))|"
    r"[A-Za-z]:\\\S*\.(?:exe|cmd|bat|ps1)(?:\s|$))", re.I)
_VAR = re.compile(r"\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*)\b)(?!:)")
_ASSIGN = re.compile(r"(?:^|[;\n({]\s*)\$([A-Za-z_]\w*)\s*(?:[-+*/]?=)(?!=)|"
                     r"\bforeach\s*\(\s*\$([A-Za-z_]\w*)\s+in\b|\bparam\s*\(([^)]*)\)", re.I)
_AUTOMATIC = frozenset(v.lower() for v in """_ PSItem true false null args input Error Host
PSVersionTable LASTEXITCODE Matches PWD HOME PSScriptRoot PSCommandPath this ErrorActionPreference
VerbosePreference WarningPreference ProgressPreference ConfirmPreference env""".split())
_PLACEHOLDER = re.compile(r"<[A-Za-z][^<>\n|;&]{0,80}?>")


@dataclass(frozen=True)
class Script:
    text: str
    start: int
    end: int
    remote: bool = False  # typed at a remote session's prompt (`[WEB-IIS-01]: PS C:\> `)


@functools.cache
def pwsh_installed() -> bool:
    """Whether this machine can run PowerShell: plans compiled here run here (`mendflow run
    GUIDE`); a plan compiled elsewhere and run without pwsh fails that step, saying so."""
    return bool(shutil.which("pwsh") or shutil.which("powershell"))


def dialect(el: Element) -> str | None:
    """"powershell", "cmd" or None: whether this module reads the code element."""
    tag = (el.lang or "").lower()
    if tag in POWERSHELL_TAGS:
        return "powershell"
    if tag in CMD_TAGS:
        return "cmd"
    if tag and tag not in ("console", "shell", "shell-session", "shellsession", "terminal",
                           "text", "bash", "sh", "zsh", "ksh"):
        return None
    lines = [ln for ln in el.text.split("\n") if ln.strip()]
    if tag in ("bash", "sh", "zsh", "ksh") and any(re.match(r"\s*\$\s", ln) for ln in lines):
        return None  # (`$ ssh winhost` first: a POSIX transcript, read as one)
    # A Windows prompt (`C:\> `, `PS C:\> `) says where a line is typed whatever the tag:
    # authors tag a Windows transcript `bash` or `sh` for its colours
    if any(_PS_PROMPT.match(ln) for ln in lines):
        return "powershell"
    if any(_CMD_PROMPT.match(ln) for ln in lines):
        return "cmd"
    if not tag and lines and _CMDLET.match(lines[0]):
        return "powershell"
    if not tag and lines and _WINDOWS_TOOL.match(lines[0]):
        return "cmd"
    return None


def windows_command(code: str) -> bool:
    """An inline span that is a PowerShell cmdlet or a Windows command line (`Restart-Service
    W3SVC`, `iisreset /restart`): a person's, never run by the POSIX shell plugin."""
    return bool(_CMDLET.match(code) or _WINDOWS_TOOL.match(code))


def scripts(el: Element) -> list[Script]:
    """The block's statements (prompted lines only when it has prompts), with their lines."""
    first = el.span.start + 1 if el.fenced else el.span.start
    lines = el.text.split("\n")
    prompted = any(_PS_PROMPT.match(ln) or _CMD_PROMPT.match(ln) for ln in lines)
    out: list[Script] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _PS_PROMPT.match(line) or _CMD_PROMPT.match(line)
        if prompted and not m or not line.strip() or \
                not m and line.lstrip().startswith(("#", "REM ", "rem ", "::")):
            i += 1
            continue
        text, j = line[m.end():] if m else line, i
        while j + 1 < len(lines) and (_open(text) or prompted and _PS_MORE.match(lines[j + 1])
                                      or _CMD_CARET.search(text.rstrip())):
            j += 1
            nxt = lines[j]
            more = _PS_MORE.match(nxt) or _CMD_MORE.match(nxt)
            text += "\n" + (nxt[more.end():] if more else nxt)
        if text.strip():
            out.append(Script(text.rstrip(), first + i, first + j,
                              remote=bool(m and m.groupdict().get("remote"))))
        i = j + 1
    return out


def _open(text: str) -> bool:
    """The statement goes on: a backtick or pipe ends the line, or a brace, parenthesis,
    here-string or quote is open."""
    stripped = text.rstrip()
    if stripped.endswith(("`", "|")) or "@'" in text and "'@" not in text.split("@'", 1)[1] or \
            '@"' in text and '"@' not in text.split('@"', 1)[1]:
        return True
    masked = re.sub(r"'(?:[^']|'')*'|\"(?:[^\"`]|`.)*\"", "''", text)
    return masked.count("{") > masked.count("}") or masked.count("(") > masked.count(")") or \
        masked.count("'") % 2 == 1 or masked.count('"') % 2 == 1


def steps(b: _OutlineBuilder, el: Element, cls: SectionClass, owner: int,
          title: str) -> list[Node]:
    """The block's steps: PowerShell runs (or is gated), `cmd` and the rest are manual."""
    kind = dialect(el)
    found = scripts(el)
    if not found:
        return []
    if kind == "cmd" or not pwsh_installed() or \
            any(s.remote or _SESSION.match(s.text) for s in found):
        # (`Enter-PSSession`, then lines at `[WEB-IIS-01]: PS C:\> `: typed on that machine,
        # in a session a person holds open)
        text = "\n".join(s.text for s in found)
        return [b._manual(owner, cls, title, text, Span(start=found[0].start,
                                                        end=found[-1].end), el.index,
                          script=text)]
    sets = set()
    for s in found:
        sets |= _assigned(s.text)
    together = len(found) > 1 and (any(_uses(s.text) & sets for s in found) or
                                   any("\n" in s.text for s in found))
    if together:
        found = [Script("\n".join(s.text for s in found), found[0].start, found[-1].end)]
    return [_step(b, s, el, cls, owner, title) for s in found]


def _assigned(text: str) -> set[str]:
    names: set[str] = set()
    for m in _ASSIGN.finditer(text):
        if m.group(3) is not None:
            names |= {v.lower() for v in re.findall(r"\$(\w+)", m.group(3))}
        else:
            names.add((m.group(1) or m.group(2)).lower())
    return names


def _uses(text: str) -> set[str]:
    masked = re.sub(r"'(?:[^']|'')*'", "''", text)
    return {(m.group(1) or m.group(2)).lower() for m in _VAR.finditer(masked)}


def _step(b: _OutlineBuilder, s: Script, el: Element, cls: SectionClass, owner: int, title: str
          ) -> Action:

    span = Span(start=s.start, end=s.end)
    verdict = powershell_verdict(s.text)
    if verdict.effect == "interactive" or _PLACEHOLDER.search(s.text) or "{{" in s.text or \
            "{%" in s.text:
        return b._manual(owner, cls, title, s.text, span, el.index, script=s.text)
    free = sorted(_uses(s.text) - _assigned(s.text) - _AUTOMATIC)
    names = {m.group(1) or m.group(2) for m in _VAR.finditer(s.text)}
    args = {}
    for low in free:
        name = next(n for n in sorted(names) if n.lower() == low)
        args[name] = "{{ " + b.scope.placeholder(name, hint=name) + " }}"
    params: dict[str, Any] = {"script": s.text}
    if args:
        params["args"] = args
    mutating = not verdict.read
    return Action(b._id(owner, cls, title), StepKind.COMMAND, title, s.text, span, el.index,
                  cls, plugin="powershell", params=params, mutating=mutating, block=el.index)
