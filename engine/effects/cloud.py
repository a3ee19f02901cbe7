"""Read-only rows for cloud command lines: gcloud, gsutil, aws, az, openstack, nova and
terraform.

gcloud and aws name a command by a path of groups ending in a verb (`gcloud compute disks
list`, `aws ec2 describe-vpcs`); by their own design the verb decides the effect: `list`,
`describe` and `list-*`/`describe-*` operations read whatever flags follow them. So a command
reads when every word before the verb is a known group (or a known global flag) and the verb
is a reading one; the flags after the verb are the verb's. An unknown group, an unknown flag
before the verb, or any other verb is not read-only.
"""

from __future__ import annotations

import re

from engine.effects.credentials import secret_key, whole_store
from engine.effects.options import Flags, NotRead, parse
from engine.effects.rules import Rule, Tool, rows

F = Flags.of

_GCLOUD_GROUPS = frozenset("""
compute instances disks snapshots images zones regions operations networks subnets
firewall-rules routers routes addresses forwarding-rules backend-services target-pools
health-checks instance-groups managed unmanaged ssl-certificates url-maps target-http-proxies
target-https-proxies instance-templates machine-types container clusters node-pools sql
databases users backups projects config configurations auth iam service-accounts keys roles
logging logs sinks storage buckets objects dns managed-zones record-sets redis memcache pubsub
topics subscriptions kms keyrings secrets versions run services revisions functions app alpha
beta organizations billing accounts artifacts repositories docker builds monitoring channels
policies dashboards spanner bigtable filestore resource-manager folders os-login
""".split())
_GCLOUD_VERBS = frozenset("list describe get-iam-policy get-health get-server-config get-value "
                          "read info version".split())
# A CLI's HTTP log: each answer of the service whole, what a projection (`--format
# value(name)`, `--query`) leaves out of the output among it (a program's environment, a
# startup script), as `aws --debug` logs a session token and `kubectl -v=9` a Secret
_ANSWERS_LOGGED = "logs each answer of the service whole, what the output leaves out among it"
_GCLOUD_GLOBAL = F("q", """project= zone= region= account= configuration= format= filter=
    limit= sort-by= page-size= verbosity= impersonate-service-account= billing-project=
    flatten= quiet user-output-enabled""", why={"--log-http": _ANSWERS_LOGGED})


# What prints the environment a program is given, or the script a machine boots with (as
# `aws lambda get-function-configuration` does): a function's, a Cloud Run service's, revision's
# or job's containers', an App Engine version's, a VM's or an instance template's metadata (its
# startup-script), by describe or by a list in a --format that prints whole objects (`json`).
# Where each keeps it, as a --format projection names it: a projection whose every field is
# elsewhere (`value(status.url)`) reads, and so does a list in its own table.
_GCLOUD_ENVIRONMENTS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("functions",): ("environmentvariables", "serviceconfig.environmentvariables",
                                "buildconfig.environmentvariables"),
    ("run", "services"): ("spec.template.spec.containers",),
    ("run", "revisions"): ("spec.containers",),
    ("run", "jobs"): ("spec.template.spec.template.spec.containers",),
    ("app", "versions"): ("envvariables",),
    ("compute", "instances"): ("metadata.items",),
    ("compute", "instance-templates"): ("properties.metadata.items",),
}
_PROJECTION = re.compile(r"^\s*[\w-]+\s*\((.*)\)\s*$", re.S)


def _gcloud_environment_printed(path: list[str], args: list[str]) -> bool:
    *kind, verb = [w for w in path if w not in ("alpha", "beta")]
    places = _GCLOUD_ENVIRONMENTS.get(tuple(kind))
    if places is None or verb not in ("describe", "list"):
        return False
    formats = _values(args, "--format")
    if not formats:
        return verb == "describe"
    projection = _PROJECTION.match(formats[-1])
    if projection is None:  # a whole object (`yaml`, `json`, `flattened`)
        return True
    for field in re.split(r"[,\s]+", projection.group(1).lower()):
        field = re.sub(r"\[[^\]]*\]|\.?\w+\(|\)|:.*$", "", field).strip(".")
        if not field or "env" in field or "metadata" in field and "compute" in path or any(
                place == field or place.startswith(field + ".") or field.startswith(place)
                for place in places):
            return True
    return False


def gcloud(name: str, args: list[str]) -> None:
    """gcloud [GLOBAL FLAGS] GROUP... VERB [...]: the verb must read."""
    if any(w == "--log-http" or w.startswith("--log-http=") and w != "--log-http=false"
           for w in args):  # a global flag, wherever it is written
        raise NotRead(f"{name}'s --log-http {_ANSWERS_LOGGED}", cause="flag")
    i = 0
    path: list[str] = []
    while i < len(args):
        word = args[i]
        if word.startswith("-"):
            head = parse(args[i:], _GCLOUD_GLOBAL, name, stop_at_operand=True)
            used = len(args) - i - len(head.operands)
            i += max(used, 1)
            continue
        path.append(word)
        if word in _GCLOUD_VERBS or word.startswith(("list-", "describe-")):
            if _gcloud_environment_printed(path, args):
                raise NotRead(f"`{name} {' '.join(path)}` prints the environment (or startup "
                              "script) a program is given, its secrets among them: not a read "
                              "to keep (a --format projection of other fields reads)",
                              cause="subcommand")
            return
        if word not in _GCLOUD_GROUPS:
            raise NotRead(f"`{name} {' '.join(path)}` is not a reading gcloud command (only "
                          "list, describe, get-value, ... read)", cause="subcommand")
        i += 1
    raise NotRead(f"`{name} {' '.join(path)}` names no reading verb", cause="subcommand")


_AWS_DEBUG = "logs each request's headers, the session token (X-Amz-Security-Token) among them"
_AWS_GLOBAL = F("", """region= profile= output= query= endpoint-url= no-paginate
    no-verify-ssl no-cli-pager color= cli-read-timeout= cli-connect-timeout= no-sign-request
    ca-bundle= cli-binary-format=""", posix=True, why={"--debug": _AWS_DEBUG})


# get-* operations that only print what they read: not every get-* does (`s3api get-object`,
# `apigateway get-export` and `glacier get-job-output` write the OUTFILE they are given)
_AWS_GETS = frozenset("""get-caller-identity get-console-output get-console-screenshot
    get-metric-statistics get-metric-data get-log-events get-query-results get-function
    get-function-configuration get-role get-policy get-bucket-location get-bucket-policy
    get-bucket-versioning get-queue-attributes get-queue-url get-health-check-status
    get-hosted-zone get-cost-and-usage get-command-invocation get-parameter get-parameters
    get-parameters-by-path get-instance-profile get-user get-group get-account-summary
    get-access-key-last-used get-trail-status lookup-events filter-log-events""".split())
# (of them, a parameter read --with-decryption hands out a secret; an audit trail's or a log
# group's search, `cloudtrail lookup-events`, `logs filter-log-events`, only prints what
# happened)

# Operations that print a program's environment, or the script a machine boots with: a
# Lambda's, a task definition's containers', an instance's user data (the secrets a service is
# given among them, as `docker inspect` prints a container's). Listing and describing print
# them as a get does: every function's configuration (`lambda list-functions`), a Batch job
# definition's container, an App Runner service's runtime variables, an Elastic Beanstalk
# environment's properties, a launch configuration's or a spot request's user data, a task's
# overrides. Each maps to the fields (lower case) that hold it, then those that are it.
_AWS_ENVIRONMENTS: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("lambda", "get-function"): (("configuration",), ("environment",)),
    ("lambda", "get-function-configuration"): ((), ("environment",)),
    ("lambda", "list-functions"): (("functions",), ("environment",)),
    ("lambda", "list-versions-by-function"): (("versions",), ("environment",)),
    ("ecs", "describe-task-definition"): (("taskdefinition", "containerdefinitions"),
                                          ("environment",)),
    ("ecs", "describe-tasks"): (("tasks", "overrides", "containeroverrides"), ("environment",)),
    ("batch", "describe-job-definitions"): (("jobdefinitions", "containerproperties",
                                             "ecsproperties", "eksproperties"),
                                            ("environment",)),
    ("apprunner", "describe-service"): (("service", "sourceconfiguration", "imagerepository",
                                         "imageconfiguration", "coderepository",
                                         "codeconfiguration", "codeconfigurationvalues"),
                                        ("runtimeenvironmentvariables",)),
    ("elasticbeanstalk", "describe-configuration-settings"): (("configurationsettings",),
                                                              ("optionsettings",)),
    ("ec2", "describe-instance-attribute"): ((), ("userdata",)),
    ("ec2", "describe-launch-template-versions"): (("launchtemplateversions",
                                                    "launchtemplatedata"), ("userdata",)),
    ("autoscaling", "describe-launch-configurations"): (("launchconfigurations",),
                                                        ("userdata",)),
    ("ec2", "describe-spot-instance-requests"): (("spotinstancerequests",
                                                  "launchspecification"), ("userdata",)),
    ("ec2", "describe-spot-fleet-requests"): (("spotfleetrequestconfigs",
                                               "spotfleetrequestconfig",
                                               "launchspecifications"), ("userdata",)),
    # a SageMaker job's or model's containers' environment
    **{("sagemaker", f"describe-{job}-job"): ((), ("environment",))
       for job in ("training", "processing", "transform")},
    ("sagemaker", "describe-model"): (("primarycontainer", "containers"), ("environment",)),
}
# Operations whose answer holds a secret the service keeps, in clear: a Cognito app client's
# secret, an Amplify app's or branch's basic-auth login and variables, AppSync's API keys (a
# key's id is the key). Mapped as `_AWS_ENVIRONMENTS` is.
_AWS_SECRETS_SHOWN: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("cognito-idp", "describe-user-pool-client"): (("userpoolclient",), ("clientsecret",)),
    ("amplify", "list-apps"): (("apps", "autobranchcreationconfig"),
                               ("basicauthcredentials", "environmentvariables")),
    ("amplify", "list-branches"): (("branches",),
                                   ("basicauthcredentials", "environmentvariables")),
    ("appsync", "list-api-keys"): (("apikeys",), ("id",)),
}
_FILTER = re.compile(r"\[\?[^\]]*\]")
_LAST_STEP = re.compile(r"[.|]")
_NAME_IN_QUERY = re.compile(r"[a-z0-9_]+")


def _values(args: list[str], flag: str) -> list[str]:
    """Each value `flag` is given in `args` (`--flag V` or `--flag=V`)."""
    return [args[k + 1] if word == flag else word[len(flag) + 1:]
            for k, word in enumerate(args)
            if word == flag and k + 1 < len(args) or word.startswith(flag + "=")]


def _printed(where: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]],
             service: str, op: str, args: list[str]) -> bool:
    """Whether `aws SERVICE OP args` prints what `where` says the operation holds: with no
    --query, or one that names it anywhere, or ends on what holds it, or on whole objects
    (`@`, `[*]`): `Functions[].FunctionName` picks other fields, `Functions[0]` does not."""
    spec = where.get((service, op))
    if spec is None or op == "describe-instance-attribute" and \
            "userdata" not in [v.lower() for v in _values(args, "--attribute")]:
        return False
    holders, secrets = spec
    for query in (q.lower() for q in _values(args, "--query")):
        names = _NAME_IN_QUERY.findall(query)
        last = [w for w in _NAME_IN_QUERY.findall(_LAST_STEP.split(_FILTER.sub("", query))[-1])
                if not w.isdigit()]  # (`| [0]` is a whole object)
        if any(w in secrets for w in names) or not last or any(w in holders for w in last):
            return True
    return not _values(args, "--query")


def aws(name: str, args: list[str]) -> None:
    """aws [GLOBAL FLAGS] SERVICE OPERATION [...]: describe-*, list-*, the get-* that only
    print, s3 ls and the waiters (`aws ec2 wait instance-stopped`: it polls describe-*) read."""
    head = parse(args, _AWS_GLOBAL, name, stop_at_operand=True)
    ops = head.operands
    if len(ops) < 2:
        raise NotRead(f"{name} names no operation", cause="subcommand")
    service, op = ops[0], ops[1]
    if "--debug" in args:  # a global flag, wherever it is written
        raise NotRead(f"{name}'s --debug {_AWS_DEBUG}", cause="flag")
    if "--with-decryption" in args:
        raise NotRead(f"`{name} {service} {op}` hands out a secret", cause="subcommand")
    if _printed(_AWS_ENVIRONMENTS, service, op, args):
        raise NotRead(f"`{name} {service} {op}` prints the environment (or user data) a "
                      "program is given, its secrets among them: not a read to keep (a "
                      "--query that picks other fields reads)", cause="subcommand")
    if service == "ssm" and (named := _secret_parameter(op, args)) is not None:
        raise NotRead(f"`{name} {service} {op}` {named}", cause="operand")
    if _printed(_AWS_SECRETS_SHOWN, service, op, args):
        raise NotRead(f"`{name} {service} {op}` prints a secret the service keeps (a client's "
                      "secret, a login, an API key): not a read to keep (a --query that picks "
                      "other fields reads)", cause="subcommand")
    if op.startswith(("describe-", "list-")) or op in _AWS_GETS or op == "wait" or \
            (service == "s3" and op == "ls"):
        return
    raise NotRead(f"`{name} {service} {op}` is not a reading operation (describe-*, list-*, "
                  "a get-* that only prints, wait)", cause="subcommand")


_SSM_READS = frozenset("get-parameter get-parameters get-parameters-by-path".split())


def _secret_parameter(op: str, args: list[str]) -> str | None:
    """What reading Parameter Store prints that it should not, or None: a parameter named for
    a secret (`/prod/db/password`: a String one is in clear, without --with-decryption), or
    the whole store (`get-parameters-by-path --path / --recursive`), as Consul's KV is judged."""
    if op not in _SSM_READS:
        return None
    listed = [w for k, w in enumerate(args) if k and not w.startswith("-") and
              _follows(args, k, "--names")]
    for key in [*_values(args, "--name"), *listed, *_values(args, "--path")]:
        if secret_key(key):
            return (f"prints the value of {key}, a parameter named for a secret (a password, a "
                    "token, a key): not a read to keep")
    if any(whole_store(path) for path in _values(args, "--path")) and "--recursive" in args:
        return ("prints every parameter the store holds, the secrets kept there among them "
                "(name a path): not a read to keep")
    return None


def _follows(args: list[str], k: int, flag: str) -> bool:
    """Whether `args[k]` is one of the values `flag` takes (`--names a b c`)."""
    while k > 0 and not args[k - 1].startswith("-"):
        k -= 1
    return k > 0 and args[k - 1] == flag


_AZ_VERBS = frozenset("show list exists version".split())
# get-* verbs that only print what they read (`az vmss get-instance-view`, `az aks
# get-upgrades`); not every get-* does: `aks get-credentials` writes the kubeconfig, `account
# get-access-token` prints a token
_AZ_GETS = frozenset("get-instance-view get-upgrades get-versions get-os-options "
                     "get-boot-log".split())
# Verbs that change something: a group's name is never one (`az vm delete list` deletes)
_AZ_ACTIONS = frozenset("""create delete update set start stop restart remove add failover
    scale invoke run upgrade reset purge import export login logout deallocate redeploy
    reimage move rotate renew regenerate revoke assign grant enable disable attach detach
    apply deploy cancel swap sync""".split())

# what holds a secret's value: `keyvault secret show`, `storage account keys list`,
# `acr credential show`, `cosmosdb keys list`, `redis list-keys`; an app's settings (`webapp
# config appsettings list`: its environment, in clear) and its publishing profiles (their
# deployment password)
_AZ_SECRETS = frozenset("secret secrets keys credential credentials connection-string "
                        "connection-strings appsettings list-publishing-profiles "
                        "list-publishing-credentials".split())
# ... and a service's access key, named in the singular (`signalr key list`, `webpubsub key
# show`, `search admin-key show`, `communication list-key`, `eventgrid topic key list`): Key
# Vault's keys are not (their material never leaves the vault: `keyvault key show` prints the
# public part). What holds a key or a secret under another name: an IoT hub's shared access
# policies (their keys), an app's authentication settings (its identity provider's client
# secret).
_AZ_SECRET_PATHS = (("iot", "hub", "policy"), ("webapp", "auth"), ("functionapp", "auth"))
# What shows and lists print a program's environment in (as `webapp config appsettings list`,
# gated, does): a Container App's, its jobs' and revisions' containers, a container group's
# (ACI: a secure variable's value is not shown, an ordinary one's is), a Spring app's
# deployment. Mapped as `_AWS_ENVIRONMENTS` is, by the groups before the verb.
_AZ_ENVIRONMENTS: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    (group, verb): spec
    for group, spec in {
        "containerapp": (("properties", "template", "containers"), ("env",)),
        "containerapp job": (("properties", "template", "containers"), ("env",)),
        "containerapp revision": (("properties", "template", "containers"), ("env",)),
        "container": (("containers", "properties"), ("environmentvariables",)),
        "spring app deployment": (("properties", "deploymentsettings"),
                                  ("environmentvariables",)),
    }.items()
    for verb in ("show", "list")
}


def _az_key(path: list[str]) -> bool:
    """Whether an az command's groups or verb name an access key or what holds one."""
    named = any(w == "key" or w.endswith("-key") for w in path) and path[0] != "keyvault"
    return named or any(tuple(path[:len(p)]) == p for p in _AZ_SECRET_PATHS)


def az(name: str, args: list[str]) -> None:
    """az GROUP... VERB [--flags]: the Azure CLI names a command by its groups, then its verb,
    then the verb's flags; `show`, `list`, `show-*`/`list-*` and `exists` read
    (`az storage account show`), any other verb may change something
    (`az storage account failover`). A flag before the verb is not read."""
    path: list[str] = []
    for word in args:
        if word.startswith("-"):
            break
        path.append(word)
    if not path or (args and args[0].startswith("-")):
        raise NotRead(f"{name} names no command", cause="subcommand")
    if "--debug" in args:  # a global flag, wherever it is written
        raise NotRead(f"{name}'s --debug {_ANSWERS_LOGGED}", cause="flag")
    verb = path[-1]
    if _AZ_SECRETS.intersection(path) or _az_key(path) or verb.endswith((
            "-keys", "-connection-strings", "-connection-string", "-secrets")):
        raise NotRead(f"`{name} {' '.join(path)}` prints a secret, a key or a credential: "
                      "not a read to keep", cause="subcommand")
    if _printed(_AZ_ENVIRONMENTS, " ".join(path[:-1]), verb, args):
        raise NotRead(f"`{name} {' '.join(path)}` prints the environment a program is given, "
                      "its secrets among them: not a read to keep (a --query that picks other "
                      "fields reads)", cause="subcommand")
    if (verb in _AZ_VERBS or verb in _AZ_GETS or verb.startswith(("show-", "list-"))) and \
            not _AZ_ACTIONS.intersection(path[:-1]):
        return
    raise NotRead(f"`{name} {' '.join(path)}` is not a reading az command (only show, list, "
                  "show-*, list-*, exists and the get-* that only print read)",
                  cause="subcommand")


_GSUTIL_SUBS = {
    "ls": Tool(F("abdehlLp:rR")), "cat": Tool(F("hr:")), "stat": Tool(),
    "du": Tool(F("0ace:hsX:")), "hash": Tool(F("chm")), "version": Tool(F("l")),
}

# terraform: what the state and configuration say. `show -json`, `output -json`/`-raw` and
# `state pull` print sensitive values in clear, and `plan` takes the state's lock (and `-out`
# writes a file): none is listed.
_TF = F("", "chdir=", one_dash=True, go=True)
_CLEAR = "prints sensitive values in clear"
_TF_STATE = F("", "state= no-color", one_dash=True, go=True,
              why={"-json": _CLEAR, "-raw": _CLEAR})
_TERRAFORM_SUBS: dict[str, Tool] = {
    "show": Tool(F("", "no-color", one_dash=True, go=True, why={"-json": _CLEAR}),
                 max_operands=1),
    "output": Tool(_TF_STATE, max_operands=1),
    "state": Tool(subcommands={"list": Tool(_TF_STATE | F("", "id=", one_dash=True, go=True)),
                               "show": Tool(_TF_STATE, max_operands=1)}),
    "validate": Tool(F("", "no-color json", one_dash=True, go=True), max_operands=0),
    "version": Tool(F("", "json", one_dash=True, go=True), max_operands=0),
    "providers": Tool(max_operands=0),
    "workspace": Tool(subcommands={"list": Tool(max_operands=0), "show": Tool(max_operands=0)}),
}


# openstack: OBJECT... VERB, as az; `list` and `show` read. Credentials, tokens and secrets are
# never listed (`openstack ec2 credentials list`, `credential show` print secret keys), nor is
# a console's URL (it carries a token), nor --debug (it prints each request's headers).
_OPENSTACK_OBJECTS = frozenset("""
server compute service hypervisor stats volume type port network subnet router floating ip
agent image flavor project user host aggregate availability zone stack resource event
loadbalancer listener pool member amphora quota limits usage console log security group rule
keypair endpoint catalog role assignment domain snapshot backup share migration baremetal node
allocation resource provider inventory trait extension versions module coe cluster recordset
action instance segment address scope object container server-group
""".split())
_OPENSTACK_GLOBAL = F("q", """os-cloud= os-region-name= os-project-name= os-project-id=
    os-project-domain-name= os-user-domain-name= os-auth-url= os-interface= os-endpoint-type=
    os-compute-api-version= os-volume-api-version= os-identity-api-version= os-network-api-version=
    os-image-api-version= os-placement-api-version= insecure quiet verbose""",
                      why={"--debug": "prints each request's headers, its token among them"})


def openstack(name: str, args: list[str]) -> None:
    """openstack [GLOBAL FLAGS] OBJECT... list|show [...]: the verb must read."""
    head = parse(args, _OPENSTACK_GLOBAL, name, stop_at_operand=True)
    path: list[str] = []
    for word in head.operands:
        path.append(word)
        if word in ("list", "show") and len(path) > 1:
            return
        if word not in _OPENSTACK_OBJECTS:
            raise NotRead(f"`{name} {' '.join(path)}` is not a reading openstack command (only "
                          "OBJECT list and OBJECT show read)", cause="subcommand")
    raise NotRead(f"`{name} {' '.join(path)}` names no reading verb", cause="subcommand")


# nova, the compute service's own client: its *-list and show commands
_NOVA_READ = Tool(any_args=True)
_NOVA_SUBS = rows("""show list service-list hypervisor-list hypervisor-show hypervisor-servers
    hypervisor-stats instance-action-list instance-action migration-list aggregate-list
    aggregate-show flavor-list flavor-show availability-zone-list server-group-list
    server-group-get interface-list version-list quota-show limits usage usage-list""",
                  _NOVA_READ)
_NOVA = Tool(F("", """os-cloud= os-region-name= os-compute-api-version= os-project-name=
    os-auth-url= insecure"""), subcommands=_NOVA_SUBS)

CLOUD: dict[str, Rule] = {
    "terraform": Tool(_TF, subcommands=_TERRAFORM_SUBS),
    "gcloud": gcloud,
    "aws": aws,
    "az": az,
    "gsutil": Tool(F("mqDdu:o:h:", posix=True), subcommands=_GSUTIL_SUBS),
    "openstack": openstack,
    "nova": _NOVA,
}
