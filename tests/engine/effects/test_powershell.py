"""PowerShell's read-only list: reading cmdlets read; anything else, or a reading cmdlet made
to write, wait or run code, does not."""

from __future__ import annotations

import pytest

from engine.effects import powershell_verdict, step_verdict

READS = [
    "Get-Process",
    "Get-Service -Name W32Time | Select-Object Status, Name",
    "Get-Process | Where-Object { $_.CPU -gt 100 } | Sort-Object CPU -Descending | "
    "Select-Object -First 5",
    "Get-EventLog -LogName System -After (Get-Date).AddHours(-1)",
    "Test-NetConnection -ComputerName db01 -Port 1433",
    "$svc = Get-Service W32Time\n$svc.Status",
    "Get-Content C:\\logs\\app.log -Tail 50",
    "Get-ChildItem 2>$null",
    "Get-WinEvent -FilterHashtable @{LogName='System'; Level=2} -MaxEvents 10",
    "gci C:\\ | where { $_.Length -gt 1MB }",
    "Get-AzVM -ResourceGroupName rg `\n  -Name vm1 | ConvertTo-Json -Depth 3",
    "# what runs\nGet-Date  # now",
]
WRITES = [
    "Restart-Service W32Time", "Stop-Process -Name x -Force", "Get-Service | Stop-Service",
    "Get-Process | ForEach-Object { $_.Kill() }", "Get-ChildItem > out.txt",
    "Invoke-Expression 'Get-Date'", "& C:\\tools\\x.exe", "Get-Item x; Remove-Item x",
    "[System.IO.File]::WriteAllText('x','y')", "Set-AzContext -Subscription x",
    "Test-ComputerSecureChannel -Repair", "\"$(Remove-Item x)\"", "Get-Process | Out-File x",
    "Get-Process | Export-Csv x.csv", "Get-Service | Where-Object { Remove-Item x }",
    "$env:PATH = 'x'", "Get-AzAccessToken", ". .\\setup.ps1", "Get-Date; w32tm /resync",
    "Get-Process | Where-Object { $_.Name -eq \"$(Remove-Item x)\" }",
    "Invoke-WebRequest -Uri http://x -OutFile y", "Get-Item (Remove-Item x)",
]
PERSON = ["Get-Credential", "Get-Content C:\\log.txt -Wait", "Read-Host 'Name'",
          "Enter-PSSession -ComputerName x"]


@pytest.mark.parametrize("script", READS)
def test_reading_cmdlets_read(script: str) -> None:
    assert powershell_verdict(script).read, powershell_verdict(script).reason


@pytest.mark.parametrize("script", WRITES)
def test_anything_else_is_not_read_only(script: str) -> None:
    verdict = powershell_verdict(script)
    assert verdict.effect == "mutate" and verdict.reason


@pytest.mark.parametrize("script", PERSON)
def test_prompts_and_waits_need_a_person(script: str) -> None:
    assert powershell_verdict(script).effect == "interactive"


def test_a_powershell_step_is_judged_by_its_script_not_its_args() -> None:
    assert step_verdict("powershell", {"script": "Get-Service $Name",
                                       "args": {"Name": "x; Remove-Item y"}}).read
    assert not step_verdict("powershell", {"script": "Restart-Service $Name"}).read


@pytest.mark.parametrize("script", [
    "Get-Process notepad | ForEach-Object Kill", "Get-ChildItem | ForEach-Object -MemberName "
    "Delete", "Get-ChildItem | ForEach-Object -m Delete", "Get-WmiObject Win32_Process | "
    "ForEach-Object Terminate"])
def test_foreach_object_given_a_member_name_calls_that_method(script: str) -> None:
    verdict = powershell_verdict(script)
    assert verdict.effect == "mutate" and "ForEach-Object" in verdict.reason
    assert powershell_verdict("Get-ChildItem | ForEach-Object { $_.Name }").read
    assert powershell_verdict("ForEach-Object -InputObject $x -Process { $_.Length }").read


@pytest.mark.parametrize("script", ["Select-Object -InputObject (ni x)", "Get-ChildItem (ri x)",
                                    "Get-ChildItem -Path @(rm x)", "Sort-Object -InputObject "
                                    "(spps -Name x)"])
def test_a_command_in_parentheses_is_judged_by_its_alias_too(script: str) -> None:
    assert powershell_verdict(script).effect == "mutate"
    assert powershell_verdict("Compare-Object (Get-Content a) (gc b)").read
    assert powershell_verdict("Get-ChildItem ($HOME) | Select-Object -First 1").read


@pytest.mark.parametrize("script", ["Format-Volume -DriveLetter D", "Get-Partition | "
                                    "Format-Volume -FileSystem NTFS",
                                    "Select-AzSubscription -SubscriptionId x"])
def test_format_and_select_read_only_by_their_named_cmdlets(script: str) -> None:
    assert powershell_verdict(script).effect == "mutate"
    for reads in ("Get-Process | Format-Table -AutoSize", "Get-Item x | Format-Custom",
                  "Format-Hex x", "Select-Xml -Path x -XPath /a", "gci | Select-String x"):
        assert powershell_verdict(reads).read, reads


@pytest.mark.parametrize(("script", "effect"), [
    ("Test-ComputerSecureChannel -Rep", "mutate"), ("Test-ComputerSecureChannel -r", "mutate"),
    ("Get-Content -Path x -Wai", "interactive"), ("Get-Item x -Cred y", "mutate"),
    ("Invoke-RestMethod x -OutF y", "mutate"), ("Get-Process x -Onl", "mutate"),
])
def test_a_refused_parameter_is_refused_by_any_prefix_of_its_name(script: str,
                                                                   effect: str) -> None:
    assert powershell_verdict(script).effect == effect
    # ...unless the prefix is also one of a reading parameter's (then it is that, or ambiguous)
    for reads in ("Get-ChildItem -r C:\\logs", "Get-Process | ft -auto", "gc x -wa Stop",
                  "Test-Connection x -co 1", "Get-ChildItem -fi *.log", "gci -in *.log -re"):
        assert powershell_verdict(reads).read, reads


@pytest.mark.parametrize(("script", "effect"), [
    ("Get-WindowsUpdate -Install -AcceptAll", "mutate"), ("Get-WindowsUpdate -AutoReboot",
                                                          "mutate"),
    ("Get-WUList -Download", "mutate"), ("Get-Counter -Continuous", "interactive"),
    ("Test-Cluster", "mutate")])
def test_reading_verbs_that_install_reboot_or_run_for_ever(script: str, effect: str) -> None:
    assert powershell_verdict(script).effect == effect
    assert powershell_verdict("Get-WindowsUpdate").read
    assert powershell_verdict("Get-Counter '\\Processor(_Total)\\% Processor Time'").read
