"""Runbook styles the earlier sweeps did not try: a Quarto notebook's chunks, Docusaurus
containers and tabs, a Django shell, F5's tmsh, a Siemens integrator's operating instruction,
a MediaWiki page, keycap-emoji steps, footnotes under a Salt runbook, a Datadog notebook export,
Gherkin scenarios (tests/fixtures/styles15 holds the guides tried). Each test is one rule a
guide author would recognise."""

from __future__ import annotations

from pathlib import Path

from engine.plan import StepKind
from tests.support.compiling import (
    assert_gated_and_accounted,
    compile_text,
    gated,
    guards_of,
    manual_scripts,
    pipelines,
    running,
    runs,
)

STYLES15 = Path(__file__).resolve().parents[2] / "fixtures" / "styles15"


def test_each_styles15_guide_compiles_gated_and_accounted_for():
    assert_gated_and_accounted(folder=STYLES15, at_least=10)


# -- MediaWiki markup -----------------------------------------------------------------------------

MEDIAWIKI = """= NFS stale handles =

{{Warning|Do '''not''' reboot the filer.}}

== Procedure ==

# Log in to the node and check the mount:
#: <syntaxhighlight lang="bash">
ssh render-node-17
stat -t /mnt/render
</syntaxhighlight>
# If <code>stat</code> prints <code>Stale file handle</code>, remount the share:
#: <syntaxhighlight lang="bash">
sudo umount -l /mnt/render
</syntaxhighlight>
#* If the mount hangs, go to [[#Filer side|Filer side]].
#* Otherwise re-queue the job:
#*: <pre>deadlinecommand -RequeueJob 64f1c0e2</pre>

== Filer side ==

# List the exports:
#: <pre>
exportfs -v | grep render
</pre>
"""


def test_a_mediawiki_page_is_read_as_the_steps_it_shows():
    # `# step` lines were titles, and each `<syntaxhighlight>` / `<pre>` block a paragraph of
    # prose ("context for a reader"): the umount and the re-queue (both changes) were lost
    plan = compile_text(MEDIAWIKI)
    umount = running(plan, "umount -l /mnt/render")
    assert umount.mutating and gated(plan, umount.id)
    assert guards_of(plan, umount.id) == ["If `stat` prints `Stale file handle`"]
    requeue = running(plan, "deadlinecommand -RequeueJob 64f1c0e2")
    assert requeue.mutating and gated(plan, requeue.id)
    # the commands typed on the node run there, and the section jump lands
    assert running(plan, "stat -t /mnt/render").params["pipeline"][0][:3] == \
        ["ssh", "render-node-17", "--"]
    # "Filer side" runs on the filer, not on the node the guide last ssh-ed to: a person's
    # step (tests/engine/compile/test_sessions_carried.py), where the jump lands
    (listing,) = [s for s in plan.steps if s.kind == StepKind.MANUAL and
                  "exportfs -v | grep render" in s.text]
    assert any(e.kind == "jump" and e.target == listing.id for e in plan.edges)


def test_wiki_text_shown_in_a_markdown_fence_stays_markdown():
    plan = compile_text("## Notes\n\nThe old wiki page read:\n\n```\n== Procedure ==\n"
                        "# Restart it\n#: <pre>systemctl restart foo</pre>\n```\n")
    assert runs(plan) == []


# -- a session opened in one block, a guarded command in a later one ------------------------------

def test_a_guarded_command_after_a_session_opener_stays_under_its_guard():
    # `ssh web-1` in one block, "If the disk is full, clean the cache:" over `sudo rm -rf` in
    # the next: the rm took over the opener's step and ran in its place, before the guard
    # asked anything; the guard then scoped the check after it
    plan = compile_text("## Fix\n\nLog in:\n\n```bash\nssh web-1\n```\n\n"
                        "If the disk is full, clean the cache:\n\n```bash\n"
                        "sudo rm -rf /var/cache/app\n```\n\nThen check:\n\n```bash\ndf -h\n```\n")
    rm = running(plan, "rm -rf /var/cache/app")
    assert rm.params["pipeline"][0][:3] == ["ssh", "web-1", "--"]
    assert guards_of(plan, rm.id) == ["If the disk is full"]
    assert guards_of(plan, running(plan, "df -h").id) == []
    # with no guard between, the opener's step still becomes the session's first command
    plan = compile_text("## Check\n\nLog in:\n\n```bash\nssh web-1\n```\n\nThen look:\n\n"
                        "```bash\ndf -h\n```\n")
    assert pipelines(plan) == [[["ssh", "web-1", "--", "df -h"]]] and manual_scripts(plan) == []


def test_an_unknown_program_piped_into_a_filter_is_a_command_not_output():
    # `exportfs -v | grep render` under `ssh nfs-filer-02` in an untagged block was the
    # output of ssh: the check vanished from the plan
    plan = compile_text("## Check\n\n```\nssh nfs-filer-02\nexportfs -v | grep render\n```\n")
    assert pipelines(plan) == [[["ssh", "nfs-filer-02", "--", "exportfs -v | grep render"]]]
    # output that happens to hold a bar is still output
    plan = compile_text("## Check\n\n```\nkubectl get pods\nNAME | READY | STATUS\n```\n")
    assert pipelines(plan) == [[["kubectl", "get", "pods"]]]


# -- footnotes -------------------------------------------------------------------------------------

def test_a_footnote_referred_to_before_a_colon_is_read_where_it_is_referred_to():
    # "Look at the sources[^src]:" — the colon after the reference read as a definition's, so
    # the note was never moved: the notes at the end became a person's steps run after the
    # last step ("sudo -i" as the guide's final step)
    plan = compile_text("## Steps\n\n1. Check the sources[^src]:\n\n   ```bash\n"
                        "   chronyc sources -v\n   ```\n\n2. If none is selected, escalate to "
                        "the network team.\n\n[^src]: chrony marks the source it follows "
                        "with `*`.\n")
    assert [s.id for s in plan.steps if s.source.start >= 10 and s.kind != StepKind.END] == []
    assert pipelines(plan) == [[["chronyc", "sources", "-v"]]]
    assert any("chrony marks the source it follows" in s.title and s.source.start <= 6
               for s in plan.steps)


def test_a_footnote_of_many_lines_is_read_where_it_is_referred_to():
    # a note going on over indented lines stayed at the end: a person's step after the last
    plan = compile_text("## Steps\n\n1. Check the clock[^why]:\n\n   ```bash\n"
                        "   chronyc tracking\n   ```\n\n2. If it is off by more than 1 s, "
                        "escalate to the network team.\n\n"
                        "[^why]: Trading needs 1 ms. Do not set the clock by hand\n"
                        "    with `date -s`.\n")
    assert [s.id for s in plan.steps if s.source.start >= 10 and s.kind != StepKind.END] == []
    assert any("Do not set the clock by hand with `date -s`" in s.title + s.text
               for s in plan.steps)


# -- a stop, said another way ----------------------------------------------------------------------

def _ends_after(plan, decide_text: str) -> bool:  # noqa: ANN001
    """Whether the branch of the decision `decide_text` ends the run (through a person's step)."""
    (d,) = [s for s in plan.steps if s.kind == StepKind.DECIDE and s.text == decide_text]
    (branch,) = [e.target for e in plan.edges if e.source == d.id and e.kind == "branch"]
    step = plan.step(branch)
    while step.kind == StepKind.MANUAL:
        (nxt,) = [e.target for e in plan.edges if e.source == step.id and e.on == "success"]
        step = plan.step(nxt)
    return step.kind == StepKind.END


def test_a_stop_with_its_reason_after_it_or_in_other_words_ends_the_run():
    # "... and stop here; the payouts will be retried" and "... and terminate the procedure
    # here" were no stop: the guard guarded the scale-up after it instead, run only when the
    # provider was down (the Django and the Siemens guides of styles15)
    for said in ("When the health check does not return `200`, the provider is down. Post in "
                 "#billing-incidents and stop here; the payouts will be retried by the sweeper.",
                 "If the code is F999, the fault is not at the machine. Inform IT-Service "
                 "(Tel. 4711) and terminate the procedure here."):
        plan = compile_text(f"## Check\n\n```bash\ncurl -s https://x/health\n```\n\n{said}\n\n"
                            "```bash\nkubectl -n billing scale deploy/w --replicas=6\n```\n")
        cond = said.split(",")[0]
        assert _ends_after(plan, cond), said
        assert guards_of(plan, running(plan, "scale").id) == [f"Otherwise (not: {cond})"], said
    # a clause after the stop that asks for more is no stop
    plan = compile_text("## Check\n\n```bash\ncurl -s https://x/health\n```\n\n"
                        "If the code is F999, stop here; restart the pod.\n")
    assert not any(s.kind == StepKind.END and s.outcome.value == "resolved" and
                   "F999" in s.text for s in plan.steps)


# -- keycap-emoji step numbers --------------------------------------------------------------------

KEYCAPS = """# Redis evictions

1\ufe0f\u20e3 **Confirm the evictions**

```sh
redis-cli -h cache INFO stats
```

\u2705 not growing between two runs \u2192 false alarm, nothing to do.
\u274c growing \u2192 continue with 2\ufe0f\u20e3

2\ufe0f\u20e3 **How full is it?**

```sh
redis-cli -h cache INFO memory
```

\u26a0\ufe0f If `maxmemory_policy` is not `volatile-lru` someone changed it \u2192 jump to \
4\ufe0f\u20e3

3\ufe0f\u20e3 **Give it more memory**

```sh
redis-cli -h cache CONFIG SET maxmemory 12gb
```

\u27a1\ufe0f then skip to 5\ufe0f\u20e3

4\ufe0f\u20e3 **Restore the eviction policy**

```sh
redis-cli -h cache CONFIG SET maxmemory-policy volatile-lru
```

5\ufe0f\u20e3 **Check again**: still evicting? Escalate to the platform team.
"""


def test_keycap_numbers_are_step_numbers_and_their_jumps_land():
    # "jump to 4\ufe0f\u20e3" landed nowhere: its guard scoped the step after it (the memory
    # raise ran only when the policy had changed), "skip to 5\ufe0f\u20e3" was prose (the policy
    # restore ran after every raise), and "\u274c growing \u2192 continue with 2\ufe0f\u20e3" was
    # taken when "not growing" held: the false alarm never ended the run
    plan = compile_text(KEYCAPS)
    raise_ = running(plan, "CONFIG SET maxmemory 12gb")
    restore = running(plan, "CONFIG SET maxmemory-policy")
    assert guards_of(plan, raise_.id) == [
        "Otherwise (not: If `maxmemory_policy` is not `volatile-lru` someone changed it "
        "\u2192 jump to step 4)"]
    (gate,) = [e.source for _, e in plan.incoming(restore.id)]
    assert raise_.id not in {e.source for _, e in plan.incoming(gate)}  # skipped after it
    assert any(e.kind == "jump" for _, e in plan.incoming(gate))
    (end,) = [s for s in plan.steps if s.kind == StepKind.END and s.outcome is not None and
              s.outcome.value == "no_action"]
    assert guards_of(plan, end.id) == ["\u2705 not growing between two runs"]


# -- a network device's own shell ------------------------------------------------------------------

TMSH = """## Procedure

1. Log in to the active unit and start tmsh:

       ssh admin@lb-dc1-a.example.net
       tmsh

2. Show the pool and its members:

       show ltm pool web-prod-pool members

3. If the server is down, disable the member:

       modify ltm pool web-prod-pool members modify { 10.20.4.11:443 { session user-disabled } }

4. Save the configuration, then leave:

       save sys config
       quit
       exit

5. Check from outside that the VIP answers: `curl -sk https://web.example.net/healthz`.
"""


def test_lines_typed_at_a_device_shell_are_a_persons_steps_there():
    # after `ssh admin@lb` and `tmsh`, `show ltm pool ...` was an SQL query run here, `modify
    # ltm pool ...` (a change) and `save sys config` sample output: lost from the plan
    plan = compile_text(TMSH)
    scripts = manual_scripts(plan)
    assert any(s.endswith("tmsh\nshow ltm pool web-prod-pool members") for s in scripts)
    (modify,) = [s for s in plan.steps if s.kind == StepKind.MANUAL and
                 "modify ltm pool" in str(s.params.get("script"))]
    assert str(modify.params["script"]).startswith("ssh admin@lb-dc1-a.example.net\ntmsh\n")
    assert guards_of(plan, modify.id) == ["If the server is down"]
    assert any("save sys config" in s for s in scripts)
    assert not any(s.kind == StepKind.QUERY for s in plan.steps)
    # after `quit` and `exit` the guide is back on this machine
    assert pipelines(plan) == [[["curl", "-sk", "https://web.example.net/healthz"]]]


# -- Quarto / R Markdown chunks --------------------------------------------------------------------

QUARTO = """## Look at the primary

```{sql, connection=con}
#| label: replication-slots
SELECT slot_name, active FROM pg_replication_slots;
```

```{r}
#| label: lag-plot
lag <- dbGetQuery(con, "SELECT 1")
```
"""


def test_a_chunk_header_in_braces_names_its_language_and_its_option_lines_are_no_code():
    # ```{sql, connection=con} was tagged "{sql,": the query on the primary was sample output,
    # and so was the R chunk (code, for a person to run)
    plan = compile_text(QUARTO)
    (query,) = [s for s in plan.steps if s.kind == StepKind.QUERY]
    assert query.plugin == "sql"
    assert query.params["query"] == "SELECT slot_name, active FROM pg_replication_slots;"
    assert any("dbGetQuery" in s for s in manual_scripts(plan))
    assert all("#|" not in s for s in manual_scripts(plan))
    assert plan.ignored == []


# -- a check named after what it looks at ---------------------------------------------------------

def test_a_heading_that_opens_with_a_check_is_diagnosis_whatever_it_checks():
    # "3. Check the replica's recovery process" was a mitigation section ("recovery"): its
    # reads waited on "The diagnosis found a cause that the mitigation addresses", whose "no"
    # ended the run with "nothing to mitigate" before anything was looked at
    plan = compile_text("# Replica lag\n\n## 1. Measure the lag\n\n```bash\npsql -h r1 -c "
                        "'SELECT 1'\n```\n\n## 2. Check the replica's recovery process\n\n"
                        "```bash\nps -o pid,etime,cmd -C postgres\n```\n")
    assert not any(s.kind == StepKind.DECIDE for s in plan.steps)
    assert guards_of(plan, running(plan, "ps -o").id) == []
    # a heading that also fixes stays a mitigation
    from engine.compile.phrases import section_class
    assert section_class("Check and fix the recovery config") == "mit"
    assert section_class("Check the restore job") == "diag"


# -- a condition after the instruction, in a sentence that goes on from the one before ------------

def test_an_instruction_carried_on_by_and_or_then_keeps_its_trailing_condition():
    # "...check its recent deploys:" over a block, then "and roll back if the last deploy is
    # less than one hour old:" over `rollout undo`: the rollback ran after every history
    # check (the Datadog notebook of styles15)
    for lead in ("and roll back if the last deploy is less than one hour old:",
                 "Then roll back if the last deploy is less than one hour old:"):
        plan = compile_text("## Fix\n\nCheck its recent deploys:\n\n```bash\nkubectl -n c "
                            "rollout history deploy/api\n```\n\n" + lead + "\n\n```bash\n"
                            "kubectl -n c rollout undo deploy/api\n```\n")
        assert guards_of(plan, running(plan, "rollout undo").id) == [
            "if the last deploy is less than one hour old"], lead


# -- a caution over a procedure --------------------------------------------------------------

def test_only_do_this_when_scopes_the_steps_after_it():
    # "Only do this when the trace shows a `SerializationException`." over the steps that skip
    # a poison message was a note: the consumer-group reset ran after every restart
    plan = compile_text("## Skip a poison message\n\nOnly do this when the trace shows a "
                        "`SerializationException`.\n\n1. Pause the connector:\n   ```bash\n"
                        "   curl -s -X PUT localhost:8083/connectors/x/pause\n   ```\n")
    assert guards_of(plan, running(plan, "pause").id) == [
        "Only do this when the trace shows a `SerializationException`"]
    plan = compile_text("## Fix\n\nDo this now.\n\n```bash\nsudo systemctl restart app\n```\n")
    assert guards_of(plan, running(plan, "restart").id) == []
