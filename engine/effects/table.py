"""The read-only table: every tool a command may run without an approval, in one mapping.

Rows live by domain (`host`, `network`, `services`, `daemons`, `kube`, `cloud`, `robot`); this
module joins them so that the compiler, the linter and the runtime judge commands by the same
rows. A tool that is not here is not read-only.

It also holds the environment a command may be given (`ETCDCTL_API=3 etcdctl ...`,
`LANG=C df -h`) and stay read-only: variables that only select a configuration, a locale or
an output format, as a flag the table already allows would (`--kubeconfig`, `--profile`,
`--endpoints`), each with a literal value the guide wrote. Any other variable (`LD_PRELOAD`,
`PATH`, `BASH_ENV`, `GIT_SSH_COMMAND`, `KUBE_EDITOR`) can change what a program runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from engine.effects.cloud import CLOUD
from engine.effects.daemons import DAEMONS
from engine.effects.host import APPENDABLE, HOST
from engine.effects.kube import KUBE
from engine.effects.network import NETWORK
from engine.effects.robot import ROBOT
from engine.effects.rules import Rule
from engine.effects.services import SERVICES

TABLE: dict[str, Rule] = {**HOST, **NETWORK, **SERVICES, **DAEMONS, **KUBE, **CLOUD, **ROBOT}

_ANY = None
_NO_PAGER = frozenset({"", "cat"})  # a pager runs a program: only none, or one that prints
# name -> the literal values that keep it a setting (`_ANY`: any literal value)
SETTINGS_ENV: Mapping[str, frozenset[str] | None] = {
    **dict.fromkeys("""
        LANG LANGUAGE TZ NO_COLOR TERM COLUMNS LINES
        KUBECONFIG
        ETCDCTL_API ETCDCTL_ENDPOINTS ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY
        ETCDCTL_WRITE_OUT ETCDCTL_DIAL_TIMEOUT ETCDCTL_COMMAND_TIMEOUT
        AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_DEFAULT_OUTPUT
        CLOUDSDK_CORE_PROJECT CLOUDSDK_COMPUTE_REGION CLOUDSDK_COMPUTE_ZONE
        PGHOST PGPORT PGDATABASE PGUSER
        VAULT_ADDR VAULT_NAMESPACE VAULT_FORMAT CONSUL_HTTP_ADDR
        SYSTEMD_COLORS
        """.split(), _ANY),
    **dict.fromkeys("PAGER SYSTEMD_PAGER GIT_PAGER AWS_PAGER".split(), _NO_PAGER),
}
_LOCALE = re.compile(r"LC_[A-Z]+")  # LC_ALL, LC_MESSAGES, LC_TIME ... (LOCPATH is not one)


def sets_only_a_setting(name: str, value: str) -> bool:
    """Whether `name=value` before a command only selects a configuration, a locale or an
    output format; `value` is the literal the guide wrote (a templated or expanded value
    never is one: the caller asks only about literals)."""
    if _LOCALE.fullmatch(name):
        return True
    if name not in SETTINGS_ENV:
        return False
    allowed = SETTINGS_ENV[name]
    return allowed is None or value in allowed


__all__ = ["APPENDABLE", "SETTINGS_ENV", "TABLE", "sets_only_a_setting"]
