"""The sed and awk scanners: anything that writes or runs a program is found; reads pass."""

from __future__ import annotations

import pytest

from engine.effects.scripts import awk_problem, sed_problem


@pytest.mark.parametrize("script", [
    "p", "s/a/b/g", "1,5p", "/x/,/y/d", "$!N;P;D", "/foo/{s/a/b/;p}", "y/abc/xyz/", "1~3p",
    r"s/a\/b/c/gI", "10q", "/x/!d", ":a;N;$!ba;s/\n/ /g", r"\%x%p", "a hello w world",
    "s|w|e|2",
])
def test_sed_reads(script):
    assert sed_problem(script) is None


@pytest.mark.parametrize("script, said", [
    ("w /tmp/f", "`w` command writes"), ("1W /tmp/f", "`W` command writes"),
    ("s/a/b/w /tmp/f", "s///w flag writes"), ("s|a|b|e", "s///e flag runs"),
    ("e id", "`e` command runs"), ("s/x/y/;w f", "`w` command writes"),
    ("/x/{e date\n}", "`e` command runs"), ("s/x/y/gw f", "s///w flag writes"),
    ("s/unterminated", "could not be checked"), ("k", "could not be checked"),
])
def test_sed_writes_and_execs_are_found(script, said):
    assert said in (sed_problem(script) or "")


@pytest.mark.parametrize("program", [
    "{print $1}", "/err|warn/ {print}", "$3 > 100 {print $1}", "{print ($1 > 2)}",
    "{s+=$1} END {print s}", "NR==1 || /a/", 'BEGIN {FS=":"} {print "a > b"}',
    "/^MemTotal:/ {t=$2} END {printf \"%.1f\\n\", t/1024}",
])
def test_awk_reads(program):
    assert awk_problem(program) is None


@pytest.mark.parametrize("program, said", [
    ('{print $1 > "/tmp/x"}', "redirects"), ('{printf("%s", $1) > "f"}', "redirects"),
    ('{print >> "f"}', "redirects"), ('BEGIN{system("id")}', "calls system"),
    ('{"date" | getline d}', "pipes"), ('{print $1 | "sh"}', "pipes"),
    ('{print |& "sh"}', "pipes"), ('{getline x < "/etc/shadow"}', "calls getline"),
    ('@include "x"', "@ directive"), ('x = 1 + /#/; system("id")', "calls system"),
    ('/sys/ {system("x")}', "calls system"), ('{print "unterminated}', "could not be checked"),
])
def test_awk_writes_and_execs_are_found(program, said):
    assert said in (awk_problem(program) or "")
