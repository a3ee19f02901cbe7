"""`mendflow lint --llm`: the model's rewrite suggestions, added to the rule-based findings.

The model sees the guide with line numbers and the rules' findings and proposes rewrites the
rules cannot make. Each suggestion becomes an `info` finding with rule `MF900` (category
`clarity`), located at a line that exists in the guide; suggestions pointing elsewhere are
dropped. The rule-based findings are never changed, so `--llm` can only add advice, never
change the exit status.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from engine.compile.lint.base import Finding
from engine.compile.llm import prompts
from engine.compile.llm.pipeline import guide_text
from engine.compile.llm.provider import Usage, ask
from engine.guide import Guide

RULE = "MF900"
LINT_SCHEMA = {
    "title": "Suggestions", "type": "object",
    "properties": {"suggestions": {"type": "array", "items": {
        "type": "object", "required": ["line", "message", "suggestion"],
        "properties": {"line": {"type": "integer"}, "message": {"type": "string"},
                       "suggestion": {"type": "string"}}}}},
    "required": ["suggestions"],
}


def llm_findings(guide: Guide, findings: list[Finding], *, model: BaseChatModel, label: str,
                 text: str | None = None, usage: Usage | None = None) -> list[Finding]:
    """The model's suggestions as findings; raises an `LlmError` if the provider fails."""
    source = guide_text(guide, text)
    listed = [f"{f.line}: {f.rule} {f.message}" for f in findings]
    reply = ask(model, [SystemMessage(prompts.LINT_SYSTEM),
                        HumanMessage(prompts.lint_request(source, listed))],
                schema=LINT_SCHEMA, provider=label, usage=usage or Usage(model=label))
    items = (reply.data or {}).get("suggestions") if isinstance(reply.data, dict) else None
    out: list[Finding] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        line, message, suggestion = item.get("line"), item.get("message"), item.get("suggestion")
        if not isinstance(line, int) or not 1 <= line <= guide.line_count or \
                not isinstance(message, str) or not isinstance(suggestion, str):
            continue
        out.append(Finding(rule=RULE, category="clarity", severity="info", file=guide.path,
                           line=line, message=f"{message.strip()} (LLM: {label})",
                           suggestion=suggestion.strip()))
    return out[:10]
