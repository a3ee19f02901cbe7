"""The shell plugin cuts its outputs only after redacting them: at every cut, a secret the
program printed across the cut leaves no piece of itself (four characters or more)."""

from __future__ import annotations

import pytest

from engine.datasources import Redactor
from engine.plugins import MAX_SUMMARY_CHARS, StepContext, parse_params
from plugins.shell import STDERR_TAIL_CHARS, ShellPlugin

SECRET = "Zq7-plantedK9w-4x"
CAP = 8_000
SPLITS = range(4, len(SECRET) - 3, 3)  # characters of the secret before the cut


async def run(program: tuple[str, dict[str, str]], *, exit_code: int = 0):
    # The secret reaches the program through its environment, as a password would
    script, env = program
    ctx = StepContext(run_id="r1", step_id="s1", attempt=1, idempotency_key="k",
                      deadline_s=10, output_cap_bytes=CAP, secrets=Redactor([SECRET]))
    params = parse_params(ShellPlugin, {"pipeline": [["sh", "-c", script]], "env": env,
                                        "ok_exit_codes": [exit_code]})
    return await ShellPlugin().run(params=params, ctx=ctx)


def printed(before: str, after: str = "", *, to: str = "", code: int = 0):
    """A program printing `before`, the secret, then `after` (to stderr with `to=">&2"`)."""
    return (f'printf %s "$BEFORE$SECRET$AFTER" {to}; exit {code}',
            {"BEFORE": before, "SECRET": SECRET, "AFTER": after})


def everything(result) -> str:  # noqa: ANN001
    return "\n".join([str(result.outputs), result.summary, result.error or "",
                      *(a.decode("utf-8", "replace") for a in result.artifacts.values())])


def assert_no_piece(text: str) -> None:
    found = [SECRET[i:i + 4] for i in range(len(SECRET) - 3) if SECRET[i:i + 4] in text]
    assert not found, found


@pytest.mark.parametrize("before", SPLITS)
async def test_stdout_cut_at_its_summary_length(before: int) -> None:
    result = await run(printed("a" * (MAX_SUMMARY_CHARS - before), "\n"))
    assert result.outputs["stdout"].endswith("a***\n")
    assert_no_piece(everything(result))


@pytest.mark.parametrize("before", SPLITS)
async def test_the_one_line_summary_cut_at_160(before: int) -> None:
    # The summary is "exit 0: " and the output's first lines, cut at 160 characters
    result = await run(printed("b" * (159 - len("exit 0: ") - before)))
    assert_no_piece(everything(result))


@pytest.mark.parametrize("before", SPLITS)
async def test_the_stderr_tail(before: int) -> None:
    # The tail keeps the last 2,000 characters: it starts `before` characters into the secret
    result = await run(printed("", "c" * (STDERR_TAIL_CHARS - len(SECRET) + before),
                               to=">&2"))
    assert_no_piece(everything(result))


@pytest.mark.parametrize("before", SPLITS)
async def test_the_error_line(before: int) -> None:
    result = await run(printed("d" * (500 - before), "\n", to=">&2", code=3))
    assert not result.ok
    assert_no_piece(everything(result))


@pytest.mark.parametrize("before", SPLITS)
async def test_the_capture_cap(before: int) -> None:
    # The program's output is kept up to the cap: the cut falls inside the secret
    result = await run(printed("e" * (CAP - before)))
    assert result.outputs["truncated"] is True
    assert result.artifacts["stdout"].endswith(b"***")
    assert_no_piece(everything(result))
