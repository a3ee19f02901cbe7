"""Read-only rows for service managers, containers, git, databases and key-value stores.

systemctl, journalctl, service, sv, gitlab-ctl; docker, podman, nerdctl, crictl, ctr; git;
psql, gitlab-psql, mysql (their `-c`/`-e` SQL judged by `engine.effects.sql`); redis-cli;
etcdctl, etcdutl, consul, vault, nomad; Cassandra's nodetool and cqlsh; ceph, rados, rbd;
promtool, amtool; knife; Kafka's and RabbitMQ's tools; Patroni's patronictl and CockroachDB's
cockroach (its `sql -e` judged as psql's `-c`). Each lists the subcommands that read and
their flags. It does not cover Kubernetes tools (`engine.effects.kube`) or clouds
(`engine.effects.cloud`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fnmatch import fnmatchcase

from engine.effects.credentials import (
    credential_reason,
    holds_credentials,
    secret_key,
    whole_store,
)
from engine.effects.host import shown_processes
from engine.effects.options import Flags, NotRead, Parsed, parse
from engine.effects.rules import Check, Rule, Tool, rows
from engine.effects.sql import sql_problem
from engine.effects.words import Templated

F = Flags.of
NONE = Tool()  # a subcommand that reads and takes any operands but no flags of its own

# -- systemd and service supervisors -----------------------------------------------------------

_SYSTEMCTL = F("at:p:P:lqn:o:H:M:r", """all type= state= property= value full lines= output=
    no-pager no-legend plain quiet host= machine= user system global failed recursive reverse
    after before with-dependencies show-types no-ask-password""")
# properties that hold what a unit hands its programs: `Environment=DB_PASSWORD=...` and
# `SetCredential=` (a credential's value, in the unit) are printed whole by `systemctl show`
_SECRET_PROPERTIES = ("environment", "setcredential", "setcredentialencrypted")


def _unit_environment_shown(p: Parsed, name: str) -> None:
    """`systemctl show UNIT` prints every property, `Environment=` (what the unit hands its
    programs, a token set there among it) with them, as `docker inspect` prints a container's:
    a `-p`/`--property` that names other properties (`-p ActiveState,SubState`) reads."""
    chosen = p.values("-p", "--property", "-P")
    if not chosen or any(isinstance(v, Templated) or any(m in v for m in ("{{", "$", "`")) or
                         any(re.sub(r"\W", "", w).lower() in _SECRET_PROPERTIES
                             for w in v.split(","))
                         for v in chosen):
        raise NotRead(f"{name} prints the environment the unit hands its programs (its "
                      "`Environment=`), the secrets set there among it (pick properties with "
                      "-p): not a read to keep", cause="operand")


def _unit_files_shown(p: Parsed, name: str) -> None:
    raise NotRead(f"{name} prints the unit's files, the environment they hand its programs "
                  "(`Environment=` lines) and the secrets set there among it (`systemctl show "
                  "-p` picks other properties): not a read to keep", cause="subcommand")


def _manager_environment_shown(p: Parsed, name: str) -> None:
    raise NotRead(f"{name} prints the environment the service manager hands every unit, the "
                  "secrets imported into it among it: not a read to keep", cause="subcommand")


_SYSTEMCTL_READ = {**rows("""status is-active is-enabled is-failed is-system-running
    list-units list-unit-files list-timers list-sockets list-dependencies list-jobs list-machines
    list-paths list-automounts get-default help""", NONE),
    "show": Tool(check=_unit_environment_shown),
    "cat": Tool(check=_unit_files_shown),
    "show-environment": Tool(check=_manager_environment_shown)}

_JOURNALCTL = F("u:n::b::kS:U:p:g:o:t:T:D:M:mF:NrexaqlfI", """unit= user-unit= lines=? boot=?
    dmesg since= until= priority= grep= case-sensitive=? output= output-fields= identifier=
    exclude-identifier= facility= directory= file= machine= merge system user field= fields
    reverse pager-end catalog all quiet no-pager no-hostname no-full full utc header disk-usage
    list-boots cursor= after-cursor= show-cursor verify namespace= image= root= this-boot
    list-namespaces no-tail truncate-newline follow""", numeric=True, why={
    **{f"--vacuum-{k}": "deletes journal files" for k in ("size", "time", "files")},
    "--rotate": "archives the journal files", "--flush": "moves the journal to disk",
    "--sync": "writes the journal to disk", "--relinquish-var": "moves the journal",
    "--smart-relinquish-var": "moves the journal", "--setup-keys": "creates sealing keys",
    "--update-catalog": "rewrites the message catalog",
    "--cursor-file": "writes a cursor file"})


def service_status(p: Parsed, name: str) -> None:
    """`service NAME status` or `service --status-all` (OpenRC's `rc-service NAME status`)."""
    if p.has("--status-all") and not p.operands:
        return
    if len(p.operands) != 2 or p.operands[1] != "status":
        verb = p.operands[1] if len(p.operands) > 1 else "(none)"
        raise NotRead(f"`{name} ... {verb}` is not `{name} NAME status`", cause="subcommand")


# -- containers ---------------------------------------------------------------------------------

_DOCKER_GLOBAL = F("H:c:l:D", "host= context= config= log-level= tls tlscacert= tlscert= "
                   "tlskey= tlsverify debug", posix=True)
_PS = F("aqn:lsf:", "all quiet last= latest size filter= format= no-trunc ns external")
_LOGS = F("tn:f", "details since= until= tail= timestamps follow")
_FOLLOW = frozenset({"-f", "--follow"})
_INSPECT = F("f:s", "format= size type=")
_LIST = F("aqf:", "all quiet filter= format= no-trunc digests")


def _stats(p: Parsed, name: str) -> None:
    if not p.has("--no-stream"):
        raise NotRead(f"{name} without --no-stream runs until someone stops it: a person's job",
                      cause="interactive", effect="interactive")


_WHOLE_OR_ENV = re.compile(r"env|json\s+\.\s*\}|\{\{-?\s*\.?\s*-?\}\}|\.config\s*-?\}\}", re.I)
# What a format prints whole holds the environment below it: the object (`.`, `--format json`),
# Docker's and podman's `.Config`, crictl's `.info`, its `runtimeSpec`, `process` and `config`.
_HOLDS_ENV = frozenset({".", ".config", ".info", ".info.runtimespec", ".info.runtimespec.process",
                        ".info.config"})
_FIELDS = re.compile(r"(?<![\w$\])])\.(?:[A-Za-z_][\w.]*)?")
_INDEXED = re.compile(r"""\bindex\s+(\.[\w.]*)((?:\s+"[^"]*")+)""")
_ACTIONS = re.compile(r"\{\{(.*?)\}\}", re.S)
_QUOTED = re.compile(r'"[^"]*"|`[^`]*`')


def _whole_or_env(chosen: str) -> bool:
    """Whether a --format prints the environment: it names it, prints the object whole (`json`,
    `{{json .}}`), or a field that holds it (`{{.Config}}`, `{{index . "Config"}}`, crictl's
    `{{json .info}}`)."""
    if _WHOLE_OR_ENV.search(chosen) or chosen.strip().lower() in ("json", "yaml", "{{json .}}"):
        return True
    text = _INDEXED.sub(lambda m: m.group(1).rstrip(".") + "".join(
        "." + k for k in re.findall(r'"([^"]*)"', m.group(2))), chosen)
    return any((f.rstrip(".").lower() or ".") in _HOLDS_ENV
               for action in _ACTIONS.findall(text)
               for f in _FIELDS.findall(_QUOTED.sub('""', action)))


def _environment_shown(p: Parsed, name: str) -> None:
    """`docker inspect C` (and `crictl inspect C`) print the container's environment, the
    secrets injected into it among it (`--env-file`, a Secret's env): a format that picks
    other fields (`-f '{{.State.Status}}'`) reads."""
    chosen = p.values("-f", "--format", "--template")
    if not chosen or any(_whole_or_env(f) for f in chosen):
        raise NotRead(f"{name} prints the container's environment, the secrets injected into "
                      "it among it (pick fields with --format): not a read to keep",
                      cause="operand")


def _image_environment_shown(p: Parsed, name: str) -> None:
    """`docker image inspect I` prints the environment the image was built with (its Dockerfile's
    ENV, a token baked in), which every container of it inherits: as `docker inspect C`."""
    chosen = p.values("-f", "--format")
    if not chosen or any(_whole_or_env(f) for f in chosen):
        raise NotRead(f"{name} prints the environment the image was built with, a secret "
                      "baked into it among it (pick fields with --format): not a read to keep",
                      cause="operand")


def _build_steps_shown(p: Parsed, name: str) -> None:
    """`docker history I` prints each layer's build step (CreatedBy): `ENV TOKEN=...`, `RUN
    --mount ... ARG PASSWORD=...`, in part when cut and whole with --no-trunc. `-q` (layer
    ids) or a --format that leaves CreatedBy out reads."""
    if p.has("-q", "--quiet"):
        return
    chosen = p.values("--format")
    if not chosen or any(_WHOLE_OR_ENV.search(f) or "createdby" in f.lower() for f in chosen):
        raise NotRead(f"{name} prints the commands each layer was built with, the secrets "
                      "set by ENV or ARG among them (pick fields with --format): not a read "
                      "to keep", cause="operand")


_HISTORY = Tool(F("Hq", "human= no-trunc quiet format="), check=_build_steps_shown)


# podman top's own format descriptors (`podman top C user pid args`): not ps options
_PODMAN_TOP = frozenset("""args capamb capbnd capeff capinh capprm comm etime group groups
    hgroup hgroups hpid huser label nice pcpu pgid pid ppid rgroup ruser seccomp state stime
    time tty user vsz""".split())


def _top(p: Parsed, name: str) -> None:
    """`docker top C [ps options]`: ps reads, but not with its `e` (`docker top C auxe`)."""
    shown_processes(name, [w for w in p.operands[1:] if w.lower() not in _PODMAN_TOP])


_TOP = Tool(any_args=True, check=_top)


def _compose_environment_shown(p: Parsed, name: str) -> None:
    """`docker compose config` prints the project as it would run: each service's environment
    with the values the `.env` file and the shell fill in (`${DB_PASSWORD}`), as `docker
    inspect` would once it runs. `-q` (check it), `--services` and `--volumes` (names) read."""
    if not p.has("-q", "--quiet", "--services", "--volumes"):
        raise NotRead(f"{name} prints each service's environment, the secrets the .env file "
                      "fills in among it (--services or -q to list or check): not a read to "
                      "keep", cause="subcommand")
_CONTAINER_READ = {
    **rows("ps ls list", Tool(_PS)),
    "logs": Tool(_LOGS, follow=_FOLLOW),
    "inspect": Tool(_INSPECT, check=_environment_shown),
    "top": _TOP,
    "stats": Tool(F("a", "all format= no-stream no-trunc"), check=_stats),
    "port": NONE, "diff": NONE,
}
_DOCKER_SUBS: dict[str, Tool] = {
    **_CONTAINER_READ,
    "images": Tool(_LIST),
    "info": Tool(F("f:", "format=")),
    "version": Tool(F("f:", "format=")),
    "history": _HISTORY,
    "container": Tool(subcommands=_CONTAINER_READ),
    "image": Tool(subcommands={**rows("ls list", Tool(_LIST)),
                               "inspect": Tool(_INSPECT, check=_image_environment_shown),
                               "history": _HISTORY}),
    **rows("network volume", Tool(subcommands={**rows("ls list", Tool(_LIST)),
                                                "inspect": Tool(_INSPECT)})),
    "system": Tool(subcommands={"df": Tool(F("v", "verbose format=")),
                                "info": Tool(F("f:", "format="))}),
    "context": Tool(subcommands={**rows("ls list", Tool(_LIST)), "show": NONE,
                                 "inspect": Tool(_INSPECT)}),
    "compose": Tool(F("f:p:", "file= project-name= project-directory= env-file= profile=",
                      posix=True),
                    subcommands={"ps": Tool(_PS), "logs": Tool(_LOGS, follow=_FOLLOW),
                                 "config": Tool(F("q", "quiet services volumes format="),
                                                check=_compose_environment_shown),
                                 "ls": Tool(_LIST), "images": Tool(_LIST), "top": NONE,
                                 "version": NONE}),
    "pod": Tool(subcommands={**rows("ps ls list", Tool(_PS)), "inspect": Tool(_INSPECT),
                             "top": _TOP,
                             "stats": Tool(F("a", "all format= no-stream no-trunc"),
                                           check=_stats)}),
}
_CRICTL_GLOBAL = F("r:i:t:D", "runtime-endpoint= image-endpoint= timeout= debug config=",
                   go=True)
_CRICTL_LIST = F("aqo:n:p:s:lv", "all quiet output= name= namespace= pod= state= label= "
                 "no-trunc verbose last= latest image= id=", go=True)
_CRICTL_SUBS: dict[str, Tool] = {
    **rows("ps pods images img image", Tool(_CRICTL_LIST)),
    **rows("inspecti inspectp info version imagefsinfo",
           Tool(F("o:", "output= template= quiet", go=True))),
    "inspect": Tool(F("o:", "output= template= quiet", go=True), check=_environment_shown),
    "logs": Tool(F("ptrf", "previous timestamps tail= since= limit-bytes= reverse follow",
                   go=True), follow=frozenset({"-f", "--follow"})),
    **rows("stats statsp", Tool(F("ao:p:s:", "all output= id= label= pod= seconds=", go=True),
                                follow=frozenset({"-w", "--watch"}))),
}
_CTR_LS = Tool(F("q", "quiet"))
_CTR_SUBS: dict[str, Tool] = {
    **rows("containers c container", Tool(subcommands={**rows("ls list", _CTR_LS),
                                                        "info": NONE})),
    **rows("images i image", Tool(subcommands={**rows("ls list", _CTR_LS), "check": _CTR_LS})),
    **rows("tasks t task", Tool(subcommands={**rows("ls list", _CTR_LS), "ps": NONE,
                                             "metrics": NONE})),
    **rows("namespaces ns namespace", Tool(subcommands=rows("ls list", _CTR_LS))),
    **rows("plugins plugin", Tool(subcommands=rows("ls list", _CTR_LS))),
    "version": NONE,
}

# -- git ------------------------------------------------------------------------------------------

_LOG = F("pn:sS:G:L:U::M::C::B::iEFPz", """oneline abbrev-commit no-abbrev-commit abbrev=? stat=?
    shortstat numstat name-only name-status summary patch no-patch graph decorate=? no-decorate
    all branches=? tags=? remotes=? no-merges merges first-parent reverse follow since= after=
    until= before= author= committer= grep= all-match invert-grep regexp-ignore-case max-count=
    skip= format= pretty=? date= relative-date left-right cherry-pick cherry-mark cherry boundary
    color=? no-color word-diff=? ignore-space-change ignore-all-space ignore-blank-lines unified=
    full-index raw patch-with-stat patch-with-raw minimal patience histogram diff-algorithm=
    find-renames=? find-copies=? no-renames text exit-code quiet relative=? src-prefix=
    dst-prefix= no-prefix full-history simplify-by-decoration ancestry-path=? show-signature
    topo-order date-order author-date-order log-size use-mailmap mailmap no-walk=? walk-reflogs
    source show-notes=? no-notes notes=? expand-tabs=? no-expand-tabs encoding= cc diff-merges=
    remerge-diff cached staged merge-base ignore-submodules=? submodule=? color-moved=?
    no-ext-diff no-textconv stat-width= stat-name-width= stat-count= line-prefix= exclude= glob=
    not dirstat=? compact-summary count objects max-parents= min-parents= no-max-parents
    no-min-parents""", numeric=True, why={
    "--output": "writes a file", "--ext-diff": "runs an external diff program"})


def _only_with_list(p: Parsed, name: str) -> None:
    if p.operands and not p.has("-l", "--list"):
        raise NotRead(f"{name} {p.operands[0]} creates it (only listing reads)", cause="operand")


# settings that may hold a credential: a remote's URL (`https://user:TOKEN@host/x`, as a CI
# clone leaves it), a header sent with every request (`http.extraheader = AUTHORIZATION:
# bearer ...`), a proxy's user and password, a credential helper (`!echo password=...`)
_GIT_SECRETS = re.compile(r"""(?ix)^(?:
    (?:remote|submodule)\..*\.(?:url|pushurl|proxy) | url\..*\.(?:push)?insteadof
  | http\.(?:.*\.)?(?:extraheader|proxy) | credential(?:\..*)? | lfs\.(?:.*\.)?url)$""")
_GIT_SECRET_NAMES = ("remote.origin.url", "remote.origin.pushurl", "submodule.x.url",
                     "url.https://x.insteadof", "http.extraheader", "http.https://x.extraheader",
                     "http.proxy", "credential.helper", "credential.https://x.username",
                     "lfs.url")


def _git_secret_shown(p: Parsed, name: str, ops: list[str]) -> None:
    """`git config --list`, or a setting that may hold a credential (a remote's URL with its
    token, `http.extraheader`, `credential.*`), by name, section or a regexp that takes it
    in: not a read to keep. `--name-only` prints names alone."""
    if p.has("--name-only"):
        return
    if p.has("-l", "--list") or ops[:1] == ["list"]:
        raise NotRead(f"{name} --list prints every setting, a remote's URL with its token and "
                      "`http.extraheader` among them: not a read to keep", cause="operand")
    asked = ops[1:2] if ops[:1] == ["get"] else ops[:1]
    for key in asked:
        if isinstance(key, Templated) or any(m in key for m in ("{{", "$", "`")):
            shown = True
        elif p.has("--get-regexp"):
            try:
                pattern = re.compile(key, re.I)
            except re.error:
                shown = True
            else:
                shown = any(pattern.search(secret) for secret in _GIT_SECRET_NAMES)
        else:  # (`--get-urlmatch http URL` prints the whole section)
            shown = bool(_GIT_SECRETS.match(key)) or (p.has("--get-urlmatch") and any(
                secret.startswith(key.lower() + ".") for secret in _GIT_SECRET_NAMES))
        if shown:
            raise NotRead(f"{name} {key} may print a credential (a remote's URL with its "
                          "token, an auth header, a credential helper): not a read to keep",
                          cause="operand")


def _git_config(p: Parsed, name: str) -> None:
    ops = p.operands
    if p.has("--get", "--get-all", "--get-regexp", "--get-urlmatch", "-l", "--list") or \
            ops and ops[0] in ("get", "list") or len(ops) == 1 and "." in ops[0]:
        _git_secret_shown(p, name, ops)  # (`git config user.name` prints it)
        return
    raise NotRead(f"{name} {' '.join(ops) or '(no name)'} sets or edits the configuration",
                  cause="operand")


def _remote_urls_shown(p: Parsed, name: str) -> None:
    """`git remote -v`, `git remote show R`, `git remote get-url R` and `git ls-remote
    --get-url` print a remote's URL, the token a clone was made with in it
    (`https://oauth2:TOKEN@host/x`), as `git config remote.R.url` does: `git remote` (names
    alone) and `git ls-remote R` (its refs) read."""
    if name.endswith("ls-remote"):
        if p.has("--get-url"):
            raise NotRead(f"{name} --get-url prints the remote's URL, the token a clone was "
                          "made with in it: not a read to keep", cause="flag")
    elif p.has("-v", "--verbose") or p.operands or name.endswith("get-url"):
        raise NotRead(f"{name} prints the remotes' URLs, the token a clone was made with "
                      "among them: not a read to keep", cause="operand")


_AT_REVISION = re.compile(r"^(?:[^:]+|:[0-3])?:(.+)$")


def _file_at_revision(p: Parsed, name: str) -> None:
    """`git show REV:PATH` (and `cat-file -p`, `diff A:P B:P`) prints the file PATH as REV
    holds it (`:PATH`, `:N:PATH`, as the index does): a committed `.env` or key prints as `cat`
    of it would. (`:/TEXT` names a commit by its message.)"""
    for word in p.operands:
        found = _AT_REVISION.match(word)
        path = found.group(1) if found else ""
        if path and not path.startswith("/") and holds_credentials(path):
            raise NotRead(f"{name} {word}: {credential_reason(path)}", cause="operand")


_PATCHES = ("-p", "-u", "--patch", "--patch-with-stat", "--patch-with-raw", "-U", "--unified",
            "--word-diff", "--cc", "-L")
_NO_PATCH = ("-s", "--no-patch", "--stat", "--shortstat", "--numstat", "--name-only",
             "--name-status", "--summary", "--raw", "--compact-summary", "--dirstat")
_ONE_COMMIT = frozenset({"1"})
_FILE_NAME = re.compile(r"(?:^|/)[^/*?\[:]*\.[A-Za-z][\w-]*$")


def _history_patch(p: Parsed, name: str) -> None:
    """A patch of many commits (`git log -p`, `git whatchanged -p`, `git show A..B`) prints
    every line each commit added, a secret committed and deleted since among them: it reads
    when it names the files it covers (`git log -p -- app.yaml`, none holding credentials) or
    one commit (`git show REV`, `git log -p -1`)."""
    _file_at_revision(p, name)
    if name.endswith("rev-list") or not _prints_patch(p, name) or _one_commit(p, name):
        return
    paths = p.after_dashes or [w for w in p.operands if _FILE_NAME.search(w) and ".." not in w]
    paths += [v.rpartition(":")[2] for v in p.values("-L")]
    if not paths or not all(_FILE_NAME.search(w) and not holds_credentials(w) for w in paths):
        raise NotRead(f"{name} prints the patch of many commits, every line they added (a "
                      "secret committed and deleted since among them): not a read to keep "
                      "(name the files: `-- FILE`, or one commit)", cause="flag")


def _prints_patch(p: Parsed, name: str) -> bool:
    if p.has(*_PATCHES):
        return True
    return name.endswith("show") and not p.has(*_NO_PATCH)


def _one_commit(p: Parsed, name: str) -> bool:
    if name.endswith("show"):
        return not any(".." in w or w.startswith("^") for w in p.operands) and \
            not p.has("--all", "--branches", "--tags", "--remotes", "--glob")
    counts = p.values("-N", "-n", "--max-count")
    return bool(counts) and counts[-1] in _ONE_COMMIT or p.has("--no-walk")


def _every_object(p: Parsed, name: str) -> None:
    """`git cat-file --batch-all-objects --batch` prints every object the repository holds,
    each file as every commit had it (a secret deleted since among them); `--batch-check`
    prints their names, types and sizes, and reads."""
    _file_at_revision(p, name)
    if p.has("--batch-all-objects") and p.has("--batch"):
        raise NotRead(f"{name} --batch-all-objects --batch prints every object the repository "
                      "holds, each file as every commit had it (a secret deleted since among "
                      "them): not a read to keep (--batch-check reads)", cause="flag")


_GIT_GLOBAL = F("C:Pp", """no-pager paginate git-dir= work-tree= namespace= bare
    no-replace-objects literal-pathspecs glob-pathspecs noglob-pathspecs icase-pathspecs
    no-optional-locks""", posix=True, why={
    "-c": "sets configuration, which can run programs (core.pager, core.sshCommand)",
    "--config-env": "sets configuration, which can run programs",
    "--exec-path": "runs git's programs from another directory"})
_GIT_SUBS: dict[str, Tool] = {
    **rows("log show whatchanged rev-list", Tool(_LOG, check=_history_patch)),
    "diff": Tool(_LOG, check=_file_at_revision),
    "shortlog": Tool(_LOG | F("nsecw::", "numbered summary email committer group=")),
    "status": Tool(F("sbzu::v", "short branch porcelain=? long untracked-files=? "
                     "ignore-submodules=? ignored=? column=? no-column ahead-behind "
                     "no-ahead-behind renames no-renames find-renames=? verbose show-stash")),
    "rev-parse": Tool(F("q", """abbrev-ref=? verify quiet short=? show-toplevel git-dir
        absolute-git-dir show-prefix show-cdup is-inside-work-tree is-inside-git-dir
        is-bare-repository is-shallow-repository symbolic-full-name symbolic all branches=?
        tags=? remotes=? show-superproject-working-tree git-common-dir sq revs-only no-revs
        flags no-flags default= since= after= until= before= local-env-vars
        show-object-format=? path-format= git-path= show-ref-format""")),
    "ls-files": Tool(F("cdoisukmtvfzx:X:", """cached deleted others ignored stage unmerged killed
        modified full-name error-unmatch with-tree= abbrev=? debug eol deduplicate
        recurse-submodules format= sparse exclude= exclude-from= exclude-standard directory
        no-empty-directory""")),
    "ls-tree": Tool(F("drtlz", "name-only name-status object-only full-name full-tree "
                      "abbrev=? long format=")),
    "grep": Tool(F("EFGPeif:vwcLlm:oqhHnzA:B:C:aIrW", """extended-regexp fixed-strings
        basic-regexp perl-regexp ignore-case word-regexp invert-match count files-with-matches
        files-without-match max-count= only-matching quiet line-number column null
        before-context= after-context= context= function-context text cached untracked
        no-index recurse-submodules threads= break heading show-function max-depth= all-match
        and or not no-exclude-standard exclude-standard full-name""", numeric=True)),
    "blame": Tool(F("L:sewM::C::plbtS:fncp", """porcelain line-porcelain incremental root
        show-stats show-name show-number show-email date= abbrev= contents= ignore-rev=
        ignore-revs-file= color-lines color-by-age progress no-progress reverse= first-parent
        encoding= score-debug""")),
    "describe": Tool(F("", "all tags contains abbrev= candidates= exact-match debug long match= "
                       "exclude= always first-parent dirty=? broken=?")),
    "cat-file": Tool(F("tsep", "batch=? batch-check=? batch-all-objects allow-unknown-type "
                       "follow-symlinks unordered buffer"), check=_every_object),
    "show-ref": Tool(F("dqs", "heads tags verify hash=? abbrev=? dereference quiet head "
                       "exists")),
    "for-each-ref": Tool(F("", "format= sort= count= points-at= merged=? no-merged=? contains= "
                           "no-contains= color=? ignore-case omit-empty")),
    "name-rev": Tool(F("", "tags refs= exclude= all annotate-stdin name-only no-undefined "
                       "always")),
    "merge-base": Tool(F("a", "all octopus independent is-ancestor fork-point")),
    "count-objects": Tool(F("vH", "verbose human-readable")),
    "version": Tool(F("", "build-options")),
    "fsck": Tool(F("v", "unreachable dangling no-dangling root tags cache no-reflogs full "
                   "no-full connectivity-only strict verbose progress no-progress "
                   "name-objects", why={"--lost-found": "writes objects into .git/lost-found"})),
    "ls-remote": Tool(F("qo:", "heads tags refs quiet exit-code get-url symref sort= "
                        "server-option=", why={"--upload-pack": "runs a program"}),
                      check=_remote_urls_shown),
    "branch": Tool(F("arvli", "all remotes verbose list contains= no-contains= merged=? "
                     "no-merged=? points-at= sort= format= color=? no-color column=? no-column "
                     "show-current abbrev= no-abbrev ignore-case omit-empty"),
                   check=_only_with_list),
    "tag": Tool(F("ln::i", "list contains= no-contains= merged=? no-merged=? points-at= sort= "
                  "format= color=? column=? no-column ignore-case omit-empty"),
                check=_only_with_list),
    "remote": Tool(F("v", "verbose"), bare="read", check=_remote_urls_shown,
                   subcommands={"show": Tool(F("n"), check=_remote_urls_shown),
                                "get-url": Tool(F("", "push all"), check=_remote_urls_shown)}),
    "config": Tool(F("lf:z", """get get-all get-regexp get-urlmatch list name-only show-origin
        show-scope global system local worktree file= blob= type= bool int bool-or-int path
        expiry-date null includes no-includes default= value= fixed-value"""),
                   check=_git_config),
    "stash": Tool(subcommands={"list": Tool(_LOG), "show": Tool(_LOG | F("u", "include-untracked "
                                                                         "only-untracked"))}),
    "reflog": Tool(_LOG, bare="read", subcommands={"show": Tool(_LOG)}),
}

# -- databases ------------------------------------------------------------------------------------

_PSQL_META = re.compile(r"\\(?:d[A-Za-z]*\+?|l\+?|conninfo|encoding)(?:\s+[\w.\"*]+)*\s*|"
                        r"\\(?:x|a|t|timing)(?:\s+(?:on|off|auto))?\s*")  # how results print
PSQL_FLAGS = _PSQL = F("h:p:U:d:wXAtxqP:F:R:v:c:lVeEa1nzS0", """host= port= username= dbname=
    no-password no-psqlrc no-align tuples-only expanded quiet pset= field-separator=
    record-separator= set= variable= command= list version echo-queries echo-hidden echo-all
    single-transaction csv field-separator-zero record-separator-zero""", why={
    "-f": "runs SQL from a file it cannot check", "--file": "runs SQL from a file it cannot check",
    "-o": "writes a file", "--output": "writes a file", "-L": "writes a log file",
    "--log-file": "writes a log file", "-s": "asks a person before each statement",
    "-W": "asks a person for a password"})


def _settings_shown(name: str, meta: list[str]) -> None:
    """`\\dconfig` (non-default settings) or `\\dconfig PATTERN` that may match
    primary_conninfo prints a standby's replication password, as `SHOW ALL` does."""
    if not re.fullmatch(r"\\dconfig\+?", meta[0]):
        return
    pattern = meta[1] if len(meta) > 1 else "*"
    if not re.fullmatch(r"[\w*?]+", pattern) or fnmatchcase("primary_conninfo", pattern.lower()):
        raise NotRead(f"{name} -c '\\dconfig {pattern}' may print primary_conninfo, a "
                      "standby's replication password: not a read to keep", cause="sql")


def _psql(p: Parsed, name: str) -> None:
    commands = p.values("-c", "--command")
    if not commands and not p.has("-l", "--list", "-V", "--version"):
        raise NotRead(f"{name} without -c opens an interactive SQL session: a person's job",
                      cause="interactive", effect="interactive")
    if len(p.operands) > 2:
        raise NotRead(f"{name} takes at most a database and a user", cause="operand")
    for target in [*p.operands, *p.values("-d", "--dbname")]:
        if re.search(r"\boptions\s*=", target, re.I):  # conninfo or URI (?options=)
            raise NotRead(f"{name}'s connection string sets server options (options=), which "
                          "can turn off the read-only transactions an ungated step runs in",
                          cause="operand")
    for command in commands:
        if command.lstrip().startswith("\\"):
            if not _PSQL_META.fullmatch(command.strip()):
                raise NotRead(f"{name} -c {command.split()[0]} is not a read-only psql "
                              "command (only \\d..., \\l, \\conninfo and the display "
                              "toggles \\x, \\a, \\t, \\timing)", cause="sql")
            _settings_shown(name, command.split())
            continue
        problem = sql_problem(command)
        if problem:
            raise NotRead(f"{name} -c: {problem}", cause="sql")


def _executes(problem: Callable[[str], str | None] = sql_problem) -> Check:
    """A SQL client judged by the statements its `-e`/`--execute` carries (`problem` says
    what is not a read); without one it opens an interactive session."""

    def check(p: Parsed, name: str) -> None:
        statements = p.values("-e", "--execute")
        if not statements:
            raise NotRead(f"{name} without -e opens an interactive SQL session: a person's "
                          "job", cause="interactive", effect="interactive")
        for statement in statements:
            found = problem(statement)
            if found:
                raise NotRead(f"{name} -e: {found}", cause="sql")
    return check


def _cqlsh(p: Parsed, name: str) -> None:
    """`cqlsh -e STATEMENT`, judged as SQL; a user named without a password is asked for
    one: a person's job."""
    if p.has("-u", "--username") and not p.has("-p", "--password"):
        raise NotRead(f"{name} -u without -p asks a person for the password",
                      cause="interactive", effect="interactive")
    if any(k.strip('"').lower() == "system_auth" for k in p.values("-k", "--keyspace")):
        raise NotRead(f"{name} -k system_auth reads the keyspace of the roles' password "
                      "hashes (system_auth.roles): not a read to keep", cause="sql")
    _executes()(p, name)


# `\G` / `\g` where a statement ends ("SHOW REPLICA STATUS\G"): the client's terminator that
# prints the rows vertically, as `;` would end it; no other client command is a read
_MYSQL_TERMINATOR = re.compile(r"\\[Gg](?=\s|;|$)")


_MYSQLADMIN_READ = frozenset("status extended-status processlist variables version ping".split())


def _mysqladmin(p: Parsed, name: str) -> None:
    reports = ", ".join(sorted(_MYSQLADMIN_READ))
    wrong = [o for o in p.operands if o not in _MYSQLADMIN_READ]
    if wrong or not p.operands:
        said = f"`{name} {wrong[0]}` is not one of" if wrong else f"{name} names none of"
        raise NotRead(f"{said} its reports ({reports})", cause="subcommand")
    if p.has("-i", "--sleep") and not p.has("-c", "--count"):
        raise NotRead(f"{name} -i repeats until someone stops it (add -c N to end it): a "
                      "person's job", cause="interactive", effect="interactive")


def _mysql_problem(statement: str) -> str | None:
    statement = _MYSQL_TERMINATOR.sub(";", statement)
    if "\\" in statement:
        return "it holds a backslash (a client command such as \\! runs a program)"
    return sql_problem(statement)


# -- redis ------------------------------------------------------------------------------------

_REDIS = F("h:p:s:a:u:n:r:i:d:D:c3eR", """user= pass= askpass tls sni= cacert= cacertdir= cert=
    key= insecure raw no-raw csv quoted-input json quoted-json no-auth-warning verbose version
    bigkeys memkeys memkeys-samples= hotkeys scan pattern= count= quoted-pattern= stat latency
    latency-history latency-dist""", why={
    "--rdb": "writes a backup file", "--functions-rdb": "writes a backup file",
    "--pipe": "writes keys read from stdin", "--eval": "runs a Lua script",
    "--cluster": "administers a cluster", "-x": "takes its last argument from stdin",
    "--replica": "streams replication", "--slave": "streams replication"})
_REDIS_READ = frozenset("""
get mget exists ttl pttl type strlen getrange llen lrange lindex lpos scard smembers sismember
smismember srandmember sinter sunion sdiff sintercard zcard zrange zrangebyscore zrangebylex
zrevrange zrevrangebyscore zrevrangebylex zscore zmscore zrank zrevrank zcount zlexcount
hget hmget hgetall hkeys hvals hlen hexists hstrlen hrandfield scan sscan hscan zscan info
ping dbsize time lastsave role echo randomkey bitcount getbit bitpos xlen xrange xrevrange
pfcount geopos geodist geohash geosearch substr lcs dump touch
""".split())
_REDIS_READ_SUBS = {
    "client": {"list", "info", "getname", "id", "getredir", "trackinginfo", "no-evict"},
    "config": {"get"}, "slowlog": {"get", "len"}, "memory": {"usage", "stats", "doctor",
                                                              "malloc-stats"},
    "object": {"encoding", "freq", "idletime", "refcount"}, "latency": {"latest", "history",
                                                                       "doctor", "graph"},
    "cluster": {"info", "nodes", "slots", "shards", "myid", "countkeysinslot", "keyslot",
                "getkeysinslot", "links"},
    "command": {"count", "info", "docs", "list", "getkeys"}, "xinfo": {"stream", "groups",
                                                                        "consumers"},
    "acl": {"whoami", "users", "cat"}, "function": {"list", "stats"},
    "script": {"exists"}, "pubsub": {"channels", "numsub", "numpat", "shardchannels"},
    "module": {"list"}, "sentinel": {"masters", "master", "replicas", "slaves", "sentinels",
                                     "get-master-addr-by-name", "ckquorum", "info-cache"},
}
_REDIS_FOLLOW = ("--stat", "--latency", "--latency-history", "--latency-dist")
# the parameters CONFIG GET would print a password of; its patterns are globs, any case
_REDIS_SECRETS = ("requirepass", "masterauth", "tls-key-file-pass", "tls-client-key-file-pass")


# Redis commands that print a key's value (not its type, length or TTL): of a key named for a
# secret (`app:db:password`, `api_token`) they print it, as `consul kv get` of one does
_REDIS_VALUES = frozenset("""get mget getrange substr hget hmget hgetall hvals hrandfield hscan
    lrange lindex lpos smembers srandmember sscan sinter sunion sdiff zrange zrangebyscore
    zrevrange zrevrangebyscore zrangebylex zrevrangebylex zscan zrandmember dump json.get
    json.mget xrange xrevrange""".split())


def _redis_secret_shown(name: str, command: str, args: list[str]) -> None:
    """`CONFIG GET requirepass` (or `*`, `*pass*`) prints the server's password, and `ACL
    LIST`, `ACL GETUSER` each user's password hashes: not reads to keep, as `pg_authid`."""
    if command == "acl" and args[:1] and args[0].lower() in ("list", "getuser"):
        raise NotRead(f"{name} ACL {args[0].upper()} prints the users' password hashes: not a "
                      "read to keep", cause="subcommand")
    if command != "config" or [a.lower() for a in args[:1]] != ["get"]:
        return
    for pattern in args[1:]:
        glob = pattern.lower().replace("\\", "")
        if isinstance(pattern, Templated) or any(m in pattern for m in ("{{", "$", "`")) or \
                any(fnmatchcase(secret, glob) for secret in _REDIS_SECRETS):
            raise NotRead(f"{name} CONFIG GET {pattern} may print the server's password: not a "
                          "read to keep", cause="operand")


def redis_cli(name: str, args: list[str]) -> None:
    """redis-cli [flags] [COMMAND args...]: the command (and its subcommand) must read.
    `--cluster check HOST:PORT` and `--cluster info HOST:PORT` report on a cluster; every other
    `--cluster` command (fix, reshard, rebalance, call, add-node ...) administers it."""
    at = args.index("--cluster") if "--cluster" in args else -1
    if at >= 0 and args[at + 1:at + 2] in (["check"], ["info"]):
        rest = [a for a in args[:at] + args[at + 2:] if a != "--cluster-search-multiple-owners"]
        p = parse(rest, _REDIS, name)
        if len(p.operands) != 1:
            raise NotRead(f"{name} --cluster {args[at + 1]} takes one HOST:PORT",
                          cause="operand")
        return
    p = parse(args, _REDIS, name, stop_at_operand=True)  # as redis-cli: options, a command
    mode = next((f for f, _ in p.flags if f in _REDIS_FOLLOW), None) or next(
        (f"-r {n}" for n in p.values("-r") if n.strip().startswith("-")), None)
    if mode:  # (`-r -1` repeats the command for ever)
        raise NotRead(f"{name} {mode} runs until someone stops it: a person's job",
                      cause="interactive", effect="interactive")
    if p.has("--bigkeys", "--memkeys", "--hotkeys", "--scan") and not p.operands:
        return
    if not p.operands:
        raise NotRead(f"{name} without a command opens an interactive session: a person's job",
                      cause="interactive", effect="interactive")
    command = p.operands[0].lower()
    if command in ("monitor", "subscribe", "psubscribe", "ssubscribe"):
        raise NotRead(f"{name} {command.upper()} streams until someone stops it: a person's "
                      "job", cause="interactive", effect="interactive")
    if command in _REDIS_VALUES and (
            key := next((k for k in p.operands[1:]
                         if secret_key(k, globs=False, templates=False)), None)):
        raise NotRead(f"{name} {command.upper()} {key} prints the value of a key named for a "
                      "secret (a password, a token, a key): not a read to keep",
                      cause="operand")
    if command == "keys":
        raise NotRead(f"{name} KEYS walks every key in one call, and the server serves no one "
                      "else until it ends (a large one stalls for seconds): not a read to keep "
                      "(--scan --pattern P, or SCAN, reads a page at a time)", cause="subcommand")
    if command in _REDIS_READ:
        return
    _redis_secret_shown(name, command, p.operands[1:])
    sub = p.operands[1].lower() if len(p.operands) > 1 else ""
    if sub in _REDIS_READ_SUBS.get(command, ()):
        return
    said = f"{command.upper()} {sub.upper()}".strip() if command in _REDIS_READ_SUBS \
        else command.upper()
    raise NotRead(f"{name} {said} is not a read-only Redis command", cause="subcommand")


# -- etcd, consul, vault ------------------------------------------------------------------------

_ETCD = F("w:", """endpoints= cacert= cert= key= user= password= write-out= hex command-timeout=
    dial-timeout= keepalive-time= keepalive-timeout= insecure-skip-tls-verify insecure-transport
    insecure-discovery discovery-srv= discovery-srv-name= debug""", go=True)
_KUBE_SECRETS = "/registry/secrets/"  # where Kubernetes keeps its Secrets in etcd


def _prints_secrets(p: Parsed, name: str) -> None:
    raise NotRead(f"{name} prints the secret's values: not a read to keep", cause="subcommand")


def _etcd_get(p: Parsed, name: str) -> None:
    """`etcdctl get /registry/secrets/ns/x` (or a prefix or range that takes them in) prints a
    cluster's Secrets, unencrypted unless encryption at rest is set up; keys alone are names.
    A key whose name says it holds a secret (`/secrets/db`, `app/db/password`) prints it, as
    `consul kv get` of one does."""
    if p.has("--keys-only", "--count-only") or not p.operands:
        return
    key = p.operands[0]
    if len(p.operands) > 1 or p.has("--from-key") or "$" in key or "{{" in key or \
            key.startswith(_KUBE_SECRETS) or \
            (p.has("--prefix") and _KUBE_SECRETS.startswith(key)):
        raise NotRead(f"{name} {key} can print Kubernetes Secrets' values: not a read to keep",
                      cause="operand")
    _no_secret_key(name, key, p.has("--prefix"))


def _no_secret_key(name: str, key: str, recursive: bool) -> None:
    if secret_key(key):
        raise NotRead(f"{name} {key} prints the value of a key named for a secret (a password, "
                      "a token, a key): not a read to keep", cause="operand")
    if recursive and whole_store(key):
        raise NotRead(f"{name} {key or '(the root)'} prints every value the store holds, the "
                      "secrets kept there among them (name a prefix, or list the keys): not a "
                      "read to keep", cause="operand")


def _consul_kv_get(p: Parsed, name: str) -> None:
    """`consul kv get app/db/password` prints a secret, as `vault kv get` does; so does a
    recursive read or an export of the whole store. Keys alone (`-keys`) are names."""
    if p.has("-keys", "--keys"):
        return
    recursive = p.has("-recurse", "--recurse") or name.endswith("export")
    for key in p.operands or [""]:
        _no_secret_key(name, key, recursive)


_ETCD_SUBS: dict[str, Tool] = {
    "get": Tool(F("", "prefix keys-only limit= rev= sort-by= order= from-key print-value-only "
                  "count-only consistency= max-create-rev= max-mod-rev= min-create-rev= "
                  "min-mod-rev=", go=True), check=_etcd_get),
    "endpoint": Tool(subcommands=rows("health status hashkv",
                                      Tool(F("", "cluster", go=True)))),
    "member": Tool(subcommands={"list": NONE}), "alarm": Tool(subcommands={"list": NONE}),
    "version": NONE, "cluster-health": NONE, "ls": Tool(F("rp", "recursive sort")),
    "lease": Tool(subcommands={"list": NONE, "timetolive": Tool(F("", "keys"))}),
    **rows("user role", Tool(subcommands=rows("list get", NONE))),
    "auth": Tool(subcommands={"status": NONE}),
    "snapshot": Tool(subcommands={"status": NONE}),
    "watch": Tool(live=True),
}
# Go's flag package: one dash or two, `-flag=value` or `-flag value`.
_CONSUL = F("", """http-addr= token= token-file= ca-file= ca-path= client-cert= client-key=
    tls-server-name= datacenter= stale namespace= partition= format= detailed status= segment=
    wan node= service= tags near= filter= node-meta= recurse keys separator= base64""",
            one_dash=True, go=True)
_CONSUL_SUBS: dict[str, Tool] = {
    "members": NONE, "info": NONE, "version": NONE, "monitor": Tool(live=True),
    "catalog": Tool(subcommands=rows("services nodes datacenters", NONE)),
    "kv": Tool(subcommands={"get": Tool(check=_consul_kv_get),
                            "export": Tool(check=_consul_kv_get)}),
    "operator": Tool(subcommands={"raft": Tool(subcommands={"list-peers": NONE}),
                                  "autopilot": Tool(subcommands={"get-config": NONE,
                                                                 "state": NONE})}),
}
def _job_environment_shown(p: Parsed, name: str) -> None:
    """`nomad job inspect J` prints the job as submitted, each task's `env` among it (as `aws
    ecs describe-task-definition`); a `-t` template that picks other fields reads."""
    chosen = p.values("-t")
    if not chosen or any(_WHOLE_OR_ENV.search(t) for t in chosen):
        raise NotRead(f"{name} prints the environment each task is given, the secrets set "
                      "there among it (pick fields with -t): not a read to keep",
                      cause="subcommand")


def _task_secrets_read(p: Parsed, name: str) -> None:
    """`nomad alloc fs A task/secrets/vault_token` reads a task's secrets folder (its Vault
    token, the templates rendered there): as `/run/secrets` is, it is not a read to keep."""
    if any(_a_value(w) or "secrets" in w.lower().replace("\\", "/").split("/")
           for w in p.operands[1:]):
        raise NotRead(f"{name} reads a task's secrets folder (its Vault token, the secrets "
                      "rendered there): not a read to keep", cause="operand")


def _a_value(word: str) -> bool:
    return isinstance(word, Templated) or any(m in word for m in ("{{", "$", "`", "*", "?"))


# Nomad (Go flags, one dash): what reports jobs, allocations, nodes and the servers.
# `nomad job plan` is the scheduler's dry run: it registers nothing. `alloc logs -f` follows.
_NOMAD = F("", """address= region= namespace= token= ca-cert= ca-path= client-cert= client-key=
    tls-server-name= tls-skip-verify json t= short verbose all-allocs evals self stats os quiet
    allocs full version= p diff""", one_dash=True, go=True)
_NOMAD_SUBS: dict[str, Tool] = {
    **rows("status version agent-info", NONE),
    "job": Tool(subcommands={**rows("status history allocs deployments plan", NONE),
                             "inspect": Tool(check=_job_environment_shown)}),
    "alloc": Tool(subcommands={"status": NONE, "fs": Tool(check=_task_secrets_read),
                               "logs": Tool(
        F("", "stderr stdout tail n= c= task= job f", one_dash=True, go=True),
        follow=frozenset({"-f", "--f"}))}),
    "node": Tool(subcommands={"status": NONE}),
    "eval": Tool(subcommands=rows("status list", NONE)),
    "deployment": Tool(subcommands=rows("status list", NONE)),
    "server": Tool(subcommands={"members": NONE}),
    "operator": Tool(subcommands={"raft": Tool(subcommands={"list-peers": NONE}),
                                  "autopilot": Tool(subcommands={"get-config": NONE,
                                                                 "health": NONE})}),
}
# Cassandra's nodetool: what reports the ring, the node and its tables (`repair`, `drain`,
# `removenode`, `decommission`, `flush`, `set*` change them).
_NODETOOL = F("h:p:u:r", "host= port= username= password-file= resolve-ip print-port "
              "human-readable")
_NODETOOL_SUBS: dict[str, Tool] = rows(
    """status info ring tpstats compactionstats compactionhistory netstats describecluster
    describering listpendinghints statusgossip statusbinary statusbackup statushandoff
    gossipinfo cfstats tablestats cfhistograms tablehistograms proxyhistograms gcstats version
    getcompactionthroughput getstreamthroughput getendpoints getlogginglevels getseeds
    getsstables gettimeout viewbuildstatus failuredetector getconcurrentcompactors""", NONE)
# Ceph's CLIs (`ceph status` in Rook's toolbox): what reports the cluster's state. `ceph auth`
# is left out (it prints keys), as is `ceph -s` (a bare `ceph` is its interactive shell);
# `ceph -w` (`--watch`, `--watch-warn` ...) streams the cluster's log until stopped.
_CEPH_WATCH = frozenset("-w --watch --watch-debug --watch-info --watch-sec --watch-warn "
                        "--watch-error".split())
_CEPH = F("c:k:n:i:f:ws", "conf= keyring= name= id= format= cluster= connect-timeout= status "
          "watch-channel= watch watch-debug watch-info watch-sec watch-warn watch-error",
          why={"--admin-daemon": "talks to a daemon's admin socket"})
_CEPH_SUBS: dict[str, Tool] = {
    **rows("status health df versions version quorum_status mon_status", NONE),
    "osd": Tool(subcommands={**rows("tree df status stat dump ls find metadata perf "
                                    "utilization blocked-by", NONE),
                             "pool": Tool(subcommands=rows("ls stats get autoscale-status",
                                                           NONE))}),
    "mon": Tool(subcommands=rows("stat dump", NONE)),
    "mgr": Tool(subcommands={**rows("stat dump services", NONE),
                             "module": Tool(subcommands={"ls": NONE})}),
    "pg": Tool(subcommands=rows("stat dump dump_stuck ls ls-by-pool ls-by-osd ls-by-primary "
                                "query", NONE)),
    "fs": Tool(subcommands=rows("status ls dump get", NONE)),
    "mds": Tool(subcommands={"stat": NONE}),
    "config": Tool(subcommands=rows("get dump show show-with-defaults log", NONE)),
    "log": Tool(subcommands={"last": NONE}),
    "crash": Tool(subcommands=rows("ls ls-new info stat", NONE)),
    "device": Tool(subcommands=rows("ls ls-by-host ls-by-daemon info", NONE)),
    "watch": Tool(live=True),
}
_RADOS_RBD = F("p:c:k:n:i:", "pool= conf= keyring= name= id= cluster= format= pretty-format "
               "namespace=")
_RADOS_SUBS: dict[str, Tool] = {
    **rows("df lspools ls list-inconsistent-pg list-inconsistent-obj", NONE)}
_RBD_SUBS: dict[str, Tool] = {
    **rows("ls list info status du showmapped", NONE),
    "device": Tool(subcommands=rows("list ls", NONE)),
    "snap": Tool(subcommands=rows("ls list", NONE)),
}
_VAULT = F("", """address= namespace= format= field= mount= version= tls-skip-verify ca-cert=
    ca-path= client-cert= client-key= tls-server-name= detailed""", one_dash=True, go=True)
_VAULT_SUBS: dict[str, Tool] = {
    "status": NONE, "version": NONE, "list": NONE,
    # (`vault kv get` prints the secret's values, as `vault read` does, and `vault token
    # lookup` the runner's own token, its `id`: not reads to store)
    "kv": Tool(subcommands={"get": Tool(check=_prints_secrets), "list": NONE,
                            "metadata": Tool(subcommands={"get": NONE})}),
    **rows("auth secrets audit", Tool(subcommands={"list": NONE})),
    "policy": Tool(subcommands={"list": NONE, "read": NONE}),
    "operator": Tool(subcommands={"raft": Tool(subcommands={"list-peers": NONE}),
                                  "members": NONE}),
}

# -- monitoring and configuration tools ------------------------------------------------------------

_PROMTOOL = Tool(subcommands={
    "check": Tool(subcommands=rows("config rules metrics web-config healthy ready "
                                   "service-discovery", Tool(F("", "syntax-only lint= "
                                                                "lint-fatal extended")))),
    "query": Tool(subcommands=rows("instant range series labels",
                                   Tool(F("o:", "format= start= end= step= match= time=")))),
    "test": Tool(subcommands={"rules": Tool(F("", "run= diff debug"))}),
    "tsdb": Tool(subcommands=rows("analyze list dump", Tool(F("l", "human-readable limit= "
                                                             "extended min-time= max-time= "
                                                             "match=")))),
    "version": NONE})
_AMTOOL_GLOBAL = F("o:", "alertmanager.url= output= timeout= http.config.file= verbose",
                   go=True)
_AMTOOL = Tool(_AMTOOL_GLOBAL, inherit=True, subcommands={
    "alert": Tool(F("aq", "active inhibited silenced unprocessed receiver= query"), bare="read",
                  subcommands={"query": Tool(F("aq", "active inhibited silenced unprocessed "
                                                     "receiver= expired within="))}),
    "silence": Tool(F("q", "quiet expired within="), bare="read",
                    subcommands={"query": Tool(F("q", "quiet expired within= id"))}),
    "check-config": NONE, "config": Tool(bare="read", subcommands={"show": NONE,
                                                                   "routes": NONE}),
    "cluster": Tool(subcommands={"show": NONE}), "version": NONE})

# (not -c/--config: knife's configuration is Ruby, run as it is read; its own knife.rb or
# config.rb, found where knife looks, is the operator's)
_KNIFE_FLAGS = F("a:F:lirmE:k:u:s:Vz", "attribute= format= long id-only run-list medium "
                 "environment= key= user= server-url= verbose local-mode", why={
                     "-c": "loads a configuration that is Ruby code, run as it is read",
                     "--config": "loads a configuration that is Ruby code, run as it is read"})
def _gitlab_configuration(p: Parsed, name: str) -> None:
    raise NotRead(f"{name} prints the configuration gitlab.rb and gitlab-secrets.json give "
                  "(db_password, secret_key_base, the Redis password): not a read to keep",
                  cause="subcommand")


def _vault_item_shown(p: Parsed, name: str) -> None:
    """`knife vault show VAULT ITEM` decrypts the item and prints its secrets, as `vault kv
    get` does; `knife vault show VAULT` lists the vault's items."""
    if len(p.operands) > 1:
        raise NotRead(f"{name} {' '.join(p.operands[:2])} decrypts the item and prints its "
                      "secrets: not a read to keep", cause="operand")


_KNIFE_SUBS: dict[str, Tool] = {
    **rows("node role environment client cookbook", Tool(subcommands=rows(
        "show list", Tool(_KNIFE_FLAGS)))),
    "search": Tool(_KNIFE_FLAGS), "status": Tool(_KNIFE_FLAGS),
    "data": Tool(subcommands={"bag": Tool(subcommands=rows("show list", Tool(_KNIFE_FLAGS)))}),
    "vault": Tool(subcommands={"list": Tool(_KNIFE_FLAGS),
                               "show": Tool(_KNIFE_FLAGS, check=_vault_item_shown)}),
}

# -- Kafka's command-line tools: the action is a flag (`--describe`, `--create`) ---------------

_KAFKA_READS = {
    "kafka-topics": {"--describe", "--list"},
    "kafka-consumer-groups": {"--describe", "--list"},
    "kafka-configs": {"--describe"},
    "kafka-log-dirs": {"--describe"},
    "kafka-acls": {"--list"},
    "kafka-broker-api-versions": set(),
    "kafka-metadata-quorum": {"describe"},
}
# options that only say what to read, where, and how to show it
_KAFKA_OPTIONS = frozenset("""--bootstrap-server --bootstrap-controller --zookeeper --topic
    --topics --group --all-groups --all-topics --command-config --admin.config --entity-type
    --entity-name --entity-default --broker --broker-list --broker-logger --topic-list
    --under-replicated-partitions --unavailable-partitions --under-min-isr-partitions
    --at-min-isr-partitions --exclude-internal --members --offsets --state --verbose --timeout
    --include --status --replication --partitions --cluster --user --client-id --principal
    --resource-pattern-type --version --help""".split())


# how a reset names the offsets it would set (`--to-latest`, `--shift-by -100`), and its dry run
_KAFKA_RESET_PLAN = frozenset("--dry-run --to-latest --to-earliest --to-current --to-offset "
                               "--shift-by --to-datetime --by-duration --from-file".split())


def kafka(name: str, args: list[str]) -> None:
    """kafka-topics.sh --describe, kafka-consumer-groups.sh --list, kafka-configs --describe:
    Kafka's tools name their action with a flag; only the describing and listing ones read,
    with options that say what and where (any other flag, `--alter`, `--delete`,
    `--reset-offsets`, may change the cluster)."""
    tool = name.rsplit("/", 1)[-1].removesuffix(".sh")
    reads = _KAFKA_READS[tool]
    # (`--shift-by -100`: the count is the option's value, not a flag)
    flags = [a.split("=", 1)[0] for i, a in enumerate(args) if a.startswith("-") and
             not (i and args[i - 1] == "--shift-by")]
    if tool == "kafka-consumer-groups" and "--reset-offsets" in flags and \
            "--dry-run" in flags and "--execute" not in flags:
        # `--reset-offsets --to-latest --dry-run`: the offsets the reset would set, printed;
        # nothing is committed without --execute
        reads = {"--reset-offsets"} | _KAFKA_RESET_PLAN
    for flag in flags:
        if flag not in reads and flag not in _KAFKA_OPTIONS:
            raise NotRead(f"{flag} is not a reading option of {tool}", cause="flag")
    words = [a for a in args if not a.startswith("-")]
    if reads and not reads.intersection(flags) and not reads.intersection(words):
        raise NotRead(f"{tool} reads only with {' or '.join(sorted(reads))}",
                      cause="subcommand")


# -- RabbitMQ -------------------------------------------------------------------------------------

# the CLI tools' shared options, and list_queues' own filters (they only narrow what is listed)
_RABBIT = F("n:qst:p:l", """node= quiet silent timeout= vhost= longnames formatter=
    no-table-headers erlang-cookie= local online offline""")
_RABBITMQCTL_READ = rows("""status cluster_status list_queues list_exchanges list_bindings
    list_connections list_channels list_consumers list_vhosts list_users list_permissions
    list_user_permissions list_topic_permissions list_policies list_operator_policies
    list_global_parameters list_feature_flags list_unresponsive_queues
    list_vhost_limits list_user_limits list_deprecated_features
    node_health_check ping version help""", NONE)


def _broker_secrets(p: Parsed, name: str) -> None:
    raise NotRead(f"{name} prints what the broker is given to log in with (its default_pass, "
                  "the Erlang cookie, a shovel's or federation upstream's URI with its "
                  "password): not a read to keep", cause="subcommand")


# What prints a RabbitMQ node's secrets: its application environment (`environment`, and
# `report`, which holds it: `default_pass`), its RABBITMQ_* variables (`os_env`:
# RABBITMQ_DEFAULT_PASS, RABBITMQ_ERLANG_COOKIE), its command line (`-setcookie`), and the
# runtime parameters (`list_parameters`: each shovel's and federation upstream's URI, the
# password in it), as `docker inspect` prints a container's environment.
_RABBITMQ_SECRETS = rows("environment report os_env command_line_arguments list_parameters",
                         Tool(check=_broker_secrets))
_RABBITMQCTL_READ.update({k: v for k, v in _RABBITMQ_SECRETS.items()
                          if k in ("environment", "report", "list_parameters")})
_RABBITMQ_DIAGNOSTICS_READ = {
    **rows("""status cluster_status check_running check_alarms check_local_alarms
        check_port_connectivity check_protocol_listener check_port_listener check_virtual_hosts
        check_certificate_expiration check_if_node_is_quorum_critical
        check_if_node_is_mirror_sync_critical alarms listeners memory_breakdown
        log_location maybe_stuck runtime_thread_stats server_version erlang_version
        is_running is_booting tls_versions cipher_suites certificates discover_peers
        resolve_hostname list_network_interfaces quorum_status erlang_cookie_sources
        schema_info ping version help""", NONE),
    **{k: v for k, v in _RABBITMQ_SECRETS.items() if k != "list_parameters"},
    "log_tail": Tool(F("N:", "number=")),
    **rows("log_tail_stream observer consume_event_stream", Tool(live=True)),
}


# -- Patroni, etcd's offline tool, CockroachDB ----------------------------------------------

_PATRONI = F("c:k:d:", "config-file= dcs-url= dcs= insecure ca-cert= client-cert= client-key=")
_PATRONI_FMT = F("ef:Ww:", "extended format= watch=")
_PATRONICTL_READ = {
    **rows("list ls topology", Tool(_PATRONI_FMT | F("", "group= timestamp"),
                                    follow=frozenset({"-W", "-w", "--watch"}))),
    "history": Tool(F("f:", "format= group=")),
    "show-config": Tool(F("", "group=")),
    **rows("version dsn", Tool(F("", "role= member= group="))),
}

_ETCDUTL = F("w:", "write-out=")

_COCKROACH_CONN = F("", """host= port= url= certs-dir= insecure user= cluster-name= format=
    database= disable-cluster-name-verification""")


_COCKROACH_READ = {
    "node": Tool(subcommands=rows("status ls", Tool(_COCKROACH_CONN | F(
        "", "all ranges stats decommission timeout=")))),
    "sql": Tool(_COCKROACH_CONN | F("d:e:u:", "execute= safe-updates read-only echo-sql"),
                check=_executes()),
    "version": Tool(F("", "build-tag")),
}

CQLSH_FLAGS = F("u:p:k:e:", "username= password= keyspace= execute= ssl no-color color "
                "connect-timeout= request-timeout= cqlversion= protocol-version= debug",
                why={"-f": "runs the statements of a file", "--file": "runs the statements of "
                     "a file", "--cqlshrc": "reads a configuration file"})

SERVICES: dict[str, Rule] = {
    "systemctl": Tool(_SYSTEMCTL, inherit=True, bare="read", subcommands=_SYSTEMCTL_READ),
    "journalctl": Tool(_JOURNALCTL, follow=frozenset({"-f", "--follow"})),
    "service": Tool(F("", "status-all"), check=service_status),
    "sv": Tool(F("vw:"), subcommands={"status": NONE, "s": NONE, "check": NONE}),
    "gitlab-ctl": Tool(subcommands={"status": NONE, "service-list": NONE,
                                    "show-config": Tool(check=_gitlab_configuration),
                                    "tail": Tool(live=True)}),
    **rows("docker podman nerdctl", Tool(_DOCKER_GLOBAL, subcommands=_DOCKER_SUBS)),
    "crictl": Tool(_CRICTL_GLOBAL, inherit=True, subcommands=_CRICTL_SUBS),
    "ctr": Tool(F("n:a:", "namespace= address= debug timeout= connect-timeout=", posix=True),
                subcommands=_CTR_SUBS),
    "git": Tool(_GIT_GLOBAL, subcommands=_GIT_SUBS),
    **rows("psql gitlab-psql", Tool(PSQL_FLAGS, check=_psql)),
    "pg_isready": Tool(F("h:p:U:d:t:q", "host= port= username= dbname= timeout= quiet"),
                       max_operands=0),
    "mysql": Tool(F("h:P:u:p::D:e:BNsrtEH", "host= port= user= password=? database= execute= "
                    "batch skip-column-names silent raw table vertical html protocol= socket= "
                    "ssl-mode=", why={"--tee": "writes a file", "--pager": "runs a program",
                                      "--defaults-file": "reads a file that can run a pager"}),
                  check=_executes(_mysql_problem)),
    # mysqladmin's reports (`-i N` repeats them until stopped; -c N with it ends it); every
    # other command of it (kill, flush-*, shutdown, create, drop, start/stop-replica) acts
    "mysqladmin": Tool(F("h:P:u:p::S:rsvc:i:", "host= port= user= password=? socket= relative "
                         "silent verbose count= sleep= ssl-mode= connect-timeout= protocol="),
                       check=_mysqladmin),
    # cqlsh HOST -e "SELECT ...": one reading CQL statement, judged as SQL (`CONSISTENCY`,
    # `COPY` and the other shell commands are no SQL: not read-only)
    "cqlsh": Tool(CQLSH_FLAGS, max_operands=2, check=_cqlsh),
    **rows("redis-cli gitlab-redis-cli", redis_cli),
    "etcdctl": Tool(_ETCD, inherit=True, subcommands=_ETCD_SUBS),
    "consul": Tool(_CONSUL, inherit=True, subcommands=_CONSUL_SUBS),
    "vault": Tool(_VAULT, inherit=True, subcommands=_VAULT_SUBS),
    "nomad": Tool(_NOMAD, inherit=True, subcommands=_NOMAD_SUBS),
    "nodetool": Tool(_NODETOOL, inherit=True, subcommands=_NODETOOL_SUBS),
    "ceph": Tool(_CEPH, inherit=True, subcommands=_CEPH_SUBS, follow=_CEPH_WATCH,
                 named_by={"-s": "status", "--status": "status"}),
    "rados": Tool(_RADOS_RBD, inherit=True, subcommands=_RADOS_SUBS),
    "rbd": Tool(_RADOS_RBD, inherit=True, subcommands=_RBD_SUBS),
    "promtool": _PROMTOOL,
    "amtool": _AMTOOL,
    "knife": Tool(_KNIFE_FLAGS, inherit=True, subcommands=_KNIFE_SUBS),
    **{name: kafka for tool in _KAFKA_READS for name in (tool, f"{tool}.sh")},
    "rabbitmqctl": Tool(_RABBIT, inherit=True, subcommands=_RABBITMQCTL_READ),
    "rabbitmq-diagnostics": Tool(_RABBIT, inherit=True, subcommands=_RABBITMQ_DIAGNOSTICS_READ),
    "rabbitmq-plugins": Tool(_RABBIT, inherit=True, subcommands={
        "list": Tool(F("vmEeq", "verbose minimal enabled implicitly-enabled quiet")),
        "directories": NONE, "is_enabled": NONE, "help": NONE, "version": NONE}),
    **rows("patronictl gitlab-patronictl", Tool(_PATRONI, subcommands=_PATRONICTL_READ)),
    "etcdutl": Tool(_ETCDUTL, inherit=True, subcommands={
        "snapshot": Tool(subcommands={"status": NONE}), "version": NONE}),
    "cockroach": Tool(subcommands=_COCKROACH_READ),
    # macOS launchd: a service's or a domain's state (`launchctl print gui/501/com.x.agent`),
    # the jobs loaded, why a service runs; kickstart, bootstrap, bootout, enable and kill act
    "launchctl": Tool(subcommands={"print": Tool(max_operands=1), "list": Tool(max_operands=1),
                                   "print-disabled": Tool(max_operands=1),
                                   "blame": Tool(max_operands=1), "procinfo": Tool(max_operands=1),
                                   "version": Tool(max_operands=0)}),
}
