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
import os
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto.resource_pb2 import RESOURCE_MONITOR_FEATURE_ALIAS_SPECS
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
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    """The engine's create/update/delete timeouts where the program sets them (the real
    engine's await logic gives up after them; the mock engine never waits)."""
    id: str = ""
    """The mock engine's id, so that an input holding another resource's id can be traced to
    it (not in `to_json`: ids are mock values)."""
    aliases: list[str] = field(default_factory=list)
    """URNs this resource had before (its aliases, resolved; see `CapturingMonitor`). Not in
    `to_json`: the provider SDKs alias many types to their old API versions (every Kubernetes
    Deployment lists its beta versions), which would be noise in every plan."""

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
            "customTimeouts": self.custom_timeouts,
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
    """The SDK's MockMonitor, recording each request's options as well as its inputs.

    With `resolve_aliases`, aliases are recorded as the URNs they name, as the engine resolves
    them: the monitor then does not offer the `aliasSpecs` feature, so the SDK computes a
    resource's own alias URNs and sends them as `aliasURNs`, and the aliases a child inherits
    from a renamed or moved parent are derived here, as the engine does (the SDK leaves those
    to the engine). That costs the SDK about a second on a large stack (every Kubernetes type
    carries aliases to its old API versions), so the offline plan leaves it off and behaves as
    the real engine, which takes alias specs; `Registration.aliases` is then empty.
    """

    def __init__(self, mocks: CloudMocks, capture: Capture, resolve_aliases: bool = False) -> None:
        super().__init__(mocks)
        self.capture = capture
        self.resolve_aliases = resolve_aliases
        self._registered: dict[str, tuple[str, list[str]]] = {}  # urn -> (name, aliases)

    def _aliases(self, request) -> list[str]:
        out = list(request.aliasURNs)
        parent_name, parent_aliases = self._registered.get(request.parent, ("", []))
        for parent_alias in parent_aliases:
            out.append(_inherited_alias(request.name, request.type, parent_name, parent_alias))
        return list(dict.fromkeys(out))

    def SupportsFeature(self, request):
        if request.id == "aliasSpecs" and self.resolve_aliases:
            return type("SupportsFeatureResponse", (object,), {"hasSupport": False})
        return super().SupportsFeature(request)

    def GetDeploymentInfo(self, request):
        info = super().GetDeploymentInfo(request)
        if not self.resolve_aliases:
            return info
        kept = [f for f in info.supportedFeatures if f != RESOURCE_MONITOR_FEATURE_ALIAS_SPECS]
        del info.supportedFeatures[:]
        info.supportedFeatures.extend(kept)
        return info

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
        aliases = self._aliases(request) if self.resolve_aliases else []
        self._registered[response.urn] = (request.name, aliases)
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
                custom_timeouts={
                    k: v
                    for k in ("create", "update", "delete")
                    if (v := getattr(request.customTimeouts, k, ""))
                },
                id=response.id,
                aliases=aliases,
            )
        )
        return response

    def RegisterResourceOutputs(self, request):
        if "::pulumi:pulumi:Stack::" in request.urn:
            raw = json_format.MessageToDict(request.outputs, preserving_proto_field_name=True)
            self.capture.outputs = plain(raw)
        return super().RegisterResourceOutputs(request)


def _inherited_alias(name: str, type_: str, parent_name: str, parent_alias: str) -> str:
    """The URN a child had under its parent's earlier identity `parent_alias`. A child named
    after its parent (`<parent>-x`) is assumed to have been named after the old name too."""
    prefix, project, parent_type, old_parent_name = parent_alias.split("::", 3)
    if parent_name and name.startswith(parent_name):
        name = old_parent_name + name[len(parent_name) :]
    return f"{prefix}::{project}::{parent_type}${type_}::{name}"


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
    resolve_aliases: bool = False,
) -> Capture:
    """Run `program` (a `__main__.py`) for `stack` under the mock engine; return its capture.

    `config` is the stack config in the engine's wire form (full keys, string values). An
    exception in the program propagates after the runtime has shut down cleanly; what was
    registered before it is in `capture` when the caller passes one in. `resolve_aliases`:
    see `CapturingMonitor`.
    """
    capture = capture if capture is not None else Capture()
    ctx = contextvars.Context()
    ctx.run(_run, program, project, stack, config, secret_keys or [], capture, resolve_aliases)
    capture.resources.sort(key=lambda r: r.urn)
    return capture


def _run(program, project, stack, config, secret_keys, capture, resolve_aliases) -> None:
    from pulumi.runtime.config import set_all_config

    logger = logging.getLogger(f"tools.plan.{stack}")
    logger.propagate = False
    logger.handlers = [_LogCollector(capture)]
    mocks = CloudMocks()
    monitor = CapturingMonitor(mocks, capture, resolve_aliases)
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
    # Pulumi runs a program in its project folder; so does the offline plan.
    cwd = os.getcwd()
    os.chdir(root)
    try:
        loop.run_until_complete(
            run_in_stack(lambda: runpy.run_path(str(program), run_name="__main__"))
        )
    finally:
        os.chdir(cwd)
        sys.path.remove(root)
        asyncio.set_event_loop(None)
        loop.close()
