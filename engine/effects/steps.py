"""What a plan step will do, judged from its plugin and parameters with the read-only table.

The compiler asks before it decides whether a step needs an approval gate; the runtime asks
again with the rendered parameters, just before an ungated step runs. The rules:

- shell: the pipeline, stage by stage (`engine.effects.classify`); words whose plan text holds
  a template are marked as values; an `env` is not read-only (LD_PRELOAD, PAGER run programs)
  unless each variable only selects a setting with a value written out (`LANG: C`,
  `engine.effects.table.SETTINGS_ENV`), as before a bash line's command;
- sql: the query text (`engine.effects.sql`), and `read_only: false` asks for a write;
- powershell: the script (`engine.effects.powershell`: reading cmdlets only); its args are data;
- bash: the one-line script (`engine.effects.bash`), every command in it; its args are data;
- http: GET and HEAD read, unless they ask for credentials (a cloud's metadata service,
  Docker's API, Vault's: `engine.effects.network`); any other method changes the world;
- a step whose parameters `call` something (an OPC UA method) acts; a plugin whose schema has
  a `call` field and a step that names none (it only reads variables) reads;
- any other plugin: what its class declares (`read_only`); at compile time, with no class at
  hand, a block naming no action reads, and the runtime asks the class again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from engine.effects.bash import bash_verdict
from engine.effects.classify import (
    READ,
    Verdict,
    classify_pipeline,
    in_a_folder_a_value_gives,
    in_the_folder,
    sends_its_input,
)
from engine.effects.network import credentials_fetched
from engine.effects.powershell import powershell_verdict
from engine.effects.sql import sql_problem
from engine.effects.table import sets_only_a_setting
from engine.effects.words import has_template, marked


def shell_verdict(pipeline: Sequence[Sequence[str]], *,
                  plan_pipeline: Sequence[Sequence[Any]] | None = None,
                  env: Mapping[str, str] | None = None,
                  plan_env: Mapping[str, Any] | None = None,
                  stdin: str | None = None) -> Verdict:
    """A shell step's pipeline (rendered); `plan_pipeline` is the same before rendering, and
    `plan_env` the environment before rendering; `stdin` the text fed to its first stage."""
    changing = sorted(name for name, value in (env or {}).items()
                      if not _a_setting(name, value, (plan_env or {}).get(name, value)))
    if changing:
        return Verdict("mutate", f"it sets environment variables ({', '.join(changing)}), "
                       "which can change what a program runs", "flag")
    stages = [list(stage) for stage in pipeline]
    if stdin and stdin.strip() and stages and (sent := sends_its_input(stages[0])):
        return Verdict("mutate", f"{sent} the text the step feeds it", "operand")
    if plan_pipeline is not None and len(plan_pipeline) == len(stages):
        stages = [marked(stage, [has_template(str(w)) for w in raw])
                  if len(raw) == len(stage) else stage
                  for stage, raw in zip(stages, plan_pipeline)]
    return classify_pipeline(stages)


def _a_setting(name: str, value: str, planned: Any) -> bool:
    """An environment variable that only selects a configuration, a locale or an output
    format, with a value the plan wrote out (no template): `engine.effects.table`."""
    return not has_template(str(planned)) and sets_only_a_setting(name, str(value))


def sql_verdict(query: str, *, read_only: bool = True) -> Verdict:
    if not read_only:
        return Verdict("mutate", "the step says read_only: false, a write", "sql")
    # The sql plugin talks to PostgreSQL or SQLite, never MySQL; and the database holds the
    # step to reading (a READ ONLY transaction, SQLite's authorizer) whatever the text says.
    problem = sql_problem(query, dialects=("postgresql",))
    return READ if problem is None else Verdict("mutate", problem, "sql")


def step_verdict(plugin: str | None, params: Mapping[str, Any], *,
                 declared_read_only: bool | None = None,
                 fields: Collection[str] = (),
                 plan_params: Mapping[str, Any] | None = None) -> Verdict:
    """The effect of one plugin step; `declared_read_only` and `fields` (its parameter names)
    come from the plugin's class, when known."""
    if plugin in ("shell", "bash") and has_template(str((plan_params or params).get("cwd") or "")):
        with in_a_folder_a_value_gives():  # a `cwd` a value gives: what runs there loads
            return _step_verdict(plugin, params, plan_params=plan_params)
    if plugin in ("shell", "bash") and isinstance(params.get("cwd"), str):
        with in_the_folder(params["cwd"]):  # `cd /dev` before `cat watchdog`
            return _step_verdict(plugin, params, declared_read_only=declared_read_only,
                                 fields=fields, plan_params=plan_params)
    return _step_verdict(plugin, params, declared_read_only=declared_read_only, fields=fields,
                         plan_params=plan_params)


def _step_verdict(plugin: str | None, params: Mapping[str, Any], *,
                  declared_read_only: bool | None = None, fields: Collection[str] = (),
                  plan_params: Mapping[str, Any] | None = None) -> Verdict:
    if plugin == "shell":
        pipeline = params.get("pipeline")
        if not isinstance(pipeline, list):
            return Verdict("mutate", "a shell step with no pipeline", "plugin")
        raw = (plan_params or {}).get("pipeline")
        raw_env = (plan_params or {}).get("env")
        return shell_verdict(pipeline, plan_pipeline=raw if isinstance(raw, list) else None,
                             env=params.get("env") or None,
                             plan_env=raw_env if isinstance(raw_env, dict) else None,
                             stdin=str(params.get("stdin") or "") or None)
    if plugin == "powershell":
        return powershell_verdict(str(params.get("script", "")))
    if plugin == "bash":
        return bash_verdict(str(params.get("script", "")))
    if plugin == "sql":
        return sql_verdict(str(params.get("query", "")),
                           read_only=params.get("read_only", True) is not False)
    if params.get("call"):
        return Verdict("mutate", f"it calls {params['call']}, an action", "plugin")
    if plugin == "http" or "method" in params:
        method = str(params.get("method", "GET")).upper()
        if method not in ("GET", "HEAD"):
            return Verdict("mutate", f"an HTTP {method} changes the world", "plugin")
        url = "/".join([str(params.get("url", "")).rstrip("/"),
                        *map(str, params.get("path") or [])])
        headers = params.get("headers")
        query = params.get("query")
        if isinstance(query, dict) and query:  # judged as the server reads it: in the URL
            url += ("&" if "?" in url else "?") + urlencode(
                [(str(k), str(v)) for k, vs in query.items()
                 for v in (vs if isinstance(vs, list) else [vs])])
        said = credentials_fetched(url, headers=[f"{k}: {v}" for k, v in headers.items()]
                                   if isinstance(headers, dict) else ())
        return READ if said is None else Verdict("mutate", f"an HTTP {method} of {url} {said}: "
                                                 "not a read to keep", "plugin")
    if "call" in fields:
        return READ  # the plugin acts through `call`, and this step calls nothing
    if declared_read_only is False:
        return Verdict("mutate", f"the {plugin} plugin declares that it may change the world",
                       "plugin")
    return READ
