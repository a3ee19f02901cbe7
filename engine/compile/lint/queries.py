"""Rules MF4xx, query instructions: untagged blocks, queries without a data source,
hard-coded values that should be inputs, changes without a warning, and commands that look
like reads but are gated (the read-only table of `engine.effects` says why)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from engine.compile.blocks import read_block
from engine.compile.lint.base import (
    _ALERT_SECTION,
    Context,
    _clip,
    code_lines,
    rule,
)
from engine.compile.shellwords import parse_line
from engine.effects import Templated, Verdict, classify_pipeline, sql_verdict
from engine.guide import Element
from engine.promql import syntax_problem
from engine.sqltext import tables_read

# -- 4. query instructions ------------------------------------------------------------------


@rule(("MF401", "query", "warning", "A command or query block has no language tag."))
def untagged_block(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    tags = {"shell": "bash", "promql": "promql", "sql": "sql"}
    for el in ctx.elements:
        if el.kind != "code" or el.lang is not None:
            continue
        kind = ctx.block_kind(el)
        if kind not in tags:
            continue
        how = "fenced block" if el.fenced else "indented block"
        yield ("MF401", el, f"{kind} {how} has no language tag",
               f"Fence it as ```{tags[kind]} so it is run by the right plugin and not "
               f"mistaken for sample output")


_SOURCE_WORDS = re.compile(
    r"\b(prometheus|thanos|grafana|mimir|victoria\w*|datasource|data source|database|postgres"
    r"\w*|psql|mysql|replica|primary|clickhouse|console|explore|db|dashboard|elastic"
    r"\w*|kibana|bigquery|redis|sentry|loki|pg_\w+|gitlab-\w+|rails)\b", re.I)


@rule(("MF402", "query", "warning",
        "A query does not say which data source (Prometheus, database) it runs against."))
def query_without_source(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    reported: set[str] = set()  # once per query language: the fix is usually one sentence
    for el in ctx.elements:
        if el.kind != "code":
            continue
        kind = ctx.block_kind(el)
        if kind not in ("promql", "sql") or kind in reported:
            continue
        if kind == "sql" and tables_read(el.text).steps:
            continue  # it computes over earlier steps' results: its source is those steps
        near = [el.text] if kind == "sql" and "psql" in el.text else []
        near += [h.text for h in ctx.guide.section_path(el)]
        before = [e for e in ctx.elements[max(0, el.index - 2): el.index]
                  if e.kind != "code" and e.parent == el.parent]
        near += [e.text for e in before]
        if el.parent is not None:
            near.append(ctx.elements[el.parent].text)
        has_link = any(e.links for e in before)
        if has_link or any(_SOURCE_WORDS.search(t) for t in near):
            continue
        example = ("'In Thanos (https://thanos.example/), run:'" if kind == "promql"
                   else "'On the primary database (`gitlab-psql`), run:'")
        reported.add(kind)
        yield ("MF402", el, f"{kind} query with no data source said",
               f"Say where it runs just before the block, e.g. {example}, or name a data "
               "source configured in Mendflow's settings")


_K8S_SUFFIX = "[bcdfghjklmnpqrstvwxz2456789]"
_SEGMENTS = 16  # dash-separated words of a name: bounded, or `a-a-a-...` scans quadratically
_HARD_CODED = [  # (what, a cheap sign of it, pattern, fix); IPs and hosts only count in alert
    # runbooks. The sign is tried first: most lines have none, and a long `a-a-a-...` line
    # then costs one quick scan instead of one bounded scan per word.
    ("pod name with a generated suffix", re.compile(rf"-{_K8S_SUFFIX}{{5}}\b(?![.-])"),
     re.compile(
        rf"\b[a-z][a-z0-9]*(?:-[a-z0-9]+){{0,{_SEGMENTS}}}?(?:-{_K8S_SUFFIX}{{8,10}})?-"
        rf"(?={_K8S_SUFFIX}*\d)(?={_K8S_SUFFIX}*[a-z]){_K8S_SUFFIX}{{5}}\b(?![.-])"),
     "use a label selector (`-l app=...`) or a variable set by an earlier step"),
    ("IP address", re.compile(r"\d\.\d"),
     re.compile(r"(?<![\w.])(?!127\.0\.0\.1|0\.0\.0\.0)(?:\d{1,3}\.){3}\d{1,3}(?![\w./])"),
     "make it an input (`inputs: [{name: HOST_IP}]`) or look it up in an earlier step"),
    ("absolute timestamp", re.compile(r"\d-\d\d[T ]"),
     re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"),
     "use a relative window (`--since=1h`, `now-1h`) or the alert's start time"),
    ("host name", re.compile(r"-\d\d[a-z0-9-]{0,63}\.[a-z0-9-]"),
     re.compile(rf"\b[a-z][a-z0-9]*(?:-[a-z0-9]+){{0,{_SEGMENTS}}}-\d{{2,}}"
                r"[a-z0-9-]{0,63}(?:\.[a-z0-9-]+){2,}\b"),
     "make the host an input, or take it from the alert's `instance` label"),
]


@rule(("MF403", "query", "warning",
        "A command or query hard-codes a value (pod name, IP, host, timestamp) of one incident."))
def hard_coded_values(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    # In a how-to, `ssh deploy-01-sv-gprd...` names fixed infrastructure; in an alert's
    # runbook the host is whichever one fired, so there it should come from the alert.
    per_alert = any(_ALERT_SECTION.match(h.text.strip()) for h in ctx.guide.headings())
    checks = [c for c in _HARD_CODED if per_alert or c[0] not in ("IP address", "host name")]
    for el in ctx.elements:
        if el.kind != "code":
            continue
        kind = ctx.block_kind(el)
        if kind == "shell":
            lines = [(c.line, c.text) for c in ctx.commands(el)]
        elif kind in ("promql", "sql"):
            lines = code_lines(el)
        else:
            continue
        found: set[str] = set()
        for no, text in lines:
            for what, sign, pattern, fix in checks:
                if what in found or not sign.search(text):
                    continue
                m = pattern.search(text)
                if m:
                    found.add(what)
                    yield ("MF403", no, f"hard-coded {what} '{m.group(0)}' belongs to one "
                           "incident", f"Do not copy one incident's values: {fix}")


# An option's value is a word not starting with '-': when it may be any word, `-a -a -a ...`
# splits in exponentially many ways before the match fails.
_MUTATING = re.compile(
    r"\b(kubectl|oc)\s+(?:-\S+\s+(?:[^-\s]\S*\s+)?)*(delete|apply|patch|edit|scale|drain|cordon"
    r"|uncordon|replace|taint|label|annotate|rollout\s+(?:restart|undo)|set\s+image)\b"
    r"|\bvirtctl\s+(stop|restart|migrate|pause)\b|\bhelm\s+(upgrade|uninstall|rollback|delete)\b"
    r"|\brm\s+-\w*[rf]|\bsystemctl\s+(restart|stop|disable)\b|\b(reboot|shutdown)\b"
    r"|\bgitlab-ctl\s+(restart|stop|reconfigure)\b|\bterraform\s+(apply|destroy)\b"
    r"|\bdocker\s+(rm|kill|stop)\b|\bkill\s+-9\b"
    r"|^\s*(delete\s+from|update\s+\w+\s+set|drop\s+|truncate\s|alter\s+table)", re.I)
_CAUTION = re.compile(
    r"\b(warning|caution|careful|carefully|approv\w*|destructive|disrupt\w*|downtime|outage"
    r"|irreversibl\w*|permanent\w*|danger\w*|backup|back up|make sure|ensure|impact|risk\w*"
    r"|important|dry-run|change request|maintenance)\b|⚠|:warning:", re.I)


@rule(("MF404", "query", "warning",
        "A command that changes the system has no warning or approval note."))
def unguarded_mutation(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if el.kind != "code":
            continue
        kind = ctx.block_kind(el)
        lines = ([(c.line, c.text) for c in ctx.commands(el)] if kind == "shell"
                 else code_lines(el) if kind == "sql" else [])
        hit = next(((no, t) for no, t in lines if _MUTATING.search(t) and "--dry-run" not in t),
                   None)
        if hit is None or _CAUTION.search(_surroundings(ctx, el)):
            continue
        verb = _MUTATING.search(hit[1]).group(0).strip()  # type: ignore[union-attr]
        yield ("MF404", hit[0], f"'{_clip(verb, 40)}' changes the system and the guide gives "
               "no warning", "Say what it changes and what could go wrong just before it "
               "(e.g. '> **Warning:** this restarts every virt-handler pod'); Mendflow asks for "
               "an approval before mutating steps")


def _surroundings(ctx: Context, el: Element) -> str:
    """The step around a code block: its item, the elements just before it, its heading."""
    parts = [h.text for h in ctx.guide.section_path(el)[-1:]]
    parts += [e.text for e in ctx.elements[max(0, el.index - 3): el.index]]
    idx = el.parent
    while idx is not None:
        parts.append(ctx.elements[idx].text)
        idx = ctx.elements[idx].parent
    return "\n".join(parts)


# Causes that make a command on the read-only table need an approval: what it says, not what
# it is (`kubectl delete` or an unknown tool is a change nobody would mistake for a read).
_LOOKS_LIKE_A_READ = ("flag", "operand", "script", "wrapper", "sql")


@rule(("MF405", "query", "info",
        "A command that looks like a read needs an approval: the read-only table says why."))
def gated_read(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        if el.kind != "code" or ctx.role(el) == "mitigation":
            continue  # in a mitigation, an approval is what the author expects
        block = read_block(el)
        if block.cls == "command":
            found = [(line.start, line.text, _shell_verdict(line.text)) for line in block.lines]
        elif block.cls == "query" and block.plugin == "sql" and _SQL_READ.match(block.text):
            found = [(block.start + 1, block.text, sql_verdict(block.text))]
        else:
            continue
        for line, text, verdict in found:
            if verdict is not None and verdict.effect == "mutate" and \
                    verdict.cause in _LOOKS_LIKE_A_READ:
                yield ("MF405", line, f"`{_clip(text, 60)}`: {verdict.reason}: this step "
                       "needs an approval",
                       "If it should only read, drop what writes or runs (print to stdout, no "
                       "in-place edit, no script from a value); if the change is meant, say so "
                       "before it: Mendflow asks for an approval before it runs")


_SQL_READ = re.compile(r"\s*(select|with|show|explain|values|table)\b", re.I)


@rule(("MF406", "query", "warning", "A PromQL query does not parse as Prometheus reads it."))
def promql_syntax(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    if ctx.plan is None:
        return
    metricsql = {line for el in ctx.elements if el.kind == "code" and
                 (el.lang or "").lower() == "metricsql"
                 for line in range(el.span.start, el.span.end + 1)}
    for step in ctx.plan.steps:
        if step.plugin != "prometheus" or "query" not in step.params or \
                step.source.start in metricsql:
            continue  # (MetricsQL is a superset Prometheus' parser does not read)
        problem = syntax_problem(str(step.params["query"]))
        if problem is not None:
            yield ("MF406", step.source.start, f"the PromQL query does not parse: {problem}",
                   "Fix the query (try it in Prometheus' graph page); if it is "
                   "VictoriaMetrics' MetricsQL, tag the block ```metricsql")


def _shell_verdict(text: str) -> Verdict | None:
    """The verdict on a command line's first pipeline that is not read-only, if any."""
    parsed = parse_line(text)
    for pipeline in parsed.pipelines:
        verdict = classify_pipeline([[w.plain() if w.is_literal else Templated(w.plain())
                                      for w in stage] for stage in pipeline.stages])
        if not verdict.read:
            return verdict
    return None
