"""What the policies share: plain property values, "cannot check during preview", config.

Policies read resource properties through `plain`, which unwraps pulumi_policy's
unknown-checking proxies into ordinary dicts and lists and spells every unknown value as
`optimizer.cost.UNKNOWN`; the offline plan spells masked secrets `optimizer.cost.SECRET`. Both
are "cannot read": a policy never treats them as a real value (a CIDR, a tag, a count).

A value a check cannot read is reported by raising `CannotCheck` after the known problems have
been reported: the analyzer servicer turns it into an advisory diagnostic ("can't run policy ...
during preview: cannot check during preview: ..."), never a pass and never a mandatory failure.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError, _is_unknown

from optimizer import cost
from optimizer.catalog import Catalog, load

CANNOT_CHECK = "cannot check during preview"


class CannotCheck(UnknownValueError):
    """Some input a policy needs is unknown during preview (or a masked secret)."""

    def __init__(self, what: str) -> None:
        Exception.__init__(self, what)
        self.unknown_type_sentinel = ""
        self.props = []
        self.message = f"{CANNOT_CHECK}: {what}"


def plain(value: Any) -> Any:
    """A property value as plain data; unknowns become `cost.UNKNOWN`."""
    target = _target(value)
    if isinstance(target, Mapping):
        return {str(k): plain(v) for k, v in target.items()}
    if isinstance(target, list | tuple):
        return [plain(v) for v in target]
    if _is_unknown(target):
        return cost.UNKNOWN
    if isinstance(target, float) and target.is_integer():
        return int(target)  # protobuf carries every number as a double
    return target


def _target(value: Any) -> Any:
    """The list or dict behind pulumi_policy's proxies (reading it never raises)."""
    try:
        from pulumi_policy.proxy import _DictProxy, _ListProxy

        if isinstance(value, _DictProxy | _ListProxy):
            return value["__target"]
    except ImportError:  # pragma: no cover
        pass
    return value


def provider_props(provider: Any) -> dict[str, Any]:
    """A provider's inputs as data. The engine records nested provider inputs as JSON strings
    (`defaultTags: '{"tags": {...}}'`); those are decoded."""
    if provider is None:
        return {}
    props = plain(provider.props)
    out = {}
    for k, v in props.items():
        if isinstance(v, str) and v[:1] in "[{":
            with contextlib.suppress(ValueError):
                v = json.loads(v)
        out[k] = v
    return out


def provider_region(provider: Any) -> str | None:
    return cost.provider_region(provider_props(provider))


def as_cost_resource(resource: Any) -> cost.Resource:
    """A `PolicyResource` or `ResourceValidationArgs` as the estimate's resource."""
    return cost.Resource(
        urn=resource.urn,
        type=resource.resource_type,
        inputs=plain(resource.props),
        region=provider_region(resource.provider),
    )


@functools.cache
def catalog() -> Catalog:
    """The catalog the optimizer prices from (the shipped snapshot in `optimizer/data`)."""
    return load()


def config(args: Any, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The policy's configuration over its defaults (the engine fills schema defaults too).

    Values are plain data: protobuf carries every number as a double, so a configured
    `maxNodesPerPool: 10` arrives as 10.0 and would be shown so in messages."""
    return {**defaults, **plain(dict(args.get_config() or {}))}


def stack_of(urn: str) -> str | None:
    """The stack name in a URN (`urn:pulumi:<stack>::<project>::...`), None if it has none."""
    head = urn.split("::", 1)[0]
    return head[len("urn:pulumi:") :] or None if head.startswith("urn:pulumi:") else None


def policy_file(urn: str) -> str:
    """The stack's policy config file, as messages name it (the stack read from a URN)."""
    stack = stack_of(urn)
    return f"stacks/policy.{stack}.json" if stack else "the stack's --policy-pack-config file"


def short(urn: str) -> str:
    """A resource's name from its URN, for messages."""
    return urn.rsplit("::", 1)[-1]


def get(data: Any, path: str) -> Any:
    """`data[a][b]...` for the dotted path, None where a key is missing."""
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def unreadable(value: Any) -> bool:
    return cost.is_unknown(value)


def why_unreadable(value: Any) -> str:
    return "is a secret (masked)" if value == cost.SECRET else "is not known until apply"
