"""`mendflow serve`: the alert-driven service (engine.serve), served by uvicorn."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from engine.cli._app import _settings, app, err
from engine.errors import ConfigError, InputError
from engine.settings import Settings


@app.command()
def serve(
    guides: Annotated[Path, typer.Option(help="The guides whose triggers route alerts.")] =
    Path("guides"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    executor: Annotated[str, typer.Option(help="local, or celery (runs on workers).")] =
    "local",
    on_resolved: Annotated[str, typer.Option(help="record, or cancel: what a `resolved` "
                                             "notification does to its group's live run.")] =
    "record",
    max_runs_per_guide: Annotated[int, typer.Option(
        min=1, help="Live runs of one guide at once, across every serve process on the store; "
                    "beyond it an alert is refused.")] = 4,
    base_url: Annotated[str | None, typer.Option(
        help="Where people reach this server: the run links notifications carry "
             "(MENDFLOW_BASE_URL, mendflow.toml [serve] base_url; default http://HOST:PORT)."
    )] = None,
    log_format: Annotated[str | None, typer.Option(
        help="text, or json: log lines as JSON objects with run_id and step_id "
             "(MENDFLOW_LOG_FORMAT).")] = None,
) -> None:
    """Take Alertmanager's webhook (POST /api/v1/alerts), run the guide each alert matches,
    and serve runs, alerts and reports over a REST API (OpenAPI at /docs). Callers need
    bearer tokens: MENDFLOW_API_TOKENS=name:role:token,... (roles: viewer, operator,
    approver, alerts). Webhooks told when a run needs a person and when it ends:
    mendflow.toml [[serve.webhooks]] and MENDFLOW_WEBHOOKS. Prometheus metrics at /metrics
    (a bearer token from MENDFLOW_METRICS_TOKEN required when it is set)."""
    import uvicorn

    from engine import logs
    from engine.cli.runs import _open_store, executor_factory
    from engine.plugins import default_registry
    from engine.runtime.services import build_services
    from engine.serve.alerts import Router
    from engine.serve.app import ServeConfig, create_app, load_routes
    from engine.serve.auth import parse_tokens
    from engine.serve.notify import NotifyConfig, checked_base_url, load_webhooks

    if on_resolved not in ("record", "cancel"):
        raise InputError(f"--on-resolved {on_resolved!r}: use record or cancel")
    if not 1 <= port <= 65535:
        raise InputError(f"--port {port} is not a TCP port: it must be 1 to 65535",
                         hint="Write --port 8080")
    if not guides.is_dir():
        raise InputError(f"--guides {guides}: no such folder",
                         hint="Point it at the folder of guides whose triggers route alerts")
    tokens = parse_tokens(os.environ.get("MENDFLOW_API_TOKENS", ""))
    if not len(tokens):
        raise ConfigError("no API tokens: every caller of mendflow serve needs one",
                          hint="Set MENDFLOW_API_TOKENS=name:role:token,... (roles: viewer, "
                               "operator, approver, alerts)")
    settings = _settings()
    try:
        fmt = logs.parse_format(log_format or settings.log_format)
    except ValueError as exc:
        raise InputError(f"--log-format: {exc}") from None
    factory = executor_factory(executor)
    registry = default_registry()
    router: Router = load_routes(guides, known_plugins=None if executor != "local"
                                 else set(registry.names()))
    webhooks, file_base_url = load_webhooks(settings.config_file,
                                            required=settings.config_required,
                                            environ=os.environ, spec=settings.webhooks)
    link_base = checked_base_url(base_url or settings.base_url or file_base_url
                                 or f"http://{host}:{port}")
    config = ServeConfig(guides=guides, tokens=tokens, executor=executor,
                         on_resolved="cancel" if on_resolved == "cancel" else "record",
                         max_runs_per_guide=max_runs_per_guide,
                         notify=NotifyConfig(webhooks=tuple(webhooks), base_url=link_base),
                         metrics_token=_metrics_token(settings))
    _can_listen(host, port)
    err.print(f"serving {len(router.routes)} trigger(s) from {guides} on "
              f"http://{host}:{port} (executor {executor})", highlight=False)
    if webhooks:
        err.print(f"notifying {len(webhooks)} webhook(s): "
                  f"{', '.join(h.shown for h in webhooks)}", highlight=False)

    redactor = logs.Redacting()
    logs.configure(fmt, redact=redactor)  # the server's own lines (`mendflow.*`) on stderr

    async def main() -> None:
        store = _open_store(settings)
        await store.open()
        # PostgreSQL: the intake writes through a pool of its own, so that the runs driven
        # here never hold the connections an alert waits for. The embedded store keeps one
        # (a second SQLite connection would only wait on the same file's write lock).
        intake = (_open_store(settings) if (settings.database_url or "").startswith("postgres")
                  else None)
        try:
            if intake is not None:
                await intake.open()
            services = build_services(settings, store, registry)
            redactor.redact = lambda text: str(services.redact(text))
            application = create_app(config, services, router, factory, intake_store=intake)
            server = uvicorn.Server(uvicorn.Config(application, host=host, port=port,
                                                   log_level="info", access_log=False,
                                                   # the UI's open event streams end then
                                                   timeout_graceful_shutdown=3))
            try:
                await server.serve()
            except SystemExit:  # uvicorn's "could not start" is its exit 3, `escalate` here
                if server.started:
                    raise
                raise InputError(f"could not listen on {host}:{port} (the reason is logged "
                                 "above)", hint="Pick another --host or --port") from None
            await application.state.notifier.aclose()
        finally:
            if intake is not None:
                await intake.close()
            await store.close()

    asyncio.run(main())


def _can_listen(host: str, port: int) -> None:
    """Bad input, one line, when the server cannot listen on host:port: a name that does not
    resolve, an address this machine does not have, a port in use or not allowed. uvicorn
    would log it and exit 3, which means `escalate` to whoever runs mendflow."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (OSError, UnicodeError, ValueError) as exc:
        raise InputError(f"--host {host!r} is not an address to listen on "
                         f"({getattr(exc, 'strerror', None) or exc})",
                         hint="Give an address of this machine, such as 127.0.0.1 or 0.0.0.0"
                         ) from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(address)
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                             hint="Pick another --host or --port, or stop what listens "
                                  "there") from None


def _metrics_token(settings: Settings) -> str | None:
    """GET /metrics's bearer token: MENDFLOW_METRICS_TOKEN, else the variable that
    mendflow.toml's `[serve] metrics_token_env` names (the value never in the file)."""
    from engine.config import read_config

    if settings.metrics_token:
        return settings.metrics_token
    name = read_config(settings.config_file, required=settings.config_required
                       ).serve.metrics_token_env
    if name is None:
        return None
    token = os.environ.get(name, "")
    if not token:
        raise ConfigError(f"{settings.config_file}: [serve] metrics_token_env names {name}, "
                          "which is not set", hint=f"Export {name} with the token Prometheus "
                          "sends, or remove metrics_token_env to leave /metrics open")
    return token
