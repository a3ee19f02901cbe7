"""Read-only rows for the tools that look at one host: files, text, processes, disks, network.

Each row lists the flags that keep its tool read-only; `why` names the well-known flags that do
not, so that a refusal can say what they do (`sort -o` writes a file). Tools with no mode that
writes at all (`ps`, `dig`) take any arguments. Special grammars (find, sed, awk) are functions.
It does not run wrappers (`engine.effects.classify`) or cluster and service tools
(`engine.effects.services`, `engine.effects.kube`).
"""

from __future__ import annotations

import re

from engine.effects.credentials import (
    credential_reason,
    holds_credentials,
    holds_credentials_beneath,
    names_a_password_setting,
)
from engine.effects.options import Flags, NotRead, Parsed
from engine.effects.rules import UNTIL_STOPPED, Rule, Tool, needs, rows
from engine.effects.scripts import awk_problem, sed_problem
from engine.effects.words import Templated

F = Flags.of
ANY = Tool(any_args=True)


def _date(p: Parsed, name: str) -> None:
    for op in p.operands:
        if not op.startswith("+"):
            raise NotRead(f"{name} {op} sets the clock (only +FORMAT reads it)", cause="operand")


def _script(p: Parsed, name: str, text: str) -> None:
    if isinstance(text, Templated):
        raise NotRead(f"{name}'s program comes from a value, not from the guide: a value can "
                      "turn it into another program", cause="script")


def _less(p: Parsed, name: str) -> None:
    for op in p.operands:
        if op.startswith("+") and "F" in op:
            raise NotRead(f"{name} {op} follows the file like tail -f: a person's job",
                          cause="interactive", effect="interactive")


def _sed(p: Parsed, name: str) -> None:
    scripts = p.values("-e", "--expression")
    operands = p.operands
    if not scripts:
        if not operands:
            raise NotRead(f"{name} has no script", cause="script")
        scripts, operands = [operands[0]], operands[1:]
    for script in scripts:
        _script(p, name, script)
        problem = sed_problem(script)
        if problem:
            raise NotRead(f"{name}'s program: {problem}", cause="script")


def _awk(p: Parsed, name: str) -> None:
    programs = p.values("-e", "--source")
    if not programs:
        if not p.operands:
            raise NotRead(f"{name} has no program", cause="script")
        programs = [p.operands[0]]
    for program in programs:
        _script(p, name, program)
        problem = awk_problem(program)
        if problem:
            raise NotRead(f"{name}'s program: {problem}", cause="script")


# yq's functions that open a file the expression names: load, load_str, load_xml, load_props,
# load_base64 ...; a literal name, or any other argument (`load(strenv(F))`)
_YQ_LOAD = re.compile(r"\bload\w*\s*\(")
_YQ_LOAD_LITERAL = re.compile(r"\bload\w*\s*\(\s*(?:\"(?P<d>[^\"\\]*)\"|'(?P<s>[^'\\]*)')\s*\)")


def _yq(p: Parsed, name: str) -> None:
    """A yq expression that loads a file (`load("/etc/shadow")`, `load_str(...)`) opens it as
    a file operand would be: a file of credentials, or one a value names, is not a read."""
    for expression in [*p.values("--expression"), *p.operands[:1]]:
        named = [m.group("d") if m.group("d") is not None else m.group("s")
                 for m in _YQ_LOAD_LITERAL.finditer(expression)]
        if len(named) < len(_YQ_LOAD.findall(expression)):
            raise NotRead(f"{name}'s expression loads a file a value names: it may open any "
                          "file", cause="operand")
        for path in named:
            if holds_credentials(path) or holds_credentials_beneath(path):
                raise NotRead(f"{name}'s expression loads {path}: {credential_reason(path)}",
                              cause="operand")


# jq's directives, at the start of its program: `import "PATH" as $NAME;` loads PATH.json as
# data, `include "PATH";` and `import "PATH" as NAME;` load PATH.jq; a `{search: "DIR"}` after
# the path says where from. The program, not the command line, picks the file jq opens.
_JQ_DIRECTIVE = re.compile(r"(?:\s|#[^\n]*\n)*(?:module\s*\{[^}]*\}\s*;\s*)?(?:import|include)\b")


def _jq(p: Parsed, name: str) -> None:
    """A jq program that imports or includes a file opens the file it names (`import
    "/root/.docker/config" as $c; $c` prints config.json), as `--slurpfile` would, and from
    a folder its `search` picks, as `-L` would: not a read to keep. So is a program read from
    a file (`-f`), which may hold such a directive."""
    for word in p.operands:
        if word.startswith("--from-file") or re.fullmatch(r"-[a-zA-Z]*f[a-zA-Z]*", word):
            raise NotRead(f"{name} {word} reads its program from a file it cannot check, which "
                          "may open any file (import, include)", cause="script")
        if _JQ_DIRECTIVE.match(word):
            raise NotRead(f"{name}'s program imports a file it names (import, include): it may "
                          "open any file", cause="operand")


def _sar(p: Parsed, name: str) -> None:
    """sar INTERVAL samples until someone stops it; a COUNT, or a file it reads (-f), ends it."""
    numbers = [o for o in p.operands if re.fullmatch(r"\d+(?:\.\d+)?", o)]
    if len(numbers) == 1 and not p.has("-f"):
        raise _stream(f"{name} with an interval and no count")


def _top(p: Parsed, name: str) -> None:
    if not (p.has("-b") and p.has("-n")):
        raise NotRead(f"{name} without -b -n N is a live screen until someone stops it: a "
                      "person's job",
                      cause="interactive", effect="interactive")


def _free(p: Parsed, name: str) -> None:
    if p.has("-s", "--seconds") and not p.has("-c", "--count"):
        raise NotRead(f"{name} -s without -c repeats until someone stops it: a person's job",
                      cause="interactive", effect="interactive")


def _smartctl(p: Parsed, name: str) -> None:
    """`-l TYPE` prints a log, but two of its types set the drive's parameters when given
    values: `scterc,READ,WRITE` (error recovery times; `,reset`, `,p` too) and
    `scttempint,N` (the temperature logging interval)."""
    for log in p.values("-l", "--log"):
        kind = log.split(",", 1)[0]
        if kind == "scterc" and "," in log:
            raise NotRead(f"{name} -l {log} sets the drive's error recovery times (-l scterc "
                          "alone prints them)", cause="flag")
        if kind == "scttempint":
            raise NotRead(f"{name} -l {log} sets the drive's temperature logging interval",
                          cause="flag")


def _sysctl(p: Parsed, name: str) -> None:
    for op in p.operands:
        if "=" in op:
            raise NotRead(f"{name} {op} sets a kernel parameter", cause="operand")


FIND_VALUE = frozenset("""
-name -iname -path -ipath -wholename -iwholename -lname -ilname -regex -iregex -type -xtype -size
-mtime -mmin -atime -amin -ctime -cmin -used -newer -anewer -cnewer -user -group -uid -gid -perm
-links -inum -samefile -maxdepth -mindepth -fstype -printf -context -regextype
""".split())
FIND_BARE = frozenset("""
-print -print0 -ls -prune -quit -empty -true -false -readable -writable -executable -nouser
-nogroup -xdev -mount -depth -daystart -follow -noleaf -ignore_readdir_race
-noignore_readdir_race -not -a -and -o -or ! ( ) , -warn -nowarn
""".split())
FIND_WHY = {
    "-delete": "deletes files", "-exec": "runs a program", "-execdir": "runs a program",
    "-ok": "runs a program", "-okdir": "runs a program", "-fprint": "writes a file",
    "-fprint0": "writes a file", "-fprintf": "writes a file", "-fls": "writes a file",
}


def _stream(what: str) -> NotRead:
    return NotRead(f"{what} runs {UNTIL_STOPPED}: a person's job", cause="interactive",
                   effect="interactive")


# the databases getent prints that hold password hashes: what `cat /etc/shadow` opens, by NSS
_GETENT_HASHES = frozenset({"shadow", "gshadow"})


def getent(name: str, args: list[str]) -> None:
    """getent DATABASE [KEY...] prints a name service's entries; `shadow` and `gshadow` are
    the password hashes (a hash is a password to whoever cracks it), as `cat /etc/shadow`
    prints them. A database a value names may be either."""
    skip = False
    for word in args:
        if skip:
            skip = False
            continue
        if word in ("-s", "--service"):
            skip = True
            continue
        if word.startswith("-") and word != "-":
            continue
        if isinstance(word, Templated) or word.lower() in _GETENT_HASHES:
            shown = "a database a value names" if isinstance(word, Templated) else word
            raise NotRead(f"{name} {shown} prints the password hashes: not a read to keep",
                          cause="operand")
        return


def pinged(name: str, args: list[str]) -> None:
    """ping HOST goes on until someone stops it, unless a count or a deadline ends it
    (`-c 3`, `-qc3`, `-w 10`)."""
    if not any(a.startswith("-") and not a.startswith("--") and ("c" in a or "w" in a)
               for a in args):
        raise _stream(f"{name} without -c N")


def mtr(name: str, args: list[str]) -> None:
    """mtr HOST is a live screen; its report modes (`-r`, `--report`, `-j`, `--csv` ...) print
    one report and end."""
    if not any(a.split("=", 1)[0] in _MTR_REPORTS or
               a.startswith("-") and not a.startswith("--") and set(a[1:]) & set("rwjCxlp")
               for a in args):
        raise _stream(f"{name} without --report is a live screen that")


_MTR_REPORTS = frozenset("""--report --report-wide --json --csv --xml --raw --split""".split())
# a sampler's flags that take a value (the value may be a number: `pidstat -p 1234 1`)
_SAMPLER_VALUES = {"vmstat": frozenset("-S --unit -p --partition".split()),
                   "iostat": frozenset("-j -g -o -N --dec".split()),
                   "mpstat": frozenset("-P -I -N -o --dec".split()),
                   "pidstat": frozenset("-p -C -G -T --dec".split())}


def sampled(name: str, args: list[str]) -> None:
    """vmstat/iostat/mpstat/pidstat [INTERVAL [COUNT]]: an interval without a count samples
    until someone stops it (`vmstat 1`, `iostat -xz 1`); `pidstat -e PROGRAM` runs one."""
    values = _SAMPLER_VALUES[name]
    if name == "pidstat" and "-e" in args:
        raise NotRead(f"{name} -e runs a program", cause="flag")
    numbers, i = 0, 0
    while i < len(args):
        a = args[i]
        if a in values:
            i += 2
            continue
        numbers += bool(re.fullmatch(r"\d+(?:\.\d+)?", a))
        i += 1
    if numbers == 1:
        raise _stream(f"{name} with an interval and no count")


# BSD-style ps letters that take the next word as their value (`ps axo user`, `ps U postgres`)
_PS_BSD_VALUE = set("oOpUtkqgGN")


def shown_processes(name: str, args: list[str]) -> None:
    """ps reads, but the BSD `e` modifier (`ps e`, `ps auxe`, `ps eww`) prints each process's
    environment after its command line: the secrets a service was started with (a database
    password, a token from a Secret), which no redactor knows. `-e` (every process) reads."""
    taken = False  # the word is the value of the flag before it
    for word in args:
        if isinstance(word, Templated):  # `ps -o pid= -p $p`, `ps $p`: a pid, as it is read
            taken = False
            continue
        if taken:
            taken = False
            continue
        if word.startswith("--"):
            taken = "=" not in word and word not in ("--forest", "--headers", "--no-headers",
                                                      "--cumulative", "--deselect", "--help",
                                                      "--info", "--version")
            continue
        if word.startswith("-"):
            letters = word[1:]
            taken = bool(letters) and letters[-1] in "CGgOopqsTtUuNk" and not letters.isdigit()
            continue
        if word.isalpha():
            if "e" in word.split("o")[0].split("O")[0]:
                raise NotRead(f"{name} {word} prints every process's environment (its `e`), "
                              "the secrets a service was started with among it: not a read "
                              "to keep", cause="flag")
            taken = word[-1] in _PS_BSD_VALUE


def find(name: str, args: list[str]) -> None:
    """find [-H -L -P -D x -Ox] [path...] [expression]: every primary must be a reading one."""
    i = 0
    while i < len(args) and (args[i] in ("-H", "-L", "-P") or args[i].startswith("-O")
                             or args[i] == "-D"):
        i += 2 if args[i] == "-D" else 1
    while i < len(args) and not args[i].startswith("-") and args[i] not in ("(", ")", "!", ","):
        i += 1  # the paths
    while i < len(args):
        word = args[i]
        if word in FIND_VALUE or (word.startswith("-newer") and len(word) == 8):
            if i + 1 >= len(args):
                raise NotRead(f"{name}'s {word} needs a value", cause="flag")
            i += 2
        elif word in FIND_BARE:
            i += 1
        elif word in FIND_WHY:
            raise NotRead(f"{name}'s {word} {FIND_WHY[word]}", cause="flag")
        else:
            raise NotRead(f"{word} is not a read-only part of a find expression", cause="flag")


def _grep(p: Parsed, name: str) -> None:
    """A recursive grep skips the devices it finds unless `-D read` says to open them, and
    one of them under /dev is the watchdog, which opening arms. A pattern that names a setting
    holding a password (`grep requirepass redis.conf`) prints its line, the password in it,
    unless only counts, names or nothing are printed (`-c`, `-l`, `-q`) or the lines that do
    not match (`-v`)."""
    patterns = p.values("-e", "--regexp") or ([] if p.has("-f", "--file") else p.operands[:1])
    quiet = p.has("-c", "--count", "-l", "--files-with-matches", "-L", "--files-without-match",
                  "-q", "--quiet", "--silent", "-v", "--invert-match")
    asked = next((t for t in patterns if names_a_password_setting(t)), None)
    if asked is not None and not quiet:
        raise NotRead(f"{name} {asked} prints the setting that holds a password (as `redis-cli "
                      "CONFIG GET requirepass` would): not a read to keep", cause="operand")
    recursive = p.has("-r", "-R", "--recursive", "--dereference-recursive") or \
        "recurse" in p.values("-d", "--directories")
    if recursive and "read" in p.values("-D", "--devices"):
        raise NotRead(f"{name} -r -D read opens every device it finds, and opening "
                      "/dev/watchdog arms the watchdog: the host reboots unless it is fed",
                      cause="flag")


GREP = Tool(F("EFGPe:f:iyvwxcLlm:oqsbHhnTZzA:B:C:aId:D:rRUV", """extended-regexp fixed-strings
    basic-regexp perl-regexp regexp= file= ignore-case no-ignore-case word-regexp line-regexp
    null-data no-messages invert-match version help max-count= byte-offset line-number
    line-buffered with-filename no-filename label= only-matching quiet silent binary-files= text
    directories= devices= recursive dereference-recursive include= exclude= exclude-from=
    exclude-dir= files-without-match files-with-matches count initial-tab null before-context=
    after-context= context= color=? colour=? binary""", numeric=True), check=_grep)


def _iscsi_listing(p: Parsed, name: str) -> None:
    """`iscsiadm -m session|node|iface|host|fw` lists; discovery writes node records, and an
    op other than show (new, delete, update) or a login/logout changes them."""
    modes = p.values("-m", "--mode")
    if not modes or modes[-1] not in ("session", "node", "iface", "host", "fw"):
        raise NotRead(f"{name} {' '.join(modes) or '(no mode)'} is not a listing mode "
                      "(discovery writes node records)", cause="subcommand")
    ops = p.values("-o", "--op")
    if any(op != "show" for op in ops):
        raise NotRead(f"{name} --op={ops[0]} changes its records", cause="flag")
    if p.operands and p.operands != ["show"]:
        raise NotRead(f"{name} takes no operands but show", cause="operand")

# the time daemon's reports (`chronyc tracking`, `chronyc sources -v`; alone, its prompt for a
# person); its other commands step or slew the clock, or change the sources (`makestep`,
# `burst`, `add server`), and -m runs several commands given as operands
_CHRONYC_REPORT = Tool(F("av"), max_operands=0)
_CHRONYC = Tool(F("46nNcdh:p:", posix=True), bare="interactive", subcommands={
    **rows("tracking activity serverstats rtcdata smoothing manual-list", Tool(max_operands=0)),
    **rows("sources sourcestats selectdata", _CHRONYC_REPORT),
    **rows("ntpdata authdata clients", Tool(F("pk"), max_operands=1))})
# the clock's and the time zone's settings; the set-* commands change them
_TIMEDATECTL = Tool(F("Hpa", "host= machine= no-pager no-ask-password adjust-system-clock "
                     "all property= value"), bare="read", inherit=True,
                    subcommands={**rows("status show timesync-status show-timesync",
                                        Tool(max_operands=0)),
                                 "list-timezones": Tool(max_operands=0)})

HOST: dict[str, Rule] = {
    "chronyc": _CHRONYC,
    "timedatectl": _TIMEDATECTL,
    **rows("grep egrep fgrep zgrep", GREP),
    "cat": Tool(F("AbeEnstTuv", "show-all number-nonblank show-ends number squeeze-blank "
                  "show-tabs show-nonprinting")),
    "zcat": Tool(F("fqvlt", "force quiet verbose list test")),
    "ls": Tool(F("aAbBcCdDfFgGhHiI:klLmnNopqQrRsStT:uUvw:xXZ1", """all almost-all author escape
        block-size= ignore-backups color=? directory dired classify=? file-type format= full-time
        group-directories-first no-group human-readable si dereference-command-line
        dereference-command-line-symlink-to-dir hide= hyperlink=? indicator-style= inode ignore=
        kibibytes literal numeric-uid-gid hide-control-chars show-control-chars quote-name
        quoting-style= reverse recursive size sort= time= time-style= tabsize= width= context
        zero dereference""")),
    "df": Tool(F("aB:hHiklPt:Tx:v", "all block-size= human-readable si inodes local output=? "
                 "portability print-type sync no-sync total type= exclude-type=")),
    "du": Tool(F("0abB:cd:DhHklLmPsSt:xX:", """null all apparent-size block-size= bytes total
        max-depth= human-readable inodes si dereference-args dereference count-links
        no-dereference separate-dirs summarize threshold= time=? time-style= exclude=
        exclude-from= one-file-system""")),
    "head": Tool(F("c:n:qvz", "bytes= lines= quiet silent verbose zero-terminated",
                   numeric=True)),
    "tail": Tool(F("c:n:qvzs:fF", "bytes= lines= quiet silent verbose zero-terminated follow=? "
                   "retry pid= sleep-interval= max-unchanged-stats=", numeric=True),
                 follow=frozenset({"-f", "-F", "--follow"})),
    # A pager only shows what it reads. With no terminal (a plan's step) it prints the whole
    # text as cat does, so `less FILE` and `... | less` read; its log and key files do not.
    "less": Tool(F("aAbBcCdeEfFgGiIJKLmMnNqQrRsSuUVwWX~b:h:j:p:P:x:y:z:#:", """RAW-CONTROL-CHARS
        raw-control-chars chop-long-lines LINE-NUMBERS line-numbers no-init quit-if-one-screen
        ignore-case IGNORE-CASE quiet QUIET silent squeeze-blank-lines tabs= long-prompt
        quit-at-eof QUIT-AT-EOF status-column no-lessopen mouse""", why={
            "-o": "writes a log file", "-O": "writes a log file", "--log-file": "writes a log "
            "file", "--LOG-FILE": "writes a log file", "-k": "reads key bindings that can run "
            "commands", "--lesskey-file": "reads key bindings that can run commands",
            "--follow-name": "follows the file like tail -f"}), check=_less),
    "more": Tool(F("dlfpcsun:", "silent logical no-pause print-over clean-print squeeze plain "
                   "lines=", numeric=True)),
    "wc": Tool(F("clmwL", "bytes chars lines words max-line-length total=")),
    "cut": Tool(F("b:c:d:f:nsz", "bytes= characters= delimiter= fields= complement "
                  "only-delimited output-delimiter= zero-terminated")),
    "tr": Tool(F("cCdst", "complement delete squeeze-repeats truncate-set1"), max_operands=2,
               too_many="takes at most two sets"),
    "column": Tool(F("ts:o:c:xneJN:R:H:W:l:dL", "table separator= output-separator= "
                     "output-width= json table-columns= table-right= table-hide= table-name= "
                     "fillrows keep-empty-lines")),
    "base64": Tool(F("diw:", "decode ignore-garbage wrap="), max_operands=1),
    **rows("md5sum sha1sum sha224sum sha256sum sha384sum sha512sum b2sum",
           Tool(F("bctzw", "binary check tag text zero ignore-missing quiet status strict "
                  "warn"))),
    "cksum": Tool(F("a:lz", "algorithm= length= raw tag untagged zero base64 check")),
    "sum": Tool(F("rs", "sysv")),
    "sort": Tool(F("bdfgiMhnRrVk:t:uszcCmS:T:", """ignore-leading-blanks dictionary-order
        ignore-case general-numeric-sort ignore-nonprinting month-sort human-numeric-sort
        numeric-sort random-sort reverse version-sort key= field-separator= unique stable
        zero-terminated check=? merge buffer-size= temporary-directory= parallel= batch-size=
        debug sort=""", why={"-o": "writes a file", "--output": "writes a file",
                             "--compress-program": "runs a program"})),
    "uniq": Tool(F("cdDf:is:uw:z", "count repeated all-repeated=? skip-fields= ignore-case "
                   "skip-chars= unique zero-terminated check-chars= group=?", numeric=True),
                 max_operands=1, too_many="writes its second operand (the output file)"),
    "tee": Tool(F("aip", "append ignore-interrupts output-error=?"), max_operands=0,
                too_many="writes each file it names"),
    "date": Tool(F("d:f:I::r:Ru", "date= file= iso-8601=? rfc-email rfc-3339= reference= utc "
                   "universal debug resolution", why={"-s": "sets the clock",
                                                      "--set": "sets the clock"}),
                 check=_date),
    "sed": Tool(F("ne:EsruzlN:", "quiet silent expression= regexp-extended separate unbuffered "
                  "null-data line-length= posix debug sandbox", why={
                      "-i": "edits files in place", "--in-place": "edits files in place",
                      "-f": "runs a script from a file it cannot check",
                      "--file": "runs a script from a file it cannot check"}), check=_sed),
    **rows("awk gawk mawk nawk", Tool(F("F:v:e:bcCnNOPrSt", """field-separator= assign= source=
        characters-as-bytes traditional copyright use-lc-numeric non-decimal-data optimize posix
        re-interval sandbox lint=? no-optimize""", why={
        "-f": "runs a program from a file it cannot check",
        "--file": "runs a program from a file it cannot check",
        "-i": "loads a library", "--include": "loads a library", "-l": "loads an extension",
        "--load": "loads an extension", "-o": "writes a file", "--pretty-print": "writes a file",
        "-p": "writes a profile file", "--profile": "writes a profile file",
        "-d": "writes a file", "--dump-variables": "writes a file"}), check=_awk)),
    # jq has no output file, no program execution; only a file its program names is checked
    "jq": Tool(any_args=True, check=_jq),
    "yq": Tool(F("CMPe:jNrv0no:p:I:", """colors no-colors prettyPrint exit-status tojson no-doc
        raw-output verbose nul-output null-input output-format= input-format= indent=
        unwrapScalar=? expression= front-matter=""", why={
        "-i": "edits files in place", "--inplace": "edits files in place",
        "-s": "writes files", "--split-exp": "writes files"}), check=_yq),
    **rows("echo printf true false sleep test [ getconf seq nproc whoami", ANY),
    "id": Tool(F("aZgGnruz", "context group groups name real user zero")),
    "uname": Tool(F("asnrvmpio", "all kernel-name nodename kernel-release kernel-version "
                    "machine processor hardware-platform operating-system")),
    "uptime": Tool(F("ps", "pretty since")),
    "hostname": Tool(F("aAdfiIsy", "alias all-fqdns all-ip-addresses domain fqdn long "
                       "ip-address short yp nis", why={"-F": "sets the host name",
                                                       "--file": "sets the host name",
                                                       "-b": "sets the host name"}),
                     max_operands=0, too_many="NAME sets the host name"),
    "free": Tool(F("bkmghltws:c:vL", "bytes kilo mega giga tera peta kibi mebi gibi tebi pebi "
                   "human lohi total wide si seconds= count= committed line"), check=_free),
    "stat": Tool(F("Lfc:t", "dereference file-system format= printf= terse cached=")),
    "file": Tool(F("bEhiklLNnprsz0e:f:F:m:P:S", """brief mime mime-type mime-encoding
        keep-going list dereference no-dereference no-pad no-buffer preserve-date raw
        special-files uncompress uncompress-noreport exclude= exclude-quiet= files-from=
        separator= magic-file= parameter= print0 extension apple""",
                         why={"-C": "writes a compiled magic file",
                              "--compile": "writes a compiled magic file"})),
    "which": Tool(F("as", "all")),
    "basename": Tool(F("as:z", "multiple suffix= zero")),
    "dirname": Tool(F("z", "zero")),
    "realpath": Tool(F("emLPqsz", "canonicalize-existing canonicalize-missing logical physical "
                       "quiet strip no-symlinks zero relative-to= relative-base=")),
    "readlink": Tool(F("femnqsvz", "canonicalize canonicalize-existing canonicalize-missing "
                       "no-newline quiet silent verbose zero")),
    "tac": Tool(F("brs:", "before regex separator=")),
    "nl": Tool(F("b:d:f:h:i:l:n:ps:v:w:", "body-numbering= section-delimiter= "
                 "footer-numbering= header-numbering= line-increment= join-blank-lines= "
                 "number-format= no-renumber number-separator= starting-line-number= "
                 "number-width=")),
    "od": Tool(F("A:j:N:t:vw::abcdfilosx", "address-radix= skip-bytes= read-bytes= format= "
                 "output-duplicates width=? traditional endian=")),
    "hexdump": Tool(F("bcCdoxe:n:s:vL::", "canonical length= skip= no-squeezing color=?")),
    "strings": Tool(F("adn:t:e:wfoT:s:", "all data bytes= radix= encoding= print-file-name "
                      "include-all-whitespace output-separator= target=")),
    "diff": Tool(F("qscC:uU:enyW:ltTiEZbwBI:arNx:X:S:dpF:D:", """brief report-identical-files
        context=? unified=? ed normal side-by-side width= ignore-case ignore-tab-expansion
        ignore-trailing-space ignore-space-change ignore-all-space ignore-blank-lines
        ignore-matching-lines= text recursive new-file unidirectional-new-file exclude=
        exclude-from= starting-file= minimal speed-large-files strip-trailing-cr color=? label=
        suppress-common-lines show-c-function show-function-line= no-dereference expand-tabs
        initial-tab tabsize= from-file= to-file= ifdef=""", numeric=True)),
    "cmp": Tool(F("bi:ln:s", "print-bytes ignore-initial= verbose bytes= quiet silent")),
    "comm": Tool(F("123z", "check-order nocheck-order output-delimiter= total "
                   "zero-terminated")),
    "printenv": Tool(F("0", "null")),
    "env": Tool(F("0", "null"), max_operands=0,
                too_many="runs a command in a changed environment"),
    "find": find,
    # lastlog writes the record it shows: -C clears a user's last login, -S sets it to now
    "lastlog": Tool(F("b:t:u:R:", "before= time= user= root=", why={
        "-C": "clears a user's last-login record", "--clear": "clears a user's last-login "
        "record", "-S": "sets a user's last login to now", "--set": "sets a user's last login "
        "to now"}), max_operands=0, too_many="takes no operand"),
    "ps": shown_processes,
    **rows("pgrep pidof pstree last w who users lsof lsblk findmnt lscpu lsmod "
           "lspci lsusb dig nslookup host drill traceroute tracepath getenforce sestatus",
           ANY),
    "getent": getent,
    **rows("ping ping6", pinged),
    "mtr": mtr,
    **rows("vmstat iostat mpstat pidstat", sampled),
    "netstat": Tool(F("atulpnrisecoWvx46gMw", "all tcp udp listening program numeric route "
                      "interfaces statistics extend timers continuous wide numeric-hosts "
                      "numeric-ports numeric-users verbose groups raw unix"),
                    follow=frozenset({"-c", "--continuous"})),
    "ss": Tool(F("hVHnraloemipsEZzN:b460tSudwxA:OMT", """numeric resolve all listening options
        extended memory processes threads info tos cgroup summary events context contexts net=
        bpf no-header oneline ipv4 ipv6 packet tcp sctp udp dccp raw unix vsock xdp mptcp
        family= query= socket= tipc""",
                 why={"-K": "closes sockets", "--kill": "closes sockets",
                      "-D": "writes a file", "--diag": "writes a file",
                      "-F": "reads a filter file it cannot check"})),
    "sar": Tool(F("ABbdFHhI:i:j:m:n:P:pqr::Su::vWwyf:s::e::", "dev= fs= iface= human",
                  why={"-o": "saves the data to a file"}), check=_sar),
    "top": Tool(F("bcd:Hin:o:O:p:sSu:U:w::1E:e:"), check=_top),
    "dmesg": Tool(F("TtrxkuHLl:f:s:ewW", """ctime notime raw decode kernel userspace human
        color=? level= facility= buffer-size= reltime show-delta since= until= time-format=
        nopager syslog decode force-prefix file= json follow follow-new""", why={
        "-c": "clears the kernel ring buffer", "--read-clear": "clears the kernel ring buffer",
        "-C": "clears the kernel ring buffer", "--clear": "clears the kernel ring buffer",
        "-D": "turns console logging off", "-E": "turns console logging on",
        "-n": "sets the console log level", "--console-level": "sets the console log level"}),
                  follow=frozenset({"-w", "--follow", "-W", "--follow-new"})),
    "sysctl": Tool(F("aAbNneqr:Xd", "all binary names values ignore quiet pattern=",
                     why={"-w": "sets kernel parameters", "--write": "sets kernel parameters",
                          "-p": "loads and sets kernel parameters",
                          "--load": "loads and sets kernel parameters",
                          "--system": "loads and sets kernel parameters"}), check=_sysctl),
    "mount": Tool(F("lt:", "show-labels types="), max_operands=0,
                  too_many="mounts a filesystem"),
    "nvidia-smi": Tool(F("Lqxd:i:ul:", "list-gpus query xml-format display= id= query-gpu= "
                         "query-compute-apps= query-supported-clocks= format= unit loop= "
                         "loop-ms=",
                         why={"-f": "writes a file", "--filename": "writes a file",
                              "-r": "resets the GPU", "--gpu-reset": "resets the GPU",
                              "-pm": "sets persistence mode", "-pl": "sets the power limit"}),
                       max_operands=0, follow=frozenset({"-l", "--loop", "--loop-ms"})),
    "ethtool": Tool(F("ikSacglmPTe", """driver show-features show-offload statistics show-pause
        show-coalesce show-ring show-channels module-info dump-module-eeprom show-permaddr
        show-time-stamping show-eee show-fec show-priv-flags eeprom-dump""", why={
        "-s": "changes the link settings", "-K": "changes offloads", "-A": "changes pause "
        "settings", "-C": "changes coalescing", "-G": "changes ring sizes", "-L": "changes "
        "channels", "-r": "restarts negotiation", "-p": "blinks the port", "-f": "flashes "
        "firmware", "-E": "writes the EEPROM"}), max_operands=1,
                    too_many="with more than a device name changes settings"),
    "smartctl": Tool(F("axHiAcl:j::P:d:q:T:g:", "all xall health info attributes capabilities "
                       "log= json=? device= scan scan-open quietmode= tolerance= badsum= "
                       "format= identify=? get=", why={
                           "-s": "turns SMART on or off", "-t": "starts a self-test",
                           "--test": "starts a self-test", "-X": "aborts a self-test",
                           "-o": "changes offline testing", "-S": "changes attribute "
                           "autosave"}), check=_smartctl),
    "mdadm": Tool(F("DEQvbs", "detail examine query misc scan verbose brief export test "
                    "detail-platform"), check=needs("-D", "--detail", "-E", "--examine", "-Q",
                                                      "--query", what="changes arrays")),
    **rows("iptables ip6tables", Tool(F("L::S::nvxt:w::", "list=? list-rules=? numeric verbose "
                                        "exact table= wait=? line-numbers"),
                                      check=needs("-L", "--list", "-S", "--list-rules",
                                                   what="changes the firewall"))),
    "iscsiadm": Tool(F("m:P:T:p:I:r:o:n:H:", "mode= print= targetname= portal= interface= sid= "
                       "op= name= host="), check=_iscsi_listing),
    **rows("iptables-save ip6tables-save", Tool(F("ct:", "counters table=", why={
        "-M": "runs the program it names as modprobe", "--modprobe": "runs the program it "
        "names as modprobe", "-f": "writes a file", "--file": "writes a file"}),
                                                max_operands=0)),
}
# Whatever words are appended to these at run time (`xargs`), they stay read-only: no flag of
# theirs writes, runs a program, or waits for ever.
APPENDABLE = frozenset("""
grep egrep fgrep zgrep cat zcat ls wc cut stat file du df basename dirname realpath readlink
md5sum sha1sum sha256sum sha512sum echo printf id uname head ps
""".split())

