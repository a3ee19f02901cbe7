"""Links from one guide to another: what a link names, and the inputs it passes.

A guide runs another guide by linking to it in an instruction ("Follow [the etcd backup
guide](etcd-backup.md)."); the link's query string maps the called guide's inputs, each value
a template over the calling run's memory, as any step parameter is:

    Follow [the etcd backup](etcd-backup.md?cluster={{inputs.cluster}}&mode=full).

(Markdown ends a link at a space: write `{{inputs.cluster}}` without spaces, or put the whole
target in angle brackets, `<etcd-backup.md?cluster={{ inputs.cluster }}>`.) An input the
called guide declares under the same name as one of the caller's is passed through unless the
link maps it. What is not a relative link to a Markdown file (a URL, an image, an anchor) is
no guide; `engine.compile.calls` decides whether a Markdown file is one (it compiles to a plan
that runs something).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from engine.errors import ValidationError

_INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class GuideLink:
    path: str  # as written, unquoted: relative to the calling guide's file
    inputs: dict[str, str] = field(default_factory=dict)  # input name -> template


def guide_link(href: str, *, file: str, line: int) -> GuideLink | None:
    """The guide a link names, or None when it names no Markdown file (a URL, an image, an
    anchor in this guide). A query string that is not `name=value` pairs of input names is
    an error at the link's line."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        return None
    path = unquote(parts.path)
    if not path.lower().endswith(".md") or path.startswith("/"):
        return None
    inputs: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if not _INPUT_NAME.match(name):
            raise ValidationError(
                f"the link to {path} passes {name!r}, which is not an input name", file=file,
                line=line, hint="Write the inputs as `guide.md?NAME=VALUE&OTHER={{inputs.x}}`")
        if name in inputs:
            raise ValidationError(f"the link to {path} passes input {name!r} twice", file=file,
                                  line=line, hint="Pass each input once")
        inputs[name] = value
    return GuideLink(path, inputs)
