"""Trust, session 13: reads on the read-only table that were not reads.

1. `curl gopher:/127.0.0.1:6379/_FLUSHALL%0D%0A` was a read: the scheme check knew a scheme
   only before `://`, and curl takes `gopher:/host` (one slash) as gopher, which sends the
   path's bytes to the port (they arrive: Redis would run FLUSHALL). Also `dict:/`, a glob
   that expands into a scheme (`{gopher,http}:/...`), and a scheme-less host curl guesses a
   protocol from (`dict.example.org`, `ftp.host`).
2. `curl -w @FILE URL` (or `-w @-` at the end of a pipe) was a read: the format comes from the
   file, and a format's `%output{F}` writes F; only a literal `%output{` was refused.
3. `smartctl -l scterc,70,70 /dev/sda` and `-l scttempint,10,p` were reads (`-l` prints a
   log): with values, those two log types set the drive's error recovery times and its
   temperature logging interval.
4. A value picked the configuration a read loads, and the configuration can run a program:
   `kubectl --kubeconfig {{ inputs.kc }}` (a kubeconfig's exec plugin), `haproxy -c -f
   {{ inputs.cfg }}` (lua-load runs Lua as the file is checked); `knife -c FILE` loads Ruby
   from anywhere. virtctl, flux, argocd `--server`, nomad `-address` and supervisorctl `-s`
   from a value got the credentials, as kubectl's `--server` no longer did.
5. `helm template --dependency-update` downloads the dependencies into the chart's folder;
   `mosquitto_sub -i ID` connects with a fixed client id, and the broker disconnects the
   client already connected with it (the cell's controller, a bridge); `terraform
   -chdir={{ inputs.dir }}` let a value pick the folder whose provider plugins run.
6. A secret left readable in three more forms tools print: its bytes as numbers (Go's `%v`
   of a `[]byte`, Python's `list(bytes)`, a Node Buffer's JSON), URL-encoded twice (a URL in
   another's query, in an access log), and UTF-16 text read as UTF-8 (`cat` of a file
   Windows or PowerShell wrote: a NUL beside each character).
7. Opening /dev/watchdog arms it (the host reboots unless it is fed), and only the literal
   path was refused: `cat /dev/watch*`, `md5sum /dev/*`, `cat /dev/{watchdog,null}` (bash
   expands them), `grep -r -D read x /dev` (a recursive grep opens the devices it finds
   only when told to), `sed 'r /dev/watchdog'` and `grep -f/dev/watchdog` were reads.
8. "If the output contains `ERROR`" read only the first 4,000 characters memory keeps of a
   step's output: an ERROR past them was never seen and "Otherwise, no action is needed"
   ended the run healthy; so did a condition on stderr, of which memory keeps the last 2,000
   characters. A condition reads the step's whole stream (its artifact); one cut at the
   capture cap decides nothing.
9. `mendflow compile /dev/zero` (a guide, plan, alert, config or history that never ends: a
   device, a FIFO) was read until memory ran out; a file past 256 MiB is one Mendflow
   cannot read, a one-line error with exit 2.
10. `wget --user=admin --password=pw -O - http://{{ inputs.host }}/` (or an Authorization
   `--header`) sent the credentials to whatever host the value named; curl's was gated.
11. `cat /proc/kmsg` (or a tracer's `trace_pipe`) was a read: reading takes the kernel's
   messages away from the system logger, as the gated `dmesg -c` does, and waits for more.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from engine.compile import compile_guide
from engine.datasources import MASK, Redactor
from engine.effects import Templated, classify
from engine.guide import parse_guide
from tests.support.running import run_locally
from tests.support.verdicts import compiled, ungated_commands, verdict

# -- 1. curl: a scheme without `//`, a glob before the path, a host curl guesses from --------

CURL_OTHER_PROTOCOL = [
    "curl -s gopher:/127.0.0.1:6379/_FLUSHALL%0D%0A", "curl dict:/127.0.0.1:11211/stats",
    "curl -s 'FILE:/etc/shadow'", "curl -s '{gopher,http}:/127.0.0.1:6379/_x'",
    "curl -s '{http:,gopher:}/127.0.0.1:6379/_x'", "curl -s '[g-g]opher:/127.0.0.1:6379/_x'",
    "curl -s dict.example.org/d:word", "curl -s user@ftp.example.com/pub/x",
    "curl -s --url gopher:/127.0.0.1:6379/_x",
]


@pytest.mark.parametrize("line", CURL_OTHER_PROTOCOL)
def test_curl_to_a_url_of_another_protocol_is_not_a_read(line: str) -> None:
    found = verdict("argv", line)
    assert found.effect == "mutate" and "only http and https GETs read" in found.reason, line
    assert ungated_commands(compiled("argv", line)) == [], line


@pytest.mark.parametrize("line", [
    "curl -s localhost:9090/api/v1/targets", "curl -s 127.0.0.1:8080", "curl -s example.com",
    "curl -s http://{a,b}.example.com/", "curl -s 'example.com/x?a=b:c'",
    "curl -s '[::1]:9090/metrics'", "curl -sf https://status.example.com/health",
])
def test_curl_to_a_host_and_port_stays_a_read(line: str) -> None:
    assert verdict("argv", line).read, verdict("argv", line).reason


def test_a_templated_host_and_port_is_judged_when_rendered() -> None:
    # the compiler sees `{{ inputs.host }}:9090` (the shell `$(cmd):3300`): braces of the
    # template's, not curl's globs; the runtime judges the rendered URL again
    for word in ("{{ inputs.host }}:9090/metrics", "$(dig +short svc):3300"):
        assert classify(["curl", "-s", Templated(word)]).read
    assert not classify(["curl", "-s", Templated("gopher:/{{ inputs.host }}/_x")]).read


# -- 2. curl -w @FILE ----------------------------------------------------------------------------

@pytest.mark.parametrize("line", ["curl -s -w @/tmp/format https://example.com/",
                                  "curl -s --write-out=@- https://example.com/"])
def test_curl_reading_its_write_out_format_from_a_file_is_not_a_read(line: str) -> None:
    found = verdict("argv", line)
    assert found.effect == "mutate" and "%output{}" in found.reason
    assert ungated_commands(compiled("argv", line)) == [], line
    assert verdict("argv", "curl -s -w '%{http_code}' https://example.com/").read


# -- 3. smartctl -l scterc,R,W / scttempint,N -----------------------------------------------------

@pytest.mark.parametrize("line", ["smartctl -l scterc,70,70 /dev/sda",
                                  "smartctl --log=scterc,reset /dev/sda",
                                  "smartctl -a -l scttempint,10,p /dev/sda"])
def test_smartctl_log_types_that_set_the_drive_are_not_reads(line: str) -> None:
    found = verdict("argv", line)
    assert found.effect == "mutate" and "sets the drive's" in found.reason
    assert ungated_commands(compiled("argv", line)) == [], line


@pytest.mark.parametrize("line", ["smartctl -l scterc /dev/sda", "smartctl -l selftest /dev/sda",
                                  "smartctl -x -l xerror,error /dev/sda"])
def test_smartctl_printing_its_logs_stays_a_read(line: str) -> None:
    assert verdict("argv", line).read, verdict("argv", line).reason


# -- 4. a configuration that runs a program, named by a value or loaded from anywhere ----------

@pytest.mark.parametrize("line", [
    "kubectl --kubeconfig $KC get pods", "kubectl get pods --kubeconfig=$KC",
    "helm list --kubeconfig $KC", "istioctl proxy-status --kubeconfig $KC",
    "haproxy -c -f $CFG",
])
def test_a_value_never_picks_a_configuration_that_runs_a_program(line: str) -> None:
    # `$KC` compiles to an input an alert label can fill: a kubeconfig there names its exec
    # plugin, a haproxy configuration its lua-load file; the read would run either
    found = classify([Templated(w) if "$" in w else w for w in line.split()])
    assert found.effect == "mutate" and "picks the configuration" in found.reason, line
    assert ungated_commands(compiled("argv", line)) == [], line
    literal = line.replace("$KC", "/etc/kubernetes/admin.conf").replace(
        "$CFG", "/etc/haproxy/haproxy.cfg")
    assert verdict("argv", literal).read, literal


@pytest.mark.parametrize("line", ["knife node list -c /tmp/x.rb",
                                  "knife search node role:db --config=/tmp/x.rb"])
def test_knife_with_another_configuration_is_not_a_read(line: str) -> None:
    # knife's configuration is Ruby, run as it is read (nginx -c and mysql --defaults-file were
    # gated for the same reason); `knife node list` with its own configuration still reads
    found = verdict("argv", line)
    assert found.effect == "mutate" and "Ruby" in found.reason
    assert ungated_commands(compiled("argv", line)) == [], line
    assert verdict("argv", "knife node list").read


@pytest.mark.parametrize("line", [
    "virtctl --server $API version", "flux get kustomizations --server $API",
    "argocd app list --server $ARGO", "nomad job status -address=$NOMAD",
    "supervisorctl -s $URL status",
])
def test_a_server_named_by_a_value_gets_no_credentials_from_more_tools(line: str) -> None:
    # virtctl and flux send the kubeconfig's credentials, argocd its current context's token,
    # nomad NOMAD_TOKEN, supervisorctl the [supervisorctl] section's username and password,
    # to whatever server the flag names, as kubectl --server and vault
    # -address (already gated) do
    found = classify([Templated(w) if "$" in w else w for w in line.split()])
    assert found.effect == "mutate" and "sends its credentials" in found.reason, line
    assert ungated_commands(compiled("argv", line)) == [], line


# -- 5. helm template --dependency-update, mosquitto_sub -i, terraform -chdir from a value ------

@pytest.mark.parametrize(("line", "said"), [
    ("helm template web ./chart --dependency-update", "charts/ folder"),
    ("mosquitto_sub -i plc-7 -t cell/7/state -C 1", "disconnects the client"),
    ("mosquitto_sub --id=bridge -t cell/7/state -C 1", "disconnects the client"),
])
def test_a_listed_tool_with_a_flag_that_acts_is_not_a_read(line: str, said: str) -> None:
    found = verdict("argv", line)
    assert found.effect == "mutate" and said in found.reason, found.reason
    assert ungated_commands(compiled("argv", line)) == [], line


@pytest.mark.parametrize("line", ["helm template web ./chart",
                                  "mosquitto_sub -I mendflow -t cell/7/state -C 1",
                                  "terraform -chdir=infra/prod validate"])
def test_their_reading_forms_stay_reads(line: str) -> None:
    assert verdict("argv", line).read, verdict("argv", line).reason


def test_a_value_never_picks_the_terraform_folder_whose_providers_run() -> None:
    found = classify(["terraform", Templated("-chdir={{ inputs.dir }}"), "validate"])
    assert found.effect == "mutate" and "provider plugins" in found.reason
    assert ungated_commands(compiled("argv", "terraform -chdir=$DIR validate")) == []


# -- 6. a secret's bytes as numbers, URL-encoded twice, in UTF-16 text ------------------------

def _utf16(secret: str, order: str) -> str:
    return secret.encode(f"utf-16-{order}").decode()


@pytest.mark.parametrize(("said", "write"), [
    ("a URL in another's query", lambda s: "GET /login?next=" + quote(
        "https://app/?pw=" + quote(s, safe=""), safe="") + " HTTP/1.1"),
    ("Go's []byte", lambda s: f"key={list(s.encode())}".replace(",", "")),
    ("a list of bytes", lambda s: f"bytes: {list(s.encode())}"),
    ("a Buffer's JSON", lambda s: json.dumps({"type": "Buffer", "data": list(s.encode())},
                                             separators=(",", ":"))),
    ("UTF-16LE text", lambda s: _utf16("password=", "le") + _utf16(s, "le") + _utf16("\n", "le")),
    ("UTF-16BE text", lambda s: _utf16("password=", "be") + _utf16(s, "be")),
])
def test_a_secret_in_more_encodings_is_masked(said: str, write: Callable[[str], str]) -> None:
    # tools print a secret's bytes as numbers (Go's %v of a []byte, Python's list(bytes),
    # Node's Buffer), access logs carry a URL inside another's query (encoded twice), and
    # `cat` of a file PowerShell or Windows wrote shows UTF-16 text; each left it readable
    secret = 'Zq7/pl@nt"ed+K9 w'
    text = write(secret)
    masked = Redactor([secret]).redact(text)
    assert MASK in masked, (said, masked)
    numbers = [str(b) for b in secret.encode()]
    for left in (secret, quote(quote(secret, safe=""), safe=""), " ".join(numbers),
                 ", ".join(numbers), ",".join(numbers), _utf16(secret, "le")[2:-2]):
        assert left not in masked, (said, masked)
    assert Redactor([secret]).redact_bytes(text.encode()) != text.encode()


def test_numbers_that_are_no_secret_stay() -> None:
    assert Redactor(['Zq7/pl@nt"ed+K9 w']).redact("[90 113 55 1 2 3]") == "[90 113 55 1 2 3]"


# -- 7. the watchdog behind a glob, a brace or a recursive grep told to read devices ----------

@pytest.mark.parametrize("line", ["cat /dev/watch*", "head -c1 /dev/watchdo?",
                                  "for f in /dev/watch*; do cat $f; done",
                                  "md5sum /dev/*", "cat /dev/{watchdog,null}",
                                  "cat /dev/char/*", "cat < /dev/[vw]atchdog"])
def test_a_glob_that_can_expand_to_the_watchdog_is_not_a_read(line: str) -> None:
    # bash expands the word before cat opens it; opening /dev/watchdog arms it
    found = verdict("bash", line)
    assert found.effect == "mutate" and "watchdog" in found.reason, found.reason
    assert ungated_commands(compiled("bash", line)) == [], line


@pytest.mark.parametrize("line", ["sed 'r /dev/watchdog' /etc/hostname",
                                  "sed -e '$R /dev/watchdog0' /etc/hostname",
                                  "grep -f/dev/watchdog /etc/hosts", "date -f/dev/watchdog0"])
def test_a_sed_program_or_an_attached_value_opening_the_watchdog_is_not_a_read(line: str) -> None:
    # sed's r/R open the file they name, and so does a short flag's attached value: the
    # scanner cleared the first, and only a `--flag=PATH` value was looked at
    found = verdict("argv", line)
    assert found.effect == "mutate" and "arms the watchdog" in found.reason, found.reason
    assert ungated_commands(compiled("argv", line)) == [], line
    assert verdict("argv", "sed 'r /etc/motd' /etc/hostname").read


@pytest.mark.parametrize("line", ["grep -r -D read panic /dev", "grep -R --devices=read x /",
                                  "grep -d recurse -D read x /"])
def test_a_recursive_grep_told_to_read_devices_is_not_a_read(line: str) -> None:
    # a recursive grep skips the devices it finds unless -D read opens them
    found = verdict("argv", line)
    assert found.effect == "mutate" and "watchdog" in found.reason, found.reason
    assert ungated_commands(compiled("argv", line)) == [], line


@pytest.mark.parametrize(("how", "line"), [
    ("bash", "cat /sys/block/sd*/size"), ("bash", "smartctl -a /dev/sd?"), ("bash", "ls -l /dev/*"),
    ("bash", "tail -n 5 /var/log/*.log"), ("argv", "grep -r panic /var/log"),
    ("bash", "for d in /dev/sd?; do smartctl -H $d; done"),
    ("argv", "grep -D read x /var/log/syslog"),
])
def test_globs_elsewhere_and_a_plain_recursive_grep_stay_reads(how: str, line: str) -> None:
    assert verdict(how, line).read, verdict(how, line).reason


# -- 8. a condition on a long output reads all of it ------------------------------------------

LOG_GUIDE = """# Log check

## Diagnosis

1. Look for errors in the log {{#scan}}:

   ```bash
   cat {log}
   ```

2. If the output contains `ERROR`, escalate to the storage team.

3. Otherwise, no action is needed.
"""


@pytest.mark.parametrize(("lines", "outcome"), [
    (3000, "escalate"),  # ~14 kB: the ERROR on its last line, past the 4,000 characters kept
    (150, "escalate"),   # short: as before
])
def test_a_condition_on_the_output_reads_past_what_memory_keeps(tmp_path: Path, lines: int,
                                                                outcome: str) -> None:
    # memory keeps a step's first 4,000 characters (200 lines); "If the output contains
    # `ERROR`" read only those, and the run ended no_action (exit 0) with the error unread
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {n} ok\n" for n in range(lines)) + "ERROR disk failure\n")
    plan = compile_guide(parse_guide(LOG_GUIDE.format(log=log), path="g.md"))
    record = run_locally(plan, tmp_path)
    assert record.outcome == outcome, record.reason
    log.write_text("".join(f"line {n} ok\n" for n in range(lines)))
    assert run_locally(plan, tmp_path).outcome == "no_action"


def test_an_output_cut_at_the_capture_cap_decides_nothing(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # past MENDFLOW_OUTPUT_CAP_BYTES not even the artifact has the rest: no conclusion
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {n} ok\n" for n in range(3000)))  # ~30 kB, no ERROR
    monkeypatch.setenv("MENDFLOW_OUTPUT_CAP_BYTES", "4096")
    plan = compile_guide(parse_guide(LOG_GUIDE.format(log=log), path="g.md"))
    record = run_locally(plan, tmp_path)
    assert record.outcome == "inconclusive", record.reason
    assert "the rest was never read" in (record.reason or "")


# -- 9. a file that does not end ----------------------------------------------------------------

@pytest.mark.parametrize("where", ["guide", "plan", "alert", "config", "history"])
def test_a_file_larger_than_any_mendflow_reads_is_a_one_line_error(
        where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `mendflow compile /dev/zero` (or a FIFO that never ends, as --alert, a plan, a config)
    # read until memory ran out; a file past files.MAX_FILE_BYTES is one it cannot read
    from engine import config, files, policy
    from engine.cli.runs import _load_alert
    from engine.errors import MendflowError
    from engine.guide import load_guide
    from engine.plan import Plan

    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1024)
    big = tmp_path / "big"
    big.write_text("# T\n\n" + "x " * 1000)
    read = {"guide": lambda: load_guide(big), "plan": lambda: Plan.load(big),
            "alert": lambda: _load_alert(big),
            "config": lambda: config.read_config(big, required=True),
            "history": lambda: policy.load_history(big)}[where]
    with pytest.raises(MendflowError) as caught:
        read()
    assert "more than" in caught.value.message and str(big) in str(caught.value)


def test_compiling_dev_zero_ends_with_exit_2(tmp_path: Path) -> None:
    import resource
    import subprocess
    import sys

    def bounded() -> None:  # the old reader grew without end: stop it at 1 GiB, not the host
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    proc = subprocess.run([sys.executable, "-m", "engine.cli", "compile", "/dev/zero",
                           "--stdout"], capture_output=True, text=True, timeout=120,
                          preexec_fn=bounded, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "MENDFLOW_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-500:]
    assert "more than 256 MiB" in proc.stdout + proc.stderr


# -- 10. wget sending credentials to a host a value gives ---------------------------------------

@pytest.mark.parametrize("line", [
    "wget --max-redirect=0 --user=admin --password=pw -O - http://$HOST/status",
    "wget --max-redirect=0 --header='Authorization: Bearer abc' -O - https://$HOST/api",
])
def test_wget_never_sends_credentials_to_a_host_a_value_gives(line: str) -> None:
    # curl's rule, for wget: `$HOST` is an input an alert label can fill
    assert ungated_commands(compiled("argv", line)) == [], line
    assert ungated_commands(compiled("argv", "wget --max-redirect=0 -O - http://$HOST/health"))
    assert ungated_commands(compiled(
        "argv", "wget --max-redirect=0 --user=admin --password=pw -O - http://api/$PATH_"))


# -- 11. reads that consume: /proc/kmsg, a tracing trace_pipe -----------------------------------

@pytest.mark.parametrize(("how", "line"), [
    ("argv", "cat /proc/kmsg"), ("argv", "head -n 20 /proc/kmsg"),
    ("argv", "cat /sys/kernel/debug/tracing/trace_pipe"),
    ("argv", "cat /sys/kernel/tracing/per_cpu/cpu1/trace_pipe_raw"),
    ("bash", "cat < /proc/kmsg"), ("bash", "cat /proc/km*"), ("argv", "sed 'r /proc/kmsg' f"),
    ("bash", "for f in /proc/kmsg /etc/hostname; do head -1 $f; done"),
])
def test_a_read_that_takes_the_kernels_messages_away_is_not_a_read(how: str, line: str) -> None:
    # reading /proc/kmsg removes what it reads from the kernel's buffer (the system logger
    # never gets it: dmesg -c is gated for the same reason) and waits for more; so does a
    # tracer's trace_pipe
    found = verdict(how, line)
    assert found.effect == "mutate" and "takes what it reads away" in found.reason, found.reason
    assert ungated_commands(compiled(how, line)) == [], line
    for honest in ("dmesg -T", "ls -l /proc/kmsg", "cat /sys/kernel/tracing/trace"):
        assert verdict("argv", honest).read, honest


ERR_GUIDE = """# Permission check

## Diagnosis

1. Read the service's startup messages {{#scan}}:

   ```bash
   cat {log} >&2
   ```

2. If access was refused (`"permission denied" in steps.scan.stderr`), escalate to the
   platform team.

3. Otherwise, no action is needed.
"""


def test_a_condition_on_stderr_reads_all_of_it(tmp_path: Path) -> None:
    # memory keeps stderr's last 2,000 characters: a refusal at its start was never seen
    log = tmp_path / "startup.log"
    log.write_text("permission denied: /var/lib/app\n" + "".join(
        f"line {n} ok\n" for n in range(2000)))
    plan = compile_guide(parse_guide(ERR_GUIDE.format(log=log), path="g.md"))
    record = run_locally(plan, tmp_path)
    assert record.outcome == "escalate", record.reason
