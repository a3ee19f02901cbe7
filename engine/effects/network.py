"""Read-only rows for network tools: ip, curl, wget, openssl, and nc's port probe (-z).

`ip` reads only with a show/list/get command on an object that has one; curl reads only as a
GET (or HEAD) of an http(s) URL that sends no body (-G data goes in the query string),
uploads nothing and writes no file; wget only when its download goes to stdout (`-O -`) or
nowhere (`--spider`). Neither asks a cloud's metadata service for the machine's credentials
(`169.254.169.254/latest/meta-data/iam/security-credentials/...`), nor Vault's API for a
secret (`/v1/secret/data/x`, `vault kv get`'s), nor Consul's or Nomad's for their ACL tokens,
nor what gated commands print by another door: a machine's user data, the Kubernetes API's
Secrets, RabbitMQ's users and parameters, etcd's secret keys, a JVM's heap dump.
Neither follows a redirect from a URL a value gives (curl `-L`, wget unless
`--max-redirect=0`): the server it names decides where the request goes. It does not cover
ssh (a wrapper: `engine.effects.classify`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from urllib.parse import unquote

from engine.effects.credentials import secret_key, whole_store
from engine.effects.options import Flags, NotRead, Parsed, parse
from engine.effects.rules import Rule, Tool
from engine.effects.words import Templated

F = Flags.of

# ip's objects that have a show command, with the shortest prefix ip accepts for each (ip takes
# any prefix and picks the first object, in its own order, that the word starts).
_IP_OBJECTS = {"address": "a", "addrlabel": "addrl", "maddress": "m", "route": "r",
               "rule": "ru", "neighbor": "n", "neighbour": "neighbou", "ntable": "nt",
               "link": "l", "netconf": "netc", "nexthop": "ne", "tuntap": "tu", "vrf": "vr",
               "tcpmetrics": "tc", "mroute": "mr", "stats": "st", "netns": "netn"}
_IP_READ = ("show", "list", "lst")
_IP_FLAGS = F("46sdhjpocrafn:NtbV", "stats statistics details human human-readable iec json "
              "pretty oneline resolve color=? brief all family= netns= numeric timestamp "
              "tshort br echo", one_dash=True,
              why={"-b": "runs the commands of a file", "-batch": "runs the commands of a file",
                   "-force": "runs the commands of a file"})


def ip(name: str, args: list[str]) -> None:
    """ip [OPTIONS] OBJECT [show|list|get ...]: anything after the command selects, never sets."""
    parsed = parse(args, _IP_FLAGS, name, stop_at_operand=True)
    if not parsed.operands:
        raise NotRead(f"{name} needs an object to show", cause="subcommand")
    word, rest = parsed.operands[0], parsed.operands[1:]
    obj = next((o for o, short in _IP_OBJECTS.items()
                if o.startswith(word) and word.startswith(short)), None)
    if obj is None:
        raise NotRead(f"`{name} {word}` is not an object ip can only show", cause="subcommand")
    if not rest:
        return  # `ip addr`: show
    command = rest[0]
    if obj == "netns" and command in ("list", "ls", "identify", "list-id", "pids"):
        return
    # ip takes any prefix of a command and picks the first that it starts, in its own order:
    # `ip link s` is `set` (set comes before show there), so one letter never reads
    if obj != "netns" and (len(command) >= 2 and any(r.startswith(command) for r in _IP_READ) or
                           (command == "get" and obj in ("route", "neighbor", "neighbour"))):
        return
    raise NotRead(f"`{name} {obj} {command}` changes the network (only show, list and get "
                  "read)", cause="subcommand")


# A scheme with one slash or none is a scheme to curl too (`gopher:/127.0.0.1:6379/_FLUSHALL`
# sends its path's bytes to Redis); `host:9090/x` is a host and its port. curl expands its
# globs (`{gopher,http}:/...`, `[g-g]opher:/`) before it reads the scheme: a glob there is
# not a known read. (In a word a value fills, `{{ inputs.host }}:9090`, `$(cmd):3300`, the
# braces are the template's or the shell's: the rendered word is judged again before it runs,
# and no typed value that may stand there holds a brace.)
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.-]*):(?!\d+(?:[/?#]|$))")
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]+\](?::\d+)?")
# with no scheme, curl picks the protocol from how the host begins (`dict.example.org`)
_GUESSED = ("ftp.", "dict.", "ldap.", "imap.", "smtp.", "pop3.")


# A cloud instance's metadata service hands whoever asks the machine's own credentials: AWS's
# (and Alibaba's) role keys, AWS's container credentials (any path on 169.254.170.2, or the
# URI its variables give), GCP's service account tokens, Azure's managed identity tokens.
_CLOUD_CREDENTIALS = re.compile(r"""(?ix)
    /meta-data/(?:iam/security|identity|ram/security)-credentials
  | /computemetadata/v1(?:beta1)?/.*service-accounts.*/(?:token|identity)
  | /metadata/identity/oauth2/token | /msi/token
  | (?:^|//|@)169\.254\.170\.2(?:[:/?#]|$)
  | \$\{?(?:AWS_CONTAINER_CREDENTIALS_(?:RELATIVE|FULL)_URI|IDENTITY_ENDPOINT|MSI_ENDPOINT)\b
""")


# ... and the script the machine boots with, and the values set for it: AWS's (and OpenStack's,
# Alibaba's) user data, GCP's custom metadata (a startup script; GKE's `kube-env`, the
# kubelet's bootstrap credentials), Azure's user data; what `aws ec2 describe-instance-attribute
# --attribute userData` and `gcloud compute instances describe` (gated) print. A listing of
# GCP's attribute names (`.../attributes/`, not recursive) still reads.
_BOOT_DATA = re.compile(r"""(?ix)
    /(?:latest|\d{4}-\d\d-\d\d)/user-data | /openstack/(?:latest|\d{4}-\d\d-\d\d)/user_data
  | /computemetadata/v1(?:beta1)?/(?:instance|project)/attributes/[^/?#]
  | /metadata/instance/compute/userdata
""")
_RECURSIVE = re.compile(r"[?&]recursive=(?:true|1|t)(?:&|#|$)", re.I)
_GCP_METADATA = re.compile(r"(?i)/computemetadata/v1(?:beta1)?(?:/(?:instance|project)"
                           r"(?:/attributes)?)?/?(?:[?#]|$)")

# The Kubernetes API's Secrets (the API server, or `kubectl proxy`'s port), as `kubectl get
# secret -o yaml` and `kubectl get --raw` (gated) print them.
_KUBE_SECRETS = re.compile(r"^/api/v1/(?:watch/)?(?:namespaces/[^/]+/)?secrets(?:/|$)")

# RabbitMQ's management API (its port 15672, or a host named for it): its definitions and its
# users hold the users' password hashes, its parameters a shovel's or federation's URI with its
# password, as `rabbitmqctl list_parameters` (gated) prints them.
_RABBITMQ_HOST = re.compile(r"rabbit|:1567[12]$", re.I)
_RABBITMQ_SECRETS = re.compile(r"^/api/(?:definitions|users|parameters|global-parameters)"
                               r"(?:/|$)")

# A JVM's heap dump (Spring Boot's actuator, `/actuator/heapdump`): every secret the program holds
# in memory, and the dump pauses it and is written to its disk first.
_HEAP_DUMP = re.compile(r"(?:^|/)heapdump/?$", re.I)

_GLOB = re.compile(r"\{([^{}]*)\}|\[([^\[\]]*)\]")


def _globbed(url: str, limit: int = 256) -> list[str] | None:
    """The URLs curl's globs in `url` expand to (`{a,b}`, `[s-t]`), or None past `limit`."""
    m = _GLOB.search(url)
    if m is None:
        return [url]
    if m.group(1) is not None:
        choices = m.group(1).split(",")
    else:
        first, _, last = m.group(2).partition(":")[0].partition("-")
        choices = [m.group(2)] if not last else [str(n) for n in range(
            int(first), min(int(last), int(first) + limit) + 1)] if first.isdigit() and \
            last.isdigit() else [chr(c) for c in range(ord(first[:1] or " "),
                                                        ord(last[:1]) + 1)][:limit + 1]
    out: list[str] = []
    for choice in choices:
        rest = _globbed(url[:m.start()] + choice + url[m.end():], limit)
        if rest is None or len(out) + len(rest) > limit:
            return None
        out += rest
    return out


# Docker's API (its socket, or TCP 2375/2376) answers a GET with what `docker inspect`, `docker
# cp`, `docker export` and `docker config inspect` print: a container's environment, its files,
# a swarm config's data (all gated as those commands). Listing containers still reads.
_DOCKER_API_SECRETS = re.compile(r"(?:^|/)(?:containers|images)/[^/?#]+/(?:json|archive|export|"
                                 r"get)\b|(?:^|/)configs(?:[/?#]|$)", re.I)
_DOCKER_PORT = re.compile(r"^(?:[a-z]+://)?[^/]*:237[56](?:[/?#]|$)", re.I)


# Vault's API (a host or a variable that names it, its port 8200, or an `X-Vault-` header) reads
# a secret's value (`/v1/secret/data/x`, `vault kv get`), mints one (`/v1/database/creds/r`) or
# looks up the caller's token at any path but the server's state, its mounts and policies and
# a listing of keys (`?list=true`, `vault kv list`). Consul's and Nomad's ACL tokens
# (`/v1/acl/tokens`) print each token's SecretID; Vault's default mounts are Vault's wherever.
# Consul's KV (`/v1/kv/KEY`) prints a key's value, which `consul kv get` judges the same way
# (`engine.effects.credentials.secret_key`): one named for a secret, or the whole store.
_VAULT_HOST = re.compile(r"vault|:8200$", re.I)
_VAULT_STATE = re.compile(r"""/v1/sys/(?:health|seal-status|leader|ha-status|metrics|
    version-history|replication(?:/[\w-]+)?/status|storage/raft/autopilot/state|
    (?:mounts|auth|policy|policies/acl)(?:/.*)?)""", re.X)
_TOKENS_OR_SECRETS = re.compile(r"^/v1/(?:acl/tokens?|secret|cubbyhole)(?:/|$)")


def _authority_and_path(url: str) -> tuple[str, str, str]:
    """The host (and port), the path (its `..` resolved, as a server does) and the query."""
    rest = url.split("://", 1)[-1]
    cut = min((rest.find(c) for c in "/?#" if c in rest), default=len(rest))
    authority, rest = rest[:cut].rsplit("@", 1)[-1], rest[cut:]
    path, _, query = rest.partition("?")
    path = posixpath.normpath("/" + path.split("#", 1)[0].lstrip("/"))
    return authority, path, query


def _secret_store_read(urls: list[str], headers: Sequence[str]) -> bool:
    vault_header = any(h.strip().lower().startswith("x-vault-") for h in headers)
    for url in urls:
        authority, path, query = _authority_and_path(url)
        if _TOKENS_OR_SECRETS.match(path):
            return True
        fields = {f.partition("=")[0].lower() for f in query.split("&")}
        if path == "/v1/kv" or path.startswith("/v1/kv/"):  # Consul's KV, as `consul kv get`
            key = unquote(path[len("/v1/kv"):].lstrip("/"))
            if "keys" not in fields and (secret_key(key) or
                                         "recurse" in fields and whole_store(key)):
                return True
        if path == "/v2/keys" or path.startswith("/v2/keys/"):  # etcd's, as `etcdctl get`
            key = unquote(path[len("/v2/keys"):])
            if secret_key(key) or _RECURSIVE.search("?" + query) and whole_store(key):
                return True
        listed = re.search(r"(?:^|&)list=(?:true|1|t)(?:&|$)", query, re.I)
        if (vault_header or _VAULT_HOST.search(authority)) and path.startswith("/v1/") and \
                not listed and not _VAULT_STATE.fullmatch(path):
            return True
    return False


def credentials_fetched(url: str, *, socket: bool = False,
                        headers: Sequence[str] = ()) -> str | None:
    """What a GET of `url` hands out, if it asks for credentials or what holds them: a cloud's
    metadata service for the machine's credentials, Docker's API (over its socket: `socket`,
    or TCP) for a container's environment or files, Vault's API (`headers`, as `Name: value`,
    may say it is Vault's) for a secret's value. None for any other URL."""
    # (as a server reads the path: decoded, its empty segments dropped)
    expanded = [re.sub(r"(?<!:)//+", "/", unquote(unquote(u))) for u in _globbed(url) or [url]]
    if any(_CLOUD_CREDENTIALS.search(u) for u in expanded):
        return ("asks the cloud's metadata service for this machine's credentials (a role's "
                "keys, a token)")
    if any(_BOOT_DATA.search(u) or _GCP_METADATA.search(u) and _RECURSIVE.search(u)
           for u in expanded):
        return ("asks the cloud's metadata service for the script this machine boots with or "
                "the values set for it (the secrets it is given among them)")
    if (socket or _DOCKER_PORT.match(url)) and any(
            _DOCKER_API_SECRETS.search(u) for u in expanded):
        return ("asks Docker's API what `docker inspect` or `docker cp` would print (a "
                "container's environment, its files)")
    if not socket and _secret_store_read(expanded, headers):
        return ("asks a secret store's API for a secret's value or a token (as `vault kv get` "
                "would print it)")
    for authority, path, _ in map(_authority_and_path, expanded):
        if _KUBE_SECRETS.match(path):
            return ("asks the Kubernetes API for Secrets (as `kubectl get secret -o yaml` "
                    "would print them)")
        if _RABBITMQ_HOST.search(authority) and _RABBITMQ_SECRETS.match(path):
            return ("asks RabbitMQ's management API for what holds its passwords (its users' "
                    "hashes, a shovel's URI)")
        if _HEAP_DUMP.search(path):
            return ("asks the program for a dump of its heap (every secret it holds in "
                    "memory; the dump pauses it and is written to its disk)")
    return None


def _no_credentials(url: str, name: str, socket: bool, headers: Sequence[str] = ()) -> None:
    said = credentials_fetched(url, socket=socket, headers=headers)
    if said is not None:
        raise NotRead(f"{name} {url} {said}: not a read to keep", cause="operand")


def _http_url(url: str, name: str) -> None:
    if _globbed(url) is None:
        raise NotRead(f"{name} expands the globs in {url} to more URLs than can be checked",
                      cause="operand")
    _no_credentials(url, name, False)
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("", "http", "https") and "://" not in url:
        head = url.split("/", 1)[0]
        if not isinstance(url, Templated) and ("{" in head or "[" in head) and \
                not _IPV6.fullmatch(head.strip()):
            raise NotRead(f"{name} expands the glob in {url} before it reads the scheme: an "
                          "expansion can name another protocol (only http and https GETs "
                          "read)", cause="operand")
        said = _SCHEME.match(url)
        if said is not None:
            scheme = said.group(1).lower()
        else:
            host = url.lstrip().split("/", 1)[0].rsplit("@", 1)[-1].lower()
            if host.startswith(_GUESSED):
                raise NotRead(f"{name} to {url} (no scheme) speaks {host.split('.')[0]}, not "
                              "HTTP: curl picks the protocol from the host's name (only http "
                              "and https GETs read)", cause="operand")
    if scheme not in ("", "http", "https"):
        raise NotRead(f"{name} to a {scheme}: URL can send anything to any service (only "
                      "http and https GETs read)", cause="operand")


_CURL_SEND = ("-d", "--data", "--data-raw", "--data-binary", "--data-ascii", "--data-urlencode")
_CURL = F("sSfLkviIGg46nNqZ#X:H:d:u:o:D:m:w:x:U:A:e:b:E:Y:y:r:z:", """silent show-error fail
    fail-with-body location location-trusted insecure verbose include head get globoff ipv4
    ipv6 netrc netrc-optional no-buffer disable parallel progress-bar no-progress-meter
    compressed basic digest negotiate ntlm anyauth path-as-is raw tr-encoding no-keepalive
    tlsv1.2 tlsv1.3 ssl-no-revoke retry-connrefused retry-all-errors http1.0 http1.1 http2
    http2-prior-knowledge http3 request= header= data= data-raw= data-binary= data-ascii=
    data-urlencode= user= output= dump-header= max-time= write-out= proxy= proxy-user=
    user-agent= referer= cookie= cert= cacert= capath= key= cert-type= key-type= pass=
    noproxy= oauth2-bearer= aws-sigv4= url= resolve= connect-to= interface= local-port=
    connect-timeout= retry= retry-delay= retry-max-time= max-redirs= tls-max= ciphers=
    keepalive-time= limit-rate= max-filesize= speed-limit= speed-time= unix-socket=
    abstract-unix-socket= netrc-file= parallel-max= range= time-cond= proxy-insecure socks5=
    socks5-hostname= proxy-header=""", why={
    "-o": "writes the response to a file", "--output": "writes the response to a file",
    "-O": "writes the response to a file", "--remote-name": "writes the response to a file",
    "--remote-name-all": "writes the responses to files", "-J": "writes a file",
    "-T": "uploads a file", "--upload-file": "uploads a file",
    "-F": "posts a form", "--form": "posts a form", "--form-string": "posts a form",
    "--json": "sends JSON (a POST)", "-K": "reads more flags from a file it cannot check",
    "--config": "reads more flags from a file it cannot check",
    "-c": "writes cookies to a file", "--cookie-jar": "writes cookies to a file",
    "--trace": "writes a file", "--trace-ascii": "writes a file", "--stderr": "writes a file",
    "--libcurl": "writes a file", "--etag-save": "writes a file", "--hsts": "writes a file",
    "--alt-svc": "writes a file", "--create-dirs": "creates directories",
    "-C": "resumes a download into a file", "--continue-at": "resumes a download into a file",
    **{flag: "sends a body unless -G puts it in the query string" for flag in _CURL_SEND}})
_STDOUT = ("-", "/dev/stdout", "/dev/null")


def _curl(p: Parsed, name: str) -> None:
    # data goes into the query string with -G: still a plain GET. A body sent with -X GET is
    # read by whatever serves the URL (HTTP gives a GET's body no meaning): not a known read
    get = p.has("-G", "--get")
    for flag, value in p.flags:
        value = value or ""
        if flag in ("-X", "--request") and value.upper() not in ("GET", "HEAD", "OPTIONS"):
            raise NotRead(f"{name} -X {value} is not a GET", cause="flag")
        if flag in _CURL_SEND:
            if not get:
                raise NotRead(f"{name}'s {flag} sends a body (a POST, or a GET whose body "
                              "the server interprets) unless -G puts it in the query string",
                              cause="flag")
            if value.split("=", 1)[0].find("@") >= 0 or value.startswith("@"):
                raise NotRead(f"{name}'s {flag} @FILE sends a file's content", cause="flag")
        if flag in ("-o", "--output", "-D", "--dump-header") and value not in _STDOUT:
            raise NotRead(f"{name}'s {flag} writes a file", cause="flag")
        if flag in ("-w", "--write-out") and "%output{" in value:
            raise NotRead(f"{name}'s {flag} %output{{}} writes a file", cause="flag")
        if flag in ("-w", "--write-out") and value.startswith("@"):
            # the format comes from a file (or stdin: `printf '%%output{F}' | curl -w @-`),
            # and a format's %output{FILE} writes FILE
            raise NotRead(f"{name}'s {flag} @FILE reads its format from a file, whose "
                          "%output{} can write any file", cause="flag")
        if flag in ("-H", "--header", "--proxy-header") and value.startswith("@"):
            # `-H @FILE` sends every line of FILE as a header: `-H @/etc/shadow` posts it
            raise NotRead(f"{name}'s {flag} @FILE sends a file's content as headers",
                          cause="flag")
        if flag == "--url":
            _http_url(value, name)
    socket = p.has("--unix-socket", "--abstract-unix-socket")
    for url in [*p.operands, *p.values("--url")]:
        _http_url(url, name)
        _no_credentials(url, name, socket, p.values("-H", "--header"))
    if p.has("-L", "--location", "--location-trusted") and p.values("--max-redirs") != ["0"]:
        _no_redirect_from_a_value([*p.operands, *p.values("--url")], f"{name} -L")


def _wget(p: Parsed, name: str) -> None:
    # wget opens every -O file before it fetches anything (--spider too, truncating it), and
    # the last -O is where the download goes: each one must be stdout or /dev/null
    documents = p.values("-O", "--output-document")
    written = next((v for v in documents if v not in _STDOUT), None)
    if written is not None:
        raise NotRead(f"{name} -O {written} writes (or truncates) that file", cause="operand")
    if not (documents or p.has("--spider")):
        raise NotRead(f"{name} writes the download to a file (only -O - or --spider read)",
                      cause="operand")
    for url in p.operands:
        _http_url(url, name)
        _no_credentials(url, name, False, p.values("--header"))
    if p.values("--max-redirect") != ["0"]:  # wget follows redirects unless told not to
        _no_redirect_from_a_value(p.operands, name)


def _no_redirect_from_a_value(urls: list[str], said: str) -> None:
    """A redirect is followed only from a URL the guide wrote: from one a value gives (an
    alert's label, `$URL`), the server it names, or an open redirect on the guide's own
    host, sends the request wherever it likes, this machine's network included."""
    given = next((url for url in urls if isinstance(url, Templated)), None)
    if given is not None:
        raise NotRead(f"{said} follows redirects from a URL a value gives ({given}): "
                      "its server can send the request anywhere", cause="flag")


_OPENSSL_SUBS = {
    "x509": Tool(F("", "noout text dates subject issuer enddate startdate serial fingerprint "
                   "hash subject_hash issuer_hash modulus pubkey ocsp_uri email purpose sha1 "
                   "sha256 md5 nocert in= inform= ext= checkend= nameopt= certopt=",
                   one_dash=True, why={"-out": "writes a file", "-signkey": "signs a "
                                       "certificate", "-req": "signs a certificate"})),
    "s_client": Tool(F("", "connect= servername= showcerts brief tls1_2 tls1_3 tls1_1 CAfile= "
                       "CApath= verify_return_error cert= key= starttls= proxy= quiet status "
                       "alpn= verify= ign_eof no_ign_eof crlf prexit", one_dash=True,
                       why={"-sess_out": "writes a file", "-keylogfile": "writes a file",
                            "-msgfile": "writes a file"})),
    "req": Tool(F("", "text noout in= inform= verify pubkey subject modulus nameopt=",
                  one_dash=True, why={"-new": "creates a request", "-x509": "creates a "
                                      "certificate", "-out": "writes a file"})),
    "verify": Tool(F("", "CAfile= CApath= untrusted= show_chain verbose purpose= crl_check "
                     "partial_chain no-CAfile no-CApath x509_strict", one_dash=True)),
    "crl": Tool(F("", "in= inform= noout text", one_dash=True,
                  why={"-out": "writes a file"})),
    "version": Tool(F("", "a b v o f p d e", one_dash=True)),
    "ciphers": Tool(F("", "v V s tls1_2 tls1_3 stdname", one_dash=True)),
    "asn1parse": Tool(F("", "in= inform= i dump", one_dash=True)),
}

# nc -z: connect to a port and close, sending nothing ("can the relay reach the smarthost");
# without -z it sends what stdin holds and prints what comes back (or listens, with -l)
def _port_probe(p: Parsed, name: str) -> None:
    if not p.has("-z"):
        raise NotRead(f"{name} without -z sends what it reads and prints the answer",
                      cause="flag")


_NC = Tool(F("zvnu46w:", why={"-l": "listens for a connection", "-e": "runs a program",
                               "-c": "runs a shell command", "-k": "keeps listening"}),
           max_operands=2, check=_port_probe)


NETWORK: dict[str, Rule] = {
    "ip": ip,
    "nc": _NC, "netcat": _NC,
    "curl": Tool(_CURL, check=_curl),
    "wget": Tool(F("qvSO:T:t:U:", "quiet verbose server-response output-document= spider "
                   "timeout= tries= user-agent= header= user= password= no-check-certificate "
                   "ca-certificate= no-verbose nv max-redirect=", one_dash=True,
                   why={"-o": "writes a log file", "--output-file": "writes a log file",
                        "-P": "writes into a directory", "--post-data": "sends data (a POST)",
                        "--post-file": "sends a file", "--method": "may not be a GET",
                        "-i": "reads URLs from a file"}), check=_wget),
    "openssl": Tool(subcommands=_OPENSSL_SUBS),
}
