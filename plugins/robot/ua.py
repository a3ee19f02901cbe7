"""OPC UA through asyncua: the only module that imports it, and where its errors are translated.

`CellClient` talks to a cell controller: read variables, wait for a value through a real
subscription, call methods, read sample blocks. `serve_cell` publishes an object with
variables and methods (the simulated cell uses it). Every asyncua, socket and timeout error
becomes `CellError` (a StepFailed) naming the endpoint and what to check.

Nodes live under Objects/<ns>:Cell; names are browse names in the namespace `NAMESPACE`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Self

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.methods import uamethod
from asyncua.server.server import Server
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from engine.errors import StepFailed

NAMESPACE = "urn:mendflow:robot-cell"
OBJECT = "Cell"

for _name, _level in (("asyncua", logging.WARNING), ("asyncua.client.client", logging.ERROR),
                      ("asyncua.server.address_space", logging.CRITICAL)):
    logging.getLogger(_name).setLevel(_level)  # a refused call is answered, not logged


class CellError(StepFailed):
    """The cell could not be reached, stopped answering, or refused a call."""


_VARIANTS = {bool: ua.VariantType.Boolean, int: ua.VariantType.Int64,
             float: ua.VariantType.Double, str: ua.VariantType.String}


def endpoint_url(source: str) -> str:
    """`opcua://host:port` (as guides write it) -> `opc.tcp://host:port/`."""
    if source.startswith("opcua://"):
        return "opc.tcp://" + source[len("opcua://"):].rstrip("/") + "/"
    if source.startswith("opc.tcp://"):
        return source
    raise CellError(f"not an OPC UA endpoint: {source!r}", retryable=False,
                    hint="Write it as opcua://HOST:PORT")


class CellClient:
    """One session with a cell controller. Use as `async with CellClient(url) as cell:`."""

    def __init__(self, source: str, *, timeout_s: float = 2.0) -> None:
        self.url = endpoint_url(source)
        self.timeout_s = timeout_s
        self._client = Client(self.url, timeout=timeout_s)
        self._client.session_timeout = max(int(timeout_s * 4000), 4000)
        self._ns: int | None = None
        self._nodes: dict[str, Any] = {}

    async def __aenter__(self) -> Self:
        async with self._translate("connect to"):
            await asyncio.wait_for(self._client.connect(), self.timeout_s * 2)
            try:
                self._ns = await self._client.get_namespace_index(NAMESPACE)
                self._cell = await self._client.nodes.objects.get_child(
                    f"{self._ns}:{OBJECT}")
            except (ValueError, UaStatusCodeError):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._client.disconnect(), self.timeout_s)
                raise CellError(f"the OPC UA server at {self.url} is not a cell controller "
                                f"Mendflow knows (no {OBJECT} object in namespace "
                                f"{NAMESPACE})", retryable=False,
                                hint="Point the step at the cell's controller, or expose its "
                                     "variables and methods under Objects/Cell in that "
                                     "namespace (docs/robot-cell.md)") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.disconnect(), self.timeout_s)

    @contextlib.asynccontextmanager
    async def _translate(self, doing: str, *, sent: bool = False) -> AsyncIterator[None]:
        """asyncua's and the socket's errors as CellError. `sent`: the request may have reached
        the cell before it failed (a method call), so an error but the cell's refusal leaves
        its effect unknown (`StepFailed.effect_unknown`: a change is not sent again)."""
        try:
            yield
        except CellError:
            raise
        except TimeoutError:
            raise CellError(f"the cell at {self.url} did not answer within "
                            f"{self.timeout_s:g} s ({doing})", effect_unknown=sent,
                            hint="Check that the cell controller is running and reachable; "
                                 "stop the cell safely before retrying") from None
        except (OSError, ConnectionError) as exc:
            raise CellError(f"cannot {doing} the cell at {self.url}: {exc}",
                            effect_unknown=sent,
                            hint="Is the controller running? (demo: python -m "
                                 "plugins.robot.sim_cell --port PORT)") from None
        except UaStatusCodeError as exc:
            raise CellError(f"the cell at {self.url} refused to {doing}: {exc}",
                            retryable=False) from None
        except UaError as exc:
            raise CellError(f"OPC UA error from {self.url} ({doing}): {exc}",
                            effect_unknown=sent) from None

    async def _node(self, name: str) -> Any:
        if name not in self._nodes:
            async with self._translate(f"find {name!r} on"):
                try:
                    self._nodes[name] = await self._cell.get_child(f"{self._ns}:{name}")
                except UaStatusCodeError:
                    raise CellError(f"the cell at {self.url} has no node {name!r}",
                                    retryable=False,
                                    hint="Check the variable or method name") from None
        return self._nodes[name]

    async def read(self, name: str) -> Any:
        node = await self._node(name)
        async with self._translate(f"read {name} from"):
            return await asyncio.wait_for(node.read_value(), self.timeout_s)

    async def read_many(self, names: Sequence[str]) -> dict[str, Any]:
        return {n: await self.read(n) for n in names}

    async def write(self, name: str, value: Any) -> None:
        node = await self._node(name)
        async with self._translate(f"write {name} on"):
            await asyncio.wait_for(node.write_value(value), self.timeout_s)

    async def call(self, method: str, *args: Any, timeout_s: float | None = None) -> Any:
        node = await self._node(method)
        async with self._translate(f"call {method} on", sent=True):
            return await asyncio.wait_for(self._cell.call_method(node, *args),
                                          timeout_s or self.timeout_s)

    async def wait_for(self, name: str, accept: Callable[[Any], bool], *,
                       timeout_s: float) -> Any:
        """Subscribe to a variable; return its first value that `accept`s."""
        node = await self._node(name)
        loop = asyncio.get_running_loop()
        found: asyncio.Future[Any] = loop.create_future()

        class Handler:
            def datachange_notification(self, _node: Any, val: Any, _data: Any) -> None:
                if not found.done() and accept(val):
                    loop.call_soon_threadsafe(_settle, found, val)

        async with self._translate(f"subscribe to {name} on"):
            sub = await self._client.create_subscription(20, Handler())
            try:
                await sub.subscribe_data_change(node)
                try:
                    return await asyncio.wait_for(asyncio.shield(found), timeout_s)
                except TimeoutError:
                    raise CellError(f"{name} on {self.url} did not reach the awaited value "
                                    f"within {timeout_s:g} s",
                                    hint="The cell may be stuck; stop it safely") from None
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sub.delete(), self.timeout_s)


Method = Callable[..., Awaitable[Any]]


async def serve_cell(host: str, port: int, *, variables: Mapping[str, Any],
                     methods: Mapping[str, tuple[Method, Sequence[type], Sequence[type]]],
                     ) -> tuple[Server, dict[str, Any]]:
    """Start an OPC UA server with one object `Cell`; return it and its variable nodes.

    `methods` maps a name to (async callable, input python types, output python types).
    The caller stops the server with `await server.stop()`.
    """
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://{host}:{port}/")
    server.set_server_name("Mendflow simulated cell")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    ns = await server.register_namespace(NAMESPACE)
    cell = await server.nodes.objects.add_object(ns, OBJECT)
    nodes = {}
    for name, initial in variables.items():
        nodes[name] = await cell.add_variable(ns, name, initial, _variant(initial))
    for name, (fn, inputs, outputs) in methods.items():
        await cell.add_method(ns, name, uamethod(_typed(fn, outputs)),
                              [_VARIANTS[t] for t in inputs], [_VARIANTS[t] for t in outputs])
    await server.start()
    return server, nodes


async def set_values(nodes: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        await nodes[name].write_value(value, _variant(value))


def _typed(fn: Method, outputs: Sequence[type]) -> Method:
    """Wrap a method so that its results go out as variants of the declared types."""

    async def call(*args: Any) -> Any:
        result = await fn(*args)
        values = tuple(result) if len(outputs) > 1 else (result,)
        return tuple(ua.Variant(v, _VARIANTS[t]) for v, t in zip(values, outputs, strict=True))

    return call


def _variant(value: Any) -> ua.VariantType:
    if isinstance(value, list):
        return _VARIANTS[type(value[0])] if value else ua.VariantType.Double
    return _VARIANTS[type(value)]


def _settle(found: asyncio.Future[Any], value: Any) -> None:
    if not found.done():  # (a second notification may come before the first is taken)
        found.set_result(value)


UaServer = Server


def ua_invalid_state(message: str) -> Exception:
    """The error a served method raises to answer BadInvalidState with a reason."""
    return UaStatusCodeError(StatusCodes.BadInvalidState)
