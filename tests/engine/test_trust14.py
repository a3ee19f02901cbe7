"""Trust, session 14: where a value sends a read, and a secret encoded twice.

1. A value picked the server a database or broker client sends its password to, and the
   line stayed an ungated read: `psql -h {{ inputs.host }}` (PGPASSWORD, a `*` line of
   ~/.pgpass: a server asks for it in clear), `mysql -h`, `mysqladmin -h` (~/.my.cnf),
   `redis-cli -h HOST -a PW` (AUTH in clear), `nats -s`, `mosquitto_sub -h`, `cqlsh HOST`,
   `openstack --os-auth-url`, a Kafka tool's `--bootstrap-server` with the properties holding
   its SASL password, `helm --repo URL --username`, and psql's DBNAME rendered to
   `postgresql://HOST/db`, redis-cli's `--cluster check HOST:PORT`, kubectl's `--cluster`
   (which kubeconfig server gets the current user's token). curl and wget sent a URL's own
   credentials (`https://user:pw@{{ host }}/`, `?token=...`) to the host a value named.
2. A value picked the repository `git` reads (`git -C {{ inputs.dir }} status`,
   `--git-dir=`): its .git/config's core.fsmonitor runs a program on `git status`,
   diff.external on `git diff`. So did the folder a step runs in when a value gives it (`cd
   "$DIR" && git status`, `cd "$DIR" && terraform validate`, a step's templated `cwd`), and a
   relative configuration read there (`cd "$DIR" && haproxy -c -f haproxy.cfg`): the
   `-chdir` and `--kubeconfig` forms were gated already; so did `sudo -D {{ inputs.dir }}`,
   and `cd "$DIR" && knife node list` (its .chef/config.rb is Ruby).
3. A secret in base64 inside base64 was left readable: a Kubernetes Secret's
   `.dockerconfigjson` (its `auth` is base64 of `user:password`, and the Secret's data is
   base64 of the JSON), or `base64` run twice.
4. `xargs --process-slot-var=NAME CMD` set NAME in CMD's environment (`env NAME=...` is
   gated: zgrep runs the program $GREP names) and was a read.
5. A `bash` step's `args` were data to the placement rules, though the line expands each as a
   word of a command: a value from an earlier step's output (`vars.*`, untyped) rendered to
   `--output=/tmp/x` made `git log $REF`, an ungated read, write the file (a `shell` step's
   word is refused that value).
6. A robot playbook's history whose times were each a finite number but so large (1e308 s)
   that the expected makespans overflowed printed `inf` and `+nan s saved` and decided "do
   not preempt" on nan; `--reset 1e308` likewise. Times past 1e9 s are a one-line error,
   exit 2.
7. A recorded run (`mendflow detector calibrate|evaluate RUNS`) whose sample held a string,
   an object or a list, or whose header's channels, meta or label had the wrong type, ended
   in "internal error: ValueError ... This is a Mendflow bug" (exit 1); `true` was read as
   1.0. Each is a one-line error at its line, exit 2.
8. `mendflow detector calibrate --window 0` (or -5) ended in an internal error (exit 1);
   `--params '[]'` was taken as no parameters; an unknown `--detector`, a `--params` key the
   detector does not have, and a calibration file naming either (`detector evaluate`) exited
   1 as if a step had failed. Each is bad input now: one line, exit 2.
9. A guide that is a FIFO no process writes to (`mkfifo guides/x.md`) made `mendflow compile
   guides/` (and anything reading a file handed to it) wait for ever at `open`; it now reads
   as empty, "the guide is empty", exit 2. A folder that cannot be listed to its end
   (`compile /`: a /proc entry gone mid-walk, EINVAL) was an internal error; now one line.
10. `mendflow runs --limit 99999999999999999999` (or `failures`) was an internal error (an
   OverflowError from SQLite), and `--limit -1` listed every run; `--limit` is 1 to
   1,000,000 now, anything else one line, exit 2.
"""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
from pathlib import Path

import pytest

from engine.datasources import MASK, Redactor
from engine.effects import Templated, classify, step_verdict
from engine.effects.bash import bash_verdict
from tests.engine.runtime.conftest import edge, end, plan, sh, step
from tests.support.running import run_locally
from tests.support.verdicts import compiled, ungated_commands


def _argv(line: str) -> list[str]:
    words = shlex.split(line.replace("{{ ", "{{").replace(" }}", "}}"))
    return [Templated(w) if "{{" in w or "$" in w else w for w in words]


# -- 1. the server a value picks gets the password ---------------------------------------------

SENDS_PASSWORD = [
    "psql -h {{ inputs.host }} -c 'select 1'", "psql --host={{ inputs.host }} -c 'select 1'",
    "gitlab-psql -h {{ inputs.host }} -c 'select 1'",
    "mysql -h {{ inputs.host }} -e 'select 1'", "mysqladmin -h {{ inputs.host }} status",
    "redis-cli -h {{ inputs.host }} -a pw INFO", "redis-cli -u {{ inputs.url }} INFO",
    "nats -s {{ inputs.host }} --user u --password p stream ls",
    "nats --server {{ inputs.host }} --creds /etc/nats/x.creds stream ls",
    "mosquitto_sub -h {{ inputs.host }} -u u -P p -t x -C 1",
    "cqlsh {{ inputs.host }} -e 'select * from t'",
    "openstack --os-auth-url {{ inputs.url }} server list",
    "kafka-topics --bootstrap-server {{ inputs.host }} --command-config /etc/k.properties --list",
    "helm show values x --repo {{ inputs.url }} --username u --password p",
    "curl -s https://u:pw@{{ inputs.host }}/api", "wget -qO- https://u:pw@{{ inputs.host }}/",
    "curl -s https://{{ inputs.host }}/api?access_token=abc",
    "redis-cli -a pw --cluster check {{ inputs.host }}:6379",
    "kubectl --cluster {{ inputs.cluster }} get pods", "oc get pods --cluster={{ inputs.c }}",
]


@pytest.mark.parametrize("line", SENDS_PASSWORD)
def test_a_value_never_picks_the_server_that_gets_a_password(line: str) -> None:
    found = classify(_argv(line))
    assert found.effect == "mutate" and "sends its credentials" in found.reason, line


@pytest.mark.parametrize("line", [
    "psql -h $DB_HOST -c 'select 1'", "redis-cli -h $REDIS_HOST -a $REDIS_PASSWORD INFO",
    "mysql -h $DB_HOST -e 'select 1'",
])
def test_such_a_line_compiles_behind_an_approval(line: str) -> None:
    assert ungated_commands(compiled("argv", line)) == [], line


def test_a_dbname_rendered_to_a_connection_string_is_judged_when_rendered() -> None:
    # a `name` value may be `postgresql://host/db`: psql takes it as a connection string
    for argv in (["psql", Templated("postgresql://evil.example.com/app"), "-c", "select 1"],
                 ["psql", "-d", Templated("postgresql://evil.example.com/app"), "-c", "x"],
                 ["psql", Templated("--dbname=postgresql://evil/app"), "-c", "select 1"]):
        assert not classify(argv).read, argv
    planned = {"pipeline": [["psql", "{{ inputs.db }}", "-c", "select 1"]]}
    rendered = {"pipeline": [["psql", "postgresql://evil.example.com/app", "-c", "select 1"]]}
    assert not step_verdict("shell", rendered, plan_params=planned).read
    assert step_verdict("shell", {"pipeline": [["psql", "app", "-c", "select 1"]]},
                        plan_params=planned).read


@pytest.mark.parametrize("line", [
    "psql -h db.internal -c 'select 1'", "psql -U {{ inputs.user }} app -c 'select 1'",
    "psql {{ inputs.db }} -c 'select 1'", "redis-cli -h cache.internal INFO",
    "redis-cli GET {{ inputs.key }}", "mysql -e 'select 1' {{ inputs.db }}",
    "kafka-topics --bootstrap-server {{ inputs.host }} --list",
    "helm template web ./chart", "pg_isready -h {{ inputs.host }}",
    "redis-cli --cluster check cache-1.internal:6379",
    "kubectl --context {{ inputs.ctx }} get pods", "kubectl --cluster prod get pods",
    "curl -s https://{{ inputs.host }}/metrics", "curl -s 'https://{{ inputs.host }}/?q=up'",
    "curl -s 'https://status.example.com/?token={{ inputs.t }}'",
])
def test_a_server_the_guide_names_or_no_password_stays_a_read(line: str) -> None:
    assert classify(_argv(line)).read, (line, classify(_argv(line)).reason)


# -- 2. the repository or folder a value picks ---------------------------------------------------

@pytest.mark.parametrize("line", ["git -C {{ inputs.dir }} status", "git -C{{ inputs.dir }} log",
                                  "git --git-dir={{ inputs.dir }} log -3",
                                  "git -C /srv/{{ inputs.app }} diff"])
def test_a_value_never_picks_the_repository_git_reads(line: str) -> None:
    found = classify(_argv(line))
    assert found.effect == "mutate" and "core.fsmonitor" in found.reason, found.reason
    assert classify(["git", "-C", "/srv/app", "status"]).read


def test_git_with_a_value_for_its_folder_compiles_behind_an_approval() -> None:
    assert ungated_commands(compiled("argv", 'git -C "$REPO_DIR" log -3')) == []


@pytest.mark.parametrize(("script", "said"), [
    ('cd "$DIR" && git status', "core.fsmonitor"), ("(cd $D && git log -1)", "core.fsmonitor"),
    ('cd "$DIR"; terraform validate', "provider plugins"),
    ("pushd $DIR && terraform providers", "provider plugins"),
    ("cd /srv/$APP && git diff", "core.fsmonitor"),
    ("cd $D && haproxy -c -f haproxy.cfg", "lua-load"),
    ("cd $D && knife node list", ".chef/config.rb"),
    ("cd $D && kubectl --kubeconfig=kc get pods", "exec plugin"),
])
def test_a_folder_a_value_picks_is_where_the_tool_loads_from(script: str, said: str) -> None:
    found = bash_verdict(script)
    assert found.effect == "mutate" and said in found.reason, found.reason


@pytest.mark.parametrize("argv", [["sudo", "-D", Templated("{{ inputs.dir }}"), "git", "status"],
                                  ["sudo", "-u", "git", Templated("--chdir={{ inputs.dir }}"),
                                   "terraform", "validate"]])
def test_sudo_into_a_folder_a_value_picks_is_that_folder(argv: list[str]) -> None:
    found = classify(argv)
    assert found.effect == "mutate" and "a folder a value picked" in found.reason, found.reason
    assert classify(["sudo", "-D", "/srv/app", "git", "status"]).read
    assert classify(["sudo", "-D", Templated("{{ inputs.dir }}"), "ls"]).read


@pytest.mark.parametrize("script", ["cd $D && ls -l", "cd /srv/app && git status",
                                    "cd $D && haproxy -c -f /etc/haproxy/haproxy.cfg",
                                    "git status; ls $D"])
def test_other_reads_in_that_folder_stay_reads(script: str) -> None:
    assert bash_verdict(script).read, bash_verdict(script).reason


@pytest.mark.parametrize(("plugin", "params"), [
    ("shell", {"pipeline": [["git", "status"]], "cwd": "{{ inputs.dir }}"}),
    ("shell", {"pipeline": [["terraform", "validate"]], "cwd": "/srv/{{ inputs.app }}"}),
    ("bash", {"script": "git log -1", "cwd": "{{ inputs.dir }}"}),
])
def test_a_steps_cwd_from_a_value_counts_as_that_folder(plugin: str, params: dict) -> None:
    rendered = {**params, "cwd": "/tmp/evil"}
    assert not step_verdict(plugin, rendered, plan_params=params).read
    assert not step_verdict(plugin, params).read  # as the compiler asks, unrendered
    literal = {**params, "cwd": "/srv/app"}
    assert step_verdict(plugin, literal, plan_params=literal).read
    ls = {**params, "pipeline": [["ls"]], "script": "ls"}
    assert step_verdict(plugin, {**ls, "cwd": "/tmp/evil"}, plan_params=ls).read


# -- 3. base64 inside base64 --------------------------------------------------------------------

SECRET = 'Zq7/pl@nt"ed+K9 w'


@pytest.mark.parametrize("user", ["robot", "ab", "a", "admin1"])
def test_a_dockerconfigjson_secret_is_masked(user: str) -> None:
    auth = base64.b64encode(f"{user}:{SECRET}".encode()).decode()
    config = json.dumps({"auths": {"registry.example.com": {"username": user, "auth": auth}}})
    data = base64.b64encode(config.encode()).decode()  # `kubectl get secret -o jsonpath=...`
    masked = Redactor([SECRET]).redact(f".dockerconfigjson: {data}")
    assert MASK in masked
    before, _, after = masked.split()[-1].partition(MASK)
    # what is left either side decodes to no run of the password (a character or two at most)
    head = base64.b64decode(before[:len(before) // 4 * 4])
    inner = base64.b64decode(config[:len(config)].split('"auth": "')[1].split('"')[0])
    assert inner.endswith(SECRET.encode())
    assert SECRET.encode()[:6] not in head and len(after) < len(data) - len(before)


def test_base64_run_twice_is_masked() -> None:
    twice = base64.b64encode(base64.b64encode(SECRET.encode())).decode()
    assert Redactor([SECRET]).redact(f"token={twice}\n") == f"token={MASK}\n"
    wrapped = "\n".join(twice[i:i + 8] for i in range(0, len(twice), 8))  # `base64 -w 8`
    assert twice[8:16] not in Redactor([SECRET]).redact(wrapped)


def test_base64_of_other_text_stays() -> None:
    text = base64.b64encode(b"hello world, nothing secret here at all" * 3).decode()
    assert Redactor([SECRET, "another-secret-1234"]).redact(text) == text


# -- 4. xargs --process-slot-var ------------------------------------------------------------------

def test_xargs_setting_a_variable_of_its_command_is_not_a_read() -> None:
    # `--process-slot-var=NAME` sets NAME in each command's environment, as `env NAME=...`
    # would (gated): zgrep runs the program $GREP names, file reads the magic $MAGIC names
    for line in ("xargs --process-slot-var=GREP zgrep -l panic",
                 "xargs --process-slot-var=MAGIC -n1 file"):
        found = classify(shlex.split(line))
        assert found.effect == "mutate" and "environment variable" in found.reason, line
    assert classify(shlex.split("xargs -n1 cat")).read


# -- 5. a bash step's args are words of a command -------------------------------------------------

def test_an_earlier_output_never_becomes_an_option_of_a_bash_line(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a",
                    "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    written = tmp_path / "written"
    the_plan = plan([
        sh("ref", "printf", f"--output={written}", writes=["steps.ref", "vars.ref"],
           binds={"vars.ref": "result.stdout"}),
        step("log", plugin="bash", params={
            "script": f"for r in x; do git -C {repo} log $REF; done",
            "args": {"REF": "{{ vars.ref }}"}}),
        end("done", "no_action")], [edge("ref", "log"), edge("log", "done")])
    record = run_locally(the_plan, tmp_path)
    assert not written.exists()  # git's --output wrote it, in a step that only reads
    assert record.outcome != "no_action" and "starts with '-'" in (record.reason or ""), \
        record.reason


# -- 6. a history whose times overflow the arithmetic ------------------------------------------

def _policy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import os
    import sys
    guide = Path(__file__).resolve().parents[2] / "guides" / "robot" / "peg-in-hole.md"
    return subprocess.run([sys.executable, "-m", "engine.cli", "policy", str(guide), *args],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path)})


def test_a_history_of_overflowing_times_is_bad_input(tmp_path: Path) -> None:
    history = tmp_path / "h.jsonl"
    history.write_text("".join(json.dumps({"success": n % 2 == 0, "duration_s": 1.7e308,
                                           "alarm_s": 1.7e308 if n % 3 else None}) + "\n"
                               for n in range(30)))
    got = _policy(tmp_path, "--history", str(history))
    said = got.stdout + got.stderr
    assert got.returncode == 2 and "nan" not in said and "h.jsonl:1" in said, said
    fine = tmp_path / "ok.jsonl"
    fine.write_text("".join(json.dumps({"success": n % 4 != 0, "duration_s": 30.0 + n,
                                        "alarm_s": 5.0 if n % 4 == 0 else None}) + "\n"
                            for n in range(40)))
    got = _policy(tmp_path, "--history", str(fine), "--reset", "1e308")
    assert got.returncode == 2 and "--reset" in got.stdout + got.stderr, got.stdout + got.stderr
    got = _policy(tmp_path, "--history", str(fine), "--reset", "5")
    assert got.returncode == 0 and "nan" not in got.stdout, got.stdout + got.stderr


# -- 7. a recorded run of the wrong types --------------------------------------------------------

RUN_HEADER = '{"mendflow_run": 1, "label": "success", "channels": ["fx"], "meta": {}}'


@pytest.mark.parametrize(("text", "line", "said"), [
    (RUN_HEADER + '\n[0.0, "abc"]\n', 2, "not a number"),
    (RUN_HEADER + "\n[0.0, {}]\n", 2, "not a number"),
    (RUN_HEADER + "\n[0.0, [1]]\n", 2, "not a number"),
    (RUN_HEADER + "\n[0.0, true]\n", 2, "not a number"),
    (RUN_HEADER + "\n[null, 1.0]\n", 2, "not a number"),
    (RUN_HEADER.replace('"meta": {}', '"meta": [1, 2]') + "\n[0.0, 1.0]\n", 1, "meta"),
    (RUN_HEADER.replace('["fx"]', "5") + "\n[0.0]\n", 1, "channels"),
    (RUN_HEADER.replace('"meta": {}', '"meta": {"duration_s": "x"}') + "\n[0.0, 1.0]\n", 1,
     "duration_s"),
    (RUN_HEADER.replace('"success"', '["success"]') + "\n[0.0, 1.0]\n", 1, "label"),
])
def test_a_recorded_run_of_the_wrong_types_is_bad_input(tmp_path: Path, text: str, line: int,
                                                        said: str) -> None:
    from engine.detect.errors import StreamDataError
    from engine.detect.runs import read_run
    from engine.errors import ExitCode

    path = tmp_path / "r1.jsonl"
    path.write_text(text)
    with pytest.raises(StreamDataError) as caught:
        read_run(path)
    assert caught.value.exit_code == ExitCode.BAD_INPUT and said in str(caught.value)
    assert f"r1.jsonl:{line}" in str(caught.value), str(caught.value)


def test_calibrating_on_such_a_run_ends_with_exit_2(tmp_path: Path) -> None:
    import os
    import sys
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "r1.jsonl").write_text(RUN_HEADER + '\n[0.0, "abc"]\n')
    got = subprocess.run([sys.executable, "-m", "engine.cli", "detector", "calibrate", str(runs),
                          "--detector", "ft_jam_slip", "-o", str(tmp_path / "cal.json")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path)})
    said = got.stdout + got.stderr
    assert got.returncode == 2 and "internal error" not in said, said



# -- 8. the detector command's own arguments ---------------------------------------------------

def _detector(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import os
    import sys
    return subprocess.run([sys.executable, "-m", "engine.cli", "detector", *args],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path)})


def _recorded_runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    runs.mkdir()
    channels = ["fx", "fy", "fz", "tx", "ty", "tz"]
    for k in range(12):
        header = {"mendflow_run": 1, "label": "success" if k < 9 else "failure",
                  "channels": channels, "meta": {}}
        rows = [[round(i * 0.02, 4)] + [round(((i * 7 + k * 3 + c) % 11) / 11, 4)
                                         for c in range(6)] for i in range(300)]
        (runs / f"r{k}.jsonl").write_text("\n".join(json.dumps(r) for r in [header, *rows]))
    return runs


@pytest.mark.parametrize(("args", "said"), [
    (["--window", "0"], "--window 0"), (["--window", "-5"], "--window -5"),
    (["--params", "[]"], "not an object"), (["--params", '{"x": 1}'], "bad parameter 'x'"),
    (["--detector", "nope"], "unknown plugin 'nope'"),
])
def test_bad_detector_arguments_end_with_exit_2(tmp_path: Path, args: list[str],
                                                said: str) -> None:
    runs = _recorded_runs(tmp_path)
    base = ["calibrate", str(runs), "--detector", "ft_jam_slip", "-o", str(tmp_path / "c.json")]
    got = _detector(tmp_path, *base, *args)
    text = got.stdout + got.stderr
    assert got.returncode == 2 and said in text and "internal error" not in text, text


def test_a_calibration_naming_an_unknown_detector_is_bad_input(tmp_path: Path) -> None:
    runs = _recorded_runs(tmp_path)
    cal = tmp_path / "c.json"
    made = _detector(tmp_path, "calibrate", str(runs), "--detector", "ft_jam_slip", "-o", str(cal))
    assert made.returncode == 0, made.stdout + made.stderr
    for change in ({"detector": "nope"}, {"params": {"x": 1}}):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**json.loads(cal.read_text()), **change}))
        got = _detector(tmp_path, "evaluate", str(runs), "--calibration", str(bad))
        assert got.returncode == 2 and "bad.json" in got.stdout + got.stderr, got.stderr



# -- 9. a FIFO among the guides, a folder that cannot be listed ----------------------------------

def test_a_fifo_among_the_guides_is_empty_not_waited_for(tmp_path: Path) -> None:
    import os
    import sys
    guides = tmp_path / "guides"
    guides.mkdir()
    (guides / "a.md").write_text("# T\n\n## Diagnosis\n\n```bash\nuptime\n```\n")
    os.mkfifo(guides / "fifo.md")
    got = subprocess.run([sys.executable, "-m", "engine.cli", "compile", str(guides),
                          "-o", str(tmp_path / "out")], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path,
                         env={**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path)})
    said = got.stdout + got.stderr
    assert got.returncode == 2 and "fifo.md:1: the guide is empty" in said, said
    assert (tmp_path / "out" / "a.plan.json").exists()


def test_a_folder_that_cannot_be_listed_is_one_line(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.cli.guides import _guide_files
    from engine.errors import InputError

    def gone(self: Path, pattern: str) -> list[Path]:
        raise OSError(22, "Invalid argument", "/proc/4242/task/4242/net")

    monkeypatch.setattr(Path, "rglob", gone)
    with pytest.raises(InputError, match="cannot list the folder: Invalid argument"):
        _guide_files([tmp_path])



# -- 10. --limit ----------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["runs", "--limit", "99999999999999999999"],
                                  ["failures", "--limit", "99999999999999999999"],
                                  ["runs", "--limit", "-1"], ["failures", "--limit", "0"]])
def test_a_limit_out_of_range_is_bad_input(tmp_path: Path, args: list[str]) -> None:
    import os
    import sys
    got = subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "MENDFLOW_DATA_DIR": str(tmp_path)})
    said = got.stdout + got.stderr
    assert got.returncode == 2 and "--limit" in said and "internal error" not in said, said
