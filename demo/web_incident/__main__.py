"""`python -m demo.web_incident up|run|down|status`: the one command a user runs."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from demo.web_incident import environment, traffic

DEFAULT_DIR = Path(os.environ.get("MENDFLOW_DEMO_DIR", ".mendflow/demo/web-incident"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.web_incident",
                                     description="HTTP 5xx after a deploy: a demo incident "
                                     "on a real Prometheus and PostgreSQL.")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR,
                        help=f"where the demo keeps its files (default {DEFAULT_DIR})")
    sub = parser.add_subparsers(dest="action", required=True)
    start = sub.add_parser("up", help="start the incident (replaces a running one)")
    start.add_argument("--scenario", choices=traffic.SCENARIOS, default="regression",
                       help="regression: v2 breaks checkout (default); healthy: no "
                       "regression; upstream: a dependency fails on every version")
    start.add_argument("--seed", type=int, default=7)
    start.add_argument("--database", default="mendflow_demo",
                       help="database (and read-only role) to create")
    start.add_argument("--admin-url", default=os.environ.get("MENDFLOW_DEMO_ADMIN_URL",
                                                             environment.ADMIN_URL),
                       help="a PostgreSQL superuser URL to create them with")
    sub.add_parser("run", help="run the guide against the incident (the printed command); "
                   "extra arguments go to `mendflow run`")
    sub.add_parser("down", help="stop Prometheus, drop the database, remove the files")
    sub.add_parser("status", help="say what is running")
    args, extra = parser.parse_known_args(argv)
    if extra and args.action != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")

    if args.action == "up":
        began = time.monotonic()
        env = environment.up(args.dir, scenario=args.scenario, seed=args.seed,
                             database=args.database, admin_url=args.admin_url)
        print(f"web incident up ({env.scenario}) in {time.monotonic() - began:.1f}s")
        print(f"  Prometheus  {env.prometheus_url}  (pid {env.prometheus_pid})")
        print(f"  PostgreSQL  {env.db_url}  ({env.requests} request_log rows)")
        print(f"  config      {env.config_file}")
        print(f"  alert       {env.alert_file}")
        print("\nInvestigate with:\n")
        print(f"  {env.command()}\n")
        print("The incident stays live for about an hour; `up` again refreshes it.")
        print("Or simply: python -m demo.web_incident run")
        print("Stop it with: python -m demo.web_incident down")
        return 0
    if args.action == "down":
        if environment.down(args.dir):
            print(f"web incident down: Prometheus stopped, database dropped, {args.dir} removed")
        else:
            print(f"no web incident is up in {args.dir}")
        return 0
    env = environment.load(args.dir.resolve())
    if env is None:
        print(f"no web incident is up in {args.dir}: python -m demo.web_incident up")
        return 1
    if args.action == "run":
        argv_run = [*environment.mendflow_argv(env), *extra]
        os.execvpe(argv_run[0], argv_run, {**os.environ, **env.env()})
    print(f"{env.scenario}: Prometheus {env.prometheus_url} (pid {env.prometheus_pid}), "
          f"PostgreSQL {env.db_url}")
    print(env.command())
    return 0


if __name__ == "__main__":
    sys.exit(main())
