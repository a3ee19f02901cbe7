"""Variables and placeholders -> memory references, and shell words -> Jinja2 templates.

This module owns the compiler's view of names while it reads a guide top to bottom: `$VAR`,
`${VAR}` and `<PLACEHOLDER>` become `{{ vars.VAR }}` when an earlier step binds VAR,
and a declared input (`{{ inputs.snake_name }}`) otherwise; a placeholder that names an alert
label ("the namespace label from the alert") is the input of that name, which a run fills from
the alert's label and checks against its type like any other. Literal text is escaped with
`templating.literal`, so kubectl go-templates (`{{.metadata.name}}`) reach the command unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine import values
from engine.compile import placeholders
from engine.compile.shellwords import Word
from engine.plan import InputSpec
from engine.templating import literal

_ALERT_LABEL = re.compile(r"^(?:the\s+)?(?:value\s+of\s+)?(?:the\s+)?"
                          r"[`'\"]?(?P<label>[a-z_][a-z0-9_]*)"
                          r"[`'\"]?\s+label\s+(?:from|of|in)\s+(?:the\s+)?alert$|"
                          r"^\$labels\.(?P<templated>[a-z_][a-z0-9_]*)$", re.I)


def snake(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)[:6]
    out = "_".join(w.lower() for w in words)
    if not out:
        return "value"
    return f"v_{out}" if out[0].isdigit() else out


@dataclass
class Scope:
    """Names seen so far: inputs declared, vars bound by earlier steps, aliases from `X=...`."""

    inputs: dict[str, InputSpec] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)
    alias: dict[str, str] = field(default_factory=dict)
    # Words the guide itself says to replace ("Replace `POD_NAME` with the pod from step 1",
    # "where `NAMESPACE` is ..."): placeholders in every command that writes them
    named: frozenset[str] = frozenset()

    def declare(self, name: str, *, default: str | None = None, description: str = "") -> str:
        if name not in self.inputs:
            self.inputs[name] = InputSpec(name=name, type=values.infer(default), default=default,
                                          required=default is None, description=description)
        return f"inputs.{name}"

    def assign(self, var: str, value: str) -> None:
        """`export VAR=value`: VAR names an input (with a default when value is literal)."""
        self.bound.discard(var)
        ph = re.fullmatch(r"<([^<>]+)>", value.strip())
        if ph:
            self.alias[var] = self.placeholder(ph.group(1), hint=var)
        elif "$" in value or "<" in value or "{{" in value or not value:
            self.alias[var] = self.declare(snake(var), description=f"${var}")
        else:
            self.alias[var] = self.declare(snake(var), default=value, description=f"${var}")

    def bind(self, var: str) -> None:
        self.bound.add(var)
        self.alias.pop(var, None)

    def var(self, name: str) -> str:
        if name in self.bound:
            return f"vars.{name}"
        if name in self.alias:
            return self.alias[name]
        return self.declare(snake(name), description=f"${name}")

    def placeholder(self, text: str, *, hint: str | None = None) -> str:
        label = _ALERT_LABEL.match(text.strip())
        if label:  # an input filled from the alert's label of the same name, and typed
            # the template names the label exactly (Prometheus' label names keep their case)
            name = label.group("templated") or label.group("label").lower()
            return self.declare(name, description=f"the {name} label of the alert")
        return self.declare(snake(hint or text), description=f"<{text}>")

    def word(self, word: Word) -> str:
        pieces: list[tuple[bool, str]] = []
        for kind, text in word.parts:
            if kind == "lit":
                for is_ph, piece in self._split(text):  # `{x}`, `YOUR_X` (TSG style)
                    if is_ph:
                        pieces.append((True, "{{ " + self.placeholder(piece) + " }}"))
                    else:
                        pieces.append((False, literal(piece)))
            else:
                ref = self.var(text) if kind == "var" else self.placeholder(text)
                pieces.append((True, "{{ " + ref + " }}"))
        out: list[str] = []
        for i, (is_ref, piece) in enumerate(pieces):
            if not is_ref and piece.endswith("{") and i + 1 < len(pieces) and pieces[i + 1][0]:
                piece = piece[:-1] + "{{ '{' }}"
            out.append(piece)
        return "".join(out)

    def _split(self, text: str) -> list[tuple[bool, str]]:
        """`placeholders.split`, and each word the guide said to replace a placeholder too."""
        out: list[tuple[bool, str]] = []
        for is_ph, piece in placeholders.split(text):
            if is_ph or not self.named:
                out.append((is_ph, piece))
                continue
            names = "|".join(re.escape(n) for n in sorted(self.named, key=len, reverse=True))
            at = 0
            for m in re.finditer(rf"(?<![\w-])(?:{names})(?![\w-])", piece):
                if m.start() > at:
                    out.append((False, piece[at:m.start()]))
                out.append((True, m.group(0)))
                at = m.end()
            if at < len(piece):
                out.append((False, piece[at:]))
        return out

    def refs(self, word: Word) -> set[str]:
        """The vars a word reads (names of `vars.X`)."""
        return {t for k, t in word.parts if k == "var" and t in self.bound}
