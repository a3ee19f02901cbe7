"""sed and awk programs: a conservative scan for anything that writes or runs a program.

A program is read-only only when this scanner reads all of it and finds nothing but reading:
for sed, no `w`/`W`/`e` command and no `s///w` or `s///e` flag (in-place editing is a flag,
judged by the table); for awk, no `system()`, no `getline`, no pipe (`|`, `|&`), no output
redirection in `print`/`printf`, no `@include`/`@load`, no `ARGV`/`ARGC` (which choose the
files it opens). Where the scanner cannot follow the
text it says so, and the program is not read-only: a wrong "no" costs an approval, a wrong
"yes" runs a write unasked. It does not parse flags (`engine.effects.table`).
"""

from __future__ import annotations

from engine.effects.credentials import credential_reason, holds_credentials
from engine.effects.devices import arming, arms

_SED_SIMPLE = set("=dDgGhHnNpPxzF")
_SED_NUMBER = set("lLqQ")


def sed_problem(script: str) -> str | None:
    """Why this sed script is not read-only, or None if it only reads."""
    i, n = 0, len(script)
    while i < n:
        c = script[i]
        if c in " \t\n;{}!":
            i += 1
            continue
        if c == "#":
            i = _line_end(script, i)
            continue
        i = _sed_address(script, i)
        if i < 0:
            return "it could not be checked (an address it cannot read)"
        while i < n and script[i] in " \t!":
            i += 1
        if i >= n:
            return None
        c = script[i]
        if c in "{};\n":
            continue
        i += 1
        if c in _SED_SIMPLE:
            continue
        if c in _SED_NUMBER:
            while i < n and (script[i] in " \t" or script[i].isdigit()):
                i += 1
        elif c in "wW":
            return f"its `{c}` command writes a file"
        elif c == "e":
            return "its `e` command runs a program"
        elif c in ":btTv":
            while i < n and script[i] not in ";\n":
                i += 1
        elif c in "aicrR":
            start, i = i, _text_end(script, i)
            if c in "rR" and arms(script[start:i].strip()):
                return f"its `{c}` command: {arming(script[start:i].strip())}"
            if c in "rR" and holds_credentials(script[start:i].strip()):
                return f"its `{c}` command: {credential_reason(script[start:i].strip())}"
        elif c in "sy":
            end = _sed_parts(script, i, 2)
            if end < 0:
                return "it could not be checked (an unterminated s or y command)"
            i = end
            if c == "s":
                while i < n and script[i] not in ";\n}#":
                    flag = script[i]
                    if flag == "w":
                        return "its s///w flag writes a file"
                    if flag == "e":
                        return "its s///e flag runs the result as a program"
                    if flag not in "gpiImM0123456789 \t":
                        return f"it could not be checked (s flag {flag!r})"
                    i += 1
        else:
            return f"it could not be checked (command {c!r})"
    return None


def _line_end(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _text_end(text: str, i: int) -> int:
    """End of an a/i/c text or r/R file name: the line, with `\\` continuing it."""
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "\n":
            return i
        i += 1
    return i


def _sed_address(text: str, i: int) -> int:
    """Skip `addr[,addr]`; -1 if an address does not end."""
    for part in range(2):
        if i >= len(text):
            return i
        c = text[i]
        if c.isdigit() or (part and c in "+~"):
            i += 1
            while i < len(text) and (text[i].isdigit() or text[i] == "~"):
                i += 1
        elif c == "$":
            i += 1
        elif c in "/\\":
            delim = c
            if c == "\\":
                if i + 1 >= len(text):
                    return -1
                delim = text[i + 1]
                i += 1
            i = _delimited(text, i + 1, delim)
            if i < 0:
                return -1
            while i < len(text) and text[i] in "IM":
                i += 1
        elif part == 0:
            return i
        if part == 0:
            if i < len(text) and text[i] == ",":
                i += 1
                continue
            return i
    return i


def _sed_parts(text: str, i: int, parts: int) -> int:
    """After `s` or `y`: skip the delimiter and `parts` delimited parts; -1 if unterminated."""
    if i >= len(text) or text[i] in "\n\\":
        return -1
    delim = text[i]
    i += 1
    for _ in range(parts):
        i = _delimited(text, i, delim)
        if i < 0:
            return -1
    return i


def _delimited(text: str, i: int, delim: str) -> int:
    """Index after the unescaped `delim` that closes the part starting at i, or -1."""
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == delim:
            return i + 1
        i += 1
    return -1


_AWK_KEYWORDS = frozenset({"print", "printf", "return", "in", "if", "else", "while", "for", "do",
                           "getline", "case", "default"})
_AWK_CALLS = ("system", "getline")


def awk_problem(program: str) -> str | None:
    """Why this awk program is not read-only, or None if it only reads.

    Strings are skipped; a `/regex/` (a slash where awk expects an operand) is scanned for
    words but not for `|` or `>`. Comments are scanned like code: `#` may sit in a regex this
    scanner reads as a division, and a comment must never hide a call."""
    i, n = 0, len(program)
    depth = 0  # parentheses inside a print statement
    printing = False
    operand = False  # the last token was an operand, so a slash divides
    while i < n:
        c = program[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            i = _delimited(program, i + 1, '"')
            if i < 0:
                return "it could not be checked (an unterminated string)"
            operand = True
            continue
        if c == "/" and not operand:
            end = _delimited(program, i + 1, "/")
            if end < 0:
                return "it could not be checked (an unterminated regex)"
            found = _awk_words(program[i + 1:end])
            if found:
                return found
            i, operand = end, True
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < n and (program[j].isalnum() or program[j] == "_"):
                j += 1
            word = program[i:j]
            found = _awk_words(word)
            if found:
                return found
            if word in ("ARGV", "ARGC"):
                # `BEGIN { ARGV[1] = "/dev/watchdog" }`, `split(s, ARGV)`, `sub(..., ARGV[1])`:
                # the files awk opens are then the program's, not the command line's
                return f"it uses {word}, which can choose the files awk opens"
            if word in ("print", "printf"):
                printing, depth = True, 0
            i, operand = j, word not in _AWK_KEYWORDS
            continue
        if c.isdigit() or c in ")]$.":
            operand = True
        elif not c.isspace():
            operand = False
        if c == "@":
            return "it uses an @ directive (@include, @load) or an indirect call"
        if c == "|":
            if program.startswith("||", i):
                i += 2
                continue
            return "it pipes to or from a command (`|`)"
        if printing:
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            elif c == ">" and depth <= 0:
                return "it redirects print output to a file (`>`)"
            elif c in ";\n}":
                printing = False
        i += 1
    return None


def _awk_words(text: str) -> str | None:
    for call in _AWK_CALLS:
        start = text.find(call)
        while start >= 0:
            before = text[start - 1] if start else " "
            end = start + len(call)
            after = text[end] if end < len(text) else " "
            if not (before.isalnum() or before == "_" or after.isalnum() or after == "_"):
                return f"it calls {call}, which runs a command or reads its output"
            start = text.find(call, end)
    return None
