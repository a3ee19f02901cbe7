"""Read-only rows for Kubernetes tools: kubectl, oc, virtctl, helm, linkerd, argocd, flux,
istioctl.

kubectl and oc take their global flags anywhere (cobra), so every subcommand row inherits them.
`exec` is a wrapper (the command it runs is judged: `engine.effects.classify`); `logs -f`,
`get -w` and `events -w` follow until stopped, a person's job; `attach`, `port-forward`,
`proxy`, `rsh` and `console` need a person at a terminal, and so does `debug` unless it is given
a command (`oc debug node/X -- chroot /host crictl ps`), which it runs in a debug pod it starts
for the purpose: never read-only, whatever the command, since the pod is a change to the cluster
(and on a node, a privileged one).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from engine.effects.options import Flags, NotRead, Parsed
from engine.effects.rules import Tool, rows
from engine.effects.words import Templated

F = Flags.of
NONE = Tool()
LIVE = Tool(live=True, stays=True)  # a tunnel or a terminal the lines after it use

GLOBAL = F("n:s:v:", """namespace= context= kubeconfig= cluster= user= server= as= as-group=
    as-uid= token= request-timeout= certificate-authority= client-certificate= client-key=
    tls-server-name= username= password= log-flush-frequency= vmodule= cache-dir=
    insecure-skip-tls-verify match-server-version warnings-as-errors disable-compression""",
           go=True, why={"--profile": "writes a profile file",
                         "--profile-output": "writes a profile file"})
_SELECT = F("Al:f:k:R", "all-namespaces selector= field-selector= filename= kustomize= recursive "
            "chunk-size=", go=True)
_OUTPUT = F("o:", "output= template= allow-missing-template-keys show-managed-fields", go=True)
_WATCH = frozenset({"-w", "--watch", "--watch-only"})

_SECRETS = "prints a Secret's values (base64 is no cover): not a read to keep"
_NAMES_ONLY = frozenset({"name", "wide"})  # what -o may be without printing a Secret's data


_EXPRESSIONS = frozenset({"jsonpath", "go-template", "custom-columns", "template"})
# a certificate a Secret holds is public by design: `{.data.tls\.crt}`, `{.data['ca.crt']}`
_CERTIFICATE = re.compile(r"""\.data(?:\.|\[\s*['"]?)[\w.\\-]*?\\?\.crt\b['"]?\s*\]?""", re.I)
_DATA = re.compile(r"(?<![a-z])(?:string)?data(?![a-z])", re.I)  # not metadata
# what prints an object whole: `{@}`, `{$}`, `{..x}`, `{.items}`, `{{.}}`, `{{toJson .}}`
_WHOLE = re.compile(r"\{\s*[@$]\s*\}|\.\.|\{\s*\.items(?:\[[^\]]*\])?\s*\}|"
                    r"\{\{-?\s*\.?\s*-?\}\}|\{\s*\.?\s*\}|json|yaml|printf|index\s+\.\s", re.I)


# a Secret made by `kubectl apply` keeps its whole manifest, data and all, in its
# `kubectl.kubernetes.io/last-applied-configuration` annotation: what prints its annotations
# whole (`{.metadata}`, `{.metadata.annotations}`) or that one prints its data too
_ANNOTATIONS = re.compile(r"last-applied|\.metadata(?:\.annotations)?(?![\w.\[])", re.I)


def _shows_data(expression: str) -> bool:
    """Whether an output expression (jsonpath, go-template, custom-columns) prints a Secret's
    data: it names `data` (or `stringData`) other than a certificate, its annotations whole
    (the last-applied manifest among them), or an object whole."""
    rest = _CERTIFICATE.sub(".cert", expression)
    return _a_value(expression) or _DATA.search(rest) is not None or \
        _WHOLE.search(rest) is not None or _ANNOTATIONS.search(rest) is not None


def _a_value(word: str) -> bool:
    return isinstance(word, Templated) or any(m in word for m in ("{{", "$", "<", "`"))


def _secret_kind(word: str) -> bool:
    """Whether a kind word (`secret`, `Secrets.v1.`, `pods,secret`) names Secrets; a kind a
    value gives may be Secrets too."""
    if _a_value(word):
        return True
    return any(kind.split(".", 1)[0].strip().lower() in ("secret", "secrets")
               for kind in word.split(","))


def _reaches_secrets(path: str) -> bool:
    if _a_value(path):
        return True
    segments = unquote(unquote(path)).lower().split("?", 1)[0].replace("\\", "/").split("/")
    return "secrets" in segments or "secret" in segments


def _get(p: Parsed, name: str) -> None:
    """`get secret X -o yaml` prints the Secret's data and `--raw /api/v1/.../secrets` reads
    them raw: the output would carry credentials into the run's memory and report. So does
    `get -f FILE -o yaml` (or `-k DIR`) when the objects the files name are Secrets."""
    if any(_reaches_secrets(path) for path in p.values("--raw")):
        raise NotRead(f"{name} --raw {_SECRETS}", cause="operand")
    formats = p.values("-o", "--output")
    shows = any(_shows_data(t) for t in p.values("--template")) or any(
        _shows_data(f.split("=", 1)[1]) if f.split("=", 1)[0].strip().lower() in _EXPRESSIONS
        and "=" in f else f.split("=", 1)[0].strip().lower() not in _NAMES_ONLY
        for f in formats)
    files = [(f, v) for f, v in p.flags if f in ("-f", "--filename", "-k", "--kustomize")]
    if shows and files:  # (which kinds the files name is theirs to say: Secrets, maybe)
        raise NotRead(f"{name} {' '.join(map(str, files[0]))} -o "
                      f"{formats[0] if formats else 'template'} prints the objects the files "
                      f"name; one a Secret, it {_SECRETS}", cause="operand")
    if not shows or not p.operands:
        return
    first = p.operands[0]
    kinds = [op.split("/", 1)[0] for op in p.operands if "/" in op] if "/" in first \
        else [first]
    if any(_secret_kind(kind) for kind in kinds):
        raise NotRead(f"{name} -o {formats[0] if formats else 'template'} {_SECRETS}",
                      cause="operand")


# klog's verbosity: from 8 on, kubectl logs each answer of the API server (its body, cut at 8,
# whole at 9): a Secret's data as `describe secret` fetches it, a Secret's last-applied
# annotation behind `get secrets`, whatever -o name or a jsonpath leaves out of the output
_BODIES = 8
_VERBOSITY = re.compile(r"(?P<flag>--?v|--vmodule)(?:=|$)|(?P<bundled>-v)(?=\d)")


def logged_bodies(name: str, args: list[str]) -> str | None:
    """Why `name args` (kubectl, oc, virtctl) logs the API's answers whole, or None: a
    verbosity (`-v`, or a file's in `--vmodule=request=9`) of 8 or more, or one a value gives.
    The words after `--` are another command's."""
    words = args[:args.index("--")] if "--" in args else args
    for k, word in enumerate(words):
        m = _VERBOSITY.match(word)
        if m is None:
            continue
        given = word[m.end():] if m.end() < len(word) else \
            (words[k + 1] if k + 1 < len(words) else "")
        levels = [v.rpartition("=")[2] for v in given.split(",")] \
            if m.group("flag") == "--vmodule" else [given]
        if isinstance(given, Templated) or any(
                not level.isdigit() or int(level) >= _BODIES for level in levels):
            return (f"{name} {word if m.end() < len(word) else word + ' ' + given} logs the API "
                    "server's answers whole (from 8 on): a Secret's data among them, whatever "
                    "the output shows: not a read to keep")
    return None


GET = Tool(_SELECT | _OUTPUT | F("L:wa", """label-columns= no-headers output-watch-events raw=
    server-print show-kind show-labels sort-by= subresource= ignore-not-found watch
    watch-only show-all""", go=True), follow=_WATCH, check=_get)
LOGS = Tool(F("c:fpl:", """all-containers container= follow ignore-errors
    insecure-skip-tls-verify-backend limit-bytes= max-log-requests= pod-running-timeout= prefix
    previous selector= since= since-time= tail= timestamps all-pods""", go=True),
            follow=frozenset({"-f", "--follow"}))
TOP = Tool(F("Al:", "all-namespaces containers no-headers selector= field-selector= sort-by= "
             "use-protocol-buffers show-capacity sum", go=True))



def _debug(p: Parsed, name: str) -> None:
    if len(p.operands) <= 1:  # `oc debug node/X`: a shell in a debug pod
        raise NotRead(f"{name} opens a shell in a debug pod: a person's job",
                      cause="interactive", effect="interactive")
    raise NotRead(f"{name} starts a debug pod to run its command (a change to the cluster, "
                  "privileged on a node)", cause="subcommand")


DEBUG = Tool(F("itqc:", """stdin tty quiet image= container= to-namespace= profile= one-container
    keep-annotations keep-labels keep-init-containers keep-liveness keep-readiness keep-startup
    as-root as-user= node-name= preserve-pod image-pull-policy= attach share-processes copy-to=
    replace set-image= target= env= custom=""", go=True), check=_debug)

KUBECTL: dict[str, Tool] = {
    "get": GET,
    "describe": Tool(_SELECT | F("", "show-events", go=True)),
    "logs": LOGS,
    "top": TOP,
    "explain": Tool(_OUTPUT | F("", "recursive api-version=", go=True)),
    "api-resources": Tool(_OUTPUT | F("", "api-group= cached categories= namespaced no-headers "
                                      "sort-by= verbs=", go=True)),
    "api-versions": NONE,
    "version": Tool(_OUTPUT | F("", "client short", go=True)),
    "cluster-info": Tool(bare="read", subcommands={
        "dump": Tool(_OUTPUT | F("A", "all-namespaces namespaces= pod-running-timeout=", go=True,
                                 why={"--output-directory": "writes files"}))}),
    "auth": Tool(subcommands={
        "can-i": Tool(F("Aq", "all-namespaces list no-headers quiet subresource=", go=True)),
        "whoami": Tool(_OUTPUT)}),
    "events": Tool(_OUTPUT | F("Aw", "all-namespaces chunk-size= for= no-headers types= watch",
                               go=True), follow=_WATCH),
    "wait": Tool(_SELECT | _OUTPUT | F("", "all for= timeout= local", go=True)),
    "diff": Tool(F("f:k:Rl:", "filename= kustomize= recursive selector= server-side "
                   "field-manager= force-conflicts concurrency= show-managed-fields", go=True)),
    "rollout": Tool(subcommands={
        "status": Tool(_SELECT | F("w", "revision= timeout= watch", go=True)),
        "history": Tool(_SELECT | _OUTPUT | F("", "revision=", go=True))}),
    "config": Tool(subcommands={
        # (--raw prints the kubeconfig's tokens and client keys: the runner's own credentials;
        # so does --flatten, which inlines the files they are in and redacts nothing)
        "view": Tool(_OUTPUT | F("", "minify merge", go=True,
                                 why={"--raw": "prints the kubeconfig's credentials",
                                      "--flatten": "prints the kubeconfig's credentials"})),
        "get-contexts": Tool(_OUTPUT | F("", "no-headers", go=True)),
        **rows("current-context get-clusters get-users", NONE)}),
    **rows("attach port-forward proxy", LIVE),
    "debug": DEBUG,
}

OC: dict[str, Tool] = {
    **KUBECTL,
    "status": Tool(_OUTPUT | F("", "suggest", go=True)),
    "whoami": Tool(F("", "show-server show-console show-context", go=True,
                     why={"-t": "prints the runner's token",
                          "--show-token": "prints the runner's token"})),
    "project": Tool(F("q", "short", go=True), max_operands=0,
                    too_many="NAME switches the current project"),
    "projects": Tool(F("q", "short", go=True)),
    "adm": Tool(subcommands={
        "top": Tool(subcommands=rows("node nodes pod pods images imagestreams", TOP)),
        "node-logs": Tool(F("u:g:l:", "unit= path= since= until= tail= role= grep= "
                            "case-sensitive raw boot= selector=", go=True)),
        "upgrade": Tool(F("", "include-not-recommended", go=True), max_operands=0)}),
    **rows("rsh observe", LIVE),
}

_VIRTCTL: dict[str, Tool] = {
    **rows("version guestosinfo fslist userlist", NONE),
    **rows("console vnc ssh scp port-forward", LIVE),
}

def _helm_secrets(p: Parsed, name: str) -> None:
    raise NotRead(f"{name} prints the release's values and rendered Secrets, passwords "
                  "among them: not a read to keep", cause="subcommand")


def _helm_status(p: Parsed, name: str) -> None:
    """`helm status -o json|yaml` prints the whole release: its manifest and its values."""
    if any(f.strip().lower() in ("json", "yaml") for f in p.values("-o", "--output")):
        _helm_secrets(p, name)


_HELM_GLOBAL = F("n:", """namespace= kube-context= kubeconfig= kube-apiserver= kube-as-user=
    kube-as-group= kube-ca-file= kube-token= kube-insecure-skip-tls-verify debug
    registry-config= repository-cache= repository-config= burst-limit= qps=
    kube-tls-server-name=""", go=True)
_HELM_OUT = F("o:", "output=", go=True)
_HELM_REV = F("", "revision=", go=True)
_HELM_SHOW = Tool(F("", "version= repo= devel jsonpath= username= password= ca-file= "
                    "insecure-skip-tls-verify", go=True))
HELM: dict[str, Tool] = {
    **rows("list ls", Tool(_HELM_OUT | F("aAdf:m:qrl:", """all all-namespaces date deployed
        failed filter= max= offset= pending reverse selector= short superseded time-format=
        uninstalled uninstalling no-headers""", go=True))),
    "status": Tool(_HELM_OUT | _HELM_REV | F("", "show-desc show-resources", go=True),
                   check=_helm_status),
    # (`get values` prints the values a release was given, its passwords among them;
    # `get manifest`, `get hooks` and `get all` its rendered Secrets: not reads to keep)
    "get": Tool(subcommands={
        "notes": Tool(_HELM_REV),
        **rows("manifest hooks", Tool(_HELM_REV, check=_helm_secrets)),
        **rows("all values", Tool(_HELM_OUT | _HELM_REV | F("a", "all template=", go=True),
                                  check=_helm_secrets)),
        "metadata": Tool(_HELM_OUT | _HELM_REV)}),
    **rows("history hist", Tool(_HELM_OUT | F("", "max=", go=True))),
    **rows("show inspect", Tool(subcommands=rows("chart values readme all crds", _HELM_SHOW))),
    "template": Tool(F("f:", """values= set= set-string= set-file= set-json= version= repo=
        name-template= include-crds skip-crds skip-tests show-only= api-versions= kube-version=
        is-upgrade validate devel""", go=True,
                       why={"--output-dir": "writes files", "--post-renderer": "runs a program",
                            "--dependency-update": "downloads the chart's dependencies into "
                            "its charts/ folder"})),
    "version": Tool(F("", "short template= client", go=True)),
    "search": Tool(subcommands=rows("hub repo", Tool(_HELM_OUT | F(
        "lr", "max-col-width= version= versions regexp devel", go=True)))),
    "env": NONE,
    "repo": Tool(subcommands=rows("list ls", Tool(_HELM_OUT))),
    "plugin": Tool(subcommands=rows("list ls", NONE)),
    **rows("dependency dep", Tool(subcommands=rows("list ls", NONE))),
    "lint": Tool(F("f:", "strict values= set= set-string= with-subcharts quiet", go=True)),
}

_LINKERD_GLOBAL = F("L:", """linkerd-namespace= context= kubeconfig= as= as-group= api-addr=
    verbose cni-namespace=""", go=True)
_LINKERD_CHECK = Tool(F("n:o:", """output= pre proxy namespace= wait= expected-version= crds
    cni-namespace= linkerd-cni-enabled""", go=True))
_LINKERD_STATS = Tool(F("n:o:tA", """namespace= output= time-window= all-namespaces from=
    from-namespace= to= to-namespace= selector=""", go=True))
LINKERD: dict[str, Tool] = {
    "check": _LINKERD_CHECK,
    "version": Tool(F("", "client short proxy namespace=", go=True)),
    "viz": Tool(subcommands={"check": _LINKERD_CHECK, **rows("stat edges routes authz",
                                                               _LINKERD_STATS),
                             **rows("tap top dashboard", LIVE)}),
    "multicluster": Tool(subcommands={"check": _LINKERD_CHECK,
                                      "gateways": Tool(F("n:", "namespace= output=",
                                                          go=True))}),
    "diagnostics": Tool(subcommands=rows("proxy-metrics controller-metrics endpoints policy",
                                         Tool(F("n:o:", "namespace= output= obfuscate",
                                                go=True)))),
}

# -- GitOps and mesh CLIs: what they show of the cluster ----------------------------------------
# argocd: `app get --refresh` (and --hard-refresh) asks the controller to re-read the app, and
# `app diff` exits 1 when there is a difference: neither is listed (a listed read must not fail
# on its answer)
_ARGOCD_GLOBAL = F("", """server= auth-token= grpc-web grpc-web-root-path= insecure plaintext core
    port-forward port-forward-namespace= kube-context= loglevel= logformat= header=
    http-retry-max= client-crt= client-crt-key= server-crt= server-name=""", go=True)
_ARGOCD_OUT = F("o:N:", "output= app-namespace=", go=True)
ARGOCD: dict[str, Tool] = {
    "app": Tool(subcommands={
        "get": Tool(_ARGOCD_OUT | F("", "show-params show-operation", go=True), max_operands=1),
        "list": Tool(_ARGOCD_OUT | F("p:l:r:", "project= selector= repo= cluster=", go=True),
                     max_operands=0),
        "history": Tool(_ARGOCD_OUT, max_operands=1),
        "resources": Tool(_ARGOCD_OUT | F("", "orphaned", go=True), max_operands=1),
        "manifests": Tool(_ARGOCD_OUT | F("", "source= revision=", go=True), max_operands=1),
    }),
    "version": Tool(F("", "client short output=", go=True), max_operands=0),
    **rows("cluster proj repo", Tool(subcommands={"list": Tool(_ARGOCD_OUT, max_operands=0)})),
}
# flux: `get` of every kind reads (`--watch` streams); `diff` exits 1 on a difference
_FLUX_GLOBAL = F("n:", """namespace= context= kubeconfig= timeout= verbose cluster= as= as-group=
    as-uid= user= server= token= cache-dir= certificate-authority= client-certificate=
    client-key= tls-server-name= insecure-skip-tls-verify disable-compression""", go=True)
FLUX: dict[str, Tool] = {
    "get": Tool(F("Aw", "all-namespaces no-header status-selector= watch", go=True),
                follow=frozenset({"-w", "--watch"})),
    "logs": Tool(F("f", """follow tail= since= level= kind= name= all-namespaces flux-namespace=""",
                   go=True), follow=frozenset({"-f", "--follow"})),
    "check": Tool(F("", "pre components= extra-components= poll-interval=", go=True)),
    "tree": Tool(F("o:", "output= compact", go=True)),
    "stats": Tool(F("A", "all-namespaces", go=True)),
    "version": Tool(F("o:", "client output=", go=True)),
    "trace": Tool(F("", "kind= api-version=", go=True)),
}
# istioctl: the proxies' sync state and configuration, and the mesh's analysis (`proxy-config
# log --level` sets a proxy's log level: not listed)
_ISTIO_GLOBAL = F("i:n:c:", "istioNamespace= namespace= context= kubeconfig= vklog=", go=True)
_PROXY_CONFIG = Tool(F("o:", """output= fqdn= port= direction= subset= address= status= name=
    file= proxy-admin-port= type= verbose cluster=""", go=True))
ISTIOCTL: dict[str, Tool] = {
    **rows("proxy-status ps", Tool(F("r:o:", "revision= output=", go=True))),
    **rows("proxy-config pc", Tool(subcommands=rows(
        "all bootstrap cluster clusters endpoint endpoints listener listeners route routes "
        "secret secrets ecds rootca-compare", _PROXY_CONFIG))),
    "analyze": Tool(F("ALRo:", """all-namespaces use-kube= failure-threshold= output-threshold=
        list-analyzers recursive output= suppress= meshConfigFile= timeout= ignore-unknown
        color verbose revision=""", go=True)),
    "version": Tool(F("so:r:", "short output= remote revision=", go=True)),
}

# velero: what backups, restores and schedules exist and what each did (`backup describe
# --details`, `restore logs`); `backup download` writes a file, `create` and `delete` change
# the cluster: not listed
_VELERO_GLOBAL = F("n:", "namespace= kubeconfig= kubecontext= features= colorized=", go=True)
_VELERO_GET = Tool(F("o:l:", "output= selector= show-labels", go=True))
_VELERO_DESCRIBE = Tool(F("l:", "details selector= insecure-skip-tls-verify cacert= "
                              "volume-details", go=True))
_VELERO_LOGS = Tool(F("", "timeout= insecure-skip-tls-verify cacert=", go=True), max_operands=1)
VELERO: dict[str, Tool] = {
    **rows("backup restore", Tool(subcommands={"get": _VELERO_GET, "describe": _VELERO_DESCRIBE,
                                               "logs": _VELERO_LOGS})),
    "schedule": Tool(subcommands={"get": _VELERO_GET, "describe": _VELERO_DESCRIBE}),
    **rows("backup-location snapshot-location repo plugin",
           Tool(subcommands={"get": _VELERO_GET})),
    "version": Tool(F("", "client-only timeout=", go=True), max_operands=0),
}

KUBE: dict[str, Tool] = {
    "kubectl": Tool(GLOBAL, inherit=True, subcommands=KUBECTL),
    "oc": Tool(GLOBAL, inherit=True, subcommands=OC),
    "virtctl": Tool(GLOBAL, inherit=True, subcommands=_VIRTCTL),
    "helm": Tool(_HELM_GLOBAL, inherit=True, subcommands=HELM),
    "linkerd": Tool(_LINKERD_GLOBAL, inherit=True, subcommands=LINKERD),
    "argocd": Tool(_ARGOCD_GLOBAL, inherit=True, subcommands=ARGOCD),
    "flux": Tool(_FLUX_GLOBAL, inherit=True, subcommands=FLUX),
    "istioctl": Tool(_ISTIO_GLOBAL, inherit=True, subcommands=ISTIOCTL),
    "velero": Tool(_VELERO_GLOBAL, inherit=True, subcommands=VELERO),
    "linkerd-buoyant": Tool(F("", "context= kubeconfig= verbose", go=True), inherit=True,
                            subcommands={"check": Tool(F("", "pre", go=True)),
                                         "version": Tool(F("", "cli", go=True))}),
}
