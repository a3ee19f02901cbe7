"""One shell statement written over several lines (a `for`/`while` loop or an `if` spelled out
line by line, `kubectl apply -f - <<EOF` with its manifest) runs as one `bash` step, verbatim,
judged by the read-only table like a one-line script; a heredoc that only becomes a file
(`cat > x.conf <<EOF`) stays a person's, with its text."""

from __future__ import annotations

from engine.plan import StepKind
from tests.support.compiling import compile_text, gated, manual_scripts

LOOP = """for block in 01EKFZS4BHWG 01EKFRDZCR4H; do
  gsutil ls -l gs://prometheus/$block/meta.json
done"""

MANIFEST = """kubectl apply -f - <<EOF
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: example
spec:
  selfSigned: {}
EOF"""

CONFIG = """cat > /etc/pgrepack/config.yml <<EOF
database:
  host: db-01
  password: xxx
EOF"""


def _guide(body: str) -> str:
    return f"# T\n\n## Mitigation\n\n```bash\n{body}\n```\n"


def test_a_loop_over_several_lines_runs_as_one_bash_step_verbatim():
    plan = compile_text(_guide(LOOP))
    bash = [s for s in plan.steps if s.plugin == "bash"]
    assert [s.params["script"] for s in bash] == [LOOP]
    assert (bash[0].source.start, bash[0].source.end) == (6, 8)
    assert not bash[0].mutating and not gated(plan, bash[0].id)  # gsutil ls only reads
    assert not manual_scripts(plan)


def test_a_manifest_piped_in_by_a_heredoc_runs_as_one_gated_step():
    plan = compile_text(_guide(MANIFEST))
    bash = [s for s in plan.steps if s.plugin == "bash"]
    assert [s.params["script"] for s in bash] == [MANIFEST]
    assert bash[0].mutating and gated(plan, bash[0].id)  # kubectl apply changes the cluster


def test_a_heredoc_that_writes_a_file_is_a_person_s_with_its_text():
    plan = compile_text(_guide(CONFIG))
    assert not any(s.plugin == "bash" for s in plan.steps)
    assert manual_scripts(plan) == [CONFIG]


def test_statements_on_lines_of_their_own_stay_steps_of_their_own():
    plan = compile_text(_guide("kubectl get pods\nkubectl get nodes"))
    runs = [s for s in plan.steps if s.kind == StepKind.COMMAND]
    assert [s.params["pipeline"] for s in runs] == [[["kubectl", "get", "pods"]],
                                                    [["kubectl", "get", "nodes"]]]


def test_a_script_holding_a_template_comment_mark_is_kept_for_a_person_not_refused():
    script = 'if [ ${#skipped[@]} -gt 0 ]; then\n  echo "${skipped[*]}"\nfi'
    plan = compile_text(_guide(script))  # `{#` would open a template comment in a step
    assert not any(s.plugin == "bash" for s in plan.steps)
    assert [s.text for s in plan.steps if s.kind == StepKind.MANUAL] == [script]
