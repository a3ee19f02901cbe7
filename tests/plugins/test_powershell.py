"""The powershell plugin: the argv it runs, values kept out of the script, and no pwsh.

pwsh is not installed on the machines that run these tests: a fake `pwsh` on PATH (a shell
script that prints its arguments and the values it was given) stands in for it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.errors import PluginError, StepFailed
from engine.plugins import Registry, StepContext, parse_params
from plugins import powershell
from plugins.powershell import PowershellParams, PowershellPlugin, command

HOSTILE = "x'; Remove-Item -Recurse C:\\ ; '$(Stop-Computer)"


def ctx() -> StepContext:
    return StepContext(run_id="r1", step_id="s1", attempt=1, idempotency_key="k",
                       deadline_s=10.0)


def test_command_is_pwsh_noprofile_noninteractive_with_values_in_the_environment() -> None:
    params = PowershellParams(script="Get-Service -Name $Name", args={"Name": HOSTILE})
    argv, env = command(params)
    assert argv[:4] == ["pwsh", "-NoProfile", "-NonInteractive", "-Command"]
    assert len(argv) == 5
    # the script is the guide's text after a fixed prelude; the value is nowhere in it
    assert argv[4].endswith("Get-Service -Name $Name")
    assert "$Name = $env:MENDFLOW_PS_Name\n" in argv[4]
    assert "$ErrorActionPreference = 'Stop'" in argv[4]
    assert HOSTILE not in argv[4]
    assert env == {"MENDFLOW_PS_Name": HOSTILE}


def test_a_variable_name_that_is_not_one_is_refused() -> None:
    with pytest.raises(PluginError):
        parse_params(PowershellPlugin, {"script": "Get-Date", "args": {"x; rm": "1"}})


def test_the_script_is_taken_verbatim_never_rendered() -> None:
    assert "script" in PowershellPlugin.untemplated_params


def test_it_is_registered_as_an_entry_point() -> None:
    text = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert 'powershell = "plugins.powershell:PowershellPlugin"' in text
    assert Registry(extra={"powershell": PowershellPlugin}).get("powershell") is PowershellPlugin


async def test_without_pwsh_the_step_fails_with_the_script_for_a_person(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    params = PowershellParams(script="Get-Service W32Time")
    with pytest.raises(StepFailed) as failed:
        await PowershellPlugin().run(params=params, ctx=ctx())
    assert not failed.value.retryable
    assert "pwsh is not installed" in str(failed.value)
    assert "Get-Service W32Time" in str(failed.value)


@pytest.fixture
def fake_pwsh(tmp_path: Path, monkeypatch) -> Path:
    exe = tmp_path / "pwsh"
    exe.write_text("#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n"
                   "printf 'value=%s\\n' \"$MENDFLOW_PS_Name\"\nexit 3\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    assert powershell.pwsh_program() == str(exe)
    return exe


@pytest.mark.slow
async def test_runs_pwsh_with_one_command_argument_and_the_value_as_data(fake_pwsh) -> None:
    params = parse_params(PowershellPlugin, {"script": "Get-Service -Name $Name",
                                             "args": {"Name": HOSTILE}, "ok_exit_codes": [3]})
    result = await PowershellPlugin().run(params=params, ctx=ctx())
    assert result.ok
    lines = result.outputs["stdout"].split("\n")
    assert lines[:4] == ["[-NoProfile]", "[-NonInteractive]", "[-Command]",
                         "[$ErrorActionPreference = 'Stop'"]
    assert f"value={HOSTILE}" in lines
    assert result.outputs["exit_code"] == 3
