"""Data sources: declared in mendflow.toml and the environment, secrets never shown."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from engine.datasources import DataSource, DataSources, Redactor, load_datasources, mask_url
from engine.errors import ConfigError
from engine.settings import Settings

CONFIG = """
[datasources.prom]
type = "prometheus"
url = "http://127.0.0.1:9090"

[datasources.requests_db]
type = "postgresql"
url = "postgresql://mendflow@127.0.0.1:5432/test"
password_env = "REQUESTS_DB_PASSWORD"
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    path = tmp_path / "mendflow.toml"
    path.write_text(CONFIG)
    return Settings(config_file=path, data_dir=tmp_path)


def test_sources_come_from_the_file_with_passwords_from_the_environment(settings) -> None:
    sources = load_datasources(settings, {"REQUESTS_DB_PASSWORD": "p@ss/word"})
    db = sources.resolve("requests_db", "postgresql")
    assert db.connect_info()["url"] == "postgresql://mendflow:p%40ss%2Fword@127.0.0.1:5432/test"
    assert db.public() == {"name": "requests_db", "type": "postgresql",
                           "url": "postgresql://mendflow@127.0.0.1:5432/test"}
    assert "p@ss/word" not in repr(sources.public())


def test_environment_overrides_the_file_and_declares_new_sources(settings) -> None:
    environ = {
        "MENDFLOW_DATASOURCE_PROM_URL": "http://prom.internal:9090",
        "MENDFLOW_DATASOURCE_LOCAL_URL": "sqlite:////tmp/local.db",
        "REQUESTS_DB_PASSWORD": "x",
    }
    sources = load_datasources(settings, environ)
    assert sources.resolve("prom", "prometheus").url == "http://prom.internal:9090"
    local = sources.resolve("local", ("postgresql", "sqlite"))
    assert local.type == "sqlite"


def test_one_source_of_a_type_is_the_default(settings) -> None:
    sources = load_datasources(settings, {"REQUESTS_DB_PASSWORD": "x"})
    assert sources.resolve(None, "prometheus").name == "prom"


def test_two_sources_of_a_type_need_a_name() -> None:
    sources = DataSources([DataSource("a", "prometheus", "http://a"),
                           DataSource("b", "prometheus", "http://b")], config_file="m.toml")
    with pytest.raises(ConfigError, match=r"several prometheus data sources .*\(a, b\)"):
        sources.resolve(None, "prometheus")


def test_unknown_source_names_the_file_and_lists_known_ones(settings) -> None:
    sources = load_datasources(settings, {"REQUESTS_DB_PASSWORD": "x"})
    with pytest.raises(ConfigError) as err:
        sources.resolve("prod_db", "postgresql")
    text = str(err.value)
    assert "'prod_db'" in text and str(settings.config_file) in text
    assert "known: prom, requests_db" in text


def test_wrong_type_is_refused(settings) -> None:
    sources = load_datasources(settings, {"REQUESTS_DB_PASSWORD": "x"})
    with pytest.raises(ConfigError, match="is prometheus, not postgresql or sqlite"):
        sources.resolve_for_plugin("prom", "sql")


def test_missing_password_variable_fails_only_when_the_source_is_used(settings) -> None:
    sources = load_datasources(settings, {})
    assert sources.resolve("prom", "prometheus")
    with pytest.raises(ConfigError, match="REQUESTS_DB_PASSWORD is not set"):
        sources.resolve("requests_db", "postgresql")


def test_passwords_in_the_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mendflow.toml"
    path.write_text('[datasources.db]\ntype = "postgresql"\nurl = "postgresql://h/d"\n'
                    'password = "hunter2"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'datasources.db.password'.*password_env"):
        load_datasources(Settings(config_file=path), {})


def test_resolve_for_plugin_gives_connect_info(settings) -> None:
    sources = load_datasources(settings, {"REQUESTS_DB_PASSWORD": "x"})
    info = sources.resolve_for_plugin(None, "sql")
    assert info["type"] == "postgresql" and info["secrets"] == {"password": "x"}
    assert sources.resolve_for_plugin(None, "shell") is None


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("postgresql://u:secret@host:5/db?x=1") == "postgresql://u:***@host:5/db?x=1"
    assert mask_url("http://host:9090") == "http://host:9090"


def test_redactor_removes_secrets_and_their_url_encoded_forms() -> None:
    redactor = Redactor(["p@ss word", ""])
    text = "dsn postgresql://u:p%40ss%20word@h/d and p%40ss+word and p@ss word"
    assert "p@ss" not in redactor.redact(text) and "p%40ss" not in redactor.redact(text)
    obj = {"error": ["p@ss word"], "p@ss word": 1, "n": 3}
    assert redactor(obj) == {"error": ["***"], "***": 1, "n": 3}
    assert redactor.redact_bytes(b'{"x": "p@ss word"}') == b'{"x": "***"}'


def test_datasources_redactor_covers_passwords_embedded_in_urls(settings) -> None:
    environ = {"REQUESTS_DB_PASSWORD": "from-env",
               "MENDFLOW_DATASOURCE_PROM_URL": "http://user:in-url@prom:9090"}
    redactor = load_datasources(settings, environ).redactor()
    assert redactor.redact("from-env in-url") == "*** ***"


def test_an_address_is_not_taken_for_a_data_source_name() -> None:
    # A detector or OPC UA step names the cell it reads by its address, not by a source name
    from engine.datasources import DataSources

    sources = DataSources({})
    assert sources.resolve_for_plugin("opcua://127.0.0.1:4840", "ft_jam_slip") is None
    assert sources.resolve_for_plugin(None, "opcua") is None


# -- derived forms and cuts -----------------------------------------------------------------

PLANTED = 'Zq7/pl@nt"ed+K9 w'


@pytest.mark.parametrize("form", [
    PLANTED, quote(PLANTED, safe=""), quote(PLANTED), quote_plus(PLANTED),
    json.dumps(PLANTED)[1:-1], repr(PLANTED)[1:-1],
    base64.b64encode(PLANTED.encode()).decode(),
    base64.urlsafe_b64encode(PLANTED.encode()).decode().rstrip("="),
    "Basic " + base64.b64encode(f"alice:{PLANTED}".encode()).decode(),
    f"Bearer {PLANTED}",
    PLANTED.encode().hex(), PLANTED.encode().hex().upper(),  # xxd -p, a hex dump's bytes
    "".join(f"%{b:02X}" for b in PLANTED.encode()),  # every byte percent-encoded
    "".join(f"%{b:02x}" for b in PLANTED.encode()),
    "".join(f"\\u{ord(c):04x}" for c in PLANTED),  # every character \u-escaped
])
def test_every_form_a_secret_travels_in_is_redacted(form: str) -> None:
    redactor = Redactor([PLANTED, f"alice:{PLANTED}"])
    assert redactor.redact(f"before {form} after") == "before *** after"


def _hex_apart(data: bytes, sep: str, prefix: str = "") -> str:
    return sep.join(f"{prefix}{b:02x}" for b in data)


@pytest.mark.parametrize("form", [
    _hex_apart(PLANTED.encode(), " "),  # hexdump -C, od -t x1
    " ".join(PLANTED.encode().hex()[i:i + 4] for i in range(0, 34, 4)),  # xxd's groups
    _hex_apart(PLANTED.encode(), ":").upper(),  # openssl, a fingerprint's style
    _hex_apart(PLANTED.encode(), "", "\\x"),  # a C or bash $'...' escape, PostgreSQL's bytea
    _hex_apart(PLANTED.encode(), " ", "0x"),
    html.escape(PLANTED),  # a web page echoing it: &quot;
    PLANTED.upper(), PLANTED.lower(),  # a tool that shouts
    base64.b64encode(PLANTED.encode("utf-16-le")).decode(),  # PowerShell -EncodedCommand
    PLANTED.encode("utf-16-le").hex(),
])
def test_the_forms_a_hex_dump_a_web_page_or_windows_show_are_redacted(form: str) -> None:
    redactor = Redactor([PLANTED])
    assert redactor.redact(f"before {form} after") == "before *** after"
    assert redactor.redact_bytes(f"[{form}]".encode()) == b"[***]"


def _escaped(text: str, escape: str) -> str:
    return "".join(escape.format(ord(c)) for c in text)


ESCAPED = [  # every character or byte of the secret escaped, as a page, a tool or a shell shows it
    _escaped(PLANTED, "&#{};"), _escaped(PLANTED, "&#x{:x};"),  # HTML character references
    _escaped(PLANTED, "&#X{:X};"),
    "Zq7&#47;pl&#64;nt&#34;ed&#43;K9&#32;w",  # only what is not a letter or digit referenced
    _escaped(PLANTED, "\\U{:08x}"),  # Python, C: \U00000070
    "".join(f"\\{b:03o}" for b in PLANTED.encode()),  # octal: a C string, printf '\132...'
    " ".join(f"{b:03o}" for b in PLANTED.encode()),  # od -b
    "LJYTOL3QNRAG45BCMVSCWSZZEB3Q====",  # base32
    "LJYTOL3QNRAG45BCMVSCWSZZEB3Q".lower(),
    PLANTED.encode("utf-16-be").hex(),  # UTF-16 big-endian
    "AFoAcQA3AC8AcABsAEAAbgB0ACIAZQBkACsASwA5ACAAdw==",  # iconv -t UTF-16BE | base64
    'Zq7/pl@nt\\"ed+K9\\ w',  # printf %q
]


@pytest.mark.parametrize("form", ESCAPED)
def test_a_secret_escaped_character_by_character_or_in_base32_is_redacted(form: str) -> None:
    redactor = Redactor([PLANTED])
    assert redactor.redact(f"before {form} after") == "before *** after"
    assert redactor.redact_bytes(f"[{form}]".encode()) == b"[***]"


@pytest.mark.parametrize("form", ESCAPED)
def test_an_escaped_secret_cut_at_the_end_or_start_leaves_no_piece(form: str) -> None:
    # A capture cap or a line-length limit cutting through the escaped secret: what is left of
    # it at the cut is masked as for the secret itself (from PARTIAL_MIN characters on)
    # (looked for before the whole secret inside is masked, which left `\"` of `printf %q`,
    # and `==` of a base64 text)
    redactor = Redactor([PLANTED])
    for kept in range(Redactor.PARTIAL_MIN, len(form)):
        assert redactor.redact_cut("text " + form[:kept]) == "text ***", kept
        assert redactor.redact_cut(form[-kept:] + " text", start=True, end=False) == \
            "*** text", kept
        assert redactor.redact_cut(form[:kept], start=True) == "***", kept


NON_ASCII = "p\u00e9$s\tw'0\\"


@pytest.mark.parametrize("form", [
    "p\u00e9$s\\tw\\'0\\\\",  # printf %q in a UTF-8 locale: $'...'
    "p\\303\\251$s\\tw\\'0\\\\",  # ... and in the C locale
    "p 303 251   $   s  \\t   w   '   0   \\",  # od -c
    "p\\xc3\\xa9$s\\tw'0\\\\",  # Python's bytes repr
    "p\\xe9$s\\tw'0\\\\",  # ascii()
])
def test_a_secret_with_bytes_not_printable_is_redacted_as_tools_escape_it(form: str) -> None:
    assert Redactor([NON_ASCII]).redact(f"[{form}]") == "[***]"


def test_escaped_forms_of_one_secret_leave_other_escaped_text_alone() -> None:
    # Ordinary output full of character references, octal and base32 is not masked for
    # looking like an escape: only the secret's own bytes, whole, are
    other = "Zq7/pl@nt\"ed+K9 x"  # one character off
    page = " ".join([_escaped(other, "&#{};"), _escaped("caf\u00e9", "&#x{:x};"),
                     "".join(f"\\{b:03o}" for b in other.encode()), "0000000 132 161 067",
                     base64.b32encode(other.encode()).decode()[:24], "JBSWY3DPEBLW64TMMQ======",
                     other.encode("utf-16-be").hex()])
    assert Redactor([PLANTED]).redact(page) == page


def test_a_secret_with_html_specials_is_redacted_where_a_page_escapes_it() -> None:
    secret = "p&ss<w>rd'9"
    page = f"<p>login failed for {html.escape(secret)}</p>"
    assert "***" in Redactor([secret]).redact(page) and "ss&lt;" not in \
        Redactor([secret]).redact(page)


@pytest.mark.parametrize("prefix", [b"", b"x", b"xy", b"some longer text: "])
def test_a_secret_inside_a_longer_base64_text_is_redacted(prefix: bytes) -> None:
    # Wherever the secret sits in the encoded bytes, the characters encoding it are masked
    encoded = base64.b64encode(prefix + PLANTED.encode() + b" and more").decode()
    redacted = Redactor([PLANTED]).redact(encoded)
    assert "***" in redacted
    assert PLANTED.encode() not in base64.b64decode(redacted.replace("***", "AAAA") + "==")


@pytest.mark.parametrize("kept", range(4, len(PLANTED)))
def test_a_secret_cut_at_the_end_or_start_leaves_no_piece(kept: int) -> None:
    redactor = Redactor([PLANTED])
    assert redactor.redact_cut("text " + PLANTED[:kept], end=True) == "text ***"
    assert redactor.redact_cut(PLANTED[-kept:] + " text", start=True, end=False) == "*** text"
    assert redactor.redact_cut("text " + PLANTED[:3]) == "text " + PLANTED[:3]  # too short


@pytest.mark.parametrize(("start", "end"), [
    (0, 9), (8, 17), (3, 12), (2, 15), (0, 16),  # the first half, the last, any middle run
])
def test_a_piece_of_a_secret_anywhere_in_a_text_is_masked(start: int, end: int) -> None:
    # `Zq7/pl@n...` from a tool that shows the start of a password, or a token's middle: half
    # of a secret or more, wherever it sits, masked with as much of it as surrounds it
    redactor = Redactor([PLANTED])
    piece = PLANTED[start:end]
    assert redactor.redact(f"password: {piece}... (truncated)") == "password: ***... (truncated)"
    assert redactor.redact_bytes(f"[{piece}]".encode()) == b"[***]"


def test_a_piece_shorter_than_half_the_secret_is_left() -> None:
    # (six characters are a word as often as a secret's: masking them would hide output)
    redactor = Redactor([PLANTED])
    short = PLANTED[: Redactor.piece_min(len(PLANTED)) - 1]
    assert redactor.redact(f"x {short} y") == f"x {short} y"


# -- a hex dump of a secret ---------------------------------------------------------------------

TOKEN = "ghp_Zq7pl4ntedK9wXy2Vb8Nm3Qr5Ts6Uv1Wa0Bc"  # 40 characters: a dump's line holds 16
DUMPED = b"config: token=" + TOKEN.encode() + b"\nnext line\n"

# what `hexdump -C` prints for DUMPED (bsdextrautils 2.38)
HEXDUMP_C = """\
00000000  63 6f 6e 66 69 67 3a 20  74 6f 6b 65 6e 3d 67 68  |config: token=gh|
00000010  70 5f 5a 71 37 70 6c 34  6e 74 65 64 4b 39 77 58  |p_Zq7pl4ntedK9wX|
00000020  79 32 56 62 38 4e 6d 33  51 72 35 54 73 36 55 76  |y2Vb8Nm3Qr5Ts6Uv|
00000030  31 57 61 30 42 63 0a 6e  65 78 74 20 6c 69 6e 65  |1Wa0Bc.next line|
00000040  0a                                                |.|
00000041
"""


def _dump_bytes(dump: str) -> bytes:
    """The bytes a dump still shows: every hex cell of every line, offsets left out."""
    cells = []
    for line in dump.splitlines():
        line = line.split("|")[0].replace("***", " ")  # (a mask may end inside xxd's group)
        line = re.sub(r"^[0-9a-f]{6,}:?(?=\s)", "", line)  # the offset
        line = re.split(r" {2,}(?=\S*[^0-9a-f\s*])", line)[0]  # xxd's ascii column
        cells += re.findall(r"(?<![0-9a-f])((?:[0-9a-f]{2})+)(?![0-9a-f])", line)
    return bytes.fromhex("".join(cells))


def _assert_no_piece(redacted: str, dumped: str) -> None:
    pieces = {TOKEN[i:i + Redactor.PIECE_MIN] for i in range(len(TOKEN) - Redactor.PIECE_MIN + 1)}
    left = _dump_bytes(redacted)
    assert not any(p in redacted for p in pieces), redacted  # the ascii column
    assert not any(p.encode() in left for p in pieces), redacted  # the bytes, read back
    assert b"next line" in left and "next line" in redacted or "next line" not in dumped


def test_a_secret_spread_over_a_hex_dumps_lines_is_masked_on_each() -> None:
    # 16 characters a line are pieces shorter than half the token: masked only as a whole
    redacted = Redactor([TOKEN]).redact(HEXDUMP_C)
    _assert_no_piece(redacted, HEXDUMP_C)
    assert redacted.splitlines()[0].startswith("00000000  63 6f 6e 66 69 67 3a 20  74 6f")
    assert "|config: token=***|" in redacted and "next line|" in redacted


@pytest.mark.parametrize("argv", [["hexdump", "-C"], ["xxd"], ["xxd", "-g1"], ["xxd", "-g4"],
                                  ["od", "-t", "x1"], ["od", "-An", "-t", "x1"],
                                  ["hexdump", "-v", "-e", '16/1 "%02x " "\\n"'],
                                  ["od", "-c"], ["od", "-An", "-c"]])
def test_every_common_hex_dump_of_a_secret_is_masked(argv: list[str]) -> None:
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    dumped = subprocess.run(argv, input=DUMPED, capture_output=True, check=True).stdout.decode()
    assert TOKEN[:16] not in dumped.replace(" ", "")  # (the tool spreads it)
    redacted = Redactor([TOKEN]).redact(dumped)
    _assert_no_piece(redacted, dumped)
    if argv[-1] == "-c":  # (od -c shows characters four columns apart: no hex to read back)
        shown = re.sub(r"^[0-7]{7}", "", redacted, flags=re.M).replace(" ", "")
        assert not any(TOKEN[i:i + 6] in shown for i in range(len(TOKEN) - 5)), redacted
        assert "n e x t" in re.sub(r" +", " ", redacted)


def test_numbers_that_look_like_a_dump_but_hold_no_secret_are_left_alone() -> None:
    table = "10 20 30 40 50\n60 70 80 90 99\n00000000  61 62 63 64  |abcd|\n"
    assert Redactor([TOKEN]).redact(table) == table


# -- a form wrapped across lines ----------------------------------------------------------------


def _wrap(text: str, width: int, newline: str = "\n", indent: str = "") -> str:
    return indent + (newline + indent).join(text[i:i + width]
                                            for i in range(0, len(text), width))


def _unwrapped(text: str) -> str:
    return re.sub(r"\r?\n[ \t]*", "", text)


def _survivors(encoded: str, text: str, size: int = 6) -> list[str]:
    """The pieces of `size` characters of `encoded` left in `text` once its lines are joined
    (a piece cut by a break is still read by whoever joins the lines)."""
    joined = _unwrapped(text)
    return [encoded[i:i + size] for i in range(len(encoded) - size + 1)
            if encoded[i:i + size] in joined]


WRAPS = {  # what a tool prints, and what encodes the secret in it
    "base64": (base64.encodebytes(b"x" * 42 + PLANTED.encode()).decode(),  # 76 columns
               base64.b64encode(PLANTED.encode()).decode()),
    "openssl base64": (_wrap(base64.b64encode(b"session=" + b"0" * 33 + b";pw=" + PLANTED.encode())
                               .decode(), 64),
                       base64.b64encode(PLANTED.encode()).decode()),
    "base64 -w 20, CRLF": (_wrap(base64.b64encode(PLANTED.encode()).decode(), 20, "\r\n"),
                           base64.b64encode(PLANTED.encode()).decode()),
    "xxd -p": (_wrap((b"some file " * 5 + PLANTED.encode()).hex(), 60),
               PLANTED.encode().hex()),
    "base32": (_wrap(base64.b32encode(b"y" * 40 + PLANTED.encode()).decode(), 76),
               base64.b32encode(PLANTED.encode()).decode()),
    "a Secret's data in a YAML block": (
        "data:\n  password: |\n" + _wrap(base64.b64encode(PLANTED.encode()).decode(), 16,
                                         indent="    ") + "\nkind: Secret\n",
        base64.b64encode(PLANTED.encode()).decode()),
    "a PEM-like block": (
        "-----BEGIN DATA-----\n" + _wrap(base64.b64encode(
            b"\x30\x82" + f"alice:{PLANTED}".encode()).decode(), 12) + "\n-----END DATA-----",
        base64.b64encode(f"alice:{PLANTED}".encode()).decode()[4:]),
    "hex indented in pretty-printed output": (
        '{\n  "hex":\n    ' + _wrap(PLANTED.encode().hex().upper(), 10, indent="    ") + "\n}",
        PLANTED.encode().hex().upper()),
}


@pytest.mark.parametrize("name", WRAPS)
def test_an_encoded_secret_wrapped_across_lines_is_masked_on_every_line(name: str) -> None:
    # `base64` wraps at 76 columns, `openssl base64` at 64, `xxd -p` at 60 hex digits, a YAML
    # block indents each line: a break inside the secret's encoding hid it from the search
    # (`...WnE3\nL3BsQG50...` was left whole), now each line's part of it is masked
    shown, encoded = WRAPS[name]
    redactor = Redactor([PLANTED, f"alice:{PLANTED}"])
    redacted = redactor.redact(shown)
    assert "***" in redacted and not _survivors(encoded, redacted), redacted
    assert redacted.count("\n") == shown.count("\n")  # the lines stay lines
    assert redactor.redact_bytes(shown.encode()) == redacted.encode()
    assert redactor.redact_cut(shown) == redacted


def test_a_wrapped_secret_cut_inside_its_encoding_leaves_no_piece() -> None:
    # A capture cap cutting the wrapped base64 after its first line: what is left of the
    # secret's encoding, across the break, is masked as for an encoding on one line
    encoded = base64.b64encode(PLANTED.encode()).decode()
    shown = "token:\n" + _wrap(encoded, 8, indent="  ")
    redactor = Redactor([PLANTED])
    for kept in range(len("token:\n") + 10, len(shown)):
        redacted = redactor.redact_cut(shown[:kept])
        assert not _survivors(encoded, redacted, Redactor.PARTIAL_MIN), (kept, redacted)
    for kept in range(10, len(shown) - len("token:\n")):
        redacted = redactor.redact_cut(shown[-kept:], start=True, end=False)
        assert not _survivors(encoded, redacted, Redactor.PARTIAL_MIN), (kept, redacted)


def test_wrapped_text_that_encodes_no_secret_is_left_alone() -> None:
    other = "zq7/pl@nt\"ed+K9 w"  # one character off, where every encoding of it starts
    shown = "\n".join([_wrap(base64.b64encode(other.encode()).decode(), 7),
                       _wrap(other.encode().hex(), 9, indent="  "), "plain\n  text"])
    assert Redactor([PLANTED]).redact(shown) == shown


def test_a_short_secret_split_by_a_break_is_two_lines_ends_but_its_encoding_is_masked() -> None:
    # `1234` across a break is as often a table's numbers as the secret: runs across a break
    # shorter than PIECE_MIN are left; its hex or base64 wrapped is masked
    redactor = Redactor(["1234"])
    table = "rx 812\n34 tx\n"
    assert redactor.redact(table) == table
    assert redactor.redact("31323\n334") == "***\n***"
    assert redactor.redact("MTIz\n  NA==") == "***\n  ***"


ENCODINGS = {
    "base64": lambda raw: base64.b64encode(raw).decode(),
    "base64url": lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("="),
    "base32": lambda raw: base64.b32encode(raw).decode(),
    "hex": lambda raw: raw.hex(), "HEX": lambda raw: raw.hex().upper(),
    "UTF-16 base64": lambda raw: base64.b64encode(raw.decode().encode("utf-16-le")).decode(),
}


@examples(max_examples=150, deadline=None, database=None)
@given(secret=st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF,
                                    exclude_categories=("Cs",)), min_size=1, max_size=40),
       encoding=st.sampled_from(sorted(ENCODINGS)), newline=st.sampled_from(["\n", "\r\n"]),
       indent=st.sampled_from(["", "  ", "\t"]))
def test_an_encoded_secret_wrapped_at_any_column_leaves_no_piece(
        secret: str, encoding: str, newline: str, indent: str) -> None:
    # Wherever the line breaks fall (every column from 1 to the whole), no run of six
    # characters of the secret's encoding is left, on one line or across lines
    encoded = ENCODINGS[encoding](secret.encode())
    redactor = Redactor([secret])
    for width in range(1, len(encoded) + 1):
        shown = f"value:{newline}" + _wrap(encoded, width, newline, indent) + f"{newline}end"
        redacted = redactor.redact(shown)
        assert not _survivors(encoded.rstrip("="), redacted), (width, redacted)
        assert redactor.redact_bytes(shown.encode()) == redacted.encode(), width


def test_a_token_source_is_bearer_and_its_secrets_include_user_and_password(tmp_path) -> None:
    path = tmp_path / "mendflow.toml"
    path.write_text('[datasources.api]\ntype = "http"\nurl = "https://api.example"\n'
                    'token_env = "API_TOKEN"\nauth = "bearer"\n\n'
                    '[datasources.basic]\ntype = "http"\nurl = "https://bob@api.example"\n'
                    'password_env = "PW"\n')
    sources = load_datasources(Settings(config_file=path), {"API_TOKEN": "t0k", "PW": "pw1"})
    api = sources.resolve_for_plugin("api", "http")
    assert api["token"] == "t0k" and api["auth"] == "bearer"
    basic = sources.resolve("basic", "http")
    assert basic.auth == "basic" and "bob:pw1" in basic.secret_values()


@pytest.mark.parametrize("table, message", [
    ('auth = "bearer"\npassword_env = "PW"\n', "needs a token"),
    ('auth = "digest"\n', "auth': input should be 'bearer' or 'basic'"),
    ('auth = "basic"\npassword_env = "PW"\ntoken_env = "T"\n', "a token is set too"),
])
def test_auth_must_match_the_secret_given(tmp_path, table: str, message: str) -> None:
    path = tmp_path / "mendflow.toml"
    path.write_text(f'[datasources.api]\ntype = "http"\nurl = "https://x"\n{table}')
    with pytest.raises(ConfigError, match=message):
        load_datasources(Settings(config_file=path), {"PW": "p", "T": "t"})


def test_the_redacting_logger_redacts_arguments_and_tracebacks(caplog) -> None:
    import logging

    from engine.datasources import RedactingLogger

    caplog.set_level(logging.DEBUG)
    log = RedactingLogger(logging.getLogger("mendflow.test"), Redactor([PLANTED]))
    log.debug("sent %s", f"Bearer {PLANTED}")
    try:
        raise RuntimeError(f"echoed {PLANTED}")
    except RuntimeError:
        log.exception("failed")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert PLANTED not in text and "sent ***" in text and "RuntimeError: echoed ***" in text


def _word_bytes(dump: str) -> bytes:
    """The bytes a dump of little-endian words still shows, in memory order."""
    cells = []
    for line in dump.splitlines():
        line = line.replace("***", " ")
        line = re.sub(r"^[0-9a-f]{6,}:?(?=\s)", "", line)  # the offset
        line = re.split(r" {2,}(?=\S*[^0-9a-f\s*])", line)[0]  # xxd -e's ascii column
        cells += [bytes.fromhex(c)[::-1] for c in re.findall(r"(?<![0-9a-f])((?:[0-9a-f]{2})+)"
                                                              r"(?![0-9a-f])", line)]
    return b"".join(cells)


@pytest.mark.parametrize("argv", [["od", "-x"], ["hexdump"], ["hexdump", "-x"],
                                  ["od", "-An", "-t", "x2"], ["od", "-t", "x4"],
                                  ["od", "-t", "x8"], ["xxd", "-e"]])
def test_a_dump_of_little_endian_words_is_masked_in_memory_order(argv: list[str]) -> None:
    # `od -x` shows `7468 5f70`, each word's two bytes swapped (a little-endian machine's order):
    # no form of the secret is in the text, and the bytes read as shown are not the secret's
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    dumped = subprocess.run(argv, input=DUMPED, capture_output=True, check=True).stdout.decode()
    assert TOKEN.encode() in _word_bytes(dumped)  # (what a reader of the dump gets back)
    redacted = Redactor([TOKEN]).redact(dumped)
    pieces = {TOKEN[i:i + Redactor.PIECE_MIN] for i in range(len(TOKEN) - Redactor.PIECE_MIN + 1)}
    left = _word_bytes(redacted)
    assert not any(p in redacted for p in pieces), redacted  # (xxd -e's ascii column)
    assert not any(p.encode() in left for p in pieces), redacted
    assert b"config" in left and b"line" in left  # the words without the secret are kept
