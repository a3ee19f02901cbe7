"""`engine.runtime.services`: what a run's options answer with, and what building it costs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_answers_without_a_judge_import_no_llm_library() -> None:
    # Given a fresh interpreter with `mendflow serve`'s modules loaded, when a run that asks
    # people and has no LLM judge gets its answers (as every alert's run does), then no LLM
    # library is imported: importing them took over a second, which the server's first alert
    # paid while every request in flight waited
    code = (
        "import sys\n"
        "from engine.runtime.services import answers_for\n"
        "from engine.serve.app import create_app\n"
        "from engine.store.base import RunOptions\n"
        "answers_for(RunOptions(ask_people=True), store=object(), run_id='r')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('langchain_core', 'langgraph', 'langsmith') or m.startswith('engine.compile.llm')))"
        "\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", done.stdout[:500]
