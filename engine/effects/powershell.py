"""What a PowerShell script does to the world: read only for an allow-list of reading cmdlets.

PowerShell names its commands Verb-Noun, and its approved verbs say what a cmdlet does: `Get`
retrieves, `Test` verifies, `Select`, `Measure`, `Sort`, `Group`, `Format`, `ConvertTo` and
`ConvertFrom` reshape what a pipeline carries, `Resolve` looks up. A script is read-only only
when every statement is a pipeline of such cmdlets (or their common aliases: `gci`, `select`,
`where`, `ft` ...), an assignment of one to a variable, or a literal; with no parameter that
writes, waits or prompts (`-OutFile`, `-Wait`, `-Repair`, `-Online`), no script block that does
more than compare properties of `$_` (`Where-Object { $_.Status -eq 'Running' }`), no method
call other than a few pure ones (`(Get-Date).AddHours(-1)`), no .NET static call (`[IO.File]::
WriteAllText`), no redirection to a file, no call operator (`&`), dot-sourcing or subexpression.
Everything else is "mutate"; `Get-Credential`, `Read-Host` and `-Wait` need a person.

It does not run PowerShell (`plugins.powershell` does) or read Windows `cmd` scripts, which are
never read-only here (the compiler makes them manual steps).
"""

from __future__ import annotations

import re

from engine.effects.classify import READ, Verdict, in_folder
from engine.effects.credentials import credential_reason, holds_credentials
from engine.effects.devices import arming, arms, listed

# `Format` and `Select` are not reading verbs: Format-Volume erases a volume, and
# Select-AzSubscription switches the subscription later commands act on; their reading
# cmdlets (Format-Table, Select-Object ...) are listed by name.
_READ_VERBS = frozenset("""get test measure sort group convertto convertfrom resolve compare
find where out-string""".split())
_READ_CMDLETS = frozenset(c.lower() for c in """Where-Object Sort-Object Select-Object
Group-Object Measure-Object Compare-Object ForEach-Object Out-String Out-Host Write-Output
Write-Host Format-Table Format-List Format-Wide Format-Custom Format-Hex ConvertTo-Json
ConvertTo-Csv ConvertTo-Html ConvertTo-Xml ConvertFrom-Json ConvertFrom-Csv Select-String
Select-Xml Resolve-DnsName Resolve-Path Join-Path Split-Path""".split())
_ALIASES = frozenset("""gci ls dir gc cat type gps ps gsv gwmi gcim select where ? sort group
measure ft fl fw echo write sls gi gp gm gl pwd gcm gal gdr history h ghy""".split())
_PERSON = frozenset({"get-credential", "read-host", "get-help", "help", "man", "out-gridview",
                     "ogv", "enter-pssession", "etsn", "start-transcript", "pause"})
_NOT_READ = {"get-secret": "prints a credential", "get-azaccesstoken": "prints a credential",
             "test-cluster": "runs validation tests that can take cluster disks offline",
             # a secret store's value, a local administrator's password (LAPS), a stored
             # credential's password (-AsCredentialObject): each in clear
             "get-azkeyvaultsecret": "prints a secret's value (-AsPlainText)",
             "get-secsecretvalue": "prints a secret's value",
             "get-lapsadpassword": "prints a local administrator's password",
             "get-admpwdpassword": "prints a local administrator's password",
             "get-storedcredential": "prints a stored credential (-AsCredentialObject)"}
# what names a secret's value among a reading cmdlet's words: a parameter store read decrypted,
# the AD attributes that hold LAPS passwords, a BitLocker volume's recovery password
_SECRET_WORDS = re.compile(r"-withd\w*|ms-mcs-admpwd\b|mslaps-\w*password|\bkeyprotector\b|"
                           r"\brecoverypassword\b", re.I)
_REFUSED_PARAMS = {"-outfile": "writes a file", "-repair": "repairs what it tests",
                   "-wait": "runs until someone stops it", "-online": "opens a browser",
                   "-asjob": "runs in the background", "-credential": "may prompt",
                   "-fix": "changes what it tests",
                   "-install": "installs what it finds (Get-WindowsUpdate -Install)",
                   "-download": "downloads what it finds", "-acceptall": "accepts and "
                   "installs every update", "-autoreboot": "reboots the machine",
                   "-continuous": "runs until someone stops it"}
_WAITS = frozenset({"-wait", "-continuous"})
# PowerShell binds any unambiguous prefix of a parameter's name (`-Rep` is -Repair). A prefix
# of a refused parameter is refused, unless it is also a prefix of one of these reading ones
# (then it is ambiguous, or names the reading one: `gci -r`, `ft -auto`, `-co 2`).
_READING_PARAMS = tuple("""-recurse -raw -include -inputobject -informationaction
-informationvariable -id -outvariable -outbuffer -warningaction -warningvariable -asstring
-ashashtable -asplaintext -asarray -autosize -filter -file -first -force -count -computername
-confirm -context -debug -directory -depth -descending""".split())
# Cmdlets whose own parameters leave no reading one to share a prefix with a refused one:
# `Test-ComputerSecureChannel -r` is -Repair.
_OWN_PARAMS = frozenset({"test-computersecurechannel"})
_PURE_METHODS = frozenset(m.lower() for m in """AddDays AddHours AddMinutes AddSeconds
AddMonths AddYears ToString ToUniversalTime ToLocalTime ToLower ToUpper Trim TrimEnd TrimStart
Split Substring Contains StartsWith EndsWith Replace IndexOf GetType Equals""".split())
_COMPARE = frozenset("""eq ne gt ge lt le like notlike match notmatch contains notcontains in
notin and or not xor is isnot ceq cne clike cmatch ieq ine ilike imatch""".split())
_AUTOMATIC = frozenset({"_", "psitem", "true", "false", "null"})

_STRING = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"`$]|`.)*\"")
_TOKEN = re.compile(r"\s+|'(?:[^']|'')*'|\"(?:[^\"`]|`.)*\"|\$\w+(?::\w+)?|\.\w+|-?\w[\w.-]*|\S")


def powershell_verdict(script: str) -> Verdict:
    """The effect of a PowerShell script (the text a guide wrote; backtick continuations ok)."""
    text = re.sub(r"`\r?\n", " ", script)
    said = _SECRET_WORDS.search(text)
    if said is not None:
        return Verdict("mutate", f"{said.group()} prints a secret's value: not a read to keep",
                       "flag")
    try:
        for statement in _statements(text):
            _statement(statement)
    except _NotRead as exc:
        return Verdict(exc.effect, exc.reason, exc.cause)  # type: ignore[arg-type]
    return READ


class _NotRead(Exception):
    def __init__(self, reason: str, cause: str = "tool", effect: str = "mutate") -> None:
        super().__init__(reason)
        self.reason, self.cause, self.effect = reason, cause, effect


def _statements(text: str) -> list[str]:
    """Statements split at newlines and `;` outside quotes, braces and parentheses; comments
    dropped."""
    out, buf, depth, quote, i = [], [], 0, "", 0
    while i < len(text):
        c = text[i]
        if quote:
            buf.append(c)
            if c == "`" and quote == '"' and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
            buf.append(c)
        elif text.startswith("<#", i):
            end = text.find("#>", i + 2)
            i = len(text) if end < 0 else end + 2
            continue
        elif c == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif c in "{(":
            depth += 1
            buf.append(c)
        elif c in "})":
            depth -= 1
            buf.append(c)
        elif c in ";\n" and depth <= 0:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(c)
        i += 1
    if quote or depth:
        raise _NotRead("the script has an unclosed quote, brace or parenthesis", "script")
    out.append("".join(buf))
    return [s.strip() for s in out if s.strip()]


def _statement(statement: str) -> None:
    for danger, why in ((r"\$\(", "a subexpression $( ) runs whatever it holds"),
                        (r"::", "a .NET static call can do anything"),
                        (r"(?<![\w-])&(?!&)", "the call operator & runs a program"),
                        (r"^\.\s", "dot-sourcing runs a script")):
        if re.search(danger, _STRING.sub("''", statement)):
            raise _NotRead(f"PowerShell: {why}", "script")
    redirect = re.search(r"(?<![-\w])(\d|\*)?>>?(?!\s*&\d)\s*(\S*)", _STRING.sub("''", statement))
    if redirect and redirect.group(2).lower() != "$null":
        raise _NotRead("PowerShell: a redirection writes a file", "flag")
    assign = re.match(r"\$(\w+)\s*=(?!=)\s*(.*)$", statement, re.S)
    if assign:
        if assign.group(1).lower() in ("env", "global", "script"):
            raise _NotRead("PowerShell: it sets an environment or global variable", "script")
        statement = assign.group(2)
    if not statement or _literal(statement):
        return
    elements = _pipeline(statement)
    for k, element in enumerate(elements):
        _command(element)
        _opens_what_is_printed(element, elements[:k])


# cmdlets (and their aliases) that open the files they are given or handed down the pipeline
_OPENS = frozenset("""get-content gc cat type select-string sls import-csv ipcsv get-filehash
format-hex fhx import-clixml""".split())


def _opens_what_is_printed(element: str, before: list[str]) -> None:
    """`gci /dev | gc`, `Get-Content (Join-Path /dev watchdog)`: a cmdlet that opens files
    opens what the elements before it list and what its parenthesised arguments compute; a
    folder with a device in it (or a path of one) there is judged as the device."""
    name = element.split(None, 1)[0].lower() if element.strip() else ""
    if name not in _OPENS:
        return
    rest = element.split(None, 1)[1] if len(element.split(None, 1)) > 1 else ""
    computed = [inner for inner in re.findall(r"\(([^()]*)\)", rest)]
    for text in [*before, *computed]:
        for word in _words(text):
            for path in (word, word.split(":", 1)[-1]):
                if "/" in path and (device := listed(in_folder(path))) is not None:
                    raise _NotRead(f"{arming(device)} ({element.split(None, 1)[0]} is handed "
                                   f"what {path} names or lists)", "operand")


def _literal(text: str) -> bool:
    return bool(re.fullmatch(r"\s*(?:'(?:[^']|'')*'|\"[^\"$`]*\"|-?\d+(?:\.\d+)?|\$\w+)\s*", text))


def _pipeline(statement: str) -> list[str]:
    buf: list[str]
    out, buf, depth, quote = [], [], 0, ""
    for c in statement:
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "{(":
            depth += 1
        elif c in "})":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append("".join(buf).strip())
            buf = []
            continue
        buf.append(c)
    out.append("".join(buf).strip())
    if any(not part for part in out):
        raise _NotRead("PowerShell: an empty pipeline element", "script")
    return out


def _command(element: str) -> None:
    if element.startswith("(") or re.fullmatch(r"\$\w+(?:\.\w+)*", element):
        _expression(element)  # `(Get-Date).AddHours(-1)`, `$svc.Status`: values, not commands
        return
    name = element.split(None, 1)[0]
    rest = element[len(name):]
    low = name.lower()
    if low in _PERSON:
        raise _NotRead(f"{name} needs a person at a terminal", "interactive", "interactive")
    if low in _NOT_READ:
        raise _NotRead(f"{name} {_NOT_READ[low]}", "tool")
    verb = low.split("-", 1)[0] if "-" in low else ""
    if not (low in _READ_CMDLETS or low in _ALIASES or verb in _READ_VERBS and "-" in low):
        raise _NotRead(f"{name} is not a reading cmdlet (Get-, Test-, Select-Object, "
                       "Measure- ...)", "tool")
    arguments = _STRING.sub("''", re.sub(r"\{.*\}", "", rest, flags=re.S))
    for word in re.findall(r"(?<![\w$])-\w+", arguments):
        refused = _refused_param(word.lower(), low)
        if refused is not None:
            effect = "interactive" if refused in _WAITS else "mutate"
            said = word if word.lower() == refused else f"{word} (that is, {refused})"
            raise _NotRead(f"{name} {said} {_REFUSED_PARAMS[refused]}", "flag", effect)
    if low == "foreach-object":
        _foreach_member(name, arguments)
    for word in _words(rest):  # pwsh on Linux: `Get-Content /dev/watchdog` opens it
        for path in (word, word.split(":", 1)[-1]):
            if arms(in_folder(path)):
                raise _NotRead(arming(in_folder(path)), "operand")
            if low in _OPENS and holds_credentials(path):
                raise _NotRead(credential_reason(path), "operand")
    _expression(rest)


_WORD = re.compile(r"(?:'(?:[^']|'')*'|\"(?:[^\"`]|`.)*\"|[^\s'\"(){};,|])+", re.S)


def _words(text: str) -> list[str]:
    """The words of a command's arguments as the cmdlet gets them, quotes taken off (`''` in
    single quotes is a quote; a backtick escapes the next character)."""
    def unquoted(m: re.Match[str]) -> str:
        part = m.group()
        if part.startswith("'"):
            return part[1:-1].replace("''", "'")
        return re.sub(r"`(.)", r"\1", part[1:-1] if part.startswith('"') else part, flags=re.S)
    return [re.sub(r"'(?:[^']|'')*'|\"(?:[^\"`]|`.)*\"|[^'\"]+", unquoted, m.group())
            for m in _WORD.finditer(text)]


def _refused_param(word: str, cmdlet: str) -> str | None:
    """The refused parameter `word` binds to, itself or by a prefix of its name; or None."""
    if word in _REFUSED_PARAMS:
        return word
    if cmdlet not in _OWN_PARAMS and any(p.startswith(word) for p in _READING_PARAMS):
        return None
    return next((p for p in _REFUSED_PARAMS if p.startswith(word)), None)


def _foreach_member(name: str, arguments: str) -> None:
    """`ForEach-Object Kill` (or -MemberName Kill) calls the method Kill on every object: only
    a script block (checked like any other) reads. A value for -InputObject is `$x` or `(...)`."""
    for token in re.sub(r"\([^()]*\)", "", arguments).split():
        low = token.lower()
        if low.startswith("-"):
            if len(low) > 1 and ("-membername".startswith(low) or "-argumentlist".startswith(low)):
                raise _NotRead(f"{name} {token} calls a method on each object", "script")
        elif not low.startswith(("$", "''")):
            raise _NotRead(f"{name} {token} calls the method (or reads the property) {token} of "
                           "each object", "script")


def _expression(text: str) -> None:
    """Arguments, script blocks and parenthesised expressions: only data, property reads,
    comparisons, pure methods and nested reading cmdlets."""
    stripped = _STRING.sub("''", text)
    for table in re.findall(r"@\{([^{}]*)\}", stripped):  # @{LogName='System'; Level=2}
        if not all(re.fullmatch(r"\s*\w+\s*=\s*(?:''|-?[\w.]+|\$\w+)\s*", part)
                   for part in table.split(";") if part.strip()):
            raise _NotRead("PowerShell: a hashtable computes its values", "script")
    stripped = re.sub(r"@\{[^{}]*\}", "''", stripped)
    for m in re.finditer(r"\.(\w+)\s*\(", stripped):
        if m.group(1).lower() not in _PURE_METHODS:
            raise _NotRead(f"PowerShell: the method {m.group(1)}() may change what it is "
                           "called on", "script")
    for block in re.findall(r"\{([^{}]*)\}", stripped):
        _script_block(block)
    if re.search(r"\{[^{}]*\{", stripped):
        raise _NotRead("PowerShell: nested script blocks", "script")
    for inner in re.findall(r"(?<![\w.\]])\(([^()]*)\)", stripped):
        # a command by its name or an alias: `(Get-Item x)`, `(ri x)`, `(ni x)`
        if re.match(r"\s*[A-Za-z%?]", inner):
            for element in _pipeline(inner):
                _command(element)


def _script_block(body: str) -> None:
    """A script block may compare and read properties of `$_`, and calculate a property
    (`@{n='MB'; e={$_.WS / 1MB}}` is read elsewhere); nothing that names a command."""
    for token in _TOKEN.findall(body):
        t = token.strip()
        if not t or t in "()!,.+*/%[]=<>" or re.fullmatch(r"\d[\w.]*", t) or t.startswith("'"):
            continue
        if t.startswith("$"):
            name = t[1:].split(":", 1)[0].lower()
            if name not in _AUTOMATIC and not re.fullmatch(r"\w+", name):
                raise _NotRead("PowerShell: a script block reads an unusual variable", "script")
            continue
        if t.startswith('"'):
            if "$" in t:
                raise _NotRead("PowerShell: a string in a script block expands variables",
                               "script")
            continue
        if t.startswith("-") and t[1:].lower() in _COMPARE or t.startswith("."):
            continue
        if t == "-" or re.fullmatch(r"-\d[\w.]*", t):
            continue
        raise _NotRead(f"PowerShell: a script block runs {t}", "script")
