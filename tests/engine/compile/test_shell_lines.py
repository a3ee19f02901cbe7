"""Guide lines that need a shell (`$(...)`, loops, redirections, globs) run as `bash` steps,
verbatim, with the variables they read bound as data; lines that cannot stay a person's."""

from __future__ import annotations

from engine.plan import StepKind
from tests.support.compiling import compile_text, gated

GUIDE = """# HAProxy slow

## Diagnosis

1. List the haproxy processes and their age:

   ```bash
   for p in $(pgrep -u haproxy -f haproxy); do ps -o user,pid,etimes,command $p; done
   ```

2. Check the open files limit:

   ```bash
   cat /proc/$(pidof -s haproxy)/limits  # the running process's limits
   ```

3. Save the logs of the first pod:

   ```bash
   kubectl -n $NAMESPACE logs $(kubectl -n $NAMESPACE get po -l app=haproxy -oname | head -1) > /tmp/haproxy.log
   ```

4. Watch the connections drain, until it prints 0:

   ```bash
   while true; do ss -tn state established '( sport = :443 )' | wc -l; sleep 5; done
   ```

5. Check the pod of your service:

   ```bash
   kubectl -n <namespace> get po $(hostname)
   ```
"""  # noqa: E501 (step 3's command line is the data under test)


def test_reading_shell_lines_run_as_bash_steps_without_a_gate() -> None:
    plan = compile_text(GUIDE)
    bash = {s.text: s for s in plan.steps if s.plugin == "bash"}
    loop = bash["for p in $(pgrep -u haproxy -f haproxy); do ps -o user,pid,etimes,command $p; "
                "done"]
    assert loop.kind == StepKind.COMMAND and not loop.mutating and not gated(plan, loop.id)
    limits = bash["cat /proc/$(pidof -s haproxy)/limits"]  # the comment is not run
    assert limits.params == {"script": "cat /proc/$(pidof -s haproxy)/limits"}
    assert not gated(plan, limits.id)


def test_a_line_that_writes_is_gated_and_its_variables_are_inputs_passed_as_data() -> None:
    plan = compile_text(GUIDE)
    save = next(s for s in plan.steps if s.plugin == "bash" and "/tmp/haproxy.log" in s.text)
    assert save.mutating and gated(plan, save.id)
    assert save.params["args"] == {"NAMESPACE": "{{ inputs.namespace }}"}
    assert "$NAMESPACE" in save.params["script"]  # the value is never spliced into the text
    assert "namespace" in [i.name for i in plan.inputs]


def test_an_endless_loop_and_a_placeholder_line_stay_a_persons() -> None:
    plan = compile_text(GUIDE)
    manual = [s for s in plan.steps if s.kind == StepKind.MANUAL]
    scripts = [str(s.params.get("script", "")) for s in manual]
    assert any(x.startswith("while true;") for x in scripts)
    assert any(x.startswith("kubectl -n <namespace> get po $(hostname)") for x in scripts)
    assert not any(s.plugin == "bash" and ("while true" in s.text or "<namespace>" in s.text)
                   for s in plan.steps)


def test_a_variable_set_by_an_earlier_step_is_read_from_memory() -> None:
    plan = compile_text("""# Pod

## Diagnosis

1. Find the pod and its files:

   ```bash
   POD=$(kubectl get po -l app=x -o name)
   kubectl exec $POD -- ls /data/*.db | wc -l > /dev/null
   ```
""")
    step = next(s for s in plan.steps if s.plugin == "bash")
    assert step.params["args"] == {"POD": "{{ vars.POD }}"}
    finder = next(s for s in plan.steps if s.plugin == "shell" and "get" in s.text)
    assert finder.id in {e.source for _, e in plan.incoming(step.id)} or \
        any(finder.id == a for a in plan.ancestors(step.id))


def test_a_comment_after_a_command_substitution_does_not_keep_it_from_binding():
    plan = compile_text("# T\n\n## Diagnosis\n\n```bash\nCONTAINER_ID=$(crictl ps -q --name web)"
                        "  # the container's id\ncrictl inspect $CONTAINER_ID\n```\n")
    bind, inspect = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert bind.params["pipeline"] == [["crictl", "ps", "-q", "--name", "web"]]
    assert bind.binds == {"vars.CONTAINER_ID": "result.stdout | trim"}
    assert inspect.params["pipeline"] == [["crictl", "inspect", "{{ vars.CONTAINER_ID }}"]]
