"""Where a value may be put into a step: the rules that keep a hostile value a value.

Values never reach a shell, but a value used as a whole argv word can still become an option
(`find -delete`), and a value spliced into a program's text (a `sed` or `awk` program, the
argument of `sh -c`, the remote command of `ssh`) is code. Each place a template can sit in a
step's parameters is a *sink*, and each sink takes some input types (`engine.values`):

    sink      where                                             takes
    program   argv[0] of a shell stage                          nothing: a value never picks
                                                                the program
    script    program text: sed/awk programs, `-c`/`-e`         nothing: a value is never code
              arguments of shells and interpreters, ssh's
              remote command, `watch`'s command, jq filters
    sql       the SQL text of a database client: psql -c,      every type but text
              mysql -e, clickhouse-client -q, sqlite3's SQL,
              cqlsh -e, cockroach sql -e
    argv      any other argv word                               every type but text
    promql    a Prometheus query; the PromQL/LogQL text of      every type but text
              `promtool query` and `logcli query`
    url       an HTTP url or path                               every type but text
    path      a logs path, a working directory                  name, path
    data      a SQL bound value, an HTTP body or query field,   every type
              a plugin parameter passed as data

Two kinds of check: `problems(plan)` reads the plan alone (which inputs each template reads,
and where it sits) and runs before a run starts and when a plan is validated; `argv_problem`
checks a rendered argv word just before the step runs: a word rendered from a template may not
start with `-` unless the guide wrote the `-` itself (`--namespace={{ inputs.ns }}`), and
carries no control character; a `bash` step's `args` are checked so too, as its line expands
each as a word of a command (`git log $REF`), though a plan may bind them to any type (the
plugin refuses a value that is not one word). Values bound by earlier steps (`vars.*`,
`steps.*`) have no declared type, so the rendered check is what stands between them and an
option.

A value in SQL text (`psql -c "... WHERE ns = '{{ inputs.ns }}'"`) is spliced into code that
a database parses: inside a quoted literal it may not hold that quote or a backslash (which
would end the literal); anywhere else it must be one number or word (letters, digits, `_`,
`.`). Checked on the values a template reads, like a URL's, for every value: a path, a regex,
a URL or an earlier step's output can hold a quote (`sql_value_problem`).

A value in the PromQL or LogQL text of `promtool query` or `logcli query` is checked so too,
as the prometheus plugin's query keeps a value in its place (`engine.promql`): inside a quoted
string (a label matcher's value, a line filter) it holds neither that quote nor a backslash;
anywhere else it is one number or duration (`query_value_problem`).

It does not check a value against its type (`engine.values`) or decide what a command does to
the world (the read-only table).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from engine.plan import InputSpec, Plan, Step
from engine.templating import is_template, references
from engine.values import control_characters, shown

Sink = Literal["program", "script", "sql", "argv", "promql", "url", "path", "data"]

_REFUSES: dict[Sink, frozenset[str]] = {
    "program": frozenset({"*"}),
    "script": frozenset({"*"}),
    "sql": frozenset({"text"}),
    "argv": frozenset({"text"}),
    "promql": frozenset({"text"}),
    "url": frozenset({"text"}),
    "path": frozenset({"text", "integer", "number", "boolean", "duration", "enum", "regex",
                       "url"}),
    "data": frozenset(),
}

_SHELLS = frozenset("sh bash zsh dash ksh mksh ash fish csh tcsh su busybox".split())
_EVAL_FLAGS: dict[str, frozenset[str]] = {
    **{s: frozenset({"-c"}) for s in _SHELLS},
    **{p: frozenset({"-c"}) for p in ("python", "python2", "python3")},
    "perl": frozenset({"-e", "-E"}), "ruby": frozenset({"-e"}),
    "node": frozenset({"-e", "-p", "--eval", "--print"}), "php": frozenset({"-r"}),
    "lua": frozenset({"-e"}), "pwsh": frozenset({"-c", "-Command", "-command"}),
    "powershell": frozenset({"-c", "-Command", "-command"}),
}
_PROGRAM_FIRST = {  # tool -> (flags whose value is a program, flags naming a program file,
    #                     flags that take a value that is data)
    "sed": (frozenset({"-e", "--expression"}), frozenset({"-f", "--file"}),
            frozenset({"-l", "--line-length"})),
    **{awk: (frozenset({"-e", "--source"}), frozenset({"-f", "--file"}),
             frozenset({"-F", "-v", "--field-separator", "--assign"}))
       for awk in ("awk", "gawk", "mawk", "nawk", "busybox-awk")},
    "jq": (frozenset(), frozenset({"-f", "--from-file"}),
           frozenset({"--arg", "--argjson", "--slurpfile", "--rawfile", "--indent", "-L"})),
    "yq": (frozenset(), frozenset({"--from-file"}), frozenset({"--arg", "-o", "-p",
                                                               "--output-format"})),
}
_TWO_VALUES = {"--arg": 2, "--argjson": 2, "--slurpfile": 2, "--rawfile": 2}
"""jq's options that take a name and a value."""
_SQL_FLAGS = {  # database client -> flags whose value is SQL text the server parses
    **{c: frozenset({"-c", "--command"}) for c in ("psql", "gitlab-psql")},
    **{c: frozenset({"-e", "--execute"}) for c in ("mysql", "mariadb")},
    "clickhouse-client": frozenset({"-q", "--query"}),
    "sqlite3": frozenset({"-cmd"}),
    **{c: frozenset({"-e", "--execute"}) for c in ("cqlsh", "cockroach")},  # CQL, `sql -e`
}
_WRAPPERS = {  # tool -> flags that take a value, before the wrapped command
    "sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-U", "-r", "-t"}),
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}),
    "nice": frozenset({"-n", "--adjustment"}), "nohup": frozenset(), "time": frozenset(),
    "stdbuf": frozenset({"-i", "-o", "-e"}), "ionice": frozenset({"-c", "-n", "-p"}),
    "chroot": frozenset(), "env": frozenset({"-u", "--unset", "-C", "--chdir"}),
    "xargs": frozenset({"-n", "-I", "-P", "-L", "-d", "-E", "-s", "-a", "--max-args",
                        "--max-procs", "--delimiter", "--arg-file", "--eof", "-i"}),
    "nsenter": frozenset({"-t", "--target"}),
}


def argv_sinks(argv: Sequence[str]) -> list[Sink]:
    """The sink of each word of one argv (its words as the plan holds them: templates)."""
    sinks: list[Sink] = ["argv"] * len(argv)
    _classify(list(argv), 0, sinks)
    return sinks


def _tool(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _classify(argv: list[str], start: int, sinks: list[Sink]) -> None:
    """Mark sinks[start:] for the command argv[start:] (recursing into wrapped commands)."""
    if start >= len(argv):
        return
    sinks[start] = "program"
    tool = _tool(argv[start])
    i = start + 1
    if tool in _WRAPPERS:
        takes_value = _WRAPPERS[tool]
        while i < len(argv) and argv[i].startswith("-"):
            if argv[i] == "--":
                i += 1
                break
            i += 2 if argv[i] in takes_value else 1
        if tool == "timeout" and i < len(argv):
            i += 1  # the duration
        if tool == "chroot" and i < len(argv):
            i += 1  # the new root
        if tool == "env":
            while i < len(argv) and "=" in argv[i] and not argv[i].startswith("="):
                i += 1
        _classify(argv, i, sinks)
        return
    if tool in _EVAL_FLAGS:
        flags = _EVAL_FLAGS[tool]
        for j in range(i, len(argv)):
            word = argv[j]
            bundled = word.startswith("-") and not word.startswith("--") and \
                len(word) > 2 and any(f"-{c}" in flags for c in word[1:])
            if (word in flags or bundled) and j + 1 < len(argv):
                sinks[j + 1] = "script"
                break
        return
    if tool in _SQL_FLAGS:
        _sql_text(argv, i, tool, sinks)
        return
    if tool in _PROGRAM_FIRST:
        program_flags, file_flags, value_flags = _PROGRAM_FIRST[tool]
        named_program = False
        positional: list[int] = []
        j = i
        while j < len(argv):
            word = argv[j]
            flag, eq, _ = word.partition("=")
            if word == "--":
                positional += range(j + 1, len(argv))
                break
            if word.startswith("-") and len(word) > 1:
                if flag in program_flags:
                    named_program = True
                    if not eq and j + 1 < len(argv):
                        sinks[j + 1] = "script"
                        j += 1
                    else:
                        sinks[j] = "script"
                elif flag in file_flags:
                    named_program = True
                    if not eq:
                        j += 1
                elif flag in value_flags and not eq:
                    j += _TWO_VALUES.get(flag, 1)
                elif tool == "sed" and word.startswith("-") and not word.startswith("--") and \
                        word[-1:] == "e" and j + 1 < len(argv):  # bundled `-ne SCRIPT`
                    named_program = True
                    sinks[j + 1] = "script"
                    j += 1
                j += 1
                continue
            positional.append(j)
            j += 1
        if not named_program and positional:
            sinks[positional[0]] = "script"
        return
    if tool in _QUERY_TOOLS:
        _query_text(argv, i, tool, sinks)
        return
    if tool == "ssh":
        _ssh(argv, i, sinks)
        return
    if tool == "watch":
        while i < len(argv) and argv[i].startswith("-"):
            i += 2 if argv[i] in ("-n", "--interval", "-q", "--equexit") else 1
        for j in range(i, len(argv)):
            sinks[j] = "script"  # watch hands its command to `sh -c`
        return
    if tool in ("kubectl", "oc", "docker", "podman", "crictl", "nerdctl") and "--" in argv[i:]:
        inner = argv.index("--", i) + 1
        _classify(argv, inner, sinks)
        return
    if tool == "find":
        for j in range(i, len(argv)):
            if argv[j] in ("-exec", "-execdir", "-ok", "-okdir") and j + 1 < len(argv):
                end = next((k for k in range(j + 1, len(argv)) if argv[k] in (";", "+")),
                           len(argv))
                sub: list[Sink] = ["argv"] * (end - j - 1)
                _classify(argv[j + 1 : end], 0, sub)
                sinks[j + 1 : end] = sub


def _sql_text(argv: list[str], i: int, tool: str, sinks: list[Sink]) -> None:
    """Mark the SQL text of a database client: a flag's value (`-c SQL`, `--command=SQL`,
    `-cSQL`), and sqlite3's operands after the database file."""
    flags = _SQL_FLAGS[tool]
    operands = 0
    j = i
    while j < len(argv):
        word = argv[j]
        flag = word.partition("=")[0]
        if word in flags and j + 1 < len(argv):
            sinks[j + 1] = "sql"
            j += 1
        elif flag in flags and "=" in word or \
                word[:2] in flags and len(word) > 2 and not word.startswith("--"):
            sinks[j] = "sql"
        elif not word.startswith("-"):
            operands += 1
            if tool == "sqlite3" and operands > 1:
                sinks[j] = "sql"
        j += 1


_QUERY_TOOLS = {  # tool -> (its query subcommands, how many operands come before the query)
    "promtool": {"query instant": 1, "query range": 1, "query series": 1},
    "logcli": {"query": 0, "instant-query": 0, "series": 0},
}
_QUERY_VALUE_FLAGS = frozenset(  # flags of promtool query and logcli whose value is a word apart
    "--time --start --end --step --header -o --format --http.config.file --addr --username "
    "--password --org-id --limit --since --from --to --interval --batch --output -z "
    "--timezone --exclude-label --include-label --labels-length --parallel-duration "
    "--parallel-max-workers --part-path-prefix --ca-cert --cert --key --tls-server-name "
    "--bearer-token --bearer-token-file --retries --delay-for --max-backoff --min-backoff "
    "--auth-header --proxy-url --query-timeout --output-timestamp-format".split())
_QUERY_FLAGS = frozenset({"--match"})  # a flag whose value is a selector: query text


def _query_text(argv: list[str], i: int, tool: str, sinks: list[Sink]) -> None:
    """Mark the PromQL/LogQL text of `promtool query instant|range|series` and `logcli
    query|instant-query|series`: the operands after the server's URL, and `--match`'s value."""
    words = 2 if tool == "promtool" else 1
    before = _QUERY_TOOLS[tool].get(" ".join(argv[i : i + words]))
    if before is None:
        return
    operands = 0
    j = i + words
    while j < len(argv):
        word = argv[j]
        flag, eq, _ = word.partition("=")
        if flag in _QUERY_FLAGS:
            if eq or j + 1 < len(argv):
                sinks[j if eq else j + 1] = "promql"
            j += 1 if eq else 2
            continue
        if word.startswith("-"):
            j += 2 if flag in _QUERY_VALUE_FLAGS and not eq else 1
            continue
        if operands >= before:
            sinks[j] = "promql"
        operands += 1
        j += 1


_SSH_VALUE_FLAGS = frozenset("-b -c -D -E -e -F -I -i -J -L -l -m -O -o -p -Q -R -S -W -w".split())


def _ssh(argv: list[str], i: int, sinks: list[Sink]) -> None:
    """ssh HOST COMMAND...: the remote command is joined with spaces and run by a shell."""
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in _SSH_VALUE_FLAGS else 1
    for j in range(i + 1, len(argv)):
        sinks[j] = "script"


def param_sinks(plugin: str | None, params: Mapping[str, Any]) -> Iterator[tuple[str, str, Sink]]:
    """(where, template string, sink) for every string in a step's parameters."""
    for key in sorted(params):
        value = params[key]
        if plugin == "shell" and key == "pipeline" and isinstance(value, list):
            for s, stage in enumerate(value):
                if not isinstance(stage, list):
                    continue
                words = [w if isinstance(w, str) else "" for w in stage]
                for w, (word, sink) in enumerate(zip(words, argv_sinks(words))):
                    yield f"pipeline[{s}][{w}]", word, sink
            continue
        sink = _sink_of(plugin, key)
        yield from ((where, text, sink) for where, text in _strings(key, value))


def _sink_of(plugin: str | None, key: str) -> Sink:
    if plugin == "shell":
        return "path" if key == "cwd" else "script" if key == "stdin" else "data"
    if plugin == "prometheus" and key == "query":
        return "promql"
    if plugin == "http" and key in ("url", "path"):
        return "url"
    if plugin == "logs" and key in ("path", "paths", "file", "files", "glob"):
        return "path"
    if plugin == "logs" and key == "journal_unit":
        return "argv"
    if key in ("cwd", "ca_file"):
        return "path"
    if plugin == "sql" and key == "query":
        return "script"
    return "data"


def _strings(where: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(f"{where}[{i}]", v)
    elif isinstance(value, dict):
        for k in sorted(value):
            yield from _strings(f"{where}.{k}", value[k])


@dataclass(frozen=True, slots=True)
class Misplaced:
    """A template that puts a value where its type may not go."""

    step: str
    where: str
    message: str
    hint: str


def problems(plan: Plan) -> list[Misplaced]:
    """Every template in the plan that puts a value somewhere its type may not go."""
    specs = {s.name: s for s in plan.inputs}
    found: list[Misplaced] = []
    for step in plan.steps:
        found += step_problems(step, specs)
    return found


def step_problems(step: Step, specs: Mapping[str, InputSpec]) -> list[Misplaced]:
    found: list[Misplaced] = []
    if not any(is_template(text) for _, text in _strings("", step.params)):
        return found  # most steps are literal: no sinks to work out (asked twice per step)
    for where, text, sink in param_sinks(step.plugin, step.params):
        if not is_template(text):
            continue
        refused = _REFUSES[sink]
        if "*" in refused:
            what = "the program to run" if sink == "program" else "program text"
            if step.plugin == "sql":
                what = "SQL text"
            found.append(Misplaced(
                step.id, where, f"{where} puts a value into {what}: a value must never become "
                "code",
                "Pass the value as its own argument (grep -F VALUE, awk -v name=VALUE, jq --arg "
                "name VALUE), or make this a manual step"))
            continue
        for ref in sorted(_input_refs(text)):
            spec = specs.get(ref)
            if spec is not None and spec.type in refused:
                found.append(Misplaced(
                    step.id, where, f"input {ref!r} is {spec.type} but {where} is "
                    f"{_SINK_WORDS[sink]}", _HINTS[sink]))
    return found


_SINK_WORDS: dict[Sink, str] = {
    "sql": "SQL text", "argv": "a command-line argument", "promql": "PromQL text",
    "url": "part of a URL", "path": "a path", "data": "data", "program": "the program",
    "script": "program text",
}
_HINTS: dict[Sink, str] = {
    "argv": "Free text is only passed as data; give the input a narrower type (name, path, "
            "integer, enum, ...)",
    "sql": "Free text is only passed as data: use the sql plugin (a bound value), or give "
           "the input a narrower type (name, integer, enum)",
    "promql": "Give the input a narrower type (name, integer, duration, ...)",
    "url": "Give the input a narrower type (name, integer, enum, ...)",
    "path": "Declare the input as `type: path` (with `roots`) or `type: name`",
    "data": "", "program": "", "script": "",
}


def step_inputs(step: Step) -> set[str]:
    """The names of the inputs a step's parameters read."""
    return {ref for _, text, _ in param_sinks(step.plugin, step.params) if is_template(text)
            for ref in _input_refs(text)}


def _input_refs(text: str) -> set[str]:
    try:
        refs = references(text)
    except Exception:  # a template that does not parse is the validator's to report
        return set()
    return {r.split(".")[1] for r in refs if r.startswith("inputs.") and r.count(".") >= 1}


def argv_problem(template: str, rendered: str) -> str | None:
    """Why a rendered argv word may not be passed, or None. Only words that were templates
    are checked: the guide's own words are the guide's."""
    if not is_template(template):
        return None
    if rendered.startswith("-") and not template.startswith("-"):
        return (f"the value {shown(rendered)} starts with '-', so the command would read it "
                "as an option")
    bad = control_characters(rendered)
    if bad:
        return f"the value {shown(rendered)} contains the control character {shown(bad[0])}"
    return None


def rendered_problem(plugin: str | None, templates: Mapping[str, Any],
                     rendered: Mapping[str, Any],
                     memory: Mapping[str, Any] | None = None) -> str | None:
    """The first rendered argv word that may not be passed (see `argv_problem` and
    `url_value_problem`), or None.

    Sinks are read from the templates, never from the rendered values: a value that renders
    to `--` must not change how the words after it are read."""
    values = {where: text for where, text, _ in param_sinks(plugin, rendered)}
    for where, template, sink in param_sinks(plugin, templates):
        if plugin == "bash" and where.startswith("args."):
            sink = "argv"  # `git log $REF`: the line expands the value as a word of a command
        if sink not in ("argv", "path", "sql") and not (sink == "promql" and plugin == "shell"):
            continue  # (the prometheus plugin's query is guarded by its own filter)
        value = values.get(where)
        if value is None:
            continue
        problem = argv_problem(template, value) or (
            url_value_problem(template, memory) if memory is not None else None) or (
            sql_value_problem(template, memory) if memory is not None and sink == "sql"
            else None) or (
            query_value_problem(template, memory) if memory is not None and sink == "promql"
            else None)
        if problem:
            return f"{where}: {problem}"
    return None


_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_URL_BREAKERS = ("/", "?", "#", "@", "\\", "..", "%")


def url_value_problem(template: str, memory: Mapping[str, Any]) -> str | None:
    """A value put into a URL the guide wrote (`curl "https://api/v1/items/$ID"`) may not add
    a path segment, a query, a fragment or a user: it must stay within the place it was put.
    Only words whose own text starts with `scheme://` are URLs here."""
    if not is_template(template) or not _URL_START.match(template):
        return None
    for ref in sorted(_refs(template)):
        value = _lookup(memory, ref)
        if value is None:
            continue
        text = str(value)
        bad = next((b for b in _URL_BREAKERS if b in text), None)
        if bad is not None:
            return (f"the value {shown(text)} of {ref} would change the URL it is put into "
                    f"(it contains {bad!r})")
    return None


_SQL_WORD = re.compile(r"[A-Za-z0-9_.]+")


def sql_value_problem(template: str, memory: Mapping[str, Any]) -> str | None:
    """A value put into SQL text may not change the SQL: inside a quoted literal or name it
    holds neither that quote nor a backslash; elsewhere it is one number or word."""
    return _spliced_value_problem(template, memory, "SQL text", _sql_outside)


def _sql_outside(text: str) -> str | None:
    bad = next((c for c in text if not _SQL_WORD.fullmatch(c)), None)
    if bad is None:
        return None
    return ("would change the SQL it is put into: outside a quoted literal a value is one "
            f"number or word, and it holds {bad!r}")


_QUERY_WORD = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"  # a number
                         r"|-?(?:\d+(?:ms|s|m|h|d|w|y))+")  # a duration, an offset


def query_value_problem(template: str, memory: Mapping[str, Any]) -> str | None:
    """A value put into PromQL or LogQL text may not change the query: inside a quoted string
    it holds neither that quote nor a backslash; elsewhere it is one number or duration."""
    return _spliced_value_problem(template, memory, "a query's text", _query_outside)


def _query_outside(text: str) -> str | None:
    if _QUERY_WORD.fullmatch(text):
        return None
    return ("would change the query it is put into: outside a quoted string a value is one "
            "number or duration")


def _spliced_value_problem(template: str, memory: Mapping[str, Any], language: str,
                           outside: Callable[[str], str | None]) -> str | None:
    """The first value of `template` that would leave its place in `language` text: out of
    the quoted string it sits in (by that quote or a backslash), or, outside any, what
    `outside` says of it."""
    for expression, quote in _sql_places(template):
        for ref in sorted(_refs(expression)):
            value = _lookup(memory, ref)
            if value is None:
                continue
            text = str(value)
            bad = next((c for c in (quote, "\\") if c in text), None) if quote else None
            if bad is not None:
                return (f"the value {shown(text)} of {ref} would end the {quote}...{quote} "
                        f"it sits in, in {language} (it holds {bad!r})")
            problem = None if quote else outside(text)
            if problem is not None:
                return f"the value {shown(text)} of {ref} {problem}"
    return None


def _sql_places(template: str) -> Iterator[tuple[str, str]]:
    """(template expression, the quote it sits in or "") for each `{{ }}` or `{% %}` of a
    SQL text; a `{% %}` block counts as outside any quote (the stricter place)."""
    quote = ""
    i, n = 0, len(template)
    while i < n:
        if template.startswith(("{{", "{%"), i):
            close = "}}" if template[i + 1] == "{" else "%}"
            end = template.find(close, i + 2)
            end = n if end < 0 else end + 2
            yield template[i:end], quote if close == "}}" else ""
            i = end
            continue
        c = template[i]
        if not quote and c in "'\"`":
            quote = c
        elif quote and c == quote:
            if template.startswith(quote * 2, i):
                i += 1
            else:
                quote = ""
        i += 1


def _refs(text: str) -> set[str]:
    try:
        return references(text)
    except Exception:  # a template that does not parse is the validator's to report
        return set()


def _lookup(memory: Mapping[str, Any], dotted: str) -> Any:
    node: Any = memory
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, (str, int, float)) else None
