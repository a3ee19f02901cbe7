"""PowerShell and Windows cmd blocks become steps: never dropped, never run here as shell.

Where pwsh is installed a PowerShell statement runs through the `powershell` plugin, gated
unless the read-only list knows it reads; where it is not (and for every `cmd` block) a person
runs the script (a manual step holding it). Before, these blocks were read as shell lines, as
output, or dropped."""

from __future__ import annotations

import pytest

from engine.compile import compile_guide, powershell
from engine.guide import parse_guide
from engine.plan import Plan, StepKind

PLUGINS = {"shell", "bash", "prometheus", "sql", "http", "logs", "powershell"}

GUIDE = """# Time sync broken

## Diagnosis

1. Check the time service:

   ```powershell
   Get-Service -Name W32Time | Select-Object Status, Name
   Test-NetConnection -ComputerName $TimeServer -Port 123
   ```

2. Look at the VM:

   ```
   PS C:\\> Get-AzVM -ResourceGroupName rg -Name <vm-name>
   ResourceGroupName : rg
   PS C:\\> Get-Date
   Tuesday, 1 December 2026 10:00:00
   ```

3. Keep the service in a variable:

   ```pwsh
   $svc = Get-Service W32Time
   $svc.Status
   ```

## Mitigation

```powershell
Restart-Service W32Time
```

```cmd
net stop w32time
net start w32time
```
"""


def compile_text(text: str) -> Plan:
    return compile_guide(parse_guide(text, path="guide.md"), known_plugins=PLUGINS)


def gated(plan: Plan, step_id: str) -> bool:
    return any(plan.step(e.source).kind == StepKind.APPROVE for _, e in plan.incoming(step_id))


@pytest.fixture
def with_pwsh(monkeypatch):
    monkeypatch.setattr(powershell, "pwsh_installed", lambda: True)


def test_powershell_statements_run_with_pwsh_reads_ungated_writes_gated(with_pwsh) -> None:
    plan = compile_text(GUIDE)
    runs = {s.text: s for s in plan.steps if s.plugin == "powershell"}
    assert set(runs) == {"Get-Service -Name W32Time | Select-Object Status, Name",
                         "Test-NetConnection -ComputerName $TimeServer -Port 123",
                         "Get-Date", "$svc = Get-Service W32Time\n$svc.Status",
                         "Restart-Service W32Time"}
    assert not any(s.mutating or gated(plan, s.id) for t, s in runs.items() if "Restart" not in t)
    restart = runs["Restart-Service W32Time"]
    assert restart.mutating and gated(plan, restart.id)


def test_a_variable_the_block_never_sets_is_an_input_passed_as_data(with_pwsh) -> None:
    plan = compile_text(GUIDE)
    step = next(s for s in plan.steps if s.text.startswith("Test-NetConnection"))
    assert step.params == {"script": "Test-NetConnection -ComputerName $TimeServer -Port 123",
                           "args": {"TimeServer": "{{ inputs.timeserver }}"}}
    assert "timeserver" in [i.name for i in plan.inputs]


def test_prompted_lines_are_commands_and_the_rest_their_output(with_pwsh) -> None:
    plan = compile_text(GUIDE)
    texts = [s.text for s in plan.steps]
    assert not any("ResourceGroupName : rg" in t or "Tuesday" in t for t in texts)
    # a <placeholder> would have to be spliced into the script: a person runs that one
    vm = next(s for s in plan.steps if "Get-AzVM" in s.text)
    assert vm.kind == StepKind.MANUAL and vm.params["script"].startswith("Get-AzVM")


def test_cmd_blocks_are_a_persons_script() -> None:
    plan = compile_text(GUIDE)
    assert any(s.kind == StepKind.MANUAL and s.params.get("script") ==
               "net stop w32time\nnet start w32time" for s in plan.steps)
    assert not any(s.plugin == "shell" and "net" in s.text for s in plan.steps)


def test_without_pwsh_every_powershell_block_is_a_manual_step(monkeypatch) -> None:
    monkeypatch.setattr(powershell, "pwsh_installed", lambda: False)
    plan = compile_text(GUIDE)
    assert not any(s.plugin == "powershell" for s in plan.steps)
    scripts = [s.params.get("script") for s in plan.steps if s.kind == StepKind.MANUAL]
    assert "Restart-Service W32Time" in scripts
    assert "Get-Service -Name W32Time | Select-Object Status, Name\n" \
        "Test-NetConnection -ComputerName $TimeServer -Port 123" in scripts


def test_an_untagged_block_starting_with_a_cmdlet_is_powershell(with_pwsh) -> None:
    plan = compile_text("# X\n\n## Diagnosis\n\n```\nGet-Process | Sort-Object CPU\n```\n")
    assert [(s.plugin, s.text) for s in plan.steps if s.plugin] == [
        ("powershell", "Get-Process | Sort-Object CPU")]
