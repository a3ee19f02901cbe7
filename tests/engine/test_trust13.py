"""Trust, session 13: reads on the read-only table that were not reads.

1. `curl gopher:/127.0.0.1:6379/_FLUSHALL%0D%0A` was a read: the scheme check knew a scheme
   only before `://`, and curl takes `gopher:/host` (one slash) as gopher, which sends the
   path's bytes to the port: Redis ran FLUSHALL. Also `dict:/`, a glob that expands into a
   scheme (`{gopher,http}:/...`), and a scheme-less host curl guesses a protocol from
   (`dict.example.org`, `ftp.host`).
2. `curl -w @FILE URL` (or `-w @-` at the end of a pipe) was a read: the format comes from the
   file, and a format's `%output{F}` writes F; only a literal `%output{` was refused.
"""

from __future__ import annotations

import pytest

from engine.effects import Templated, classify
from tests.engine.effects.test_hostile_reads import compiled, ungated_commands, verdict

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
