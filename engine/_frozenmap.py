"""FrozenMap: an immutable mapping whose updates share structure with the old version.

The scheduler's run state maps every step (and edge) to its status; an event changes one or
two entries, and copying a 1,000-entry dict per event would make a run quadratic. This module
owns that data structure and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_BITS = 5
_WIDTH = 1 << _BITS
_MASK = _WIDTH - 1


class FrozenMap(Mapping[K, V]):
    """An immutable mapping over a fixed key set; `set_many` returns a new map sharing structure.

    Values live in a 32-way radix trie indexed by each key's position (fixed at creation), so
    replacing one value copies one path of small tuples: O(log32 n), about 64 slots for a
    1,000-key map, where copying a dict would be O(n). Reading is a dict lookup plus a short
    walk. Iteration follows the keys' creation order.
    """

    __slots__ = ("_keys", "_pos", "_root", "_shift")

    def __init__(self, items: Iterable[tuple[K, V]] = ()) -> None:
        pairs = list(items)
        self._init([k for k, _ in pairs], [v for _, v in pairs])

    @classmethod
    def from_lists(cls, keys: list[K], values: list[V]) -> FrozenMap[K, V]:
        new = cls.__new__(cls)
        new._init(keys, values)
        return new

    def _init(self, keys: list[K], values: list[V]) -> None:
        self._keys: tuple[K, ...] = tuple(keys)
        self._pos: dict[K, int] = dict(zip(keys, range(len(keys))))
        if len(self._pos) != len(self._keys) or len(values) != len(keys):
            raise ValueError("FrozenMap needs unique keys, one value each")
        self._root, self._shift = _build(values)

    def __getitem__(self, key: K) -> V:
        pos = self._pos[key]
        node, shift = self._root, self._shift
        while shift:
            node = node[(pos >> shift) & _MASK]
            shift -= _BITS
        value: V = node[pos & _MASK]
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._pos

    def __iter__(self) -> Iterator[K]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def values_in_order(self) -> list[V]:
        out: list[Any] = [self._root]
        for _ in range(self._shift // _BITS):
            out = [child for node in out for child in node]
        return [v for leaf in out for v in leaf]

    def items(self) -> Iterable[tuple[K, V]]:  # type: ignore[override]
        return list(zip(self._keys, self.values_in_order(), strict=True))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap) and other._keys == self._keys:
            return other._root is self._root or self.values_in_order() == other.values_in_order()
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FrozenMap({dict(self.items())!r})"

    def set_many(self, changes: Mapping[K, V]) -> FrozenMap[K, V]:
        """A new map with `changes` applied; every key must already be in the map."""
        if not changes:
            return self
        new = FrozenMap.__new__(FrozenMap)
        new._keys, new._pos, new._shift = self._keys, self._pos, self._shift
        if len(changes) * 8 > len(self._keys):  # most of it changes: rebuilding is cheaper
            values = self.values_in_order()
            for key, value in changes.items():
                values[self._pos[key]] = value
            new._root, _ = _build(values)
        else:
            root = self._root
            for key, value in changes.items():
                root = _assoc(root, self._shift, self._pos[key], value)
            new._root = root
        return new


def _build(values: list[Any]) -> tuple[tuple[Any, ...], int]:
    nodes = [tuple(values[i:i + _WIDTH]) for i in range(0, len(values), _WIDTH)] or [()]
    shift = 0
    while len(nodes) > 1:
        nodes = [tuple(nodes[i:i + _WIDTH]) for i in range(0, len(nodes), _WIDTH)]
        shift += _BITS
    return nodes[0], shift


def _assoc(node: tuple[Any, ...], shift: int, pos: int, value: Any) -> tuple[Any, ...]:
    i = (pos >> shift) & _MASK
    child = value if shift == 0 else _assoc(node[i], shift - _BITS, pos, value)
    return node[:i] + (child,) + node[i + 1:]


# -- state -----------------------------------------------------------------------------------
