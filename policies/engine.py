"""Run the pack in-process through pulumi_policy's analyzer servicer, as the engine would.

The Pulumi engine talks to a policy pack over gRPC: `GetAnalyzerInfo`, `Configure` with the
resolved `--policy-pack-config`, one `Analyze` per resource (its inputs, options and provider)
and one `AnalyzeStack` with every resource (parent, dependencies, provider). `analyze` sends the
same protobuf requests to the same servicer object `PolicyPack` would serve, without the gRPC
transport. Resources are Registration-like dicts (`resources.json` of the offline plan):
`urn, type, name, parent, provider, custom, inputs, protect, ignoreChanges, dependsOn`; inputs
spell secrets `"[secret]"` and unknowns `"[unknown]"`, which become a secret and the engine's
unknown sentinel on the wire.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from optimizer.cost import SECRET, UNKNOWN

from .pack import DEFAULT_LEVEL, PACK_NAME, PACK_VERSION, POLICIES, resolve_config

_LEVEL = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "mandatory",  # a remediation that still violates is mandatory
    analyzer_pb2.DISABLED: "disabled",
}
_LEVEL_PB = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    level: str  # mandatory | advisory
    urn: str  # the resource; "" for the stack as a whole
    message: str  # what was found, the limit, how to fix it (without the policy description)


def servicer(policies=None) -> _PolicyAnalyzerServicer:
    """The object `PolicyPack(...)` serves over gRPC."""
    return _PolicyAnalyzerServicer(PACK_NAME, PACK_VERSION, policies or POLICIES, DEFAULT_LEVEL)


def wire(value: Any) -> Any:
    """A captured input value as the engine sends it."""
    if isinstance(value, Mapping):
        return {str(k): wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    if value == SECRET:
        return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": SECRET}
    if value == UNKNOWN:
        return UNKNOWN_STRING_VALUE
    return value


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(wire(dict(values)))
    return s


def configure_request(
    config: Mapping[str, Any], policies=None
) -> analyzer_pb2.ConfigureAnalyzerRequest:
    resolved = resolve_config(config, policies)
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, (level, props) in resolved.items():
        pc = analyzer_pb2.PolicyConfig(enforcementLevel=_LEVEL_PB[level])
        pc.properties.update(props)
        request.policyConfig[name].CopyFrom(pc)
    return request


def _options(r: Mapping[str, Any]) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(r.get("protect")),
        ignoreChanges=list(r.get("ignoreChanges") or []),
        parent=r.get("parent") or "",
    )


def _provider(r: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]]):
    p = by_urn.get(r.get("provider") or "")
    if p is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=p["type"], properties=struct(p.get("inputs") or {}), urn=p["urn"], name=p["name"]
    )


def analyze_request(r: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]]):
    request = analyzer_pb2.AnalyzeRequest(
        type=r["type"],
        properties=struct(r.get("inputs") or {}),
        urn=r["urn"],
        name=r["name"],
        options=_options(r),
    )
    provider = _provider(r, by_urn)
    if provider is not None:
        request.provider.CopyFrom(provider)
    return request


def analyze_stack_request(resources: list[Mapping[str, Any]], by_urn):
    request = analyzer_pb2.AnalyzeStackRequest()
    for r in resources:
        ar = analyzer_pb2.AnalyzerResource(
            type=r["type"],
            properties=struct(r.get("inputs") or {}),
            urn=r["urn"],
            name=r["name"],
            options=_options(r),
            parent=r.get("parent") or "",
            dependencies=list(r.get("dependsOn") or []),
        )
        provider = _provider(r, by_urn)
        if provider is not None:
            ar.provider.CopyFrom(provider)
        request.resources.append(ar)
    return request


def _diagnostics(response, urn: str, descriptions: Mapping[str, str]) -> list[Diagnostic]:
    out = []
    for d in response.diagnostics:
        message = d.message
        prefix = descriptions.get(d.policyName, "")
        if prefix and message.startswith(prefix + "\n"):
            message = message[len(prefix) + 1 :]
        out.append(Diagnostic(d.policyName, _LEVEL[d.enforcementLevel], d.urn or urn, message))
    return out


def analyze(
    resources: Iterable[Mapping[str, Any]],
    config: Mapping[str, Any] | None = None,
    *,
    policies=None,
) -> list[Diagnostic]:
    """Every diagnostic of the pack on `resources` under `config` (a policy config document)."""
    resources = list(resources)
    s = servicer(policies)
    s.GetAnalyzerInfo(None, None)  # as the engine does first (checks the policies' metadata)
    s.Configure(configure_request(config or {}, policies), None)
    by_urn = {r["urn"]: r for r in resources}
    descriptions = {p.name: p.description for p in (policies or POLICIES)}
    out: list[Diagnostic] = []
    for r in resources:
        out += _diagnostics(s.Analyze(analyze_request(r, by_urn), None), r["urn"], descriptions)
    stack = s.AnalyzeStack(analyze_stack_request(resources, by_urn), None)
    out += _diagnostics(stack, "", descriptions)
    return out
