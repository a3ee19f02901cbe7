"""The read-only table: every tool a command may run without an approval, in one mapping.

Rows live by domain (`host`, `network`, `services`, `kube`, `cloud`, `robot`); this module
joins them so that the compiler, the linter and the runtime judge commands by the same rows. A
tool that is not here is not read-only.
"""

from __future__ import annotations

from engine.effects.cloud import CLOUD
from engine.effects.host import APPENDABLE, HOST
from engine.effects.kube import KUBE
from engine.effects.network import NETWORK
from engine.effects.robot import ROBOT
from engine.effects.rules import Rule
from engine.effects.services import SERVICES

TABLE: dict[str, Rule] = {**HOST, **NETWORK, **SERVICES, **KUBE, **CLOUD, **ROBOT}

__all__ = ["APPENDABLE", "TABLE"]
