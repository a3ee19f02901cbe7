"""The `opcua` action plugin: call methods on a cell controller, read and await variables.

    ```opcua
    endpoint: opcua://127.0.0.1:4840
    call: Abort                      # a method on the cell object; args: [..] if it takes any
    read: [State, Time]              # variables to read afterwards
    wait_for: {State: [idle]}        # then wait (subscription) until State is one of these
    wait_timeout_s: 10
    ```

Outputs: `result` (the method's return value(s)), `values` (variable -> value after the
call and the wait), `endpoint`. A cell that does not answer, refuses the call, or does not
reach the awaited state fails the step (`CellError`, with a hint); the playbook's failure
edge takes it from there. Calls are mutating unless the step says otherwise; `read`-only
steps may run in a dry run.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.plugins import PluginBase, StepContext, StepResult
from plugins.robot.ua import CellClient, CellError


class OpcUaParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str = Field(description="opcua://HOST:PORT")
    call: str | None = Field(default=None, description="Method on the cell object.")
    args: list[bool | int | float | str] = Field(default_factory=list)
    read: list[str] = Field(default_factory=list)
    wait_for: dict[str, list[Any]] = Field(default_factory=dict,
                                           description="Variable -> acceptable values.")
    wait_timeout_s: float = Field(default=10.0, gt=0)
    timeout_s: float = Field(default=2.0, gt=0, description="Per request.")

    @model_validator(mode="after")
    def _something(self) -> OpcUaParams:
        if not (self.call or self.read or self.wait_for):
            raise ValueError("give call, read or wait_for")
        return self


class OpcUaPlugin(PluginBase):
    name: ClassVar[str] = "opcua"
    Params: ClassVar[type[BaseModel]] = OpcUaParams
    read_only: ClassVar[bool] = False

    def describe(self, *, params: OpcUaParams) -> str:
        what = f"call {params.call}({', '.join(map(repr, params.args))})" if params.call \
            else f"read {', '.join(params.read or list(params.wait_for))}"
        return f"{what} on {params.endpoint}"

    async def run(self, *, params: OpcUaParams, ctx: StepContext) -> StepResult:
        async with CellClient(params.endpoint, timeout_s=params.timeout_s) as cell:
            result = None
            if params.call:
                result = await cell.call(params.call, *params.args,
                                         timeout_s=max(params.timeout_s, 5.0))
            values: dict[str, Any] = {}
            try:
                for name, accepted in params.wait_for.items():
                    values[name] = await cell.wait_for(name, accepted.__contains__,
                                                       timeout_s=params.wait_timeout_s)
                for name in params.read:
                    values[name] = await cell.read(name)
            except CellError as exc:
                if params.call is None:
                    raise
                raise _after_the_call(exc, params.call) from None
        values = {k: _plain(v) for k, v in values.items()}
        summary = self.describe(params=params)
        if result is not None:
            summary += f" -> {_plain(result)}"
        return StepResult(outputs={"result": _plain(result), "values": values,
                                   "endpoint": params.endpoint}, summary=summary)


def _after_the_call(exc: CellError, call: str) -> CellError:
    """A failure after the cell took the call (its awaited state never came, a read lost):
    the call acted, so trying the step again would call it again; its effect is unknown to
    the engine, which never re-runs such a change by itself (a person decides)."""
    return CellError(f"{exc.message} (after {call} was called)", retryable=exc.retryable,
                     effect_unknown=True, hint=exc.hint)


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value
