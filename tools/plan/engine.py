"""Run a Pulumi program under the SDK's mock engine and capture what it registers.

The program runs unmodified, exactly as `pulumi preview` would start it, except that the
resource monitor is `CapturingMonitor`: it records every registration with its options
(protect, provider, ignoreChanges, ...) and answers with the mock outputs of `tools.plan.mocks`.
Nothing leaves the process. Each run gets a fresh `contextvars.Context` and event loop, so two
runs in one process share no Pulumi state.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.settings import configure
from pulumi.runtime.stack import run_in_stack

from .mocks import CloudMocks

SECRET = "[secret]"
UNKNOWN = "[unknown]"


def plain(value: Any) -> Any:
    """A registered property value as JSON: secrets masked, resources as their URN."""
    if isinstance(value, dict):
        sig = value.get(rpc._special_sig_key)
        if sig == rpc._special_secret_sig:
            return SECRET
        if sig == rpc._special_resource_sig:
            return value.get("urn", "")
        if sig == rpc._special_output_value_sig:
            if value.get("secret"):
                return SECRET
            return plain(value.get("value", UNKNOWN))
        if sig in (rpc._special_asset_sig, rpc._special_archive_sig):
            return {k: v for k, v in value.items() if k != rpc._special_sig_key}
        return {k: plain(v) for k, v in sorted(value.items()) if k != "__defaults"}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf carries every number as a double
    return value


def _urn_only(ref: str) -> str:
    """A provider reference is `urn::id`; the id is a mock value, so keep only the URN."""
    return ref.rsplit("::", 1)[0] if ref else ""


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    provider: str
    custom: bool
    inputs: dict[str, Any]
    protect: bool
    retain_on_delete: bool
    ignore_changes: list[str]
    depends_on: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "provider": self.provider,
            "custom": self.custom,
            "inputs": self.inputs,
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "ignoreChanges": self.ignore_changes,
            "dependsOn": self.depends_on,
        }


@dataclass
class Capture:
    """Everything one run registered: resources (sorted by URN), stack outputs, log lines."""

    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]


class CapturingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's MockMonitor, recording each request's options as well as its inputs."""

    def __init__(self, mocks: CloudMocks, capture: Capture) -> None:
        super().__init__(mocks)
        self.capture = capture

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        self.capture.resources.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                provider=_urn_only(request.provider),
                custom=bool(request.custom),
                inputs=plain(raw),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                ignore_changes=list(request.ignoreChanges),
                depends_on=sorted(request.dependencies),
            )
        )
        return response

    def RegisterResourceOutputs(self, request):
        if "::pulumi:pulumi:Stack::" in request.urn:
            raw = json_format.MessageToDict(request.outputs, preserving_proto_field_name=True)
            self.capture.outputs = plain(raw)
        return super().RegisterResourceOutputs(request)


class _LogCollector(logging.Handler):
    def __init__(self, capture: Capture) -> None:
        super().__init__(logging.WARNING)
        self.capture = capture

    def emit(self, record: logging.LogRecord) -> None:
        target = self.capture.errors if record.levelno >= logging.ERROR else self.capture.warnings
        target.append(record.getMessage())


def run_program(
    program: Path,
    *,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str] | None = None,
    capture: Capture | None = None,
) -> Capture:
    """Run `program` (a `__main__.py`) for `stack` under the mock engine; return its capture.

    `config` is the stack config in the engine's wire form (full keys, string values). An
    exception in the program propagates after the runtime has shut down cleanly; what was
    registered before it is in `capture` when the caller passes one in.
    """
    capture = capture if capture is not None else Capture()
    ctx = contextvars.Context()
    ctx.run(_run, program, project, stack, config, secret_keys or [], capture)
    capture.resources.sort(key=lambda r: r.urn)
    return capture


def _run(program, project, stack, config, secret_keys, capture) -> None:
    from pulumi.runtime.config import set_all_config

    logger = logging.getLogger(f"tools.plan.{stack}")
    logger.propagate = False
    logger.handlers = [_LogCollector(capture)]
    mocks = CloudMocks()
    monitor = CapturingMonitor(mocks, capture)
    configure(
        pulumi_mocks.MockSettings(
            monitor=monitor,
            monitor_features=set(),
            engine=pulumi_mocks.MockEngine(logger),
            project=project,
            stack=stack,
            # preview=False: the mock engine then resolves outputs, so apply() callbacks run
            # and the inputs that depend on them are recorded instead of unknowns.
            dry_run=False,
            organization="organization",
            callbacks=None,
        )
    )
    set_all_config(dict(config), secret_keys)
    program = program.resolve()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    root = str(program.parent)
    sys.path.insert(0, root)
    try:
        loop.run_until_complete(
            run_in_stack(lambda: runpy.run_path(str(program), run_name="__main__"))
        )
    finally:
        sys.path.remove(root)
        asyncio.set_event_loop(None)
        loop.close()
