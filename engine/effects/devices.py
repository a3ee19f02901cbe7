"""Device files that act when opened: the watchdog.

Opening /dev/watchdog (or /dev/watchdogN, /dev/char/10:130) arms it: unless it is fed, or
told to stop before it is closed, the host reboots. `cat /dev/watchdog` looks like a read.
This module says whether a path a command opens is one, including a word bash expands
(`/dev/watch*`, `/dev/{watchdog,null}`); the table's readers (`engine.effects.classify`,
`engine.effects.bash`, the sed scanner) ask it.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re

_ARMS = re.compile(r"^/dev/(?:char/10:130|watchdog\d*)$")
_WATCHDOGS = ("/dev/watchdog", "/dev/watchdog0", "/dev/watchdog12", "/dev/char/10:130")
_GLOBS = re.compile(r"[*?\[{]")
_BRACE = re.compile(r"\{([^{}]*)\}")


def arms(word: str) -> bool:
    """Whether opening the file `word` names arms the host's watchdog; a word bash expands
    (`/dev/watch*`, `/dev/{watchdog,null}`, `/dev/char/*`) when one of its expansions may."""
    if not word.startswith("/"):
        return False
    if _GLOBS.search(word) is None:
        return bool(_ARMS.match("/" + posixpath.normpath(word).lstrip("/")))
    return any(fnmatch.fnmatchcase(device, "/" + posixpath.normpath(pattern).lstrip("/"))
               for pattern in _braces(word) for device in _WATCHDOGS)


def arming(word: str) -> str:
    """How a refusal names the watchdog `word` opens (or may expand to)."""
    expands = "" if _GLOBS.search(word) is None else " (bash can expand it to /dev/watchdog)"
    return f"opening {word}{expands} arms the watchdog: the host reboots unless it is fed"


def _braces(word: str, limit: int = 64) -> list[str]:
    """`word`'s brace expansions, as bash makes them (at most `limit`: the rest, unexpanded,
    still match as the glob characters they hold)."""
    found = _BRACE.search(word)
    if found is None or "," not in found.group(1):
        return [word]
    out: list[str] = []
    for choice in found.group(1).split(","):
        out += _braces(word[:found.start()] + choice + word[found.end():], limit)
        if len(out) >= limit:
            return out[:limit] + [word]
    return out
