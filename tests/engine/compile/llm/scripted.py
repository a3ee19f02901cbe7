"""A scripted chat model: replies from a list, with usage metadata and structured output.

It is a real `BaseChatModel`, so the pipeline calls it exactly as it calls a provider's model;
`with_structured_output(..., include_raw=True)` parses the reply's JSON the way LangChain's
JSON-mode parser does, so invalid JSON arrives as a parsing error. A reply that is an
exception instance is raised instead, to script provider failures.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableLambda


class ScriptedChatModel(BaseChatModel):
    replies: list[Any]
    calls: list[list[BaseMessage]] = []
    structured: bool = True

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kw: Any) -> ChatResult:
        self.calls.append(list(messages))
        if not self.replies:
            raise AssertionError("the scripted model was called more often than scripted")
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        text = reply if isinstance(reply, str) else json.dumps(reply)
        msg = AIMessage(content=text, usage_metadata={
            "input_tokens": sum(len(str(m.content)) for m in messages) // 4,
            "output_tokens": len(text) // 4,
            "total_tokens": sum(len(str(m.content)) for m in messages) // 4 + len(text) // 4})
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def with_structured_output(self, schema: Any, *, include_raw: bool = False,
                               **kw: Any) -> Any:
        if not self.structured:
            raise NotImplementedError

        def run(messages: Any) -> Any:
            raw = self.invoke(messages)
            try:
                parsed, error = json.loads(raw.content), None
            except json.JSONDecodeError as exc:
                parsed, error = None, exc
            return {"raw": raw, "parsed": parsed, "parsing_error": error}

        return RunnableLambda(run)
