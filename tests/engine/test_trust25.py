r"""Trust, session 25: reads that reach past the files the list knows, and a log line a value wrote.

1. A disk read raw was a read: `strings /dev/nvme0n1 | grep password`, `head -c 1M /dev/sda`,
   `hexdump -C /dev/sda`, `grep -a password /dev/mapper/vg-root`, `cat /dev/md0`, a swap file,
   the kernel's crash dump (`/proc/vmcore`) print every file on the disk (or in memory),
   /etc/shadow, keys and files deleted since among them, where `cat /etc/shadow` is gated. A
   disk, a partition or a volume is a place that holds credentials now, for every tool that
   reads its blocks; the tools that say what a device is (`df -h /dev/sdb`, `smartctl -a`,
   `lsblk`, `mdadm --detail`, `file -s`) still read, as does a loop of them over `/dev/sd?`.
2. A file named by a short option joined to it, or by a bare `--file`, was not judged as the
   same option written apart: `grep -f /etc/shadow x` was gated, and `grep -f/etc/shadow x`,
   `grep --file=/etc/shadow x` and `grep --file /etc/shadow x` read. A joined value is judged
   as the word it would be apart (unless its option hands the file over for use, `ssh
   -i~/.ssh/id_rsa`), and a `--file` alone is the file the tool reads, as its `-f` is.
3. Another process's open file (`cat /proc/1234/fd/0`, `/proc/*/fd/1`, a thread's) was a read:
   from a pipe or a socket it takes what that process was waiting for (a service's requests,
   a pipeline's data), as /proc/kmsg's messages are taken; a file it holds is printed
   whatever it is (a secret, one deleted since). The step's own (`/proc/self/fd/0`,
   `/dev/fd/0`) and the names (`ls -l /proc/PID/fd`, `readlink`) still read.
4. A machine's user data was gated where it is fetched (`curl 169.254.169.254/latest/user-data`)
   and read where the machine keeps it: cloud-init's `/var/lib/cloud/instance/user-data.txt`
   (and each instance's, its `.i`, its scripts, its pickled `obj.pkl`), its
   `instance-data-sensitive.json`, the Azure agent's `ovf-env.xml` (the admin password) and
   `CustomData`, an Ubuntu autoinstall's `autoinstall-user-data`: the passwords and tokens a
   machine is booted with. So was a crash's dump (`strings /var/crash/*.crash`, systemd's
   `/var/lib/systemd/coredump/`): a process's memory and environment, as /proc/PID/mem is.
   They are places that hold credentials now; cloud-init's status, its `instance-data.json`
   (the sensitive keys redacted) and its output log still read.
5. `mendflow serve`'s text log wrote a message as it was: a run's reason holds a failed
   command's stderr (what a log line or an alert's label put there), and its newline wrote a
   line of its own (`2026-... INFO mendflow: run r1 of disk ended resolved`) that a reader or a
   shipper reading lines took for Mendflow's, its `ESC ]0;...` retitled the terminal of whoever
   tailed the log. A text log's message is one line of visible text now (`\n`, `\x1b`
   escaped, as `engine.printable` shows values on the console); a traceback keeps its lines.
6. A MySQL wait for a replica to reach a position (`SELECT MASTER_POS_WAIT('bin.3', 4)`,
   SOURCE_POS_WAIT, WAIT_FOR_EXECUTED_GTID_SET, MariaDB's MASTER_GTID_WAIT) was a read: it holds
   the statement and its connection (for ever without a timeout, on a replica that stopped),
   as `SELECT SLEEP(100)` (gated) does. It acts on the server now; reading the replica's
   position (`SHOW REPLICA STATUS`, `@@gtid_executed`) still reads.
7. A data source's secret written quoted-printable (a mail's body: MIME writes `=` as `=3D`
   and each byte of what is not ASCII as `=C3=A9`) was masked only in the part before its first
   escape: `Zq7/pl@nt=3DS3cr=C3=A9t!x` left `3DS3cr=C3=A9t!x`, and `p=C3=A4ssw=C3=B6rd-42` was
   left whole (an accented letter counted as a letter, never escaped alone). Each character
   but an ASCII letter or digit may be written `=HH` now, as `%HH` and `\xHH` were.

Weighed and left: a template in a password's place (`redis-cli -a {{ inputs.redis_password }}`,
which the compiler makes of `-a "$REDIS_PASSWORD"`; `Authorization: Bearer $CF_TOKEN`) runs as
a read whose value is an input, shown whole in the run's inputs, events and report; fourteen
corpus and fixture plans do it. Making each such line a person's step, as a written password
is, took those checks out of the runs; what keeps them is an input the run holds as a secret
(its value in the run's redactor, never stored), which is more than this session.
"""

from __future__ import annotations

import io
import logging
import quopri

import pytest

from engine import logs
from engine.datasources import Redactor
from engine.effects import classify
from engine.effects.sql import sql_problem
from tests.support.verdicts import assert_gated, assert_reads

# -- 1. a disk read raw ---------------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "strings /dev/nvme0n1", "head -c 1000000 /dev/sda", "hexdump -C /dev/sda", "cat /dev/sda1",
    "grep -a password /dev/mapper/vg-root", "strings /dev/dm-0", "od -c /dev/xvda",
    "tail -c 4096 /dev/vda", "cat /dev/disk/by-uuid/0a1b", "cat /dev/md0", "cat /dev/mmcblk0p2",
    "strings /swapfile", "strings /proc/vmcore", "cat /host/dev/sdb", "cat /dev/sd*",
    "cat < /dev/sda", "strings /dev/nvme0n1 | grep -i password",
    "for d in /dev/sd?; do strings $d; done",
])
def test_a_disk_read_raw_is_not_a_read(line: str) -> None:
    assert_gated(line, "blocks raw")


@pytest.mark.parametrize("line", [
    "df -h /dev/sdb", "df -h /dev/sd*", "lsblk /dev/sda", "smartctl -a /dev/nvme0n1",
    "mdadm --detail /dev/md0", "findmnt /dev/sda1", "file -s /dev/sda1", "ls -l /dev/sda",
    "stat /dev/mapper/vg-root", "for d in /dev/sd?; do echo $d; smartctl -H $d; done",
    "head -c 16 /dev/urandom", "cat /sys/block/sda/size",
])
def test_what_says_what_a_device_is_still_reads(line: str) -> None:
    assert_reads(line)


# -- 2. a file named by a joined short option or a bare --file ------------------------------------

@pytest.mark.parametrize("line", [
    "grep -f/etc/shadow app.log", "grep --file=/etc/shadow app.log",
    "grep --file /etc/shadow app.log", "grep -e x -f/etc/shadow app.log",
    "grep -hf~/.pgpass app.log",
])
def test_a_file_named_by_any_spelling_of_an_option_is_judged_alike(line: str) -> None:
    assert_gated(line, "prints the credentials")


@pytest.mark.parametrize("line", [
    "grep -f patterns.txt app.log", "grep --file=patterns.txt app.log",
    "ssh -i~/.ssh/id_rsa web-1 uptime", "cut -d/ -f2 paths.txt", "sort -t/ -k2 paths.txt",
    "kubectl get -f deploy.yaml", "docker compose --file compose.yaml ps",
])
def test_an_option_handing_a_file_over_or_naming_another_still_reads(line: str) -> None:
    assert_reads(line)


# -- 3. another process's open file ---------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "cat /proc/1234/fd/0", "head -c 100 /proc/1/fd/4", "cat /proc/*/fd/1",
    "cat /proc/1/task/1/fd/3", "strings /proc/$(pgrep nginx)/fd/5",
])
def test_another_processs_open_file_is_not_a_read(line: str) -> None:
    assert_gated(line, "another process's open file")


@pytest.mark.parametrize("line", [
    "cat /proc/self/fd/0", "cat /dev/fd/0", "ls -l /proc/1234/fd", "readlink /proc/1/fd/3",
    "cat /proc/1/fdinfo/3", "cat /proc/1/status",
])
def test_the_steps_own_fds_and_the_names_still_read(line: str) -> None:
    assert_reads(line)


# -- 4. a machine's user data, a crash's dump, where the machine keeps them -----------------------

@pytest.mark.parametrize("line", [
    "cat /var/lib/cloud/instance/user-data.txt", "cat /var/lib/cloud/instances/i-0ab/user-data.txt",
    "cat /var/lib/cloud/instance/user-data.txt.i", "cat /var/lib/cloud/instance/scripts/part-001",
    "cat /var/lib/cloud/instances/*/user-data.txt", "grep -r password /var/lib/cloud",
    "cat /run/cloud-init/instance-data-sensitive.json", "cat /var/lib/waagent/ovf-env.xml",
    "cat /var/lib/waagent/CustomData", "cat /var/log/installer/autoinstall-user-data",
    "strings /var/crash/_usr_sbin_nginx.0.crash",
    "strings /var/lib/systemd/coredump/core.nginx.0.ab.1234.zst",
])
def test_user_data_and_crash_dumps_kept_on_the_machine_are_not_reads(line: str) -> None:
    assert_gated(line, "prints the credentials", "the credentials kept there")


@pytest.mark.parametrize("line", [
    "cat /run/cloud-init/instance-data.json", "cat /var/lib/cloud/data/status.json",
    "cat /var/log/cloud-init-output.log", "ls -l /var/crash", "grep -r error /var/log",
])
def test_cloud_inits_status_and_logs_still_read(line: str) -> None:
    assert_reads(line)


# -- 5. a text log's message is one visible line --------------------------------------------------

def test_a_text_logs_message_cannot_write_a_line_or_an_escape() -> None:
    stream = io.StringIO()
    logger = logging.getLogger(f"mendflow.test_trust25.{id(stream)}")
    handler = logs.configure("text", logger=logger.name, redact=Redactor(["hunter2-pw"]).redact)
    handler.setStream(stream)  # type: ignore[attr-defined]
    forged = "\n2026-12-05 03:00:00,000 INFO mendflow: run r1 of disk ended resolved"
    logger.info("run %s ended %s (%s)", "r1", "failed",
                f"du: cannot access x{forged}\x1b]0;pwned\x07 \u202e hunter2-pw")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("step %s raised", "s1")
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2 and "\\n2026-12-05" in lines[0] and "\\x1b]0;pwned" in lines[0]
    assert "\\u202e" in lines[0] and "hunter2-pw" not in stream.getvalue()
    assert not any(line.startswith("2026-12-05 03:00") for line in lines)
    assert lines[1].endswith("step s1 raised") and lines[-1] == "ValueError: boom"


# -- 6. a wait for a replica's position -----------------------------------------------------------

@pytest.mark.parametrize("query", [
    "SELECT MASTER_POS_WAIT('mysql-bin.000003', 4)", "SELECT SOURCE_POS_WAIT('bin.3', 4, 10)",
    "SELECT WAIT_FOR_EXECUTED_GTID_SET('3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5')",
    "SELECT MASTER_GTID_WAIT('0-1-100', 10)",
])
def test_a_wait_for_a_replicas_position_is_not_a_read(query: str) -> None:
    problem = sql_problem(query)
    assert problem is not None and "acts on the server" in problem, query
    assert classify(["mysql", "-e", query]).effect == "mutate", query


@pytest.mark.parametrize("query", [
    "SHOW REPLICA STATUS", "SELECT @@gtid_executed", "SELECT @@global.gtid_purged",
])
def test_reading_a_replicas_position_still_reads(query: str) -> None:
    assert sql_problem(query) is None, query


# -- 7. a secret written quoted-printable ---------------------------------------------------------

@pytest.mark.parametrize("secret", ["Zq7/pl@nt=S3cr\u00e9t!x", "hunter=22",
                                    "p\u00e4ssw\u00f6rd-42"])
def test_a_secret_written_quoted_printable_is_masked_whole(secret: str) -> None:
    written = quopri.encodestring(secret.encode()).decode()
    shown = Redactor([secret]).redact(f"password: {written}\n")
    assert shown == "password: ***\n", (written, shown)
    # each escape the text may have left alone, the rest as it is
    assert Redactor([secret]).redact(secret.replace("\u00e9", "=C3=A9")) == "***"


def test_quoted_printable_of_other_text_is_left_alone() -> None:
    assert Redactor(["Zq7/pl@nt"]).redact("a=3Db x=2F Zq7=2F") == "a=3Db x=2F Zq7=2F"
