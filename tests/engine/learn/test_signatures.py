"""The failure-signature normaliser: the same failure gives the same signature whatever ids,
hosts, numbers, paths, times and quoted values it names; different failures stay apart; and
credentials never survive it."""

from __future__ import annotations

import pytest

from engine.learn.signatures import MAX_PATTERN, mask_credentials, normalise, signature


@pytest.mark.parametrize(("error", "expected"), [
    ("timed out after 30 s", "timed out after <n> s"),
    ("exit 1: du: cannot access '/srv/scratch/a': No such file or directory",
     "exit <n>: du: cannot access '<q>': No such file or directory"),
    ("du: cannot access /srv/scratch/a: Permission denied",
     "du: cannot access <path>: Permission denied"),
    ("could not connect to 10.0.0.5:5432: connection refused",
     "could not connect to <ip>: connection refused"),
    ("connect to [2001:db8::7]:443 failed", "connect to <ip> failed"),
    ("connect to fe80::1 failed", "connect to <ip> failed"),
    ("connection to db-7.prod.internal:5432 failed", "connection to <host> failed"),
    ("no answer from api.example.com", "no answer from <host>"),
    ("GET http://prom:9090/api/v1/query?q=up returned 503",
     "GET http://<url> returned <n>"),
    ("relation \"request_log_2\" does not exist", "relation \"<q>\" does not exist"),
    ("syntax error at or near `SELEC`", "syntax error at or near `<q>`"),
    ("pod web-7f9c4b-xk2lp crashed", "pod <id> crashed"),
    ("request 123e4567-e89b-12d3-a456-426614174000 failed", "request <uuid> failed"),
    ("segfault at 0x7ffd1234 in deadbeef01", "segfault at <hex> in <hex>"),
    ("run 20261202-215613-35d8aa failed", "run <id> failed"),
    ("failed at 2026-12-02T21:54:24.123Z", "failed at <time>"),
    ("failed at 2026-12-02 21:54:24+01:00", "failed at <time>"),
    ("Dec  2 21:54:24 node kernel: oom", "<time> node kernel: oom"),
    ("since 2026-12-02", "since <date>"),
    ("at 21:54:24 exactly", "at <time> exactly"),
    ("mail to ops@example.com bounced", "mail to <email> bounced"),
    ("took 12.5 ms for 3,000 rows", "took <n> ms for <n> rows"),
    ("bad version v1.2.3", "bad version v<n>"),
    ("file C:\\Users\\me\\x.txt missing", "file <path> missing"),
    ("no such file ~/notes and ./x/y", "no such file <path> and <path>"),
])
def test_what_varies_is_abstracted(error: str, expected: str) -> None:
    assert normalise(error) == expected


def test_what_names_the_failure_is_kept() -> None:
    # an architecture or a hash name is not an id; a step's name with a number stays whole
    assert normalise("no x86_64 build; sha256 mismatch") == "no x86_64 build; sha256 mismatch"
    assert normalise("[step approve-mit-1-otherwise-delete]: denied") == (
        "[step approve-mit-1-otherwise-delete]: denied")
    assert normalise("command not found: kubectl") == "command not found: kubectl"


@pytest.mark.parametrize("a, b", [
    ("connection to 10.0.0.1:5432 refused", "connection to 10.9.8.7:6543 refused"),
    ("du: cannot access '/a/b': No such file", "du: cannot access '/c': No such file"),
    ("pod api-5d8f7c9b6-abcde OOMKilled after 3600 s",
     "pod api-6f9d8c7b5-zyxwv OOMKilled after 12 s"),
    ("  timed   out\n after 5 s ", "timed out after 50 s"),
    ("lock held by run 20261201-010203-aaaaaa since 2026-12-01T01:02:03Z",
     "lock held by run 20261202-111111-bbbbbb since 2026-12-02T11:11:11Z"),
])
def test_the_same_failure_has_one_signature(a: str, b: str) -> None:
    assert signature(a) == signature(b)


@pytest.mark.parametrize("a, b", [
    ("connection refused", "permission denied"),
    ("command not found: du", "command not found: df"),
    ("relation \"x\" does not exist", "column \"x\" does not exist"),
])
def test_different_failures_stay_apart(a: str, b: str) -> None:
    assert signature(a).id != signature(b).id


def test_a_signature_is_a_stable_short_hash_of_the_pattern() -> None:
    sig = signature("timed out after 30 s")
    assert sig == signature("timed out after 31 s")
    assert len(sig.id) == 12 and int(sig.id, 16) >= 0
    assert sig.pattern == "timed out after <n> s"


@pytest.mark.parametrize("error", [
    "auth failed: password=hunter2secret for user x",
    "auth failed: PASSWORD: 'hunter2secret'",
    "header Authorization: Bearer hunter2secret rejected",
    "curl -H 'Authorization: Basic aHVudGVyMnNlY3JldA==' failed",
    "token=hunter2secret&x=1 rejected",
    "api_key = \"hunter2secret\" invalid",
    "postgresql://app:hunter2secret@db.internal:5432/app refused",
])
def test_credentials_never_survive(error: str) -> None:
    for text in (normalise(error), mask_credentials(error), signature(error).pattern):
        assert "hunter2secret" not in text
        assert "aHVudGVyMnNlY3JldA" not in text


def test_an_example_keeps_what_varies_but_is_one_cut_line() -> None:
    message = "exit 1:\n du: cannot access '/srv/a'\n" + "x" * 2000
    kept = mask_credentials(message)
    assert kept.startswith("exit 1: du: cannot access '/srv/a'") and "\n" not in kept
    assert len(kept) == 500


def test_a_long_error_is_cut() -> None:
    assert len(normalise("word " * 500)) == MAX_PATTERN


def test_it_is_pure_and_idempotent() -> None:
    error = "could not connect to db-1.prod.internal:5432 at 2026-12-02T10:00:00Z (try 3)"
    once = normalise(error)
    assert normalise(error) == once
    assert normalise(once) == once
