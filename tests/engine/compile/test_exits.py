"""A tool whose "no" is an exit status answers; it does not fail the check."""

from __future__ import annotations

import pytest

from engine.exits import ok_exit_codes


@pytest.mark.parametrize("pipeline, codes", [
    ([["grep", "oom_kill", "/proc/vmstat"]], [0, 1]),
    ([["journalctl", "-k"], ["grep", "-i", "killed process"]], [0, 1]),
    ([["sudo", "grep", "-c", "x", "/var/log/syslog"]], [0, 1]),
    ([["timeout", "5", "pgrep", "-f", "kubelet"]], [0, 1]),
    ([["diff", "a", "b"]], [0, 1]),
    ([["test", "-f", "/etc/ready"]], [0, 1]),
    ([["systemctl", "is-active", "kubelet"]], [0, 3]),
    ([["systemctl", "--no-pager", "status", "kubelet"]], [0, 3]),
    ([["systemctl", "is-failed", "kubelet"]], [0, 1]),
])
def test_answering_tools_accept_their_no(pipeline, codes) -> None:
    assert ok_exit_codes(pipeline) == codes


@pytest.mark.parametrize("pipeline", [
    [["grep", "x", "f"], ["wc", "-l"]],  # the status is wc's
    [["df", "-h"]],
    [["systemctl", "restart", "kubelet"]],
    [["kubectl", "get", "pods"]],
    [],
])
def test_every_other_pipeline_succeeds_on_zero_only(pipeline) -> None:
    assert ok_exit_codes(pipeline) is None


def test_the_compiler_writes_them_into_the_step(tmp_path) -> None:
    from engine.compile import compile_path

    guide = tmp_path / "g.md"
    guide.write_text("# G\n\n## Diagnosis\n\n1. Look for OOM kills {#oom}:\n\n"
                     "   ```bash\n   grep -c oom_kill /var/log/kern.log\n   ```\n\n"
                     "2. Check the unit {#unit}:\n\n"
                     "   ```bash\n   systemctl is-active kubelet\n   ```\n\n"
                     "3. List the disks {#disks}:\n\n   ```bash\n   lsblk\n   ```\n")
    plan = compile_path(guide)
    codes = {s.id: s.params.get("ok_exit_codes") for s in plan.steps if s.plugin == "shell"}
    assert codes == {"oom": [0, 1], "unit": [0, 3], "disks": None}
