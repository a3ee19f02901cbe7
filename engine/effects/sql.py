"""SQL text: whether a query only reads, judged from its text (PostgreSQL's lexical rules).

A query is read-only when, with its comments stripped (`--` lines and nested `/* */`), it is
ONE statement that starts with SELECT, WITH, SHOW, EXPLAIN (without ANALYZE), VALUES or TABLE,
holds no INTO (SELECT INTO creates a table), no data-changing statement inside (a WITH ...
DELETE), no COPY, no row lock (FOR UPDATE / FOR SHARE), and calls none of the server-side
functions that act on the server (end a session, reload its configuration, read or write its
files, change a setting or a sequence, reach another database).

The text is read twice, as PostgreSQL and as MySQL read it, and is a read only if both
readings say so: the same words reach `psql -c` and `mysql -e`, and the two disagree about
where a comment or a string ends (MySQL's `--` needs a space after it, its `/* */` do not
nest, `#` starts a comment, a backquote quotes a name, `$$` is no quote, and `/*! ... */` is
code). A reading that sees less than the database only hides; so both must pass. The sql
plugin's text goes to PostgreSQL (or SQLite) only, and is read as PostgreSQL reads it
(`dialects`).

This is the compiler's and the runtime's reading of the text; the database-side enforcement
(a read-only transaction) is the sql plugin's, and catches what a text reading cannot (a
user-defined function that writes). String literals, quoted identifiers and dollar-quoted
bodies are data here, never keywords.
"""

from __future__ import annotations

import re
from typing import Literal

from engine.effects.options import NotRead

_STARTS = frozenset({"select", "with", "show", "explain", "values", "table"})
# Keywords that make a statement that starts like a read change something.
_WRITES = {
    "insert": "inserts rows", "update": "updates rows (or locks them: FOR UPDATE)",
    "delete": "deletes rows", "merge": "merges rows", "into": "SELECT INTO creates a table",
    "copy": "COPY reads or writes files and programs", "share": "FOR SHARE locks rows",
    "analyze": "EXPLAIN ANALYZE runs the statement", "analyse": "EXPLAIN ANALYSE runs the "
    "statement", "truncate": "truncates a table", "call": "calls a procedure",
}
# Functions that act on the server. txid_current() and pg_current_xact_id() assign the
# transaction an id (a write: it spends the wraparound budget and fails on a standby); a sleep
# (pg_sleep*, MySQL's SLEEP and BENCHMARK) holds the statement's locks and a connection as long
# as the text says (`SELECT pg_sleep(1e9) FROM orders` blocks every ALTER, and all queued
# behind it); so does a wait for a replica to reach a position (MySQL's MASTER_POS_WAIT,
# SOURCE_POS_WAIT, WAIT_FOR_EXECUTED_GTID_SET, MariaDB's MASTER_GTID_WAIT), for ever without
# a timeout, on a replica that stopped or a position never reached.
_EFFECT_FUNCTIONS = frozenset("""
txid_current pg_current_xact_id pg_sleep pg_sleep_for pg_sleep_until sleep benchmark
master_pos_wait source_pos_wait wait_for_executed_gtid_set wait_until_sql_thread_after_gtids
master_gtid_wait
pg_terminate_backend pg_cancel_backend pg_reload_conf pg_rotate_logfile pg_read_file
pg_read_binary_file pg_file_write pg_file_rename pg_file_unlink pg_file_sync lo_import lo_export
lo_unlink lo_create lo_creat lo_from_bytea lo_put lo_truncate set_config nextval setval
pg_advisory_lock pg_advisory_lock_shared pg_advisory_xact_lock pg_advisory_xact_lock_shared
pg_try_advisory_lock pg_try_advisory_lock_shared pg_try_advisory_xact_lock
pg_try_advisory_xact_lock_shared pg_advisory_unlock pg_advisory_unlock_shared
pg_advisory_unlock_all pg_switch_wal pg_switch_xlog pg_create_restore_point pg_start_backup
pg_stop_backup pg_backup_start pg_backup_stop pg_promote pg_wal_replay_pause pg_wal_replay_resume
pg_xlog_replay_pause pg_xlog_replay_resume pg_create_physical_replication_slot
pg_create_logical_replication_slot pg_drop_replication_slot pg_replication_slot_advance
pg_copy_physical_replication_slot pg_copy_logical_replication_slot pg_logical_slot_get_changes
pg_logical_slot_get_binary_changes pg_logical_emit_message pg_replication_origin_create
pg_replication_origin_drop pg_replication_origin_advance pg_replication_origin_session_setup
pg_replication_origin_session_reset pg_replication_origin_xact_setup pg_stat_reset
pg_stat_reset_shared pg_stat_reset_single_table_counters pg_stat_reset_single_function_counters
pg_stat_reset_slru pg_stat_reset_replication_slot pg_stat_reset_subscription_stats
pg_stat_statements_reset pg_import_system_collations pg_notify pg_log_backend_memory_contexts
pg_truncate_visibility_map pg_drop_all_replication_slots query_to_xml query_to_xmlschema
query_to_xml_and_xmlschema cursor_to_xml ts_stat lowrite lo_truncate64
brin_summarize_new_values brin_summarize_range brin_desummarize_range gin_clean_pending_list
pg_ls_dir pg_stat_file pg_ls_logdir pg_ls_waldir pg_ls_tmpdir pg_ls_archive_statusdir
pg_ls_logicalsnapdir pg_ls_logicalmapdir pg_ls_replslotdir pg_ls_summariesdir
get_lock release_lock release_all_locks load_file sys_exec sys_eval
crosstab crosstab2 crosstab3 crosstab4 connectby
""".split())
"""PostgreSQL's (reading the server's files and directories counts: they are not the data;
the BRIN and GIN maintenance calls write an index, in a READ ONLY transaction too), then
MySQL's: a named lock held, a server file read, a program run (the sys_exec UDF). A function
that runs the SQL text it is given (query_to_xml, ts_stat, tablefunc's crosstab and connectby,
dblink, pg_background) runs what no reader of the statement checked: `crosstab('select
pg_terminate_backend(pid) from pg_stat_activity')` calls what the list gates."""
_EFFECT_PREFIXES = ("dblink", "pg_background")
_EFFECT_WORDS = frozenset("""
reset evict kill terminate cancel signal drop create truncate unlink rename promote reload
rotate switch notify import exec eval force advance emit sync
""".split())
"""A word of a function's name (between its `_`s) that says it acts, whoever defines it: the
list above names the server's own, but an extension adds more under the same words
(`pg_stat_kcache_reset`, `pg_qualstats_reset`, pg_surgery's `heap_force_kill`,
pg_buffercache's `pg_buffercache_evict`, a new server's `pg_stat_reset_backend_stats`), and
many of them act in a READ ONLY transaction too (statistics, buffers, a page's tuples are not
the transaction's data)."""

_CREDENTIAL_TABLES = frozenset("""pg_authid pg_shadow pg_user_mapping pg_user_mappings
    pg_subscription slave_master_info""".split())
"""Catalogs that hold password hashes (a hash is a password to whoever cracks it, and a SCRAM
secret logs in as the role to a server that trusts it) or a foreign server's user and password,
a subscription's connection string to its publisher (its password among it); MySQL's
`mysql.user` holds its accounts' hashes (`SHOW CREATE USER` prints one), and
`mysql.slave_master_info` the replication password in clear."""
_SCHEMA_CREDENTIAL_TABLES = {"mysql": frozenset({"user", "global_priv", "servers"}),
                             "system_auth": frozenset({"roles", "credentials"})}
"""Tables that hold credentials, named with their schema (or keyspace): MySQL's accounts'
hashes (`mysql.user`; MariaDB keeps them in `mysql.global_priv`, of which `mysql.user` is a
view) and the user and password, in clear, of each FEDERATED or Spider server
(`mysql.servers`); Cassandra's roles' salted hashes (`system_auth.roles`, and
`system_auth.credentials` before 2.2), which `cqlsh -e` reads as SQL."""
_CONNINFO = re.compile(r"primary_conninfo", re.I)
"""The setting that holds a standby's connection string to its primary, password and all."""

_SETTINGS = frozenset("""pg_settings pg_file_settings pg_show_all_settings
    pg_show_all_file_settings""".split())
"""What holds every setting's value, primary_conninfo's on a standby among them."""
_SETTING_FIELDS = frozenset("""name unit category short_desc extra_desc context vartype source
    min_val max_val enumvals sourcefile sourceline pending_restart seqno applied error count
    distinct""".split())
"""Their columns that are not a value (and `count(*)`): what a select list may name alone."""
_ONE_VIEW = re.compile(r"""(?ix)^\s*select\s(?P<fields>.*?)\sfrom\s+(?:pg_catalog\s*\.\s*)?
    (?:pg_settings|pg_file_settings)(?:\s+(?:as\s+)?\w+)?
    (?:\s+where\s(?P<where>.*?))?\s*(?:\border\s+by\b.*|\blimit\b.*)?$""", re.S)
_BY_NAME = re.compile(r"""(?ix)name\s*(?:=\s*'(\w*)'
    | in\s*\(\s*('\w*'(?:\s*,\s*'\w*')*)\s*\) | i?like\s*'([\w%]*)')""")

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*|\S")

Dialect = Literal["postgresql", "mysql"]
DIALECTS: tuple[Dialect, ...] = ("postgresql", "mysql")


def sql_problem(text: str, *, starts: frozenset[str] = _STARTS,
                dialects: tuple[Dialect, ...] = DIALECTS) -> str | None:
    """Why this SQL text is not read-only, or None if it only reads. `starts`: the words a
    reading statement may start with (a compute step takes SELECT and WITH only);
    `dialects`: the readings that must each find one read (every one, unless the text can
    reach only some databases)."""
    for dialect in dialects:
        problem = _problem(text, starts, dialect)
        if problem is not None:
            return problem if dialect == dialects[0] else f"{problem} (as MySQL reads it)"
    return None


def _problem(text: str, starts: frozenset[str], dialect: Dialect) -> str | None:
    try:
        statements = (_statements if dialect == "postgresql" else _mysql_statements)(text)
    except NotRead as exc:
        return exc.reason
    if not statements:
        return "the SQL holds no statement"
    if len(statements) > 1:
        return f"the SQL holds {len(statements)} statements; only one read can run unasked"
    tokens = _TOKEN.findall(statements[0])
    words = [t.lower() for t in tokens]
    if words[0] not in starts:
        allowed = [w.upper() for w in ("select", "with", "show", "explain", "values", "table")
                   if w in starts]
        return f"the SQL starts with {tokens[0].upper()}, not " + \
            ", ".join(allowed[:-1]) + (" or " if len(allowed) > 1 else "") + allowed[-1]
    if words[:3] == ["show", "create", "user"] or _CONNINFO.search(text):
        said = "SHOW CREATE USER" if words[:3] == ["show", "create", "user"] else \
            "primary_conninfo"
        return (f"the SQL reads {said}, which holds password hashes or stored credentials: "
                "not a read to keep")
    if dialect == "postgresql" and (words[:2] == ["show", "all"] or not _SETTINGS.isdisjoint(
            words) and not (sum(w in _SETTINGS for w in words) == 1 and
                            _names_other_settings(text))):
        return ("the SQL reads every setting's value (SHOW ALL, pg_settings), a standby's "
                "primary_conninfo (its replication password) among them: not a read to keep "
                "(name the settings in a WHERE, or select other columns)")
    bare = [w for w in words if w not in ("`", '"')]  # `mysql`.`user` is mysql.user
    for k, word in enumerate(bare):
        schema = bare[k - 2] if k > 1 and bare[k - 1] == "." else ""
        if word in _CREDENTIAL_TABLES or word in _SCHEMA_CREDENTIAL_TABLES.get(schema, ()):
            return (f"the SQL reads {schema + '.' + word if schema else word}, which holds "
                    "password hashes or stored credentials: not a read to keep")
    for k, word in enumerate(words):
        if word in _WRITES:
            return f"the SQL says {tokens[k].upper()}: {_WRITES[word]}"
        if k + 1 < len(words) and words[k + 1] == "(" and _effect_function(word):
            return f"the SQL calls {word}(), which acts on the server"
    return None


def _names_other_settings(text: str) -> bool:
    """Whether a read of pg_settings (or pg_file_settings, named once) leaves
    primary_conninfo's value out: one view, no join, and either no value column in the select
    list (`select name, pending_restart`) or a WHERE that names settings other than it (`name
    = 'max_connections'`, `name in (...)`, `name like 'log_%'`) with no OR, NOT or inequality
    to undo it."""
    found = _ONE_VIEW.match(_statements(text, words_kept=True)[0])
    if found is None:
        return False
    fields = _TOKEN.findall(found.group("fields").lower())
    if all(t in _SETTING_FIELDS or t in ",()" or t == "*" and fields[k - 2:k] == ["count", "("]
           for k, t in enumerate(fields)):
        return True
    where = found.group("where") or ""
    if re.search(r"(?i)\b(?:or|not|union|except|intersect|select)\b|<>|!=|\|", where):
        return False
    for condition in _conjuncts(where):  # (one that stands alone: not `(name = 'x') = false`)
        found = _BY_NAME.fullmatch(condition)
        if found is None:
            continue
        equal, listed, like = found.groups()
        names = [equal] if equal is not None else re.findall(r"\w+", listed or "")
        if like is not None and not re.fullmatch(
                re.escape(like).replace("%", ".*").replace("_", "."), "primary_conninfo",
                re.I) or names and all(n.lower() != "primary_conninfo" for n in names):
            return True
    return False


def _conjuncts(where: str) -> list[str]:
    """The conditions a WHERE joins with AND at its top level, each without the parentheses
    around it whole: `(a) and (b = 1 and c)` is `a`, `b = 1 and c`."""
    parts: list[str] = []
    depth, start = 0, 0
    for m in re.finditer(r"'[^']*'|\(|\)|\band\b", where, re.I):
        depth += {"(": 1, ")": -1}.get(m.group(0), 0)
        if depth == 0 and m.group(0).lower() == "and":
            parts.append(where[start:m.start()])
            start = m.end()
    parts.append(where[start:])
    out = []
    for part in parts:
        part = part.strip()
        while part.startswith("(") and part.endswith(")") and _balanced(part[1:-1]):
            part = part[1:-1].strip()
        out.append(part)
    return out


def _balanced(text: str) -> bool:
    depth = 0
    for m in re.finditer(r"'[^']*'|\(|\)", text):
        depth += {"(": 1, ")": -1}.get(m.group(0), 0)
        if depth < 0:
            return False
    return depth == 0


def _effect_function(name: str) -> bool:
    return name in _EFFECT_FUNCTIONS or name.startswith(_EFFECT_PREFIXES) or \
        not _EFFECT_WORDS.isdisjoint(name.lower().split("_"))


def _statements(text: str, *, words_kept: bool = False) -> list[str]:
    """The statements of `text`, comments removed and literals blanked (so no keyword hides in
    them), or with `words_kept` each string literal cut to its word characters and `%`
    (`'log_%'`); raises NotRead on an unterminated literal or comment."""
    out: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("--", i):
            i = _end_of_line(text, i)
            current.append(" ")
        elif text.startswith("/*", i):
            i = _end_of_block_comment(text, i)
            current.append(" ")
        elif c == "'":
            # E'...' only where the E starts a word: `my_e'..'` is a name and a string
            escapes = i > 0 and text[i - 1] in "eE" and \
                (i < 2 or not (text[i - 2].isalnum() or text[i - 2] in "_$"))
            start, i = i, _end_of_quote(text, i, "'", backslash=escapes)
            kept = text[start + 1:i - 1]
            if not words_kept:
                current.append(" '' ")
            elif escapes or "\\" in kept or text[start - 1:start] == "&":  # (E'\x25', U&'')
                current.append(" $escaped$ ")  # its value is not its text: no known value
            else:
                current.append(" '" + re.sub(r"[^\w%]", "", kept) + "' ")
        elif c == '"':
            if text[max(0, i - 2):i].lower() == "u&":
                raise NotRead("the SQL has a Unicode-escaped name (U&\"...\"), which hides "
                              "what it calls", cause="sql")
            start, i = i, _end_of_quote(text, i, '"', backslash=False)
            name = text[start + 1:i - 1]
            # a quoted name is a name, not a keyword; but a quoted function name still calls it
            current.append(f" {name} " if _effect_function(name) or name in _CREDENTIAL_TABLES
                           or name in _SETTINGS else ' "x" ')
        elif c == "$" and (m := re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", text[i:])) and \
                not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
            tag = m.group(0)
            end = text.find(tag, i + len(tag))
            if end < 0:
                raise NotRead("the SQL has an unterminated dollar-quoted string", cause="sql")
            i = end + len(tag)
            current.append(" $quoted$ " if words_kept else " '' ")
        elif c == ";":
            out.append("".join(current))
            current = []
            i += 1
        else:
            current.append(c)
            i += 1
    out.append("".join(current))
    return [s for s in out if s.strip()]


def _mysql_statements(text: str) -> list[str]:
    """`_statements` as MySQL reads the text: `#` and `-- ` (with the space) start a line
    comment, `/* */` ends at the first `*/`, `'` and `"` quote strings with backslash escapes,
    a backquote quotes a name; a `/*! */` comment (code to MySQL) raises NotRead."""
    out: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#" or text.startswith("--", i) and (i + 2 == n or text[i + 2] <= " "):
            i = _end_of_line(text, i)
            current.append(" ")
        elif text.startswith(("/*!", "/*M!"), i):
            raise NotRead("the SQL has a MySQL executable comment (/*! ... */), whose text "
                          "MySQL runs", cause="sql")
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise NotRead("the SQL has an unterminated /* comment", cause="sql")
            i = end + 2
            current.append(" ")
        elif c in "'\"":
            i = _end_of_quote(text, i, c, backslash=True)
            current.append(" '' ")
        elif c == "`":
            start, i = i, _end_of_quote(text, i, "`", backslash=False)
            name = text[start + 1:i - 1]
            # MySQL's names of functions are not case-sensitive, quoted or not
            current.append(f" {name} " if _effect_function(name.lower()) or name.lower() in
                           _CREDENTIAL_TABLES | {"mysql", "user"} else ' "x" ')
        elif c == ";":
            out.append("".join(current))
            current = []
            i += 1
        else:
            current.append(c)
            i += 1
    out.append("".join(current))
    return [s for s in out if s.strip()]


def _end_of_line(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _end_of_block_comment(text: str, i: int) -> int:
    depth = 0
    while i < len(text):
        if text.startswith("/*", i):
            depth += 1
            i += 2
        elif text.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise NotRead("the SQL has an unterminated /* comment", cause="sql")


def _end_of_quote(text: str, i: int, quote: str, *, backslash: bool) -> int:
    i += 1
    while i < len(text):
        c = text[i]
        if backslash and c == "\\":
            i += 2
            continue
        if c == quote:
            if text.startswith(quote * 2, i):
                i += 2
                continue
            return i + 1
        i += 1
    raise NotRead("the SQL has an unterminated quoted string or name", cause="sql")
