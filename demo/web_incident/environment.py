"""Bring the web incident up (Prometheus + PostgreSQL + mendflow.toml) and take it down.

`up` writes everything under one directory:

    state.json        what `down` needs: the Prometheus pid, the database and role names
    mendflow.toml     two data sources: `metrics` (Prometheus) and `requests_db` (PostgreSQL)
    db-password       the demo role's password (mode 600); mendflow reads it from
                      MENDFLOW_DEMO_DB_PASSWORD (`password_env`), never from the file
    alert.json        the alert that fired (labels: alertname, service, severity)
    prometheus/       the TSDB and the server's log
    data/             MENDFLOW_DATA_DIR for the runs

The database gets a `request_log` table and a login role that may only read it.

Owns the demo's I/O; the data itself comes from `demo.web_incident.traffic`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from demo.prometheus import openmetrics_document, start_prometheus, stop_pid
from demo.web_incident import traffic

GUIDE = Path(__file__).resolve().parents[2] / "guides" / "sre" / "web-5xx-after-deploy.md"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD_ENV = "MENDFLOW_DEMO_DB_PASSWORD"
LIVE_S = 3600  # the counters go on this long after `up`: the demo stays live for an hour


@dataclass
class Environment:
    dir: str
    scenario: str
    prometheus_url: str
    prometheus_pid: int
    database: str
    role: str
    admin_url: str
    db_url: str  # without the password
    config_file: str
    alert_file: str
    data_dir: str
    password_file: str
    requests: int
    created_at: float

    @property
    def password(self) -> str:
        return Path(self.password_file).read_text().strip()

    def env(self) -> dict[str, str]:
        """The environment `mendflow run` needs for this demo."""
        return {"MENDFLOW_CONFIG_FILE": self.config_file, "MENDFLOW_DATA_DIR": self.data_dir,
                PASSWORD_ENV: self.password}

    def command(self) -> str:
        """The shell command that investigates this incident (the password read from its file)."""
        return (f"MENDFLOW_CONFIG_FILE={self.config_file} MENDFLOW_DATA_DIR={self.data_dir} "
                f"{PASSWORD_ENV}=\"$(cat {self.password_file})\" \\\n  "
                + " ".join(mendflow_argv(self)))


def mendflow_argv(env: Environment) -> list[str]:
    mendflow = Path(sys.executable).with_name("mendflow")
    exe = str(mendflow) if mendflow.exists() else "mendflow"
    return [exe, "run", str(GUIDE), "--alert", env.alert_file]


def load(directory: Path) -> Environment | None:
    state = directory / "state.json"
    if not state.exists():
        return None
    return Environment(**json.loads(state.read_text()))


def up(directory: Path, *, scenario: str = "regression", seed: int = 7,
       database: str = "mendflow_demo", admin_url: str = ADMIN_URL,
       now: float | None = None) -> Environment:
    """Start the incident: backfilled Prometheus, seeded database, config, alert."""
    directory = directory.resolve()
    if load(directory) is not None:
        down(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = time.time() if now is None else now
    reqs = list(traffic.requests(scenario, now=now, seed=seed, until=now + LIVE_S))
    logged = [r for r in reqs if r.ts.timestamp() < now]

    samples = traffic.counter_samples(iter(reqs), start=now - traffic.HISTORY_S,
                                      end=now + LIVE_S)
    document = openmetrics_document({"http_requests": ("counter", samples)})
    server = start_prometheus(directory / "prometheus", openmetrics=document, detach=True)

    password = secrets.token_urlsafe(18)
    password_file = directory / "db-password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    try:
        db_url = asyncio.run(_seed(admin_url, database, password, logged))
    except BaseException:
        stop_pid(server.process.pid)
        raise

    config = directory / "mendflow.toml"
    config.write_text(
        "# Written by `python -m demo.web_incident up`; secrets come from the environment.\n\n"
        "[datasources.metrics]\n"
        'type = "prometheus"\n'
        f'url = "{server.url}"\n\n'
        "[datasources.requests_db]\n"
        'type = "postgresql"\n'
        f'url = "{db_url}"\n'
        f'password_env = "{PASSWORD_ENV}"\n')
    alert = directory / "alert.json"
    alert.write_text(json.dumps({
        "status": "firing",
        "labels": {"alertname": "HighHttp5xxRate", "service": traffic.SERVICE,
                   "severity": "page"},
        "annotations": {"summary": f"5xx ratio of {traffic.SERVICE} above 2% for 5 minutes"},
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 300)),
    }, indent=2) + "\n")
    (directory / "data").mkdir(exist_ok=True)
    env = Environment(
        dir=str(directory), scenario=scenario, prometheus_url=server.url,
        prometheus_pid=server.process.pid, database=database, role=database,
        admin_url=admin_url, db_url=db_url, config_file=str(config), alert_file=str(alert),
        data_dir=str(directory / "data"), password_file=str(password_file),
        requests=len(logged), created_at=now)
    (directory / "state.json").write_text(json.dumps(asdict(env), indent=2) + "\n")
    return env


def down(directory: Path) -> bool:
    """Stop Prometheus, drop the database and role, remove the directory. False if not up."""
    directory = directory.resolve()
    env = load(directory)
    if env is None:
        return False
    stop_pid(env.prometheus_pid)
    asyncio.run(_drop(env.admin_url, env.database, env.role))
    shutil.rmtree(directory, ignore_errors=True)
    return True


# -- PostgreSQL -------------------------------------------------------------------------------


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise ValueError(f"{name!r} is not a plain database name (letters, digits, _)")
    return f'"{name}"'


def _with_database(url: str, database: str, user: str | None = None) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}@{host}" if user else parts.netloc
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}"))


async def _seed(admin_url: str, database: str, password: str,
                rows: list[traffic.Request]) -> str:
    name = _ident(database)
    await _drop(admin_url, database, database)
    admin = await asyncpg.connect(admin_url)
    try:
        # DDL takes no bound parameters; the password is ours (token_urlsafe: no quotes).
        await admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        await admin.execute(f"CREATE DATABASE {name} OWNER postgres")
    finally:
        await admin.close()
    conn = await asyncpg.connect(_with_database(admin_url, database))
    try:
        await conn.execute("""
            CREATE TABLE request_log (
                ts timestamptz NOT NULL,
                service text NOT NULL,
                version text NOT NULL,
                method text NOT NULL,
                path text NOT NULL,
                status integer NOT NULL,
                duration_ms integer NOT NULL
            )""")
        await conn.copy_records_to_table(
            "request_log", records=[(r.ts, r.service, r.version, r.method, r.path, r.status,
                                     r.duration_ms) for r in rows],
            columns=["ts", "service", "version", "method", "path", "status", "duration_ms"])
        await conn.execute("CREATE INDEX request_log_service_ts ON request_log (service, ts)")
        await conn.execute("ANALYZE request_log")
        await conn.execute(f"REVOKE ALL ON DATABASE {name} FROM PUBLIC")
        await conn.execute(f"GRANT CONNECT ON DATABASE {name} TO {name}")
        await conn.execute(f"GRANT SELECT ON request_log TO {name}")
    finally:
        await conn.close()
    return _with_database(admin_url, database, user=database)


async def _drop(admin_url: str, database: str, role: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {_ident(database)} WITH (FORCE)")
        await admin.execute(f"DROP ROLE IF EXISTS {_ident(role)}")
    finally:
        await admin.close()
