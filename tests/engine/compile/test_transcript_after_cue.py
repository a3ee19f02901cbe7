"""A block announced as what something "looks like" is output, unless it is a transcript: its
first command runs. A comment above that command is the author's note on it, not output."""

from __future__ import annotations

from tests.support.compiling import compile_text, runs

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
