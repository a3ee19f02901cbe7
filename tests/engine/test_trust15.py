"""Trust, session 15: words as bash passes them, devices reached another way, secrets in colour.

1. The bash reader took any word it could not read as one literal piece for a value: a flag or
   a path only quoted in parts (`find . '-del'ete`, `curl "-o"/tmp/x URL`, `git log
   '--output'=/tmp/x`), written as an ANSI-C string (`find . $'-delete'`, `cat
   $'/dev/watch\\x64og'`), or a flag with a value after it in one quoted word (`curl
   "-o$X" URL`, `git log "--output=$X"`, `find . "-del$X"`) was an ungated read: bash passes
   `-delete`, `-o/tmp/x`, `--output=...`. A quoted redirection target (`cat <
   '/dev/watchdog'`) and a loop's quoted words were not seen as the watchdog either. A word is
   now read as bash passes it: its quotes and escapes taken off, what expands kept as written
   (a value still).
2. Only a path that started at / was checked for the devices that act when opened: `cat
   ../../../../dev/watchdog` (relative to wherever the step runs), `cat dev/watchdog`, `cat
   /proc/1/root/dev/watchdog` (the same file through another root), `cat /host/dev/watchdog`
   (a host's /dev mounted in a container), `cat ../../proc/kmsg` were reads. A path is judged
   by each of its tails now. Reading /dev/port (the machine's I/O ports) or /dev/mem, /dev/kmem
   (physical memory, device registers included: a register can act when read) was a read too.
3. `grep --color=always -E '[0-9]+' app.env` wrapped each run of digits in a password in
   colour codes: the pieces between them were each shorter than any piece the redactor masks,
   and the password was left whole on a terminal. A terminal's control sequence, a zero-width
   or a direction-control character between two characters of a secret is looked through, as
   a line break is.
4. SQL that calls an extension's function that acts was a read: `SELECT
   heap_force_kill(...)` (pg_surgery: marks tuples dead, in a READ ONLY transaction too),
   `pg_buffercache_evict(...)`, `pg_stat_kcache_reset()`, `pg_qualstats_reset()`, a newer
   server's `pg_stat_reset_backend_stats(...)`: the table named the server's own functions
   only. A function whose name holds a word that says it acts (reset, evict, kill, drop,
   create, ...) is not a read, whoever defines it.
5. `awk 'BEGIN { ARGV[1] = "/dev/watchdog" } { print }' f` was a read: the program, not the
   command line, chose the file awk opened (also `ARGV[ARGC++] = ...`, `split(s, ARGV)`). A
   program that uses ARGV or ARGC is not read-only.

"""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
from pathlib import Path

import pytest

from engine import files
from engine.compile import compile_guide
from engine.datasources import MASK, Redactor
from engine.effects import classify, powershell_verdict, step_verdict
from engine.effects.bash import bash_verdict
from engine.effects.sql import sql_problem
from engine.guide import parse_guide
from tests.engine.test_bad_files import TRIAGE, assert_one_line_bad_input, mendflow
from tests.support.verdicts import compiled, ungated_commands

# -- 1. a word is what bash passes, not how it was quoted -------------------------------------

QUOTED_IN_PARTS = [
    ("find . '-del'ete", "deletes files"), ("find . $'-delete'", "deletes files"),
    ("find . \"-del$X\"", "find expression"), ("curl \"-o\"/tmp/x http://x", "writes a file"),
    ("curl '-o'/tmp/x http://x", "writes a file"), ("curl \"-o$X\" http://x", "writes a file"),
    ("git log '--output'=/tmp/x", "writes a file"), ("git log \"--output=$X\"", "writes a file"),
    ("cat $'/dev/watchdog'", "arms the watchdog"),
    ("cat $'/dev/watch\\x64og'", "arms the watchdog"),
    ("cat \"/dev/watch\"\"dog\"", "arms the watchdog"), ("cat /dev/wat''chdog", "arms"),
    ("cat < '/dev/watchdog'", "arms the watchdog"), ("cat < \"/dev/watch\"dog", "arms"),
    ("for f in \"/dev/watch\"dog; do cat $f; done", "arms the watchdog"),
]


@pytest.mark.parametrize(("line", "said"), QUOTED_IN_PARTS)
def test_a_flag_or_path_quoted_in_parts_is_what_bash_passes(line: str, said: str) -> None:
    found = bash_verdict(line)
    assert found.effect == "mutate" and said in found.reason, (line, found)
    assert ungated_commands(compiled("bash", line)) == [], line


@pytest.mark.parametrize("line", [
    "ls {a,b}", "grep \"$X\" file", "ls > \"/dev/null\"", "'kubectl' get pods",
    "kubectl get pods -o jsonpath={.items}", "xargs -I{} echo {}", "cat \"/var/log/x\"'.log'",
])
def test_quoted_reads_stay_reads(line: str) -> None:
    assert bash_verdict(line).read, line


# -- 2. a device reached by a relative path or another root ------------------------------------

ACTS = [
    ("cat ../../../../../../dev/watchdog", "arms the watchdog"),
    ("cat dev/watchdog", "arms the watchdog"),
    ("cat /proc/1/root/dev/watchdog", "arms the watchdog"),
    ("tail -c 1 /proc/self/root/dev/watchdog0", "arms the watchdog"),
    ("cat /host/dev/watchdog", "arms the watchdog"),
    ("cat ../../../proc/kmsg", "takes what it reads away"),
    ("head -c 16 /dev/port", "I/O ports or physical memory"),
    ("cat /dev/mem", "I/O ports or physical memory"),
    ("cat /dev/kmem", "I/O ports or physical memory"),
]


@pytest.mark.parametrize(("line", "said"), ACTS)
def test_a_device_reached_another_way_is_not_a_read(line: str, said: str) -> None:
    found = classify(shlex.split(line))
    assert found.effect == "mutate" and said in found.reason, (line, found)
    assert ungated_commands(compiled("argv", line)) == [], line


@pytest.mark.parametrize("line", ["cat ../../dev/watch*", "cat /*/dev/watch?og"])
def test_a_glob_that_reaches_one_is_not_a_read(line: str) -> None:
    assert "arms the watchdog" in bash_verdict(line).reason, line


@pytest.mark.parametrize("line", [
    "ls -l /dev/watchdog", "grep x logs/*", "cat /var/log/*/*.log", "cat /dev/memory-stats",
    "cat ../logs/app.log", "cat /proc/1/root/etc/os-release",
])
def test_other_paths_stay_reads(line: str) -> None:
    assert bash_verdict(line).read, line


# -- 3. a secret cut by colour codes --------------------------------------------------------------

def test_a_secret_grep_coloured_in_pieces_is_masked(tmp_path: Path) -> None:
    secret = "Sup3r-S3cret42Pa55"
    env = tmp_path / "app.env"
    env.write_text(f"DB_PASSWORD={secret}\n")
    out = subprocess.run(["grep", "--color=always", "-E", "[0-9]+", str(env)],
                         capture_output=True, check=True).stdout
    assert b"\x1b[" in out
    redactor = Redactor([secret])
    for shown in (redactor.redact(out.decode()), redactor.redact_bytes(out).decode()):
        visible = shown.replace("\x1b[01;31m\x1b[K", "").replace("\x1b[m\x1b[K", "")
        assert secret not in visible and "Sup" not in visible and MASK in shown, shown


@pytest.mark.parametrize("between", ["\u200b", "\u2066", "\x1b[0m", "\x1b]0;title\x07"])
def test_a_secret_split_by_an_invisible_character_is_masked(between: str) -> None:
    secret = "Sup3r-S3cret42Pa55"
    shown = Redactor([secret]).redact(f"pw={secret[:9]}{between}{secret[9:]} ok")
    assert "Sup3r" not in shown and "Pa55" not in shown and shown.endswith(" ok"), shown


def test_colour_around_other_text_stays() -> None:
    text = "\x1b[1mready\x1b[0m 12\x1b[0m34 \u200bok"
    assert Redactor(["Sup3r-S3cret42Pa55"]).redact(text) == text


# -- 4. a function an extension adds that acts ----------------------------------------------------

@pytest.mark.parametrize("query", [
    "SELECT heap_force_kill('t'::regclass, ARRAY['(0,1)'::tid])",
    "select heap_force_freeze('t'::regclass, array['(0,1)'::tid])",
    "SELECT pg_buffercache_evict(42)", "SELECT pg_buffercache_evict_all()",
    "SELECT pg_stat_kcache_reset()", "SELECT public.pg_qualstats_reset()",
    "SELECT pg_stat_reset_backend_stats(pg_backend_pid())", "SELECT \"pg_stat_monitor_reset\"()",
    "SELECT pg_wait_sampling_reset_profile()",
])
def test_an_extensions_function_that_acts_is_not_a_read(query: str) -> None:
    problem = sql_problem(query)
    assert problem is not None and "acts on the server" in problem, query
    found = classify(["psql", "-c", query])
    assert found.effect == "mutate", query


@pytest.mark.parametrize("query", [
    "SELECT * FROM pg_stat_activity", "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()",
    "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'",
    "SELECT pg_size_pretty(pg_database_size(current_database()))",
    "SELECT jsonb_set(doc, '{a}', '1') FROM t", "SELECT * FROM pg_stat_statements LIMIT 5",
])
def test_reading_functions_stay_reads(query: str) -> None:
    assert sql_problem(query) is None, query


# -- 5. awk choosing its own files ----------------------------------------------------------------

@pytest.mark.parametrize("program", [
    'BEGIN { ARGV[1] = "/dev/watchdog" } { print }', 'BEGIN { ARGV[ARGC++] = "/dev/mem" } 1',
    'BEGIN { split("/dev/watchdog", ARGV) } { print }',
])
def test_awk_setting_its_own_files_is_not_a_read(program: str) -> None:
    found = classify(["awk", program, "f"])
    assert found.effect == "mutate" and "files awk opens" in found.reason, program


def test_awk_printing_fields_stays_a_read() -> None:
    assert classify(["awk", "{ print FILENAME, $1 }", "f"]).read


# -- 6. a server that cannot listen ---------------------------------------------------------------

def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "guides").mkdir(exist_ok=True)
    return mendflow("serve", "--guides", str(tmp_path / "guides"), *args, tmp=tmp_path,
                    env={"MENDFLOW_API_TOKENS": "t:viewer:tok-0123456789abcdef0123"})


@pytest.mark.parametrize("args", [["--port", "99999"], ["--port", "-1"], ["--port", "0"],
                                  ["--host", "999.1.1.1", "--port", "18081"]])
def test_a_port_or_host_that_cannot_be_listened_on_is_bad_input(tmp_path: Path,
                                                                 args: list[str]) -> None:
    proc = _serve(tmp_path, *args)
    assert_one_line_bad_input(proc)
    assert args[0] in proc.stderr, proc.stderr


def test_a_port_in_use_is_bad_input_not_escalate(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _serve(tmp_path, "--host", "127.0.0.1", "--port", str(port))
    assert_one_line_bad_input(proc)
    assert f"127.0.0.1:{port}" in proc.stderr and "in use" in proc.stderr, proc.stderr


# -- 7. a file named in the folder a `cd` went to -------------------------------------------------

@pytest.mark.parametrize("line", ["cd /dev && cat watchdog", "cd /dev; head -c1 port",
                                  "pushd /proc && cat kmsg", "cd / && cd dev && cat < watchdog",
                                  "cd /dev/char && cat 10:130"])
def test_a_device_named_in_the_folder_a_cd_went_to_is_not_a_read(line: str) -> None:
    found = bash_verdict(line)
    assert found.effect == "mutate" and found.reason.startswith(("opening", "reading")), line


@pytest.mark.parametrize("block", ["cd /dev\ncat watchdog", "cd /\ncd dev\nhead -c1 port",
                                   "cd /dev\ncat watch* | head"])
def test_a_step_that_runs_in_dev_gets_no_device_unasked(block: str) -> None:
    plan = compile_guide(parse_guide(f"# T\n\n## Diagnosis\n\n```bash\n{block}\n```\n",
                                     path="g.md"), known_plugins={"shell", "bash"})
    steps = [s for s in plan.steps if s.plugin in ("shell", "bash")]
    assert steps and all(s.mutating for s in steps if s.params.get("cwd") == "/dev"), steps
    assert step_verdict("shell", {"pipeline": [["cat", "watchdog"]], "cwd": "/dev"}).effect \
        == "mutate"


@pytest.mark.parametrize("line", ["cd /var/log && cat syslog", "cd /dev && ls -l watchdog",
                                  "cd /var/log && grep -r x ."])
def test_reads_in_another_folder_stay_reads(line: str) -> None:
    assert bash_verdict(line).read, line


# -- 8. a string that is not text -----------------------------------------------------------------

@pytest.mark.parametrize("doc", ['{"labels": {"instance": "\\ud800"}}',
                                 '{"labels": {"\\udc00x": "x"}}', '["a", "\\udbff\\u0041"]'])
def test_a_lone_surrogate_is_bad_json(doc: str) -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        files.loads(doc)
    assert "surrogate" in caught.value.msg
    with pytest.raises(json.JSONDecodeError):
        files.loads_strict(doc.encode())


def test_a_pair_and_an_escaped_backslash_stay_text() -> None:
    assert files.loads('["\\ud83d\\ude00", "a\\\\ud800"]') == ["\U0001F600", "a\\ud800"]


@pytest.mark.parametrize("where", ["label", "label-name", "plan"])
def test_a_lone_surrogate_is_a_one_line_error(tmp_path: Path, where: str) -> None:
    if where == "plan":
        compiled_plan = mendflow("compile", str(TRIAGE), "-o", str(tmp_path / "out"),
                                 tmp=tmp_path)
        assert compiled_plan.returncode == 0, compiled_plan.stderr
        (written,) = (tmp_path / "out").glob("*.plan.json")
        doc = json.loads(written.read_text())
        doc["title"] = "x\ud800"
        (tmp_path / "bad.plan.json").write_text(json.dumps(doc))
        proc = mendflow("run", str(tmp_path / "bad.plan.json"), "--dry-run", tmp=tmp_path)
    else:
        alert = tmp_path / "alert.json"
        alert.write_text('{"labels": {"instance": "\\ud800"}}' if where == "label" else
                         '{"labels": {"\\ud800": "x", "instance": "a"}}')
        proc = mendflow("run", str(TRIAGE), "--alert", str(alert), "--dry-run", tmp=tmp_path)
    assert_one_line_bad_input(proc)
    assert "surrogate" in proc.stderr, proc.stderr


# -- 9. PowerShell opening a device ---------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "Get-Content /dev/watchdog", "gc /proc/1/root/dev/watchdog", "Get-Content -Path:/dev/watchdog",
    "Get-Content -LiteralPath /dev/port", 'Get-Content "/dev/watch`dog"',
    "Get-Content '/dev/watchdog' -Tail 1", "Get-Content ../../../../dev/watchdog",
])
def test_powershell_opening_a_device_is_not_a_read(line: str) -> None:
    found = powershell_verdict(line)
    assert found.effect == "mutate" and found.reason.startswith(("opening", "reading")), line


@pytest.mark.parametrize("line", [
    "Get-Content C:\\logs\\app.log -Tail 50", "Get-ChildItem /dev",
    "Get-Content /var/log/syslog | Select-String error", "Get-Content -Path '/dev/watch''dog'",
])
def test_powershell_reading_files_stays_a_read(line: str) -> None:
    assert powershell_verdict(line).read, line
