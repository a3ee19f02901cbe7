"""Demo environments a user starts with one command (see demo/README.md).

`demo.prometheus` runs a real, backfilled Prometheus; `demo.web_incident` sets up the "HTTP
5xx after a deploy" incident for guides/sre/web-5xx-after-deploy.md. Nothing here is imported
by engine/, plugins/ or worker/.
"""
