"""Files that act when opened or read: the watchdog, and the kernel's consuming logs.

Opening /dev/watchdog (or /dev/watchdogN, /dev/char/10:130) arms it: unless it is fed, or
told to stop before it is closed, the host reboots. Reading /proc/kmsg or a tracing
`trace_pipe` takes what it reads away from everyone else (the system logger's kernel
messages, as `dmesg -c` clears them; a tracer's events), and waits for more until stopped.
Reading /dev/port reads the machine's I/O ports, and /dev/mem (/dev/kmem) its physical
memory, device registers included: a device register can act when it is read (a status
cleared, a FIFO popped), and such reads have hung machines.
Reading another process's open file through /proc (`/proc/PID/fd/N`) reads its end of a pipe
or a socket: what it reads is taken from the process that was waiting for it (a service's
requests, a pipeline's data), as /proc/kmsg's messages are; a file it holds opens whatever it
is (a secret, one deleted since). The step's own (`/proc/self/fd/N`, `/dev/fd/N`) are its own.
`cat /dev/watchdog` and `cat /proc/kmsg` look like reads. This module says whether a path a
command opens is one, including a word bash expands (`/dev/watch*`, `/dev/{watchdog,null}`)
and a path that reaches the file another way: relative to a folder the command runs in
(`../../dev/watchdog`, `dev/watchdog`), through another root (`/proc/1/root/dev/watchdog`,
a host's /dev mounted at `/host/dev`). A path is judged by each of its tails, so its folder
does not have to be known. The table's readers (`engine.effects.classify`,
`engine.effects.bash`, the sed scanner) ask it.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re

_ARMS = re.compile(r"^/dev/(?:char/10:130|watchdog\d*)$")
_CONSUMES = re.compile(r"^/(?:proc/kmsg|sys/kernel/(?:debug/)?tracing/"
                       r"(?:instances/[^/]+/)?(?:per_cpu/cpu\d+/)?trace_pipe(?:_raw)?)$")
_HARDWARE = re.compile(r"^/dev/(?:port|k?mem|char/1:[124])$")
_ANOTHERS = re.compile(r"^/proc/(?!self/|thread-self/)[^/]+/(?:task/[^/]+/)?fd/[^/]+$")
_ANOTHERS_FILES = ("/proc/1/fd/0", "/proc/1/task/1/fd/0")
_WATCHDOGS = ("/dev/watchdog", "/dev/watchdog0", "/dev/watchdog12", "/dev/char/10:130")
_HARDWARE_FILES = ("/dev/port", "/dev/mem", "/dev/kmem", "/dev/char/1:1", "/dev/char/1:2",
                   "/dev/char/1:4")
_CONSUMERS = ("/proc/kmsg", "/sys/kernel/tracing/trace_pipe",
              "/sys/kernel/debug/tracing/trace_pipe",
              "/sys/kernel/tracing/per_cpu/cpu0/trace_pipe_raw")
_GLOBS = re.compile(r"[*?\[{]")
_BRACE = re.compile(r"\{([^{}]*)\}")


def arms(word: str) -> bool:
    """Whether opening the file `word` names acts (`arming`): arms the host's watchdog, or
    consumes a kernel log; a word bash expands (`/dev/watch*`, `/dev/{watchdog,null}`,
    `/dev/char/*`) when one of its expansions may."""
    return _which(word) is not None


def arming(word: str) -> str:
    """What opening `word` (or what it may expand to) does, said as a refusal."""
    found = _which(word)
    expands = "" if _GLOBS.search(word) is None or found is None else \
        f" (bash can expand it to {found})"
    if found is not None and _ARMS.match(found):
        return f"opening {word}{expands} arms the watchdog: the host reboots unless it is fed"
    if found is not None and _ANOTHERS.match(found):
        return (f"reading {word}{expands} reads another process's open file: from a pipe or "
                "a socket it takes what that process was waiting for, and a file it holds "
                "(a secret, one deleted since) is printed whatever it is")
    if found is not None and _HARDWARE.match(found):
        return (f"reading {word}{expands} reads the machine's I/O ports or physical memory, "
                "where a device register can act when read")
    return (f"reading {word}{expands} takes what it reads away from the system logger or "
            "tracer (as dmesg -c clears the ring buffer), and waits for more until stopped")


def _which(word: str) -> str | None:
    """The file that acts which `word` names, or one its expansions may name: `word` or any
    tail of it (`../../dev/watchdog`, `/proc/1/root/dev/watchdog`, `/host/dev/watchdog`)."""
    if "/" not in word:
        return None
    if _GLOBS.search(word) is None:
        for tail in _tails(word):
            if _ARMS.match(tail) or _CONSUMES.match(tail) or _HARDWARE.match(tail) or \
                    _ANOTHERS.match(tail):
                return tail
        return None
    for pattern in _braces(word):
        for tail in _tails(pattern):
            one = re.sub(r"\[[^\]/]*\]|[*?]", "1", tail)  # `/proc/*/fd/1`: any fd's number
            if _ANOTHERS.match(one):
                return one
            wanted = tail.split("/")
            for device in _WATCHDOGS + _CONSUMERS + _HARDWARE_FILES + _ANOTHERS_FILES:
                parts = device.split("/")  # a glob never matches across a `/`
                if len(parts) == len(wanted) and all(
                        fnmatch.fnmatchcase(a, b) for a, b in zip(parts, wanted, strict=True)):
                    return device
    return None


def listed(word: str) -> str | None:
    """The file that acts which a listing of the folder `word` names (`find /dev`, `ls -d
    /proc/*`, `find /`): a command handed what the listing printed opens it."""
    if _GLOBS.search(word) is not None:
        return _which(word)
    tails = _tails(word)  # the folder itself, or a /dev mounted elsewhere (/host/dev)
    for tail in [tails[0] if tails else "/", *(t for t in tails[1:] if t.startswith("/dev"))]:
        folder = tail.rstrip("/") + "/"
        found = next((device for device in _WATCHDOGS + _CONSUMERS + _HARDWARE_FILES
                      if device.startswith(folder)), None)
        if found is not None:
            return found
    return _which(word)


def _tails(word: str) -> list[str]:
    """`word` normalised, and each of its tails, as absolute paths (`a/../dev/x` ->
    `/dev/x`, `/x`)."""
    parts = [p for p in posixpath.normpath(word).split("/") if p not in ("", ".", "..")]
    return ["/" + "/".join(parts[k:]) for k in range(len(parts))]


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
