"""What a command, a query or a plan step does to the world: read, mutate or interactive.

This package owns the read-only table, an allow-list shared by the compiler (which gates every
step that is not read-only behind an approval), the linter (which explains why a command that
looks like a read was gated) and the runtime (which refuses to run an ungated step that is not
read-only, and runs only read-only steps in a dry run). A command is read-only only when its
tool, its subcommand(s) and every flag are on the table, its operands are ones the tool only
reads, and any program text in it (sed, awk) is literal and scans clean; SQL only when it is
one reading statement. Everything else is "mutate", or "interactive" when it needs a person at
a terminal (shells, editors, `-f` follow, `exec -it`).

    classify(argv), classify_pipeline(stages)  -> Verdict(effect, reason, cause)
    sql_verdict(query), step_verdict(plugin, params, ...), powershell_verdict(script)
    looks_like_command(text)                     recognition of commands in prose

It does not parse shell syntax (`engine.compile.shellwords`) or run anything.
"""

from __future__ import annotations

from engine.effects.classify import READ, Verdict, classify, classify_pipeline
from engine.effects.names import KNOWN_CLIS, looks_like_command
from engine.effects.options import Effect
from engine.effects.powershell import powershell_verdict
from engine.effects.steps import shell_verdict, sql_verdict, step_verdict
from engine.effects.table import TABLE
from engine.effects.words import Templated

__all__ = ["KNOWN_CLIS", "READ", "TABLE", "Effect", "Templated", "Verdict", "classify",
           "classify_pipeline", "looks_like_command", "powershell_verdict", "shell_verdict",
           "sql_verdict", "step_verdict"]
