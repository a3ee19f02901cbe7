"""The `powershell` plugin: run a guide's PowerShell with `pwsh`, values passed as data.

A step's `script` is the guide's own text, taken verbatim (never rendered: `untemplated_params`).
Its `args` map PowerShell variable names to values (rendered templates: inputs, earlier
results); they reach pwsh through the environment, and a fixed prelude binds each one
(`$ResourceGroup = $env:MENDFLOW_PS_ResourceGroup`), so a value is never part of the script's
text and cannot become code. pwsh runs as

    pwsh -NoProfile -NonInteractive -Command "<prelude><script>"

one argv, no shell in between (through the `shell` plugin's process handling: capture, caps,
redaction, timeouts, the read-only sandbox of a dry run). `$ErrorActionPreference = 'Stop'` makes
a failing cmdlet fail the step instead of printing an error and exiting 0.

Where neither `pwsh` nor `powershell` is installed the step fails, not retryable, with the
script for a person to run; the compiler makes PowerShell blocks manual steps on a machine
without pwsh (`engine.compile.powershell`). Whether a script only reads is the read-only
table's call (`engine.effects.powershell`), not this plugin's.
"""

from __future__ import annotations

import shutil
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.errors import StepFailed
from engine.plugins import PluginBase, StepContext, StepResult
from plugins._bound import bound_env, checked_names
from plugins.shell import ShellParams, ShellPlugin

ENV_PREFIX = "MENDFLOW_PS_"


class PowershellParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    script: str = Field(min_length=1, description="PowerShell text, as the guide wrote it.")
    args: dict[str, str] = Field(default_factory=dict,
                                 description="Variable name -> value, bound before the script.")
    ok_exit_codes: list[int] = Field(default_factory=lambda: [0], min_length=1)

    @field_validator("args")
    @classmethod
    def _names(cls, args: dict[str, str]) -> dict[str, str]:
        checked_names(args, "PowerShell")
        return args


def pwsh_program() -> str | None:
    """The PowerShell on PATH: `pwsh` (7+), else Windows PowerShell; None when neither is."""
    return shutil.which("pwsh") or shutil.which("powershell")


def command(params: PowershellParams, program: str = "pwsh") -> tuple[list[str], dict[str, str]]:
    """(argv, environment) that run `params.script` with its args bound as variables."""
    prelude = "$ErrorActionPreference = 'Stop'\n" + "".join(
        f"${name} = $env:{ENV_PREFIX}{name}\n" for name in sorted(params.args))
    argv = [program, "-NoProfile", "-NonInteractive", "-Command", prelude + params.script]
    env = bound_env(ENV_PREFIX, params.args)
    return argv, env


class PowershellPlugin(PluginBase):
    name: ClassVar[str] = "powershell"
    Params: ClassVar[type[BaseModel]] = PowershellParams
    read_only: ClassVar[bool] = False  # per step, Step.mutating decides
    idempotent: ClassVar[bool] = False
    untemplated_params: ClassVar[frozenset[str]] = frozenset({"script"})

    def describe(self, *, params: PowershellParams) -> str:
        return params.script

    async def run(self, *, params: PowershellParams, ctx: StepContext) -> StepResult:
        program = pwsh_program()
        if program is None:
            raise StepFailed("pwsh is not installed on this machine: a person runs this "
                             f"PowerShell by hand:\n{params.script}", retryable=False,
                             step=ctx.step_id, hint="Install PowerShell (pwsh), or run the "
                             "script by hand and record what it showed")
        argv, env = command(params, program)
        shell = ShellParams(pipeline=[argv], env=env, ok_exit_codes=params.ok_exit_codes)
        return await ShellPlugin().run(params=shell, ctx=ctx)
