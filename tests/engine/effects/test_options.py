"""Flags read the way getopt reads them: bundles, attached values, long forms, `--`."""

from __future__ import annotations

import pytest

from engine.effects.options import Flags, NotRead, parse

CURLISH = Flags.of("sX:o::v", "silent request= color=? all", why={"-T": "uploads a file"})


@pytest.mark.parametrize("args, flags, operands", [
    (["-sXDELETE", "u"], [("-s", None), ("-X", "DELETE")], ["u"]),
    (["-s", "-X", "GET", "u"], [("-s", None), ("-X", "GET")], ["u"]),
    (["--request=PUT", "u"], [("--request", "PUT")], ["u"]),
    (["--request", "PUT", "u"], [("--request", "PUT")], ["u"]),
    (["-o", "u"], [("-o", None)], ["u"]),  # an optional value only attaches
    (["-ofile", "u"], [("-o", "file")], ["u"]),
    (["--color", "u", "--color=never"], [("--color", None), ("--color", "never")], ["u"]),
    (["u", "-v"], [("-v", None)], ["u"]),  # GNU permutes flags after operands
    (["--", "-v", "-"], [], ["-v", "-"]),
])
def test_getopt_forms(args, flags, operands):
    parsed = parse(args, CURLISH, "t")
    assert (parsed.flags, parsed.operands) == (flags, operands)


def test_posix_tools_stop_at_the_first_operand():
    parsed = parse(["-v", "cmd", "-s"], Flags.of("v", posix=True), "t")
    assert parsed.operands == ["cmd", "-s"]


@pytest.mark.parametrize("args, reason", [
    (["-sT", "f"], "t's -T uploads a file"),  # a known writer, inside a bundle
    (["-Z"], "-Z is not a read-only flag of t"),
    (["--all=yes"], "--all takes no value in t"),
    (["-X"], "-X of t needs a value"),
    (["--frob"], "--frob is not a read-only flag of t"),
])
def test_a_flag_off_the_table_is_refused_with_why(args, reason):
    with pytest.raises(NotRead) as caught:
        parse(args, CURLISH, "t")
    assert caught.value.reason == reason


def test_go_pflag_forms_and_numeric_counts_and_one_dash_names():
    go = Flags.of("n:", "all", go=True)
    assert parse(["-n=ns", "--all=true"], go, "k").flags == [("-n", "ns"), ("--all", "true")]
    assert parse(["-20"], Flags.of("", numeric=True), "h").flags == [("-N", "20")]
    ssl = Flags.of("", "noout in=", one_dash=True)
    assert parse(["-in", "c.pem", "-noout"], ssl, "x").flags == [("-in", "c.pem"),
                                                                 ("-noout", None)]
