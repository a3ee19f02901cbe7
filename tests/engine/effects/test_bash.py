"""A shell statement from a guide (one line, or one loop/heredoc over several): what it does,
judged by the read-only table, and the lines that cannot become a script step at all."""

from __future__ import annotations

import pytest

from engine.effects import step_verdict
from engine.effects.bash import read_script


@pytest.mark.parametrize("line", [
    "for p in $(pgrep -u haproxy -f haproxy); do ps -o user,pid,etimes,command $p; done",
    "cat /proc/$(pidof -s clickhouse-server)/limits",
    "kubectl -n $NS logs $(kubectl -n $NS get po -l app=x -oname | head -1) 2>&1 | grep -i err",
    "ls /var/log/*.gz",
    "[ -f /etc/x ] && cat /etc/x || echo none",
    "grep -c Ready <(kubectl get nodes)",
    "sudo lsof -i -a -p $(pidof clickhouse-server) > /dev/null",
    "for ns in a b; do\n  kubectl -n $ns get pods\ndone",       # one loop over three lines
    "if [ -f /etc/x ]; then\n  cat /etc/x\nfi",
    "cat <<'EOF' | grep -c x\n$(rm -rf /) is text here\nEOF",  # a quoted heredoc expands nothing
])
def test_reading_lines_are_read_only(line: str) -> None:
    found = read_script(line)
    assert found is not None and found.verdict.read, found


@pytest.mark.parametrize(("line", "why"), [
    ("kubectl logs $(kubectl get po -oname) > /tmp/x.log", "writes to /tmp/x.log"),
    ("for i in $A $B; do gsutil rm -r gs://bucket/$i/; done", "gsutil rm"),
    ("kubectl delete pod `kubectl get pod -ojson | jq -r .x`", "kubectl delete"),
    ("cd /var/lib/x && tar -cvhf /tmp/m.tar metadata", "tar"),
    ("FOO=1 kubectl get po", "environment variable"),
    ("eval $(ssh-agent)", "ssh-agent"),
    ("$(which kubectl) get po", "program's name comes from a value"),
    ("f() { ls; }; f", "function_definition"),
    ("kubectl apply -f - <<EOF\nkind: Issuer\nEOF", "kubectl apply"),
    ("cat <<EOF | curl -d @- http://gw:9091/metrics\nm 1\nEOF", "-d sends a body"),
    ("cat <<EOF | grep -c x\nname: $(rm -rf /tmp/x)\nEOF", "rm"),  # what the body runs counts
])
def test_anything_that_writes_or_is_not_followed_is_not_read_only(line: str, why: str) -> None:
    found = read_script(line)
    assert found is not None and not found.verdict.read and why in found.verdict.reason


@pytest.mark.parametrize("line", [
    "kubectl -n <namespace> get po $(date)",     # a placeholder the shell reads as a redirection
    "nohup ./drain.sh &",                        # a background job outlives the step
    "cat <<EOF > /etc/x.conf",                   # its body is not there: it does not parse
    "cat > /etc/x.conf <<EOF\na: 1\nEOF",          # a file's content, for a person to adapt
    "tee /etc/x.yml <<EOF\na: 1\nEOF",
    "kubectl get pods\nkubectl get nodes",         # two statements: each line is a step
    "collect() {\n  rm -f /tmp/out\n  date\n}",     # a function alone runs nothing
    "while true; do sudo pgb-console -c 'SHOW CLIENTS;' | wc -l; sleep 5; done",  # a person ends it
    "while sleep 1; do date; done",
    "vim $(which x)", "ssh host",                # a person's programs
    "zone=$(gcloud compute instances list --format='value(zone)')",  # the value is the point
    "cd ~/chef/cookbooks", "export PATH=./bin:$PATH",  # only the shell's own state
    "UUID=98a2-f02e   /mnt/file-09    ext4    defaults    0 0",  # an fstab line, not a command
    "echo $1 for x in (",                        # positional parameters / not bash
])
def test_lines_that_cannot_be_a_script_step(line: str) -> None:
    assert read_script(line) is None


def test_the_names_it_reads_from_outside_and_not_the_ones_it_sets() -> None:
    found = read_script("for p in $(pgrep -u $USER_NAME x); do ps -o pid $p $HOME; done")
    assert found is not None and found.reads == {"USER_NAME"}  # $p is its own, $HOME the shell's


def test_a_trailing_comment_is_not_part_of_what_runs() -> None:
    found = read_script("ls /var/log/*.gz  # the rotated logs")
    assert found is not None and found.text == "ls /var/log/*.gz"


def test_the_runtime_judges_a_bash_step_by_its_script_not_by_the_plan() -> None:
    assert not step_verdict("bash", {"script": "ls $(pwd) && rm -rf /tmp/x"}).read
    assert step_verdict("bash", {"script": "ls $(pwd)", "args": {"X": "; rm -rf /"}}).read
    assert not step_verdict("bash", {"script": "sleep 100 &"}).read  # cannot be checked
