"""What the LLM is told: the compile, repair, section, judge and lint prompts.

Bump `PROMPT_VERSION` whenever a prompt's meaning changes: it is part of every cached plan's
key (`engine.compile.cache`), so plans compiled under an older prompt are compiled again.
"""

from __future__ import annotations

import json
from typing import Any

PROMPT_VERSION = "1"

SYSTEM = """You turn an SRE troubleshooting guide (Markdown, given with line numbers) into an
execution plan for Mendflow. You get the guide and the plan Mendflow's deterministic compiler
made from it. Return the refined plan as ONE JSON object in the plan schema, nothing else.

Rules (a plan that breaks one is rejected and sent back to you with the validator's messages):
1. Run only what the guide says. Every shell command and query must be copied from the guide
   (you may replace a value that varies per incident by a template such as
   {{ inputs.namespace }}; the program name stays literal). Never invent a command.
   Sample output and logs in the guide are not commands.
2. Every step keeps `source` (first and last line, 1-based) pointing at the guide lines it
   comes from, and its `text` quotes the guide's instruction from those lines.
3. Shell steps: plugin "shell", params {"pipeline": [[argv...], [argv...]]}: no shell, one
   argv per pipe stage. Queries: plugin "prometheus" {"query": ...} or "sql" {"query": ...}.
   Literal "{{" in a command must be written {{ '{{' }}.
4. Values that vary per incident (namespaces, hosts, pod names, time ranges) become plan
   inputs: {"name", "type": string|integer|number|boolean, "default", "required",
   "description"}, used as {{ inputs.NAME }}. A value found by an earlier step is bound with
   `binds` {"vars.NAME": "result.stdout | trim"} and listed in `writes`.
5. Conditions: keep the guide's sentence in condition.text. Where the data decides it, add
   condition.expr, a Jinja2 expression over memory that exists at that point: inputs.*,
   vars.* bound by an earlier step, steps.<earlier step id>.stdout|exit_code|lines (shell) or
   .value|series (prometheus); filters: numbers, lines, matching('re'), trim, length, max,
   first, int, float. Otherwise leave expr null: a person (or the LLM judge) decides.
6. Keep the DAG valid: one entry step with no incoming edges, no cycles, every step reachable,
   every path ending in an `end` step (outcome resolved|mitigated|escalate|no_action).
   Read-only checks that do not depend on each other may run in parallel (fan out from one
   step, join at the next). A step that changes the world has "mutating": true, an `approve`
   step right before it, never runs in parallel with others, and the approval has an
   on="failure" edge to an escalate end.
7. Keep the compiler's step ids where a step stays the same."""


def numbered(text: str, start: int = 1, end: int | None = None) -> str:
    lines = text.split("\n")
    end = len(lines) if end is None else end
    return "\n".join(f"{i:4d}| {lines[i - 1]}" for i in range(start, end + 1))


def compile_request(guide_text: str, plan_json: str, schema: dict[str, Any]) -> str:
    return (f"Plan schema (JSON Schema):\n{json.dumps(schema, separators=(',', ':'))}\n\n"
            f"Guide:\n{numbered(guide_text)}\n\n"
            f"The deterministic compiler's plan:\n{plan_json}\n"
            "Return the refined plan as one JSON object.")


def repair_request(problems: list[str]) -> str:
    listed = "\n".join(f"- {p}" for p in problems[:40])
    return ("Your plan was rejected. Fix every problem below and return the whole corrected "
            f"plan as one JSON object:\n{listed}")


def section_request(guide_text: str, start: int, end: int, steps_json: str,
                    edges_json: str) -> str:
    return (f"The guide is too long to send whole; here are lines {start}-{end}:\n"
            f"{numbered(guide_text, start, end)}\n\nThe compiler's steps for these lines:\n"
            f"{steps_json}\nand the edges between them:\n{edges_json}\n"
            "Return {\"steps\": [...], \"edges\": [...]}: the same step ids and the same "
            "edges (source, target, kind, on), with refined params, binds, writes, titles, "
            "inputs used and condition expressions. Add no step and no edge. Also return "
            "\"inputs\": [...] for any new parameter.")


JUDGE_SYSTEM = """You decide one condition of an SRE runbook from what earlier steps found.
Answer ONE JSON object:
{"holds": true|false|null, "confidence": 0.0-1.0, "rationale": "one or two sentences"}.
Use null when the evidence does not decide it; a person will be asked instead."""


def judge_request(condition: str, step_title: str, step_text: str, evidence: str,
                  otherwise: str = "") -> str:
    alt = f"\nIf it does not hold: {otherwise}" if otherwise else ""
    said = [condition]
    extra = ""
    for label, text in (("Decision", step_title), ("Instruction", step_text)):
        # a decision's title and text are often the condition itself: say each thing once
        if text and not any(text.strip() in s for s in said):
            extra += f"\n{label}: {text}"
            said.append(text)
    return f"Condition: {condition}{alt}{extra}\nWhat the steps before it found:\n{evidence}"


LINT_SYSTEM = """You review an SRE troubleshooting guide so that it compiles into a clear,
safe, automatable plan. Given the guide (with line numbers) and a linter's findings, suggest
rewrites the rules cannot: vague conditions that could be an expression over command output,
commands missing from prose, missing outcomes. Answer ONE JSON object:
{"suggestions": [{"line": N, "message": "what is unclear", "suggestion": "the rewrite"}]}
with at most 10 suggestions, each pointing at a real line."""


def lint_request(guide_text: str, findings: list[str]) -> str:
    listed = "\n".join(findings[:50]) or "(none)"
    return f"Guide:\n{numbered(guide_text)}\n\nRule-based findings:\n{listed}"
