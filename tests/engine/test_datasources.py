"""Data sources: declared in mendflow.toml and the environment, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    with pytest.raises(ConfigError, match="unknown keys password"):
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
