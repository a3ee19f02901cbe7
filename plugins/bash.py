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
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.effects.bash import is_shell_name
from engine.errors import StepFailed
from engine.plugins import PluginBase, StepContext, StepResult
from plugins._bound import bound_env, checked_names
from plugins.shell import ShellParams, ShellPlugin

ENV_PREFIX = "MENDFLOW_SH_"
_NOT_ONE_WORD = re.compile(r"[\s*?\[\]]")


class BashParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    script: str = Field(min_length=1, description="One shell line, as the guide wrote it.")
    args: dict[str, str] = Field(default_factory=dict,
                                 description="Shell variable name -> value, bound before it.")
    ok_exit_codes: list[int] = Field(default_factory=lambda: [0], min_length=1)

    @field_validator("args")
    @classmethod
    def _names(cls, args: dict[str, str]) -> dict[str, str]:
        checked_names(args, "shell", lambda name: f"{name!r} is a name the shell itself "
                      "uses; a step may not set it" if is_shell_name(name) else None)
        return args


def command(params: BashParams) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) that run `params.script` with its args bound as variables."""
    prelude = "".join(f'{name}="${ENV_PREFIX}{name}"\n' for name in sorted(params.args))
    argv = ["bash", "--noprofile", "--norc", "-c", prelude + params.script]
    env = bound_env(ENV_PREFIX, params.args)
    return argv, env


class BashPlugin(PluginBase):
    name: ClassVar[str] = "bash"
    Params: ClassVar[type[BaseModel]] = BashParams
    read_only: ClassVar[bool] = False  # per step, Step.mutating decides
    idempotent: ClassVar[bool] = False
    untemplated_params: ClassVar[frozenset[str]] = frozenset({"script"})

    def describe(self, *, params: BashParams) -> str:
        return params.script

    async def run(self, *, params: BashParams, ctx: StepContext) -> StepResult:
        for name, value in sorted(params.args.items()):
            if _NOT_ONE_WORD.search(value):
                raise StepFailed(
                    f"the value of ${name} is not one word ({ctx.redact(repr(value))}): the "
                    "line would split it into several arguments or expand it as a pattern",
                    retryable=False, step=ctx.step_id,
                    hint=f"Give {name} a value without spaces or * ? [ ], or run the line "
                         "by hand")
        argv, env = command(params)
        shell = ShellParams(pipeline=[argv], env=env, ok_exit_codes=params.ok_exit_codes)
        result = await ShellPlugin().run(params=shell, ctx=ctx)
        result.outputs["argv"] = [["bash", "-c", params.script]]
        return result
