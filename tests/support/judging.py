"""A guide with one prose decision, and how to tell the judge's requests from the others: the
LLM-judge tests over HTTP share them (tests/engine/compile/llm, tests/worker)."""

from __future__ import annotations

from typing import Any

from engine.compile.llm import prompts

PODS_GUIDE = """# Pods crash-looping

## Diagnosis

1. List the pods {#pods}:

   ```bash
   echo "web-1 CrashLoopBackOff 7 restarts"
   ```

## Assessment

1. If the pods are crash-looping, escalate: ask the service owner.

2. Otherwise, no action is needed.
"""


def is_judgment(body: dict[str, Any]) -> bool:
    return any(m["role"] == "system" and m["content"] == prompts.JUDGE_SYSTEM
               for m in body["messages"])
