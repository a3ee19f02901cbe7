"""SQL text the sql plugin reads without a database: `:name` placeholders mapped to `$n`.

PostgreSQL takes positional parameters only; a guide (and the compiler) writes `:name`. The
rewrite skips string literals, quoted identifiers, comments, dollar-quoted bodies and `::type`
casts, and touches only placeholders: values stay bound parameters.

What this module does not own: running anything (`plugins.sql`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import PluginError
from engine.sqltext import dollar_tag_end, quoted_end


def named_to_positional(query: str, args: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """Rewrite `:name` placeholders to `$n` (PostgreSQL), skipping string literals, quoted
    identifiers, comments, dollar-quoted bodies and `::type` casts. Only placeholders are
    rewritten; values stay bound parameters."""
    order: dict[str, int] = {}
    out: list[str] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch in ("'", '"'):
            end = quoted_end(query, i, ch)
            out.append(query[i:end])
            i = end
        elif query.startswith("--", i):
            end = query.find("\n", i)
            end = n if end < 0 else end
            out.append(query[i:end])
            i = end
        elif query.startswith("/*", i):
            end = query.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(query[i:end])
            i = end
        elif ch == "$" and (tag_end := dollar_tag_end(query, i)) is not None:
            tag = query[i:tag_end]
            close = query.find(tag, tag_end)
            end = n if close < 0 else close + len(tag)
            out.append(query[i:end])
            i = end
        elif query.startswith("::", i):
            out.append("::")
            i += 2
        elif ch == ":" and i + 1 < n and (query[i + 1].isalpha() or query[i + 1] == "_"):
            j = i + 1
            while j < n and (query[j].isalnum() or query[j] == "_"):
                j += 1
            name = query[i + 1:j]
            if name not in args:
                raise PluginError(f"the query uses :{name} but args has no {name!r}",
                                  hint=f"Add {name} to args (known: "
                                  f"{', '.join(sorted(args)) or 'none'})")
            order.setdefault(name, len(order) + 1)
            out.append(f"${order[name]}")
            i = j
        else:
            out.append(ch)
            i += 1
    unused = sorted(set(args) - set(order))
    if unused:
        raise PluginError(f"args has {', '.join(unused)} but the query never uses "
                          f"{', '.join(':' + u for u in unused)}", hint="Remove it or use it")
    return "".join(out), [args[name] for name in order]


