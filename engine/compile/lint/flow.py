"""Rules MF2xx, control flow: a condition with no action, no ending, jumps to nowhere,
mitigation before diagnosis, unreachable steps."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from pathlib import Path

from engine.compile.links import guide_link
from engine.compile.lint.base import (
    _ROLE_WORDS,
    Context,
    _clip,
    is_step,
    rule,
    sentences,
)
from engine.compile.nodes import AT_ITS_PROMPT, REPEAT_STEP, WHERE_UNSAID
from engine.compile.phrases import (
    explicit_expr,
    guard_in,
    is_call_sentence,
    may_hold,
    outcome_of,
    step_number,
)
from engine.errors import MendflowError
from engine.guide import Element, slugify
from engine.plan import StepKind
from engine.templating import check_expression, references

# -- 2. control flow --------------------------------------------------------------------------

_ACTION_WORD = re.compile(
    r"\b(run|check|restart|delete|escalate|contact|page|see|go|skip|follow|continue|proceed|"
    r"open|create|scale|increase|decrease|remove|stop|start|use|try|apply|rollback|roll back|"
    r"revert|drain|cordon|reboot|investigate|review|ask|notify|wait|retry|file|raise|consult|"
    r"refer|reach out|verify|ensure|make sure|inspect|look|set|update|fix|resolve|move|add|"
    r"send|post|announce|kill|terminate|purge|consider|tell|ping|means?|points? to|indicates?|"
    r"suggests?|likely|probably|need|must|should)\b",
    re.I)


@rule(("MF201", "control_flow", "warning", "An 'If ...' gives a condition but no action."))
def if_without_action(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    for el in ctx.elements:
        # (a sentence opening with "If"/"When" has those letters in its element's text: an
        # element without them is not cut into sentences)
        if ("If" not in el.text and "When" not in el.text) or not is_step(ctx, el) or \
                ctx.has_body(el):
            continue
        for sent in sentences(el.text):
            m = re.match(r"(If|When)\s+(.*)", sent.strip())
            if not m:
                continue
            rest = m.group(2)
            if re.search(r",|\bthen\b|:", rest) or _ACTION_WORD.search(rest):
                continue
            yield ("MF201", el, f"\"{_clip(sent)}\" says when but not what to do",
                   "Finish the sentence with the action, e.g. 'If the pod is Pending, "
                   "describe it with `kubectl describe pod ...`', and say what to do otherwise "
                   "if it is not simply the next step")
            break


_END_WORDS = re.compile(
    r"\b(resolv\w*|escalat\w*|contact|support|reach out|open an? (issue|ticket|case|incident)|"
    r"page|done|complete[sd]?|fixed|clears?|stops? firing|no longer|back to normal|recover\w*|"
    r"help|slack|on-?call)\b", re.I)


@rule(("MF202", "control_flow", "warning",
        "A runbook never says when it is done, resolved, or when to escalate."))
def no_end(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    mitigation = [h for h in ctx.guide.headings() if ctx.role(h) == "mitigation"
                  and _ROLE_WORDS["mitigation"].match(h.text)]
    if not mitigation:
        return
    start = mitigation[0].index
    for el in ctx.elements[start:]:
        # (or an ending the compiler reads: "Close the incident.", "Hand over to the day
        # shift", "Mark it resolved": the plan ends there, the guide did say so)
        if _END_WORDS.search(el.text) or any(_END_WORDS.search(lk.text) for lk in el.links) or \
                outcome_of(el.text) is not None:
            return
    yield ("MF202", mitigation[0], "the guide never says when the incident is resolved or "
           "when to escalate",
           "End the Mitigation section with how to tell it worked (e.g. 'the alert clears "
           "within 10m') and whom to escalate to if it does not")


_STEP_JUMP = re.compile(
    r"\b(?:skip|go|jump|proceed|continue|return|move|back|repeat)\s+(?:directly\s+|back\s+)?"
    r"(?:to|from|with)\s+step\s+(\d+)", re.I)
_SECTION_JUMP = re.compile(
    r"\b(?:skip|go|jump|proceed|continue|move)\s+(?:directly\s+)?to\s+(?:the\s+)?"
    r"[\"'“]?((?:Diagnos|Mitigat|Troubleshoot|Resolution|Remediat|Verif|Escalat|Meaning|Impact"
    r"|Rollback|Recover)[\w -]{0,30}?)[\"'”]?(?:\s+section\b|\s*[.,;:]|$)")


@rule(("MF203", "control_flow", "error",
        "A jump to an anchor, step number or section that does not exist."))
def missing_jump_target(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    anchors = ctx.guide.anchors()
    known = {_loose(a) for a in anchors} | {
        _loose(m) for el in ctx.elements if el.kind == "html"
        for m in re.findall(r"\b(?:name|id)=[\"']([^\"']+)", el.text)}
    titles = {h.text.strip().lower() for h in ctx.guide.headings()}
    last_numbers = _last_step_numbers(ctx)
    numbered = {n: h for h in reversed(ctx.guide.headings())
                if (n := step_number(h.text)) is not None}
    closest = _Suggestions(list(anchors))
    for el in ctx.elements:
        for link in el.links:
            if link.href.startswith("#") and len(link.href) > 1:
                target = link.href[1:]
                if _loose(target) not in known:
                    near = closest(target)
                    guess = f" (did you mean #{near}?)" if near else ""
                    yield ("MF203", el, f"link '{link.text}' jumps to missing anchor "
                           f"'#{target}'",
                           f"Point it at an existing heading{guess} or add a heading whose "
                           f"slug is '{target}'")
        steps_named = may_hold(el.text, "step")  # ("step" is in every jump to a step)
        for m in _STEP_JUMP.finditer(el.text) if steps_named else ():
            n = int(m.group(1))
            if n in numbered and not _in_list(ctx, el):
                continue  # "proceed to Step 5": the "## Step 5 - ..." heading
            last = last_numbers.get(el.section, last_numbers.get("any"))
            if numbered and (last is None or n > last):
                step = numbered[max(k for k in numbered if k <= n)] if min(numbered) <= n \
                    else numbered[min(numbered)]
                yield ("MF203", el, f"'{m.group(0)}' but no heading is 'Step {n}' (the guide's "
                       f"steps: {', '.join(str(k) for k in sorted(numbered))})",
                       f"Jump to a step that exists, e.g. 'proceed to "
                       f"[{step.text}](#{slugify(step.text)})'")
            elif last is not None and n > last:
                yield ("MF203", el, f"'{m.group(0)}' but the list has only {last} steps",
                       f"Jump to a step between 1 and {last}: 'skip to step {last}'")
        for m in _SECTION_JUMP.finditer(el.text):
            name = m.group(1).strip()
            if name.lower() not in titles and slugify(name) not in anchors:
                yield ("MF203", el, f"'{m.group(0)}' but there is no '{name}' heading",
                       f"Add a '## {name}' heading or correct the section name")


def _in_list(ctx: Context, el: Element) -> bool:
    """Whether `el` sits in a list item: there "step N" means the list's N-th item."""
    idx: int | None = el.index
    while idx is not None:
        e = ctx.elements[idx]
        if e.kind == "list_item":
            return True
        idx = e.parent
    return False


def _loose(anchor: str) -> str:
    """Anchor compared the way GitHub and GitLab both resolve it (they differ on '-', '_')."""
    return re.sub(r"[^a-z0-9]", "", anchor.lower())


def _last_step_numbers(ctx: Context) -> dict[int | str | None, int]:
    """The highest step number of each section's ordered lists (key "any": of the guide)."""
    out: dict[int | str | None, int] = {}
    for e in ctx.elements:
        if e.kind == "list_item" and e.ordered and e.number:
            out[e.section] = max(out.get(e.section, 0), e.number)
            out["any"] = max(out.get("any", 0), e.number)
    return out


class _Suggestions:
    """'Did you mean #...?' for a missing anchor: the closest heading by difflib's ratio.

    Each answer compares the target with every anchor, so thousands of broken links in a
    guide with thousands of headings would take quadratic time for a nicety: answers are kept
    per target, and once `BUDGET` comparisons are spent the linter stops suggesting."""

    BUDGET = 20_000

    def __init__(self, anchors: list[str]) -> None:
        self.anchors = anchors
        self.known: dict[str, str | None] = {}
        self.left = self.BUDGET

    def __call__(self, target: str) -> str | None:
        if target not in self.known and self.left >= len(self.anchors):
            self.left -= len(self.anchors)
            near = difflib.get_close_matches(target, self.anchors, n=1, cutoff=0.75)
            self.known[target] = near[0] if near else None
        return self.known.get(target)


@rule(("MF204", "control_flow", "warning", "Mitigation comes before Diagnosis."))
def mitigation_first(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    first: dict[str, Element] = {}
    for h in ctx.guide.headings():
        for role in ("diagnosis", "mitigation"):
            if _ROLE_WORDS[role].match(h.text.strip()) and len(h.text.split()) <= 4:
                first.setdefault(role, h)
    if "diagnosis" in first and "mitigation" in first:
        mit, diag = first["mitigation"], first["diagnosis"]
        if mit.index < diag.index and mit.level == diag.level:
            yield ("MF204", mit, f"'{mit.text}' (line {mit.span.start}) comes before "
                   f"'{diag.text}' (line {diag.span.start})",
                   "Move the Diagnosis section above Mitigation: find the cause before "
                   "changing anything")


@rule(("MF205", "control_flow", "warning",
        "A compiled step can never run: nothing leads to it from the entry step."))
def unreachable_steps(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    plan = ctx.plan
    if plan is None:
        return
    targets: dict[str, list[str]] = {}
    for edge in plan.edges:
        targets.setdefault(edge.source, []).append(edge.target)
    seen = {plan.entry, *plan.cleanup}  # clean-up steps run after any ending: roots too
    frontier = list(seen)
    while frontier:
        for target in targets.get(frontier.pop(), []):
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    for step in plan.steps:
        if step.id not in seen:
            yield ("MF205", step.source.start, f"step '{step.id}' ({_clip(step.title)}) is "
                   "unreachable: no path leads to it from the start",
                   "Link to it from the step that should lead there (e.g. 'If ..., go to "
                   "[this section](#anchor)') or delete it")


@rule(("MF209", "control_flow", "warning",
        "A jump goes back to an earlier step: a person repeats those steps by hand."))
def jump_back(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    """"If the rollout is not complete, go back to step 3": a plan has no loops, so the
    compiler makes it a person's step that repeats the steps from there (the guide did not
    compile before); say so, the author may write the retry out."""
    if ctx.plan is None:
        return
    for step in ctx.plan.steps:
        if step.id.startswith(REPEAT_STEP) and step.kind == StepKind.MANUAL:
            yield ("MF209", step.source.start, f"{_clip(step.text.splitlines()[0])!r} jumps "
                   f"back: a plan cannot loop, so a person repeats the steps from there by hand "
                   f"({step.title})",
                   "To automate it, write the retry out: the steps again, at most N times, "
                   "then what to do if it still fails (e.g. 'If it still fails, escalate to "
                   "...')")


_OPENED = re.compile(r"`(.+)`, line (\d+)\)$")


@rule(("MF210", "control_flow", "warning",
        "A command follows a session on another machine that an earlier section left open: "
        "where it runs is unsaid, so a person runs it."))
def where_unsaid(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    """"## Diagnosis" ssh-es to the node, "## Mitigation" says `systemctl restart kubelet`:
    the compiler makes the line a person's step (it would run on this machine), and says so."""
    if ctx.plan is None:
        return
    for step in ctx.plan.steps:
        script = str(step.params.get("script", "")) if step.kind == StepKind.MANUAL else ""
        if script.startswith(WHERE_UNSAID):
            note, _, lines = script.partition("\n")
            opened = _OPENED.search(note)
            where = f"`{opened.group(1)}` (line {opened.group(2)})" if opened else "a session"
            yield ("MF210", step.source.start, f"{_clip(lines.splitlines()[0])!r} comes after "
                   f"{where}, which an earlier section left open: where it runs is unsaid, so "
                   f"a person runs it",
                   "Say where it runs: write the session's one-shot form (`ssh HOST -- CMD`, "
                   "`kubectl exec POD -- CMD`), open the session again in this section, or "
                   "write 'From your laptop:' before it")


@rule(("MF211", "control_flow", "warning",
        "Lines typed at another machine's prompt, with no session of the guide's leading "
        "there: a person types them there."))
def typed_elsewhere(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    """`[root@db-17 ~]# systemctl restart postgresql-15`: the compiler makes the lines a
    person's step on db-17 (run here, they act on this machine), and says so."""
    if ctx.plan is None:
        return
    for step in ctx.plan.steps:
        script = str(step.params.get("script", "")) if step.kind == StepKind.MANUAL else ""
        for note in AT_ITS_PROMPT.finditer(script):
            host = note.group("host")
            yield ("MF211", step.source.start, f"lines typed at {host}'s prompt "
                   f"({note.group('prompt')}) are a person's step there: no session of the "
                   f"guide's leads to {host}, and here they would act on this machine",
                   f"To have them run, open the session first (`ssh {host}`) or write each "
                   f"line's one-shot form (`ssh {host} -- CMD`)")
            break


_MEMORY_CODE = re.compile(r"`\s*((?:steps|inputs|vars|alert)\s*(?:\.|\[)[^`]{1,400})`")


_DASHED_STEP = re.compile(r"\bsteps\.([A-Za-z_]\w*(?:-\w+)+)")


@rule(("MF206", "control_flow", "error",
        "A condition reads a step, filter or input that does not exist."))
def condition_reads_nothing(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    """An author's expression in an If/When (`steps.disk.stdout | int > 90`) that does not
    parse, uses an unknown filter, or names a step or input the guide does not have would
    otherwise be read as a person's judgment: a silent question instead of a check."""
    steps = {e.name for e in ctx.elements if e.name}
    if ctx.plan is not None:
        steps |= {s.id for s in ctx.plan.steps}
    inputs = {i.name for i in ctx.guide.front.inputs}
    if ctx.plan is not None:
        inputs |= {i.name for i in ctx.plan.inputs}
    for el in ctx.elements:
        if el.kind not in ("paragraph", "list_item", "heading") or "`" not in el.text:
            continue
        # A guard's words are a stretch of its sentence's (emphasis marks dropped): an element
        # that holds no `steps.`/`inputs.` code holds no guard that does, and its sentences
        # are not read for guards (that was 40% of linting a 20,000-command list).
        if not _MEMORY_CODE.search(el.text.replace("**", "").replace("__", "")):
            continue
        for sent in sentences(el.text):
            guard = guard_in(sent)
            if guard is None:
                continue
            for code in _MEMORY_CODE.findall(guard.text):
                code = code.strip()
                try:
                    check_expression(code)
                    refs = references(code, expression=True)
                except (MendflowError, RecursionError) as exc:
                    why = getattr(exc, "message", "nested too deeply")
                    yield ("MF206", el, f"condition `{_clip(code)}` is not an expression Mendflow "
                           f"can evaluate ({why}): it would be asked as a judgment",
                           _fix_expression(code, why))
                    continue
                dashed = _DASHED_STEP.search(code)
                if dashed is not None:
                    # `steps.diag-1-count.stdout`: Jinja reads `steps.diag - 1 - count`, so
                    # the finding below would name step 'diag' (and suggest naming one so)
                    name = dashed.group(1)
                    near = [name] if name in steps else \
                        difflib.get_close_matches(name, sorted(steps), n=1, cutoff=0.5)
                    yield ("MF206", el, f"condition `{_clip(code)}` reads `steps.{name}`: after "
                           "a dot, hyphens are minus signs (steps."
                           f"{name.split('-', 1)[0]} minus ...)" + (
                               "" if name in steps else
                               f", and the guide has no step '{name}'"),
                           "Write `" + code.replace(dashed.group(0), f'steps["{near[0]}"]') + "`"
                           if near else 'Write steps["<step id>"], a step id from '
                           "`mendflow compile --explain`")
                    continue
                for ref in sorted(refs):
                    root, _, rest = ref.partition(".")
                    name = rest.split(".", 1)[0]
                    if root == "steps" and name and name not in steps:
                        near = difflib.get_close_matches(name, sorted(steps), n=1, cutoff=0.6)
                        fix = code.replace(f"steps.{name}", f"steps.{near[0]}") if near else None
                        yield ("MF206", el, f"condition `{_clip(code)}` reads step '{name}', "
                               "which the guide does not have",
                               f"Write `{fix}`" if fix else
                               f"Name the step it reads with {{#{name}}} on its heading or item")
                    elif root == "inputs" and name and name not in inputs and \
                            explicit_expr(f"`{code}`") is not None and ctx.plan is not None:
                        yield ("MF206", el, f"condition `{_clip(code)}` reads input '{name}', "
                               "which the guide does not declare",
                               f"Declare it in the front matter: 'inputs: [{{name: {name}}}]'")


def _fix_expression(code: str, why: str) -> str:
    m = re.search(r"No filter named '([^']+)'", why)
    if m:
        known = ("int", "float", "trim", "length", "lower", "upper", "numbers", "lines", "max",
                 "min", "first", "last")
        near = difflib.get_close_matches(m.group(1), known, n=1, cutoff=0.5)
        if near:
            return f"Write `{code.replace(m.group(1), near[0])}`"
        return f"Use a filter Mendflow has (e.g. {', '.join(known[:6])})"
    return "Write a Jinja2 expression over steps.<id>, inputs, vars or alert, e.g. " \
        "`steps.disk.stdout | int > 90`"


@rule(("MF207", "control_flow", "warning",
        "An instruction to follow another guide links to a file that is not there."))
def missing_linked_guide(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    """"Follow [the etcd backup](etcd-backup.md)" runs that guide as a child run; when the
    file is missing (moved, renamed, a typo) the step stays a person's, silently: say so."""
    here = Path(ctx.guide.path)
    if not here.is_file():
        return  # a guide given as text: links cannot be resolved
    for el in ctx.elements:
        if el.kind not in ("paragraph", "list_item") or not el.links or \
                not is_call_sentence(el.text):
            continue
        for link in el.links:
            try:
                found = guide_link(link.href.split("#", 1)[0], file=ctx.guide.path,
                                   line=el.span.start)
            except MendflowError:
                continue  # compile refuses it: MF001 says so
            if found is not None and not (here.parent / found.path).is_file():
                yield ("MF207", el, f"link '{link.text}' names {found.path}, which does not "
                       "exist: the step stays a manual step instead of running that guide",
                       f"Point the link at the guide's file, relative to {here.name}")


_HIDES_FAILURE = re.compile(r"(?:\|\||;)\s*(?:true|:|exit 0)\s*$")


@rule(("MF208", "control_flow", "warning",
        "A condition reads a command that hides its own failure (`|| true`)."))
def condition_on_hidden_failure(ctx: Context) -> Iterator[tuple[str, Element | int, str, str]]:
    """`grep error /var/log/app.log 2>/dev/null || true` followed by "If nothing is returned,
    no action is needed": a log that is not there reads as a clean log, and the run ends
    healthy on no evidence. The run cannot tell; the author can."""
    plan = ctx.plan
    if plan is None:
        return
    decides = {s.id for s in plan.steps if s.kind == StepKind.DECIDE}
    exprs = " ".join(e.condition.expr for e in plan.edges
                     if e.condition is not None and e.condition.expr)
    for step in plan.steps:
        text = str(step.params.get("script") or "") if step.plugin == "bash" else ""
        if not _HIDES_FAILURE.search(text):
            continue
        read = f'steps["{step.id}"]' in exprs or f"steps.{step.id}." in exprs or any(
            e.target in decides for _, e in plan.outgoing(step.id))
        if read:
            yield ("MF208", step.source.start, f"`{_clip(text)}` hides its own failure, and "
                   "a condition reads what it printed: a failed check would read as an "
                   "answer", "Drop the `|| true` (Mendflow fails the step, and the run says "
                   "it could not tell), or say what to do if the command fails")
