"""Other markups a guide's steps are written in, rewritten line for line into the Markdown they
mean before the Markdown is parsed (`engine.guide`), so every element keeps its source lines.

- Jira / Confluence wiki markup (a runbook pasted from a ticket or an old wiki): `h2. Heading`,
  `{code:bash}` ... `{code}`, `{noformat}` ... `{noformat}`, `# step` / `## sub-step` numbered
  lists, `{{monospace}}`. Read only in a guide that uses the notation (an `h1.`-`h6.` heading or
  a closed `{code}` / `{noformat}` block), never in a Markdown guide.
- AsciiDoc pasted into a Markdown guide: a `[source,bash]` line over a `----` ... `----`
  listing is the fenced block it shows, a `....` ... `....` literal block is output, and
  `== Title` is a heading. Read only in a guide that holds such a listing.
- reStructuredText directives pasted in from Sphinx docs: `.. code-block:: bash` over its
  indented body is that fenced block, `.. warning::` over its body an admonition.
- HTML lists: an `<ol>` / `<ul>` whose `<li>` items each open on a line of their own is the
  numbered or bulleted list it shows (`<code>` a code span), and a one-line `<p>...</p>` is a
  paragraph; any other HTML stays HTML.
- Section titles in bold (a wiki page exported without its headings, a Word document): in a
  guide with no `##` heading, two or more lines wholly in bold on their own, each naming a
  runbook's section (`**1. Symptoms**`, `**2. Diagnosis**`, `**Resolution**`, `**4.
  Rollback**`), are the `##` headings they stand for.

Fenced code blocks are never rewritten.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from html import unescape

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def outside_fences(lines: list[str], visit: Callable[[list[str], int], int | None]) -> list[str]:
    """`lines` with each line outside a fenced block handed to `visit` (the lines, its index),
    which may rewrite lines in place, line for line, and returns the index of the last line
    it took, or None when it took none (the line may then open a fence). The one walk over a
    guide's fences that every rewrite of another notation shares."""
    fence = ""
    i = 0
    while i < len(lines):
        ln = lines[i]
        if fence:
            if ln.strip().startswith(fence) and not ln.strip().strip(fence[0]):
                fence = ""
        elif (taken := visit(lines, i)) is not None:
            i = taken
        elif opened := _FENCE.match(ln):
            fence = opened.group(1)
        i += 1
    return lines

# -- Jira / Confluence wiki markup -----------------------------------------------------------

_WIKI_HEADING = re.compile(r"^h([1-6])\.\s+(\S.*)$")
_WIKI_CODE = re.compile(r"^\s*\{(code|noformat)(?::([^}]*))?\}\s*$")
_WIKI_ITEM = re.compile(r"^([#*]+)\s+(\S.*)$")
_WIKI_MONO = re.compile(r"\{\{(?!\s)([^{}\n]+?)\}\}")
_WIKI_LANG = re.compile(r"(?:^|\|)\s*(?:language\s*=\s*)?([A-Za-z][\w+#-]*)\s*(?:\||$)")


def _mono(text: str) -> str:
    """`{{monospace}}` as a code span."""
    return _WIKI_MONO.sub(lambda m: f"`{m.group(1)}`", text)


def _wiki_lang(params: str | None) -> str:
    """The language of `{code:bash}` / `{code:language=bash|title=x}`; "" when none."""
    if not params:
        return ""
    lang = re.search(r"language\s*=\s*([\w+#-]+)", params)
    if lang:
        return lang.group(1).lower()
    first = params.split("|")[0].strip()
    return first.lower() if re.fullmatch(r"[A-Za-z][\w+#-]*", first) and "=" not in first else ""


def _is_wiki(lines: list[str]) -> bool:
    """Whether the guide is written in wiki markup: an `h2.` heading or a closed `{code}` block,
    and no Markdown fence (a Markdown guide that shows wiki markup in a fence stays Markdown)."""
    if any(_FENCE.match(ln) for ln in lines):
        return False
    lines = _uncommented(lines)  # what an HTML comment holds is not the guide's notation
    if any(_WIKI_HEADING.match(ln) for ln in lines):
        return True
    opened: str | None = None
    for ln in lines:
        m = _WIKI_CODE.match(ln)
        if m and opened is None:
            opened = m.group(1)
        elif m and m.group(1) == opened and m.group(2) is None:
            return True
    return False


def _uncommented(lines: list[str]) -> list[str]:
    """The lines with what `<!-- ... -->` comments hold blanked out."""
    out: list[str] = []
    inside = False
    for ln in lines:
        kept, rest = "", ln
        while rest:
            if inside:
                end = rest.find("-->")
                if end < 0:
                    rest = ""
                    break
                inside, rest = False, rest[end + 3:]
            else:
                start = rest.find("<!--")
                if start < 0:
                    kept, rest = kept + rest, ""
                    break
                kept, inside, rest = kept + rest[:start], True, rest[start + 4:]
        out.append(kept)
    return out


def _wiki(lines: list[str]) -> list[str]:
    out: list[str] = []
    block: str | None = None  # the open {code} / {noformat} macro
    indent = ""  # a block right under a numbered item belongs to the item
    counters: list[int] = []
    for ln in lines:
        m = _WIKI_CODE.match(ln)
        if block is not None:
            if m and m.group(1) == block and m.group(2) is None:
                out.append(f"{indent}```")
                block = None
            else:
                out.append(f"{indent}{ln}" if ln.strip() else ln)
            continue
        if m:
            block = m.group(1)
            lang = "text" if block == "noformat" else _wiki_lang(m.group(2))
            out.append(f"{indent}```{lang}")
            continue
        if not ln.strip():
            indent = ""
            counters = []
            out.append(ln)
            continue
        heading = _WIKI_HEADING.match(ln)
        if heading:
            indent, counters = "", []
            out.append(f"{'#' * int(heading.group(1))} {_mono(heading.group(2))}")
            continue
        item = _WIKI_ITEM.match(ln)
        if item:
            marks = item.group(1)
            depth = len(marks)
            del counters[depth:]
            while len(counters) < depth:
                counters.append(0)
            counters[depth - 1] += 1
            lead = "".join(" " * 4 for _ in range(depth - 1))
            marker = f"{counters[depth - 1]}." if marks[-1] == "#" else "-"
            text = _mono(item.group(2))
            out.append(f"{lead}{marker} {text}")
            indent = lead + " " * (len(marker) + 1)
            continue
        out.append(f"{indent}{_mono(ln)}")
    return out


# -- AsciiDoc pasted into Markdown ------------------------------------------------------------

# `[source,bash]` over a `----` line: an AsciiDoc listing block (`[source]`, `[listing]` and
# `[source%nowrap,bash]` too). A guide that holds one is written (in part) in AsciiDoc: its
# listings, its `....` literal blocks (output) and its `== Title` sections are read as such.
_ADOC_ATTRS = re.compile(r"^\s*\[(?:source|listing)(?:%[\w%-]*)?(?:\s*,\s*([\w+#.-]+))?"
                         r"(?:\s*,[^\]\n]*)?\]\s*$", re.I)
_ADOC_DELIM = re.compile(r"^\s*(-{4,}|\.{4,})\s*$")
_ADOC_HEADING = re.compile(r"^(={1,6})\s+(\S.*)$")
_ADOC_ITEM = re.compile(r"^(\.{1,5})[ \t]+(\S.*)$")  # `. Step`, `.. Sub-step` (not `.Title`)
_MD_ITEM = re.compile(r"^(\s*)(?:\d{1,3}[.)]|[-*+])[ \t]+\S")


def _item_indent(lines: list[str], i: int) -> str | None:
    """The indent of the text of the list item a `+` at `i` continues (the last one above it,
    before any blank line), or None."""
    j = i - 1
    while j >= 0 and lines[j].strip():
        if (m := _MD_ITEM.match(lines[j])) is not None:
            return m.group(0)[:-1].replace(m.group(0)[:-1].lstrip(), "") + \
                " " * len(m.group(0)[len(m.group(1)):-1])
        j -= 1
    return None


def _is_asciidoc(lines: list[str]) -> bool:
    """Whether an AsciiDoc listing block sits outside the Markdown fences."""
    if not any("[" in ln for ln in lines):  # no `[source]` line: no walk over the fences
        return False
    found: list[int] = []

    def listing(lines: list[str], i: int) -> None:
        if i + 1 < len(lines) and _ADOC_ATTRS.match(lines[i]) and \
                (m := _ADOC_DELIM.match(lines[i + 1])) and m.group(1)[0] == "-":
            found.append(i)
    outside_fences(list(lines), listing)
    return bool(found)


def _asciidoc(lines: list[str]) -> list[str]:
    """Each listing block (`[source,lang]` over `----`) or literal block (`....`) as a fence,
    the attribute line blank and its language the fence's (a literal block is "text"), and each
    `== Title` line a heading, line for line. A block must be closed by its own delimiter; a
    bare `----` is Markdown's rule, unless it opens a paragraph (a blank line or an
    item's `+` before it) and a `----` closes it: a listing with no attributes (its text was
    a Markdown heading, the `----` read as the underline of a setext heading). An ordered
    list's `. step` (`.. sub-step`) is the numbered item it shows, and a `+` line attaches
    the listing after it to the item above (its text indented under the item)."""
    under = [""]  # the indent of the item a `+` attached the next block to

    def rewrite(out: list[str], i: int) -> int | None:
        ln = out[i]
        if (attrs := _ADOC_ATTRS.match(ln)) or _ADOC_DELIM.match(ln):
            at = i + 1 if attrs else i
            delim = _ADOC_DELIM.match(out[at]) if at < len(out) else None
            close = None
            opens = i == 0 or not out[i - 1].strip()
            if delim is not None and (attrs or delim.group(1)[0] == "." or opens):
                close = next((j for j in range(at + 1, len(out))
                              if out[j].strip() == delim.group(1)), None)
            if delim is None or close is None:
                under[0] = ""
                return None
            lang = "text" if delim.group(1)[0] == "." else \
                (attrs.group(1) or "").lower() if attrs else ""
            tick = "`" * max(3, 1 + max((len(r) for x in out[at + 1:close]
                                         for r in re.findall(r"`+", x)), default=0))
            if attrs:
                out[i] = ""
            out[at], out[close] = f"{tick}{lang}", tick
            if under[0]:
                for j in range(at, close + 1):
                    out[j] = under[0] + out[j]
            under[0] = ""
            return close
        under[0] = ""
        if (item := _ADOC_ITEM.match(ln)) is not None:
            out[i] = f"{'   ' * (len(item.group(1)) - 1)}1. {item.group(2)}"
            return i
        if ln.strip() == "+":  # a list continuation: no text of its own
            out[i] = ""
            under[0] = _item_indent(out, i) or ""
            return i
        if heading := _ADOC_HEADING.match(ln):
            out[i] = f"{'#' * len(heading.group(1))} {heading.group(2)}"
            return i
        return None
    return outside_fences(list(lines), rewrite)


# -- MediaWiki markup ------------------------------------------------------------------------

# `== Procedure ==` (the same run of `=` on both sides: AsciiDoc's has none on the right), a
# `<syntaxhighlight lang="bash">` / `<source lang=...>` / `<pre>` block, `# step` / `#: more of
# it` / `#* a bullet under it` lists, `'''bold'''`, `[[#Section|text]]` links: a runbook copied
# from a MediaWiki (an old ops wiki, a knowledge base).
_MW_HEADING = re.compile(r"^(={1,6})[ \t]*([^=\s][^\n]*?)[ \t]*\1[ \t]*$")
_MW_BLOCK_OPEN = re.compile(r"^(?P<lead>[#*:;]*)[ \t]*<(?P<tag>syntaxhighlight|source|pre)\b"
                            r"(?P<attrs>[^>]*)>(?P<rest>.*)$", re.I)
_MW_ITEM = re.compile(r"^([#*:;]+)[ \t]*(.*)$")
_MW_LANG = re.compile(r"""\blang(?:uage)?\s*=\s*["']?([\w+#.-]+)""", re.I)


def _is_mediawiki(lines: list[str]) -> bool:
    """Whether the guide is written in MediaWiki markup: a `== Title ==` heading and a
    `<syntaxhighlight>` / `<source>` / `<pre>` block or a `#:` / `#*` list line, and no
    Markdown fence (a Markdown guide that shows wiki text in a fence stays Markdown)."""
    if any(_FENCE.match(ln) for ln in lines):
        return False
    lines = _uncommented(lines)
    return any(_MW_HEADING.match(ln) for ln in lines) and any(
        _MW_BLOCK_OPEN.match(ln) or re.match(r"^#+[*:]", ln) for ln in lines)


def _mw_inline(text: str) -> str:
    """A MediaWiki line's inline markup as Markdown: bold and italics, `<code>`, internal links
    (`[[#Section|text]]` a link to that section, `[[Page]]` its name, categories dropped), and
    external links `[https://x text]`."""
    text = re.sub(r"\[\[(?:Category|File|Image):[^\]]*\]\]", "", text, flags=re.I)
    text = re.sub(r"\[\[#([^|\]]+)(?:\|([^\]]+))?\]\]",
                  lambda m: f"[{m.group(2) or m.group(1)}](#{_mw_slug(m.group(1))})", text)
    text = re.sub(r"\[\[(?:[^|\]]+\|)?([^\]]+)\]\]", r"\1", text)
    text = re.sub(r"\[(https?://\S+)\s+([^\]]+)\]", r"[\2](\1)", text)
    text = re.sub(r"'''(.+?)'''", r"**\1**", text)
    text = re.sub(r"''(.+?)''", r"*\1*", text)
    return re.sub(r"<(code|tt|kbd)\b[^>]*>(.*?)</\1>",
                  lambda m: f"`{unescape(m.group(2))}`", text, flags=re.I)


def _mw_slug(title: str) -> str:
    """A section title's anchor, as a heading's is written (GitHub style)."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def _mediawiki(lines: list[str]) -> list[str]:
    """Each `== Title ==` a heading, each `#` / `*` list line the numbered or bulleted item it
    is (`#:` more of the item above, at its indent), each `<syntaxhighlight>` / `<source>` /
    `<pre>` block a fence at its item's indent (one on a single line a code span), and the
    inline markup Markdown's, line for line. Read as Markdown, `# step` was a title and the
    block's commands a paragraph of prose: a mutating command in it was lost."""
    out: list[str] = []
    counters: list[int] = []
    indents: list[str] = []  # the indent of the text of the open item at each depth
    block: str | None = None  # the open block's tag
    block_indent = ""
    pending = False  # a block whose closing tag shared its last line: closed at the next blank
    for ln in lines:
        if block is not None:
            close = re.search(rf"</{block}\s*>", ln, re.I)
            if close is None:
                out.append(f"{block_indent}{ln}" if ln.strip() else ln)
            elif ln[:close.start()].strip():  # `last line</pre>`: the blank line after closes
                out.append(f"{block_indent}{ln[:close.start()]}")
                block, pending = None, True
            else:
                out.append(f"{block_indent}```")
                block = None
            continue
        if not ln.strip():
            out.append(f"{block_indent}```" if pending else ln)
            pending = False
            continue
        if heading := _MW_HEADING.match(ln):
            counters, indents = [], []
            out.append(f"{'#' * len(heading.group(1))} {_mw_inline(heading.group(2))}")
            continue
        if opened := _MW_BLOCK_OPEN.match(ln):
            depth = len(opened.group("lead"))
            indent = indents[min(depth, len(indents)) - 1] if depth and indents else ""
            tag = opened.group("tag").lower()
            lang = _MW_LANG.search(opened.group("attrs")) if tag != "pre" else None
            rest = opened.group("rest")
            if (inline := re.match(rf"(.*?)</{tag}\s*>\s*$", rest, re.I)) is not None:
                code = unescape(inline.group(1)).strip()  # `<pre>cmd</pre>`: a code span
                out.append(f"{indent}`{code}`" if code else "")
            elif rest.strip():  # its first line shares the tag's: no line for the fence
                out.append(f"{indent}{_mw_inline(ln)}")
            else:
                out.append(f"{indent}```{lang.group(1).lower() if lang else ''}")
                block, block_indent = tag, indent
            continue
        item = _MW_ITEM.match(ln)
        if item is None:
            counters, indents = [], []
            # `{{Warning|Do not reboot the filer.}}`: a notice template, a quote of prose
            notice = re.fullmatch(r"\{\{\s*([A-Za-z][\w ]*)\|([^{}|]+)\}\}\s*", ln)
            out.append(f"> **{notice.group(1).strip()}:** {_mw_inline(notice.group(2).strip())}"
                       if notice else _mw_inline(ln))
            continue
        marks, text = item.group(1), _mw_inline(item.group(2))
        depth = len(marks)
        if marks[-1] in ":;":  # more of the item above, at its text's indent
            under = indents[min(depth - 1, len(indents)) - 1] if depth > 1 and indents else ""
            out.append(f"{under}{text}")
            continue
        del counters[depth:]
        del indents[depth - 1:]
        while len(counters) < depth:
            counters.append(0)
        counters[depth - 1] += 1
        lead = (indents[-1] if indents else "") + "    " * (depth - 1 - len(indents))
        marker = f"{counters[depth - 1]}." if marks[-1] == "#" else "-"
        out.append(f"{lead}{marker} {text}")
        indents.append(lead + " " * (len(marker) + 1))
    return out


# -- Org mode pasted into Markdown -----------------------------------------------------------

# `#+BEGIN_SRC sh` ... `#+END_SRC` (an Emacs Org file's source block, any case), `#+BEGIN_EXAMPLE`
# ... `#+END_EXAMPLE` (its literal text: output), and `#+TITLE: ...`.
_ORG_BEGIN = re.compile(r"^(\s*)#\+begin_(src|example)\b[ \t]*([\w+#.-]*)[^\n]*$", re.I)
_ORG_TITLE = re.compile(r"^#\+title:[ \t]*(\S.*)$", re.I)
# `#+RESULTS:` (also `#+RESULTS[hash]: name`) over the `: `-prefixed lines Org writes a block's
# output as: that output, never a step or a condition
_ORG_RESULTS = re.compile(r"^(\s*)#\+results(?:\[[^\]]*\])?:.*$", re.I)
_ORG_FIXED = re.compile(r"^(\s*):(?: (.*))?$")
# `* TODO Check replication` / `** DONE Escalate`: an Org heading (a Markdown bullet, or no
# element, else); only a task keyword tells it from a bullet
_ORG_HEADING = re.compile(r"^(\*{1,5}) +(?:TODO|DONE|NEXT|WAIT(?:ING)?|HOLD|CANCEL(?:L?ED)?) +"
                          r"(?:\[#[A-C]\] +)?(\S.*)$")


def _org(lines: list[str]) -> list[str]:
    """Each Org source block as the fence it is, in its language, at its indent (an example
    block is "text"), `#+TITLE:` the guide's title and each task heading (`* TODO ...`) a
    heading one level under it, line for line. Read as Markdown, the
    block's lines were a paragraph: its commands one person's step with the guide's other words.
    A block must be closed by its own `#+END_...` line."""
    def rewrite(out: list[str], i: int) -> int | None:
        if (title := _ORG_TITLE.match(out[i])) is not None:
            out[i] = f"# {title.group(1)}"
            return i
        if (heading := _ORG_HEADING.match(out[i])) is not None:
            out[i] = f"{'#' * (len(heading.group(1)) + 1)} {heading.group(2)}"
            return i
        if (results := _ORG_RESULTS.match(out[i])) is not None:
            return _org_results(out, i, results.group(1))
        m = _ORG_BEGIN.match(out[i])
        if m is None:
            return None
        kind = m.group(2).lower()
        close = next((j for j in range(i + 1, len(out))
                      if re.fullmatch(rf"\s*#\+end_{kind}\s*", out[j], re.I)), None)
        if close is None:
            return None
        body = out[i + 1:close]
        tick = "`" * max(3, 1 + max((len(r) for x in body for r in re.findall(r"`+", x)),
                                    default=0))
        lang = "text" if kind == "example" else m.group(3).lower()
        out[i], out[close] = f"{m.group(1)}{tick}{lang}", f"{m.group(1)}{tick}"
        return close
    return outside_fences(list(lines), rewrite)


def _org_results(out: list[str], i: int, indent: str) -> int:
    """The `#+RESULTS:` line at `i` and the `: ` lines under it as a "text" block (the blank
    line after them its closer; running to the end, the end closes it); over an example block
    or nothing, the line is blank (the block is output already). Read as Markdown, the label
    was a condition on its own line ("#+RESULTS") guarding the steps after it, and the output a
    paragraph of prose."""
    j = i + 1
    while j < len(out) and _ORG_FIXED.match(out[j]):
        j += 1
    if j == i + 1:
        out[i] = ""
        return i
    for k in range(i + 1, j):
        fixed = _ORG_FIXED.match(out[k])
        out[k] = f"{indent}{fixed.group(2) or ''}" if fixed else out[k]
    out[i] = f"{indent}```text"
    if j < len(out) and not out[j].strip():
        out[j] = f"{indent}```"
    return j


# -- reStructuredText directives pasted into Markdown ----------------------------------------

# `.. code-block:: bash` over its indented body (a guide copied from Sphinx docs): the fenced
# block it shows; `.. warning::` / `.. note::` over theirs: an admonition of prose.
_RST_DIRECTIVE = re.compile(r"^( {0,3})\.\.\s+([\w-]+)::[ \t]*(\S*)[ \t]*$")
_RST_CODE = frozenset({"code-block", "code", "sourcecode"})
_RST_ADMONITIONS = frozenset({"admonition", "attention", "caution", "danger", "error", "hint",
                              "important", "note", "tip", "warning", "seealso"})
_RST_OPTION = re.compile(r"^\s+:[\w-]+:(?:[ \t].*)?$")


def _rst(lines: list[str]) -> list[str]:
    """Each code or admonition directive with its body: the directive line a fence (```` ```bash
    ````) or a `:::warning` opener, its options blank, its body dedented, and the blank line
    after the body the closer (the body running to the end, the end closes it)."""
    def rewrite(out: list[str], i: int) -> int | None:
        m = _RST_DIRECTIVE.match(out[i])
        if not m or m.group(2).lower() not in _RST_CODE | _RST_ADMONITIONS:
            return None
        name, base = m.group(2).lower(), len(m.group(1))
        j = i + 1
        while j < len(out) and _RST_OPTION.match(out[j]):
            out[j] = ""
            j += 1
        end = j
        for k in range(j, len(out)):  # the body: indented deeper, blank lines within
            if out[k].strip() and len(out[k]) - len(out[k].lstrip()) <= base:
                break
            end = k + 1
        while end > j and not out[end - 1].strip():
            end -= 1
        inner = [out[k] for k in range(j, end) if out[k].strip()]
        if not inner:
            return None
        cut = min(len(x) - len(x.lstrip()) for x in inner)
        for k in range(j, end):
            out[k] = out[k][cut:] if out[k].strip() else ""
        if name in _RST_CODE:
            tick = "`" * max(3, 1 + max((len(r) for x in inner
                                         for r in re.findall(r"`+", x)), default=0))
            out[i] = f"{tick}{m.group(3).lower()}"
        else:
            tick = ":::"
            out[i] = f":::{name}"
        if end < len(out):  # the blank line after the body (end is one, or the end)
            out[end] = tick
        return end
    return outside_fences(list(lines), rewrite)


# -- HTML lists and paragraphs ----------------------------------------------------------------

_LIST_OPEN = re.compile(r"^\s*<(ol|ul)\b[^>]*>\s*$", re.I)
_LIST_CLOSE = re.compile(r"^\s*</(ol|ul)>\s*$", re.I)
_ITEM = re.compile(r"^\s*<li\b[^>]*>(.*?)(?:</li>)?\s*$", re.I | re.S)
_ITEM_CLOSE = re.compile(r"^\s*</li>\s*$", re.I)
_PARA = re.compile(r"^\s*<p\b[^>]*>(.*)</p>\s*$", re.I)
# `<h2 id="fix">Fix</h2>` alone on its line: a heading (it was "HTML, not read": the guide had
# no sections, and a link to `#fix` landed nowhere)
_HEADING = re.compile(r"^ {0,3}<h([1-6])\b([^>]*)>(.*?)</h\1>\s*$", re.I)


def slugify(text: str) -> str:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _html_inline(text: str) -> str:
    """Inline HTML as Markdown: `<code>` a code span (its entities decoded), `<b>` / `<strong>`
    bold, `<a href>` a link; other tags dropped."""
    text = re.sub(r"<(code|kbd|tt)\b[^>]*>(.*?)</\1>",
                  lambda m: f"`{unescape(re.sub(r'<[^>]+>', '', m.group(2)))}`", text,
                  flags=re.I | re.S)
    text = re.sub(r"</?(?:b|strong)\b[^>]*>", "**", text, flags=re.I)
    text = re.sub(r"""<a\b[^>]*?href\s*=\s*["']([^"']*)["'][^>]*>(.*?)</a>""", r"[\2](\1)",
                  text, flags=re.I | re.S)
    text = re.sub(r"<br\s*/?>", " ", text, flags=re.I)
    return re.sub(r"</?[A-Za-z][\w-]*\b[^>`]*>", "", text).strip()


def _html_list(lines: list[str], start: int) -> list[str] | None:
    """The lines of the HTML list opening at `start` as a Markdown list, line for line; None
    when it is not one whose items each open on a line of their own."""
    stack: list[tuple[bool, int, str]] = []  # (ordered, count, indent of the items' text)
    out: list[str] = []
    text_indent = ""
    for ln in lines[start:]:
        if (m := _LIST_OPEN.match(ln)) is not None:
            stack.append((m.group(1).lower() == "ol", 0, text_indent))
            out.append("")
        elif _LIST_CLOSE.match(ln):
            if not stack:
                return None
            stack.pop()
            out.append("")
            if not stack:
                return out
        elif _ITEM_CLOSE.match(ln) or not ln.strip():
            out.append("")
        elif (m := _ITEM.match(ln)) is not None and stack:
            ordered, count, lead = stack[-1]
            stack[-1] = (ordered, count + 1, lead)
            marker = f"{count + 1}." if ordered else "-"
            out.append(f"{lead}{marker} {_html_inline(m.group(1))}")
            text_indent = lead + " " * (len(marker) + 1)
        elif stack and re.search(r"<(?:ol|ul|li)\b", ln, re.I) is None:
            out.append(f"{text_indent}{_html_inline(ln)}")  # more of the item's text
        else:
            return None
    return None


def _html(lines: list[str]) -> list[str]:
    def rewrite(out: list[str], i: int) -> int | None:
        ln = out[i]
        if _LIST_OPEN.match(ln) and (as_md := _html_list(out, i)) is not None:
            out[i:i + len(as_md)] = as_md
            return i + len(as_md) - 1
        if (p := _PARA.match(ln)) is not None and "<p" not in p.group(1).lower():
            out[i] = _html_inline(p.group(1))
            return i
        if (h := _HEADING.match(ln)) is not None and (words := _html_inline(h.group(3))):
            out[i] = f"{'#' * int(h.group(1))} {words}{_heading_id(h.group(2), words)}"
            return i
        return None
    return outside_fences(list(lines), rewrite)


def _heading_id(attrs: str, words: str) -> str:
    """An HTML heading's `id` as the `{#name}` its Markdown heading is linked by ("" when its
    words' own anchor is that, or the id is no name)."""
    m = re.search(r"""\bid\s*=\s*["']?([A-Za-z_][A-Za-z0-9_-]{0,63})["'\s>]""", attrs + ">")
    return f" {{#{m.group(1)}}}" if m and m.group(1) != slugify(words) else ""


def as_markdown(body: str) -> str:
    """`body` with the wiki markup, AsciiDoc, Org and reStructuredText blocks and HTML lists it
    holds written as Markdown, line for line."""
    lines = body.split("\n")
    if _is_wiki(lines):
        lines = _wiki(lines)
    if _is_mediawiki(lines):
        lines = _mediawiki(lines)
    if _is_asciidoc(lines):
        lines = _asciidoc(lines)
    if any(_ORG_BEGIN.match(ln) for ln in lines):
        lines = _org(lines)
    if any(_RST_DIRECTIVE.match(ln) for ln in lines):
        lines = _rst(lines)
    if any("<" in ln for ln in lines) and any(  # (a cheap test first)
            _LIST_OPEN.match(ln) or _PARA.match(ln) or _HEADING.match(ln) for ln in lines):
        lines = _html(lines)
    if any(_BOLD_SECTION.match(ln) for ln in lines):
        lines = _bold_sections(lines)
    if any(_TREE.match(ln) for ln in lines):
        lines = _decision_trees(lines)
    return "\n".join(lines)


# A branch of a decision tree drawn with box characters ("├── `Insufficient cpu` → go to Step
# 2", "│   └── No → restart it"), or their ASCII ("|-- Yes -> ...", "`-- No -> ...")
_TREE = re.compile(r"^(?P<pre>[│┃| \t]*)"
                   r"(?P<glyph>[├└┣┗][─━]+[>▶]?|[|`]--+>?)(?P<gap>[ \t]+)\S")
_TREE_RULE = re.compile(r"^(?:[│┃|][ \t]*)+$")  # "│" alone, between branches
_TREE_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})[ \t]*(?:text|txt|plain|plaintext)?[ \t]*$")


def _decision_trees(lines: list[str]) -> list[str]:
    """A decision tree drawn with box characters as the nested list it is, line for line:
    each branch ("├── X → ...") a list item at its depth, a "│" that only joins branches a
    blank line. Two branches or more make a tree. Read as they stood, the branches were one
    paragraph: one condition whose jumps were lost. A tree in an unlabelled fence is one too
    when it asks a question over branches that say where each answer goes ("Is the pod
    Pending?" over "├── Yes → Step 1"); any other fenced tree (a `tree` listing) is output."""
    def branch(ls: list[str], i: int) -> None:
        m = _TREE.match(ls[i])
        if m is None:
            if _TREE_RULE.match(ls[i]):
                ls[i] = ""
            elif m_ := re.match(r"^(?:[│┃][ \t]*)+", ls[i]):
                ls[i] = " " * len(m_.group(0)) + ls[i][m_.end():]
            return
        pre = re.sub(r"\S", " ", m.group("pre"))
        room = len(m.group("glyph")) + len(m.group("gap")) - 1
        ls[i] = f"{pre}-{' ' * min(max(room, 1), 4)}{ls[i][m.end() - 1:]}"

    def visit(ls: list[str], i: int) -> int | None:
        if (fence := _TREE_FENCE.match(ls[i])) is not None:
            close = next((j for j in range(i + 1, len(ls)) if ls[j].strip() == fence.group(2)),
                         None)
            if close is None:
                return None
            body = [ln for ln in ls[i + 1:close] if ln.strip()]
            branches = [ln for ln in body if _TREE.match(ln)]
            if len(branches) < 2 or not body[0].rstrip().endswith("?") or _TREE.match(body[0]) \
                    or not all(re.search(r"→|->|=>|⇒", b) for b in branches):
                return None
            ls[i] = ls[close] = ""
            for j in range(i + 1, close):
                branch(ls, j)
            return close
        if _TREE.match(ls[i]) is None and not (_TREE_RULE.match(ls[i]) or ls[i].startswith("│")):
            return None
        j = i
        while j < len(ls) and ls[j].strip() and (_TREE.match(ls[j]) or _TREE_RULE.match(ls[j])
                                                 or ls[j].lstrip().startswith(("│", "┃"))):
            j += 1
        if sum(1 for k in range(i, j) if _TREE.match(ls[k])) < 2:
            return None
        for k in range(i, j):
            branch(ls, k)
        return j - 1

    return outside_fences(lines, visit)


# `**2. Diagnosis**`, `__Rollback__`: a line wholly in bold, its words (after a number) a
# runbook's section title
_BOLD_SECTION = re.compile(
    r"^(\*\*|__)\s*(?:\d{1,2}[.)]?\s+)?(?P<title>(?:symptoms?|diagnos(?:is|e|tics?)|"
    r"troubleshooting|investigation|triage|checks?|pre-?checks?|resolution|mitigation|"
    r"remediation|fix|recovery|roll\s?back|rollback plan|back\s?out(?: plan)?|verification|"
    r"validation|post-?checks?|escalation|impact|overview|summary|causes?|root cause|"
    r"possible causes|prerequisites|background|notes?|description|context|references?|"
    r"procedure|steps)(?:\s+(?:and|&|/)\s+[\w -]{1,30})?)\s*\1\s*$", re.I)
_ATX_SECTION = re.compile(r"^ {0,3}#{2,6}\s")


def _bold_sections(lines: list[str]) -> list[str]:
    """Bold section titles as `##` headings, in a guide that has no `##` heading of its own."""
    found: list[int] = []
    has_headings = False

    def visit(ls: list[str], i: int) -> int | None:
        nonlocal has_headings
        if _ATX_SECTION.match(ls[i]):
            has_headings = True
        elif _BOLD_SECTION.match(ls[i]) and (i == 0 or not ls[i - 1].strip()) and \
                (i + 1 >= len(ls) or not ls[i + 1].strip()):
            found.append(i)
        return None

    outside_fences(lines, visit)
    if has_headings or len(found) < 2:
        return lines
    out = list(lines)
    for i in found:
        title = out[i].strip()[2:-2].strip()
        out[i] = f"## {title}"
    return out
