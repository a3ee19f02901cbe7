"""Trust, session 14: where a value sends a read, and a secret encoded twice.

1. A value picked the server a database or broker client sends its password to, and the
   line stayed an ungated read: `psql -h {{ inputs.host }}` (PGPASSWORD, a `*` line of
   ~/.pgpass: a server asks for it in clear), `mysql -h`, `mysqladmin -h` (~/.my.cnf),
   `redis-cli -h HOST -a PW` (AUTH in clear), `nats -s`, `mosquitto_sub -h`, `cqlsh HOST`,
   `openstack --os-auth-url`, a Kafka tool's `--bootstrap-server` with the properties holding
   its SASL password, `helm --repo URL --username`, and psql's DBNAME rendered to
   `postgresql://HOST/db`. curl and wget sent a URL's own credentials
   (`https://user:pw@{{ host }}/`, `?token=...`) to the host a value named.
2. A value picked the repository `git` reads (`git -C {{ inputs.dir }} status`,
   `--git-dir=`): its .git/config's core.fsmonitor runs a program on `git status`,
   diff.external on `git diff`. So did the folder a step runs in when a value gives it (`cd
   "$DIR" && git status`, `cd "$DIR" && terraform validate`, a step's templated `cwd`), and a
   relative configuration read there (`cd "$DIR" && haproxy -c -f haproxy.cfg`): the
   `-chdir` and `--kubeconfig` forms were gated already.
3. A secret in base64 inside base64 was left readable: a Kubernetes Secret's
   `.dockerconfigjson` (its `auth` is base64 of `user:password`, and the Secret's data is
   base64 of the JSON), or `base64` run twice.
"""

from __future__ import annotations

import base64
import json

import pytest

from engine.datasources import MASK, Redactor

# -- 3. base64 inside base64 --------------------------------------------------------------------

SECRET = 'Zq7/pl@nt"ed+K9 w'


@pytest.mark.parametrize("user", ["robot", "ab", "a", "admin1"])
def test_a_dockerconfigjson_secret_is_masked(user: str) -> None:
    auth = base64.b64encode(f"{user}:{SECRET}".encode()).decode()
    config = json.dumps({"auths": {"registry.example.com": {"username": user, "auth": auth}}})
    data = base64.b64encode(config.encode()).decode()  # `kubectl get secret -o jsonpath=...`
    masked = Redactor([SECRET]).redact(f".dockerconfigjson: {data}")
    assert MASK in masked
    before, _, after = masked.split()[-1].partition(MASK)
    # what is left either side decodes to no run of the password (a character or two at most)
    head = base64.b64decode(before[:len(before) // 4 * 4])
    inner = base64.b64decode(config[:len(config)].split('"auth": "')[1].split('"')[0])
    assert inner.endswith(SECRET.encode())
    assert SECRET.encode()[:6] not in head and len(after) < len(data) - len(before)


def test_base64_run_twice_is_masked() -> None:
    twice = base64.b64encode(base64.b64encode(SECRET.encode())).decode()
    assert Redactor([SECRET]).redact(f"token={twice}\n") == f"token={MASK}\n"
    wrapped = "\n".join(twice[i:i + 8] for i in range(0, len(twice), 8))  # `base64 -w 8`
    assert twice[8:16] not in Redactor([SECRET]).redact(wrapped)


def test_base64_of_other_text_stays() -> None:
    text = base64.b64encode(b"hello world, nothing secret here at all" * 3).decode()
    assert Redactor([SECRET, "another-secret-1234"]).redact(text) == text
