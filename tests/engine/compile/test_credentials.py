"""A credential written into a guide's command never reaches the plan: the line is a person's
step showing it masked (lint MF305 says where). It reached the plan's params, the approval's
text and, from there, the store, reports and the web UI."""

from __future__ import annotations

import pytest

from engine.compile.credentials import MASK, masked, written
from engine.plan import StepKind
from tests.support.compiling import compile_text, runs

GUIDE = """# DB check

## Check

```bash
mysql -h db-1 -u admin -p'Zq7/pl@ntS3' -e 'SHOW PROCESSLIST'
curl -s -H "Authorization: Bearer ghp_1234567890abcdefghijklmnopqrstuvwxyzAB" https://api.github.com/user
export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
PGPASSWORD=hunter2hunter2 psql -h db-1 -U app -c 'select 1'
```

Then check the replica with `redis-cli -h r -a Tr0ub4dor3 info replication`.
"""
SECRETS = ("Zq7/pl@ntS3", "ghp_1234567890abcdefghijklmnopqrstuvwxyzAB",
           "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "hunter2hunter2", "Tr0ub4dor3")


def test_a_written_credential_never_reaches_the_plan():
    plan = compile_text(GUIDE)
    dumped = plan.model_dump_json()
    for secret in SECRETS:
        assert secret not in dumped, secret
    assert not runs(plan)  # a person runs them, with their own credential
    scripts = "\n".join(str(s.params.get("script", "")) for s in plan.steps
                        if s.kind == StepKind.MANUAL)
    assert f"-p'{MASK}'" in scripts and f"PGPASSWORD={MASK} psql" in scripts
    assert not plan.inputs  # (the export was an input whose default was the key)


@pytest.mark.parametrize("line", [
    "mysql -u root -p", "mysql -p$MYSQL_PASSWORD", "PGPASSWORD=xxx psql",
    "curl -u admin:<password> http://x", "export TOKEN=$(vault read -field=token x)",
    "psql --password --port=5432", "AKIAXXXXXXXXXXXXXXXX", "docker login -u me --password-stdin",
    "podman run --user 2003:2003 img", "gsutil acl ch -u sa@p.iam.gserviceaccount.com:WRITE gs://b",
    "OPS_API_TOKEN=secure-token ansible-playbook site.yml", "redis-cli -a {{ secrets.redis }} ping",
])
def test_a_placeholder_or_a_flag_is_no_credential(line):
    assert written(line) == [] and masked(line) == line
    assert MASK not in compile_text(f"# G\n\n## Check\n\n```bash\n{line}\n```\n"
                                    ).model_dump_json()


@pytest.mark.parametrize(("line", "secret"), [
    ("psql postgresql://app:s3cretpw@db/app -c 'select 1'", "s3cretpw"),
    ("curl --user bob:hunter22 http://x", "hunter22"),
    ("clickhouse-client --password=Zq7plant", "Zq7plant"),
    ("curl -H 'Authorization: Basic YWRtaW46aHVudGVyMg==' http://x", "YWRtaW46aHVudGVyMg=="),
    ("export SLACK_TOKEN=xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
    # each way once more, in the other cases and places a line may say it
    ("PGPASSWORD=hunter2x psql -h db", "hunter2x"),
    ("sudo MYSQL_PWD='Zq7plant' mysqldump app", "Zq7plant"),
    ("vault login --token s.Abc123xyz", "s.Abc123xyz"),
    ("mariadb -h db -u root -pS3cretpw", "S3cretpw"),
    ("redis-cli -h cache -a S3cretpw ping", "S3cretpw"),
    ("curl -H 'AUTHORIZATION: bearer abcdefgh12' http://x", "abcdefgh12"),
    ("wget --user=ops --user ops:Zq7plant http://x", "Zq7plant"),
    ("echo ghp_abcdefghijklmnopqrstuv1234 | gh auth login --with-token",
     "ghp_abcdefghijklmnopqrstuv1234"),
    ("aws configure set aws_access_key_id AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP"),
])
def test_each_way_a_credential_is_written_is_found(line, secret):
    assert written(line) == [secret]
    assert secret not in masked(line)
