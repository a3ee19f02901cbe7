"""The "HTTP 5xx after a deploy" incident, for guides/sre/web-5xx-after-deploy.md.

    python -m demo.web_incident up [--scenario regression|healthy|upstream]
    python -m demo.web_incident down

`traffic` generates the requests (seeded), `environment` starts a real Prometheus backfilled
with their counters, seeds a PostgreSQL database with their log, and writes mendflow.toml.
"""
