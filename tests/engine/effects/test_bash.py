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


@pytest.mark.parametrize("line", ['cat <<< "$(rm -rf /tmp/x)"', "grep -c x <<< $(rm x)",
                                  "wc -l <<< `rm x`"])
def test_a_here_strings_substitution_is_judged(line: str) -> None:
    found = read_script(line)
    assert found is not None and not found.verdict.read and "rm" in found.verdict.reason
    here = read_script('grep -c x <<< "$(kubectl get po)"')
    assert here is not None and here.verdict.read


@pytest.mark.parametrize("line", [
    "[[ 'a[$(rm x)]' -eq 1 ]] && ls", "for k in a; do test -v 'a[$(rm x)]' && echo $k; done",
    "for k in a; do [ -v 'a[`rm x`]' ] && echo $k; done", "read 'a[$(rm x)]' < f",
    "for k in a; do printf -v 'a[$(rm x)]' $k; done", "echo \"${a['$(rm x)']}\"",
    "for k in a; do unset 'GROUPS[\\$(rm x)]'; echo $k; done",
])
def test_a_quoted_array_subscript_holding_a_substitution_is_code(line: str) -> None:
    # bash evaluates `a[...]` as arithmetic where it reads a name or a number, and runs the
    # command substitution in it even inside quotes, where the walk saw only text
    found = read_script(line)
    assert found is not None and not found.verdict.read, line
    for reads in ("for k in a; do echo 'a[$(rm x)]' $k; done",
                  "awk '{print a[$(1)]}' f | sort", "echo ${a[$(date +%s)]}"):
        found = read_script(reads)
        assert found is not None and found.verdict.read, reads


@pytest.mark.parametrize("line", [
    "echo $(( $(cat f) + 1 ))", "for i in $(cat f); do echo $((i+1)); done",
    "for n in $(cat f); do [[ $n -gt 1 ]] && echo $n; done",
    "cat f | while read n; do echo $((n)); done", "for f in /tmp/*; do (( f > 1 )) && echo; done",
    "(( $(cat f) > 1 )) && ls",
])
def test_a_value_read_at_run_time_is_code_in_an_arithmetic_expression(line: str) -> None:
    # `x='a[$(cmd)]'; echo $((x))` runs cmd: what a command printed, a glob or `read` gave is
    # data an attacker can write (a log line, a file's name)
    found = read_script(line)
    assert found is not None and not found.verdict.read, line
    assert "a value read at run time" in found.verdict.reason
    for reads in ("for i in 1 2 3; do echo $((i+1)); done", "[ $(cat f) -gt 1 ] && ls",
                  "if [[ $(kubectl get po | wc -l) -gt 3 ]]; then echo many; fi",
                  "echo $(( $(wc -l < f) + 1 ))", "[[ -n $(cat f) ]] && echo set",
                  "cat f | while read n; do [[ $n == x ]] && echo; done", "echo $((NS + 1))"):
        found = read_script(reads)
        assert found is not None and found.verdict.read, reads


def test_opening_the_watchdog_arms_it_even_through_a_redirection() -> None:
    found = read_script("cat < /dev/watchdog | od -c")
    assert found is not None and "watchdog" in found.verdict.reason
    found = read_script("ls -l /dev/watchdog* 2>/dev/null")
    assert found is not None and found.verdict.read


@pytest.mark.parametrize("line", [
    "echo ${NS@P}", "for x in $(cat f); do echo ${x@P}; done",
    "for x in $(cat f); do echo ${!x}; done", "for x in $(cat f); do test -v \"$x\" && echo; done",
    "for x in $(cat f); do [[ -v $x ]] && echo; done",
    "for x in $(cat f); do printf -v \"$x\" y; done",
])
def test_a_value_read_as_a_prompt_or_as_a_name_is_code(line: str) -> None:
    # ${x@P} runs the $(...) in x's value; ${!x}, test -v "$x", printf -v "$x" evaluate the
    # subscript of the name x holds: a value a command printed can be `a[$(cmd)]`
    found = read_script(line)
    assert found is not None and not found.verdict.read, line
    for reads in ("echo ${NS:-x} ${#NS} ${!NS}", "for x in a b; do echo ${!x}; done",
                  "for x in $(cat f); do test -n \"$x\" && echo $x; done",
                  "for x in $(cat f); do echo ${x^^}; done"):
        found = read_script(reads)
        assert found is not None and found.verdict.read, reads
