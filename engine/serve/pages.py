"""The web UI's HTML: Jinja2 page templates, Markdown reports, plan pictures.

The one place HTML is made. Templates (`engine/serve/templates/`) are rendered with
autoescaping always on, whatever the file name: every value from an alert, a guide, a step's
output or a person is text, never markup. The two pieces of markup that are inserted whole
are made here, and made safe here:

- a report's Markdown, rendered by markdown-it with raw HTML off (`<script>` in it stays
  text) and its link checker on (no `javascript:` links);
- a plan's picture, Graphviz's SVG of `engine.compile.graph.to_dot(plan, node_ids=True)`
  (each step a `<g id="step-ID" class="node step kind-KIND">` the page's script recolours),
  which escapes the labels it draws; it is inserted only if it holds nothing but drawing
  elements (no script, event handler, link or foreign markup).

This is not the runbook templating of step parameters (`engine.templating`): that renders
commands, this renders pages, and the two never share an environment.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from engine.compile.graph import render_graphviz, to_dot
from engine.errors import MendflowError
from engine.plan import Plan

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True,
                          lstrip_blocks=True)
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_SVG_ELEMENTS = frozenset({"svg", "g", "title", "polygon", "polyline", "ellipse", "path",
                           "text", "rect", "circle", "line", "defs", "desc"})
_svgs: OrderedDict[str, str | None] = OrderedDict()
_svgs_lock = threading.Lock()
_SVG_CACHE = 64


def render(template: str, **context: Any) -> str:
    return _env.get_template(template).render(**context)


def markdown_html(text: str) -> Markup:
    """Markdown -> HTML with raw HTML escaped, as markup a template inserts whole."""
    return Markup(_markdown.render(text))


def plan_svg(plan: Plan, plan_hash: str) -> Markup | None:
    """The plan's picture as inline SVG (cached by plan hash); None without Graphviz."""
    with _svgs_lock:  # pages ask from worker threads (Graphviz runs as a subprocess)
        if plan_hash in _svgs:
            found = _svgs[plan_hash]
            return Markup(found) if found is not None else None
    try:
        raw = render_graphviz(to_dot(plan, node_ids=True), "svg").decode()
    except MendflowError:
        raw = ""
    start = raw.find("<svg")
    found = raw[start:] if start >= 0 and _plain_svg(raw[start:]) else None
    with _svgs_lock:
        _svgs[plan_hash] = found
        while len(_svgs) > _SVG_CACHE:
            _svgs.popitem(last=False)
    return Markup(found) if found is not None else None


def _plain_svg(svg: str) -> bool:
    """Only drawing elements, no event handlers, no links: what Graphviz draws for a plan."""
    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError:
        return False
    for element in root.iter():
        if element.tag.rpartition("}")[2] not in _SVG_ELEMENTS:
            return False
        for name in element.attrib:
            local = name.rpartition("}")[2].lower()
            if local.startswith("on") or local == "href" or local == "style":
                return False
    return True
