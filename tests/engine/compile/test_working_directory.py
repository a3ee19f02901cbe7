"""`cd DIR` in a block: the block's later commands run in DIR (the shell step's `cwd`), the
first of them saying the `cd` line it follows; `cd DIR && cmd` on one line runs verbatim in
bash. What would run in the wrong place stays a person's: a `cd` to `~` or a variable, a
session opened after it, a prompt that names another shell."""

from __future__ import annotations

from engine.plan import StepKind
from tests.support.compiling import compile_text, gated, manual_scripts, runs


def _guide(body: str) -> str:
    return f"# T\n\n## Mitigation\n\n```bash\n{body}\n```\n"


def test_commands_after_cd_run_in_that_directory():
    plan = compile_text(_guide("cd /var/discourse\n./launcher rebuild app\ndu -sh shared"))
    steps = runs(plan)
    assert [s.params["pipeline"] for s in steps] == [[["./launcher", "rebuild", "app"]],
                                                     [["du", "-sh", "shared"]]]
    assert [s.params["cwd"] for s in steps] == ["/var/discourse", "/var/discourse"]
    first, second = steps
    assert first.text == "cd /var/discourse\n./launcher rebuild app"  # it says where it runs
    assert (first.source.start, first.source.end) == (6, 7)
    assert second.text == "du -sh shared" and not second.mutating
    assert gated(plan, first.id)  # an unknown program: not read-only
    assert not manual_scripts(plan)


def test_a_relative_cd_moves_from_the_directory_before_it():
    plan = compile_text(_guide("cd /var/log\ncd nginx/\nls -l"))
    assert [s.params["cwd"] for s in runs(plan)] == ["/var/log/nginx"]


def test_cd_and_a_command_on_one_line_run_verbatim_in_bash():
    plan = compile_text(_guide("cd /var/lib/clickhouse && ls -l metadata"))
    bash = [s for s in plan.steps if s.plugin == "bash"]
    assert [s.params["script"] for s in bash] == ["cd /var/lib/clickhouse && ls -l metadata"]
    assert not bash[0].mutating


def test_a_cd_no_command_follows_is_kept_for_a_person():
    plan = compile_text(_guide("cd /var/discourse"))
    assert manual_scripts(plan) == ["cd /var/discourse"] and not runs(plan)


def test_what_would_run_in_the_wrong_place_stays_a_person_s():
    home = compile_text(_guide("cd ~/chef\nknife node list"))  # `~`: no step expands it
    assert not runs(home) and manual_scripts(home) == ["cd ~/chef\nknife node list"]
    session = compile_text(_guide("cd /var/opt/git\nsudo -u git\ngit fsck"))
    assert not runs(session)  # the session's commands would lose the directory
    assert manual_scripts(session) == ["cd /var/opt/git\nsudo -u git\ngit fsck"]
    pod = compile_text("# T\n\n## Mitigation\n\n```\n/ $ cd /prometheus/\n"
                       "/prometheus $ rm -rf wal/\n```\n")
    assert not runs(pod)  # the prompt is another machine's shell, not this one
    assert [s.kind for s in pod.steps if s.kind == StepKind.MANUAL] == [StepKind.MANUAL]


def test_cd_into_a_plain_name_is_where_the_next_lines_run():
    # Given `cd dapr` after the clone that made it (no slash: it read as prose before, was
    # dropped, and `make` ran in the wrong directory)
    plan = compile_text(_guide("git clone https://github.com/dapr/dapr.git\ncd dapr\n"
                               "make release DEBUG=1"))
    clone, make = runs(plan)
    assert "cwd" not in clone.params and make.params["cwd"] == "dapr"
    assert make.text == "cd dapr\nmake release DEBUG=1"
    # but words after `cd` are prose, not a directory
    prose = compile_text(_guide("cd into the directory you cloned\nmake release"))
    assert [s.params.get("cwd") for s in runs(prose)] == [None]


CARRIED = """# App errors

## Diagnosis

1. Go to the log folder:

   ```bash
   cd {folder}
   ```

2. Count the errors: `grep -c ERROR app.log`

3. Size them up:

   ```bash
   du -sh app.log* | sort -h
   ```

4. Clean up the rotated log:

   ```bash
   rm -f app.log.1
   ```

## Afterwards

```bash
ls -l
```
"""


def test_a_cd_block_holds_for_the_blocks_after_it_in_its_section():
    """The author's shell stays where `cd` took it: the later steps of the section run there
    (they ran in the runner's own directory: `rm -f app.log.1` deleted a file of that name
    wherever Mendflow was started, after an approval that never said where)."""
    plan = compile_text(CARRIED.format(folder="/var/log/app"))
    where = {s.text.splitlines()[-1]: s.params.get("cwd") for s in runs(plan)}
    assert where == {"cd /var/log/app": None,  # it goes there (a folder missing fails it)
                     "grep -c ERROR app.log": "/var/log/app",
                     "du -sh app.log* | sort -h": "/var/log/app",  # (bash, in the folder)
                     "rm -f app.log.1": "/var/log/app",
                     "ls -l": None}  # another section starts from where the run is
    rm = next(s for s in runs(plan) if s.text.endswith("rm -f app.log.1"))
    assert gated(plan, rm.id)
    approve = next(s for s in plan.steps if s.id == f"approve-{rm.id}")
    assert "/var/log/app" in (approve.text or "")


def test_a_session_opened_after_an_earlier_cd_block_is_still_a_session():
    plan = compile_text("# T\n\n## Mitigation\n\n```bash\ncd /var/discourse\n./launcher cleanup\n"
                        "```\n\nRestart it:\n\n```\nssh forum.example.com\nsudo docker restart "
                        "app\n```\n")
    assert "sudo docker restart app" not in "\n".join(manual_scripts(plan))


def test_the_steps_after_a_cd_block_run_in_that_folder(tmp_path):
    from tests.support.running import run_locally

    (tmp_path / "app.log").write_text("ok\nERROR one\nERROR two\n")
    guide = (f"# T\n\n## Diagnosis\n\n1. Go to the log folder:\n\n   ```bash\n   cd {tmp_path}\n"
             "   ```\n\n2. Count the errors: `grep -c ERROR app.log`\n\n"
             "   If it prints 2, escalate to the app team.\n")
    record = run_locally(compile_text(guide), tmp_path / "run")
    # (in the runner's own folder grep found no app.log and the run failed)
    assert (record.status, record.outcome) == ("succeeded", "escalate"), record.reason
    missing = run_locally(compile_text(guide.replace(str(tmp_path), str(tmp_path / "gone"))),
                          tmp_path / "run2")
    # no such folder: never an answer, never read elsewhere
    assert missing.outcome not in ("escalate", "no_action", "resolved"), missing.outcome
    assert "gone" in (missing.reason or ""), missing.reason
