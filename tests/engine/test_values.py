"""Typed inputs: each type takes what it names and refuses the rest, with the rule it broke."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import GuideError, InputError
from engine.guide import parse_guide
from engine.plan import InputSpec
from engine.runtime.memory import coerce_inputs
from engine.values import ValueRejected, check, infer

OK = [
    ("name", "kube-system"), ("name", "web-1.prod:9100"), ("name", "opcua://127.0.0.1:4840"),
    ("name", "user@host"), ("string", "shop-web"),
    ("path", "/var/tmp/scratch dir"), ("path", "relative/file.log"),
    ("integer", "90"), ("integer", -3), ("number", "0.05"), ("number", "1e3"),
    ("boolean", "yes"), ("boolean", False),
    ("duration", "5m"), ("duration", "1h30m"), ("duration", "250ms"),
    ("regex", "err(or)?|fail"), ("url", "https://example.org:8443/a?b=c"), ("url", "http://xn--80ak6aa92e.com/"),
    ("text", "it's broken; see\tthe\nlogs $(really)"),
]

REFUSED = [
    ("name", "-delete", "starts with '-'"),
    ("name", "--files0-from=/etc/shadow", "starts with '-'"),
    ("name", "-oProxyCommand=touch /tmp/x", "starts with '-'"),
    ("name", "a b", "only letters"),
    ("name", 'shop"} or vector(1)', "only letters"),
    ("name", "x&admin=true#", "only letters"),
    ("name", "", "empty"),
    ("name", "a\x1b[31mred", "control character"),
    ("name", "x" * 300, "at most 253"),
    ("name", "../../etc/passwd", "'..' path segment"),
    ("name", "web/../../root", "'..' path segment"),
    ("path", "-delete", "starts with '-'"),
    ("path", "a\nb", "control character"),
    ("path", "/tmp/\u202eevil", "control character"),
    ("integer", "0+up", "digits"),
    ("integer", "1.5", "digits"),
    ("integer", True, "boolean"),
    ("number", "nan", "finite"),
    ("number", "inf", "finite"),
    ("number", "0/0", "digits"),
    ("boolean", "maybe", "true or false"),
    ("duration", "5m or vector(1)", "duration"),
    ("duration", "-5m", "starts with '-'"),
    ("regex", "(a)\\1", "RE2"),
    ("regex", "(?=x)", "RE2"),
    ("url", "file:///etc/passwd", "http"),
    ("url", "http://user:pw@host/", "credentials"),
    ("url", "http:///nohost", "host"),
    ("url", "http://h/a b", "spaces"),
    ("duration", "\uff15m", "duration"),  # fullwidth 5: Prometheus cannot read it
    ("duration", "\u0665m", "duration"),  # Arabic-Indic 5
    ("url", "https://good.org\\evil.com/", "backslash"),
    ("url", "http://evil.com\\.good.org/", "backslash"),
    ("url", "http://ex\u0430mple.org/", "not ASCII"),  # Cyrillic a
    ("text", "bell\x07", "control character"),
    ("text", "esc\x1b]0;title\x07", "control character"),
]


@pytest.mark.parametrize(("type_", "value"), OK)
def test_each_type_takes_what_it_names(type_: str, value: object) -> None:
    check(type_, value)


@pytest.mark.parametrize(("type_", "value", "rule"), REFUSED)
def test_each_type_refuses_the_rest_with_its_rule(type_: str, value: object, rule: str) -> None:
    with pytest.raises(ValueRejected, match=rule):
        check(type_, value)


def test_enum_takes_only_its_choices() -> None:
    assert check("enum", "blue", choices=["blue", "green"]) == "blue"
    with pytest.raises(ValueRejected, match="not one of blue, green"):
        check("enum", "red", choices=["blue", "green"])


def test_path_is_normalised_and_confined_under_its_roots(tmp_path: Path) -> None:
    root = tmp_path / "scratch"
    (root / "a").mkdir(parents=True)
    (root / "out").symlink_to("/etc")
    assert check("path", f"{root}/a/./b/../c", roots=[str(root)]) == f"{root}/a/c"
    with pytest.raises(ValueRejected, match="outside"):
        check("path", f"{root}/../../etc/passwd", roots=[str(root)])
    with pytest.raises(ValueRejected, match="outside"):
        check("path", f"{root}/out/passwd", roots=[str(root)])  # a symlink out


def test_an_input_declared_without_a_type_takes_it_from_its_default() -> None:
    assert [infer(v) for v in (None, "web", "/var/log", "/srv/my dir", "1 hour", 3, 0.5,
                               True)] == [
        "name", "name", "name", "path", "text", "integer", "number", "boolean"]


def test_a_bad_value_fails_with_the_input_the_escaped_value_its_origin_and_the_rule() -> None:
    specs = [InputSpec(name="scratch_dir", type="path"), InputSpec(name="service")]
    with pytest.raises(InputError) as info:
        coerce_inputs(specs, {"scratch_dir": "/tmp/x"}, labels={"service": "x\x1b[2J;-"})
    message = str(info.value)
    assert "input service=" in message and "the alert's label service" in message
    assert "\x1b" not in message and "\\x1b" in message
    assert "control character" in message


def test_an_alert_annotation_fills_an_input_after_the_labels() -> None:
    specs = [InputSpec(name="runbook_dir", type="path")]
    assert coerce_inputs(specs, {}, annotations={"runbook_dir": "/srv/rb"}) == {
        "runbook_dir": "/srv/rb"}


def test_a_label_written_in_another_case_or_separator_fills_its_input() -> None:
    # a guide's `<node-name>` is input node_name; Kubernetes alerts label it `nodeName` or
    # `node_name`: the run stopped at "missing required input(s): node_name"
    specs = [InputSpec(name="node_name"), InputSpec(name="instance_id")]
    assert coerce_inputs(specs, {}, labels={"nodeName": "worker-3"},
                         annotations={"instance-id": "i-0abc"}) == {
        "node_name": "worker-3", "instance_id": "i-0abc"}
    # the exact name wins; two loose matches name it ambiguously, so neither is taken
    assert coerce_inputs(specs[:1], {}, labels={"node_name": "a", "NodeName": "b"}) == {
        "node_name": "a"}
    with pytest.raises(InputError, match="missing required input"):
        coerce_inputs(specs[:1], {}, labels={"nodeName": "a", "node-name": "b"})
    # still typed: a loose match is checked as the exact one is
    with pytest.raises(InputError, match="the alert's label nodeName"):
        coerce_inputs(specs[:1], {}, labels={"nodeName": "w; rm -rf /"})


@pytest.mark.parametrize(("front", "said"), [
    ("inputs:\n  - name: color\n    type: enum\n", "enum but lists no choices"),
    ("inputs:\n  - name: n\n    type: integer\n    default: many\n", "not a valid integer"),
    ("inputs:\n  - name: d\n    type: path\n    default: -rf\n", "starts with '-'"),
    ("inputs:\n  - name: d\n    type: name\n    roots: [/tmp]\n", "roots but is a name"),
    ("inputs:\n  - name: d\n    type: stirng\n", "d"),
])
def test_a_bad_input_declaration_is_a_located_guide_error(front: str, said: str) -> None:
    with pytest.raises(GuideError, match=said) as info:
        parse_guide(f"---\n{front}---\n# T\n\n1. `ls`\n", path="g.md")
    assert info.value.location.file == "g.md" and info.value.location.line is not None


def test_inputs_may_be_written_as_a_mapping_of_each_name_to_its_default_or_declaration() -> None:
    # `inputs: {cluster: prod-eu}` was "Input should be a valid list": the form many authors
    # reach for first (Ansible's vars, a Helm values file) refused the whole guide
    guide = parse_guide("---\ninputs:\n  cluster: prod-eu\n  replicas:\n    type: integer\n"
                        "  namespace:\n---\n# T\n\n1. `ls`\n", path="g.md")
    specs = {i.name: i.to_spec() for i in guide.front.inputs}
    assert specs["cluster"].default == "prod-eu" and not specs["cluster"].required
    assert specs["replicas"].type == "integer" and specs["replicas"].required
    assert specs["namespace"].required


def test_a_bad_input_in_the_mapping_form_is_reported_at_its_own_line() -> None:
    with pytest.raises(GuideError, match="not a valid integer") as info:
        parse_guide("---\ninputs:\n  cluster: prod-eu\n  replicas:\n    type: integer\n"
                    "    default: many\n---\n# T\n\n1. `ls`\n", path="g.md")
    assert info.value.location.line == 4


def test_a_refused_value_that_is_a_configured_secret_is_masked_in_the_error(
        tmp_path: Path) -> None:
    # the error shows the value, escaped; an alert's label may be a data source's token, and
    # the error reaches a terminal, a CI log or an alert's record
    import asyncio

    from engine.compile import compile_path
    from engine.plugins import default_registry
    from engine.runtime.executor import LocalExecutor
    from engine.runtime.services import Services
    from engine.settings import Settings
    from engine.store import open_store

    secret = "Tk9QzSecretVal"
    guide = tmp_path / "g.md"
    guide.write_text("---\ninputs:\n  - name: node\n    type: name\n---\n# T\n\n"
                     "1. `uptime`\n")
    plan = compile_path(guide)

    async def go() -> str:
        store = open_store(tmp_path / "s.sqlite3")
        await store.open()
        try:
            services = Services(store=store, registry=default_registry(),
                                settings=Settings(data_dir=tmp_path / "data"),
                                redact=lambda v: v.replace(secret, "***")
                                if isinstance(v, str) else v)
            with pytest.raises(InputError) as info:
                await LocalExecutor(services).start(plan, guide_path="g.md",
                                                    alert={"labels": {"node": f"{secret} x"}})
            return str(info.value)
        finally:
            await store.close()

    said = asyncio.run(go())
    assert "input node=" in said and "not a valid name" in said
    assert secret not in said and "***" in said
