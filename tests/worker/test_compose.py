"""compose.yaml and the Dockerfile, read without Docker: the file parses, the services a
scale-out needs are there with healthchecks, workers wait for healthy dependencies and can be
scaled, and every MENDFLOW_* variable is a real setting. tests/deploy/test_compose_stack.py
builds and runs them for real."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from worker.config import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def test_services_have_healthchecks_and_workers_wait_for_healthy_dependencies() -> None:
    services = _compose()["services"]
    assert {"postgres", "redis", "worker"} <= set(services)
    for name in ("postgres", "redis", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert services["worker"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"}}
    # scalable with --scale worker=N: no fixed name or published port
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
    assert services["worker"]["command"][:2] == ["mendflow", "worker"]


def test_every_mendflow_variable_is_a_setting_and_urls_name_the_services() -> None:
    compose = _compose()
    # and the tokens, which `mendflow serve` reads itself (engine/cli/serve.py)
    fields = {f"MENDFLOW_{name.upper()}" for name in WorkerSettings.model_fields} | {
        "MENDFLOW_API_TOKENS"}
    used = set()
    for service in compose["services"].values():
        used |= {k for k in (service.get("environment") or {}) if k.startswith("MENDFLOW_")}
    assert used and used <= fields, used - fields
    env = compose["services"]["worker"]["environment"]
    assert "@postgres:5432/" in env["MENDFLOW_DATABASE_URL"]
    assert env["MENDFLOW_BROKER_URL"].startswith("redis://redis:6379/")
    settings = WorkerSettings(**{k[len("MENDFLOW_"):].lower(): v for k, v in env.items()})
    settings.check()  # the visibility timeout exceeds the longest step lease


def test_serve_runs_on_the_workers_with_tokens_from_the_environment() -> None:
    serve = _compose()["services"]["serve"]
    assert serve["command"][:2] == ["mendflow", "serve"]
    assert serve["command"][2:4] == ["--executor", "celery"]
    assert serve["command"][4:6] == ["--host", "0.0.0.0"]  # reachable from outside its container
    assert serve["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                   "redis": {"condition": "service_healthy"}}
    assert "/healthz" in " ".join(serve["healthcheck"]["test"])
    env = serve["environment"]
    worker_env = _compose()["services"]["worker"]["environment"]
    assert {k: env[k] for k in worker_env} == worker_env  # the workers' store and broker
    # a token is never written in the file: compose takes it from its own environment
    assert env["MENDFLOW_API_TOKENS"] == "${MENDFLOW_API_TOKENS:-}"
    assert serve["ports"] == ["8080:8080"]


def test_dockerfile_copies_what_exists_and_runs_a_worker() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for src in re.findall(r"^COPY (.+?) \S+$", text, flags=re.M):
        for path in src.split():
            assert (ROOT / path).exists(), path
    assert 'CMD ["mendflow", "worker"' in text
    # the base is a build argument whose published default is an official Python image
    assert re.search(r"^ARG BASE=python:3\.\d+-slim$", text, flags=re.M), "ARG BASE"
    assert re.search(r"^FROM \$\{BASE\}$", text, flags=re.M), "FROM ${BASE}"
    # the dependencies come from pyproject.toml, which has what a worker needs
    assert '["project"]["dependencies"]' in text and "pip install --no-deps ." in text
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"celery[redis]' in pyproject


def test_the_local_override_changes_where_things_run_not_what_runs() -> None:
    """compose.local.yaml (no registry): every service of compose.yaml on the host network,
    its images built on the local base; no service of its own, no command for the app."""
    base = _compose()["services"]
    local = yaml.safe_load((ROOT / "compose.local.yaml").read_text(encoding="utf-8"))
    assert set(local["services"]) == set(base)
    for name, service in local["services"].items():
        assert service["network_mode"] == "host", name
        assert service["build"]["network"] == "host", name
        assert "MENDFLOW_LOCAL_BASE" in service["build"]["args"]["BASE"], name
    for name in ("worker", "cli"):
        assert "command" not in local["services"][name] and "entrypoint" not in \
            local["services"][name], name
        env = local["services"][name]["environment"]
        assert set(env) == {"MENDFLOW_DATABASE_URL", "MENDFLOW_BROKER_URL"}, name
        assert "@127.0.0.1:" in env["MENDFLOW_DATABASE_URL"], name
    # serve: the same command but where it listens (loopback, a port of its own)
    serve, local_serve = base["serve"]["command"], local["services"]["serve"]["command"]
    assert local_serve[:4] == serve[:4] and local_serve[4:6] == ["--host", "127.0.0.1"]
    assert local_serve[6] == "--port" and len(local_serve) == len(serve) == 8
    assert set(local["services"]["serve"]["environment"]) == {"MENDFLOW_DATABASE_URL",
                                                              "MENDFLOW_BROKER_URL"}
    assert (ROOT / local["services"]["postgres"]["build"]["context"]
            / local["services"]["postgres"]["build"]["dockerfile"]).exists()
