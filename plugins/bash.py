"""The `bash` plugin: run one guide line that needs a shell, as the guide wrote it.

A line such as `for p in $(pgrep haproxy); do ps -o pid,etimes $p; done` or
`kubectl logs $(kubectl get po -l app=x -oname) | grep -i error` means what it says only to a
shell. A step's `script` is that line, verbatim (never rendered: `untemplated_params`). Its
`args` map the shell variables the line reads (`$NS`) to values (rendered templates: inputs,
earlier results); they reach bash through the environment, and a fixed prelude binds each one
(`NS="$MENDFLOW_SH_NS"`), so a value is never part of the script's text and cannot become
code. bash runs as

    bash --noprofile --norc -c "<prelude><script>"

one argv, through the `shell` plugin's process handling (capture, caps, redaction, timeouts,
the read-only sandbox of a dry run).

A value must be one word: the line expands `$NS` unquoted as often as quoted, and a value with
a space, a newline or a glob character would become several arguments or file names. Such a
value fails the step, saying which. A name the shell gives a meaning (`PATH`, `IFS`, `BASH_ENV`,
`LD_*`) is refused as an arg. Whether the line only reads is the read-only table's call
(`engine.effects.bash`), not this plugin's.
"""

from __future__ import annotations

import re
import secrets
import shlex
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.effects.bash import hidden_by_and, is_shell_name, pipeline_stages
from engine.errors import StepFailed
from engine.plugins import PluginBase, StepContext, StepResult
from plugins._bound import bound_env, checked_names
from plugins.shell import Inner, ShellParams, ShellPlugin, shown_word

ENV_PREFIX = "MENDFLOW_SH_"
_NOT_ONE_WORD = re.compile(r"[\s*?\[\]]")


class BashParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    script: str = Field(min_length=1, description="One shell line, as the guide wrote it.")
    args: dict[str, str] = Field(default_factory=dict,
                                 description="Shell variable name -> value, bound before it.")
    ok_exit_codes: list[int] = Field(default_factory=lambda: [0], min_length=1)
    cwd: str | None = Field(default=None, description="The directory it runs in (the guide's "
                            "`cd DIR` before it).")

    @field_validator("args")
    @classmethod
    def _names(cls, args: dict[str, str]) -> dict[str, str]:
        checked_names(args, "shell", lambda name: f"{name!r} is a name the shell itself "
                      "uses; a step may not set it" if is_shell_name(name) else None)
        return args


def command(params: BashParams, inner: Inner | None = None,
            failures: str | None = None) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) that run `params.script` with its args bound as variables; with
    `inner`, the line (a pipeline) then prints its stages' statuses on a last line of stderr
    after `inner.marker`, and exits with its own status. With `failures`, bash's ERR trap
    (inherited by functions and `$(...)`: `set -E`) prints each command that fails inside
    the line on a line of stderr after that marker, with its status; `$?` is left as it was."""
    prelude = "".join(f'{name}="${ENV_PREFIX}{name}"\n' for name in sorted(params.args))
    script = params.script
    if failures is not None:
        prelude = (f"__mendflow_said() {{ printf '\\n%s %s %s\\n' {failures} \"$1\" \"$2\" >&2; "
                   "return \"$1\"; }\n"
                   "__mendflow_failed() { local s=$? c=${BASH_COMMAND//$'\\n'/ }; "
                   "__mendflow_said \"$s\" \"$c\"; }\n"
                   "set -E; trap __mendflow_failed ERR\n") + prelude
        script = _and_lists_said(script)
    trailer = "" if inner is None else (
        f'\n__mendflow_ps=("${{PIPESTATUS[@]}}"); printf "\\n%s %s\\n" {inner.marker} '
        f'"${{__mendflow_ps[*]}}" >&2; exit "${{__mendflow_ps[-1]}}"')
    argv = ["bash", "--noprofile", "--norc", "-c", prelude + script + trailer]
    env = bound_env(ENV_PREFIX, params.args)
    return argv, env


def _and_lists_said(script: str) -> str:
    """`script` with each command whose failure an `a && b` list hides from the ERR trap
    (`engine.effects.bash.hidden_by_and`) reporting it as the trap would: `a` runs as
    `{ a || __mendflow_said $? 'a'; }`, which keeps its status (the list still stops there)."""
    spans = hidden_by_and(script)
    if not spans:
        return script
    source = script.encode()
    # (offset, order, text): an opening before what starts there; of two closings at one
    # offset, the inner one's (the later start) first
    edits = [(start, 0, 0, b"{ ") for start, _ in spans]
    for start, end in spans:
        said = shlex.quote(source[start:end].decode().replace("\n", " "))
        edits.append((end, 1, -start, f" || __mendflow_said $? {said}; }}".encode()))
    out, at = bytearray(), 0
    for offset, _, _, text in sorted(edits):
        out += source[at:offset] + text
        at = offset
    return (out + source[at:]).decode()


class BashPlugin(PluginBase):
    name: ClassVar[str] = "bash"
    Params: ClassVar[type[BaseModel]] = BashParams
    read_only: ClassVar[bool] = False  # per step, Step.mutating decides
    idempotent: ClassVar[bool] = False
    untemplated_params: ClassVar[frozenset[str]] = frozenset({"script"})

    def describe(self, *, params: BashParams) -> str:
        """The line with the values its variables are bound to, and the folder it runs in,
        before it (`NS=prod; kubectl delete pod $POD -n $NS`): an approver sees what the line
        acts on, not only the names of the values. A value is shown on one line, escaped."""
        head = f"cd {shown_word(params.cwd)} && " if params.cwd is not None else ""
        head += "".join(f"{name}={shown_word(value)}; "
                        for name, value in sorted(params.args.items()))
        return head + params.script

    async def run(self, *, params: BashParams, ctx: StepContext) -> StepResult:
        for name, value in sorted(params.args.items()):
            if _NOT_ONE_WORD.search(value):
                raise StepFailed(
                    f"the value of ${name} is not one word ({ctx.redact(repr(value))}): the "
                    "line would split it into several arguments or expand it as a pattern",
                    retryable=False, step=ctx.step_id,
                    hint=f"Give {name} a value without spaces or * ? [ ], or run the line "
                         "by hand")
        # A line that is one pipeline is judged by every stage, as a plain pipeline is
        # (`grep x app.log 2>/dev/null | tail -5` whose grep found no file printed nothing,
        # and that is no evidence): bash tells each stage's status after the line.
        stages = pipeline_stages(params.script)
        inner = Inner(stages, f"mendflow-pipestatus-{secrets.token_hex(8)}") \
            if stages is not None and len(stages) > 1 else None
        # Any other line (`a; b`, a loop, `echo "n: $(grep -c x f)"`) is judged by every
        # command bash runs in it: a failure its last status hides fails the step, unless it
        # answered (grep's 1). Before, `kubectl get pods -n x; echo done` whose kubectl could
        # not connect succeeded, and "If no pods are listed" read its silence as an answer.
        # A pipeline whose stage is a loop with `a && b` in it (`... | while read f; do cat
        # $f && ...; done`) is judged by those commands too.
        failures = f"mendflow-failed-{secrets.token_hex(8)}" \
            if stages is None or hidden_by_and(params.script) else None
        argv, env = command(params, inner, failures)
        shell = ShellParams(pipeline=[argv], env=env, ok_exit_codes=params.ok_exit_codes,
                            cwd=params.cwd)
        result = await ShellPlugin().run_stages(shell, ctx, inner=inner, failures=failures,
                                                shown=params.script)
        result.outputs["argv"] = [["bash", "-c", params.script]]
        return result
