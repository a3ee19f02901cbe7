"""A block announced as what something "looks like" is output, unless it is a transcript: its
first command runs. A comment above that command is the author's note on it, not output."""

from __future__ import annotations

from tests.support.compiling import compile_text, manual_scripts, runs

GUIDE = """# T

## Profile

The steps to make a flamegraph typically look like this:

```shell
# Capture the profile, sampling all on-CPU processes for 60 seconds.
$ sudo perf record --freq 99 -g --all-cpus -- sleep 60

# Count the samples.
$ perf report --stdio --sort comm
```
"""

OUTPUT = """# T

## Check

The status looks like this:

```
# HELP up Whether the target is up.
up{job="api"} 1
```
"""


def test_a_commented_transcript_after_looks_like_runs_its_prompted_commands():
    plan = compile_text(GUIDE)
    assert [s.params["pipeline"][0][:3] for s in runs(plan)] == [
        ["sudo", "perf", "record"], ["perf", "report", "--stdio"]]


def test_commented_output_after_looks_like_stays_output():
    assert not runs(compile_text(OUTPUT))


TEXT_TRANSCRIPT = """# T

## Install

If you see errors like the ones below when installing the modules:

```log
apt install -y linux-modules-extra-`uname -r`
Reading package lists... Done
Package linux-modules-extra-5.15.0-67-generic is not available
E: Package 'linux-modules-extra-5.15.0-67-generic' has no installation candidate
```
"""

TEXT_ONLY = """# T

## Check

The error reads:

```text
E: Package 'linux-modules-extra-5.15.0-67-generic' has no installation candidate
Reading package lists... Done
```
"""


def test_a_text_tagged_transcript_keeps_its_command_for_a_person_never_runs_it():
    # Given a block the author tagged as a log, opening with the command that printed it
    plan = compile_text(TEXT_TRANSCRIPT)
    # Then nothing runs (the tag says text), but the command is not lost: a person's step
    # holds it, without the output lines under it
    assert runs(plan) == []
    assert [s for s in manual_scripts(plan) if s] == [
        "apt install -y linux-modules-extra-`uname -r`"]


def test_a_text_tagged_block_of_output_only_stays_output():
    plan = compile_text(TEXT_ONLY)
    assert runs(plan) == [] and not any(manual_scripts(plan))
