"""JSON log lines (`engine.logs`): one object a line, each with the run and step it belongs
to (two steps logging at once do not mix), every secret redacted, the exception's too."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from engine import logs
from engine.datasources import Redactor

SECRET = "hunter2-is-a-secret"


@pytest.fixture
def captured() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger(f"mendflow.test_logs.{id(stream)}")
    handler = logs.configure("json", logger=logger.name,
                             redact=Redactor([SECRET]).redact)
    handler.setStream(stream)  # type: ignore[attr-defined]
    return logger, stream


async def test_lines_carry_the_run_and_step_of_the_task_that_logged_them(captured) -> None:
    logger, stream = captured

    async def step(run: str, step_id: str) -> None:
        with logs.bound(run_id=run, step_id=step_id):
            await asyncio.sleep(0.01)  # the other step logs meanwhile
            logger.info("working on %s", step_id)

    with logs.bound(run_id="r1"):
        await asyncio.gather(step("r1", "a"), step("r1", "b"))
        logger.info("the run goes on")
    logger.info("no run")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    got = {(line["run_id"], line["step_id"], line["message"]) for line in lines}
    assert got == {("r1", "a", "working on a"), ("r1", "b", "working on b"),
                   ("r1", None, "the run goes on"), (None, None, "no run")}
    assert all(line["level"] == "INFO" and line["logger"] == logger.name for line in lines)


def test_secrets_are_redacted_in_the_message_and_the_exception(captured) -> None:
    logger, stream = captured
    try:
        raise RuntimeError(f"cannot log in with {SECRET}")
    except RuntimeError:
        logger.exception("login failed for password %s", SECRET)
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert SECRET not in stream.getvalue()
    assert "RuntimeError" in line["exc"] and "login failed for password" in line["message"]


def test_a_log_format_is_text_or_json() -> None:
    assert logs.parse_format(None) == "text" and logs.parse_format("json") == "json"
    with pytest.raises(ValueError, match="use text or json"):
        logs.parse_format("xml")
