"""Validate a component's arguments before it declares anything.

A program that composes the components by hand passes plain dicts (`TypedDict`s); a typo such
as `pricing="spto"` must read like a stack config error, one line per problem naming the
component, the field, the value and what is allowed, not a traceback from deep inside a
resource. Each component calls `check_args` first thing in its `__init__`.

The checks follow the args' `TypedDict` declarations (required and unknown keys, plain
types, nested pools and endpoints) plus the closed sets of values listed in `ALLOWED`. Values
that are Pulumi Outputs are not known yet and are left to the providers.
"""

from __future__ import annotations

import functools
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from optimizer.errors import InputError, Problem

# Fields whose value is one of a closed set, wherever they occur in a component's args.
ALLOWED: dict[str, tuple[str, ...]] = {
    "pricing": ("on-demand", "spot"),
    "cloud": ("aws", "azure", "gcp"),
    "regional_algorithm": ("round-robin", "least-request", "source-ip"),
    "dns": ("route53", "traffic-manager", "cloud-dns"),
    "policy": ("latency", "weighted", "failover", "geo"),
    "mode": ("incremental", "mirror"),
}
# Keys a spec still accepts although it no longer declares them (deprecated, read until the
# next major version).
DEPRECATED_KEYS: dict[str, frozenset[str]] = {"DatasetReplicationArgs": frozenset({"providers"})}


class ComponentArgsError(InputError, ValueError, pulumi.RunError):
    """Bad component arguments. An `InputError` (the offline plan prints its lines and exits
    2), a `ValueError` (what a caller's mistake was before) and a `pulumi.RunError`, which the
    Pulumi CLI reports without a stack trace."""


def check_args(component: str, name: str, args: Any, spec: type) -> None:
    """Raise `ComponentArgsError` listing every problem of `args` against the `TypedDict`
    `spec`, for the component instance `component` `name`."""
    problems: list[Problem] = []
    _check_dict(args, spec, "", problems)
    if problems:
        where = f"{component} {name!r}"
        raise ComponentArgsError(
            [Problem(f"{where}: {p.where}" if p.where else where, p.message) for p in problems],
            f"invalid arguments for {where}",
        )


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Input:
    """Stands in for `pulumi.Input`/`pulumi.Output` when reading annotations: `Input[X]` is
    read as X, because an Output value is skipped anyway (see `_check_value`)."""

    def __class_getitem__(cls, item: Any) -> Any:
        return item


@functools.cache
def _hints(spec: type) -> dict[str, Any]:
    """Field -> type of a `TypedDict` whose annotations are strings (`from __future__ import
    annotations`); `NotRequired[X]` is read as X (required keys are `__required_keys__`)."""
    namespace = {
        **vars(sys.modules[spec.__module__]),
        "pulumi": types.SimpleNamespace(
            Input=_Input,
            Output=_Input,
            Resource=pulumi.Resource,
            ProviderResource=pulumi.ProviderResource,
        ),
    }
    out = {}
    for key, annotation in spec.__annotations__.items():
        hint = eval(annotation, namespace) if isinstance(annotation, str) else annotation
        if typing.get_origin(hint) in (typing.NotRequired, typing.Required):
            hint = typing.get_args(hint)[0]
        out[key] = hint
    return out


def _check_dict(value: Any, spec: type, path: str, problems: list[Problem]) -> None:
    if isinstance(value, pulumi.Output):
        return
    if not isinstance(value, Mapping):
        problems.append(Problem(path, f"{_show(value)} is not an object ({spec.__name__})"))
        return
    hints = _hints(spec)
    required = getattr(spec, "__required_keys__", frozenset(hints))
    extra = DEPRECATED_KEYS.get(spec.__name__, frozenset())
    for key in sorted(required - value.keys()):
        problems.append(Problem(_join(path, key), f"is required ({spec.__name__})"))
    for key in sorted(value.keys() - hints.keys() - extra, key=str):
        problems.append(
            Problem(_join(path, str(key)), f"unknown argument; known: {', '.join(sorted(hints))}")
        )
    for key, hint in hints.items():
        if key in value:
            _check_value(value[key], hint, _join(path, key), key, problems)


def _check_value(value: Any, hint: Any, path: str, key: str, problems: list[Problem]) -> None:
    if isinstance(value, pulumi.Output | pulumi.Resource):
        return  # known at deploy time only
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union:  # pulumi.Input[X] and X | None: any member that fits
        members = [a for a in args if a is not type(None)]
        if value is None and len(members) < len(args):
            return
        plain = members
        for member in plain:
            trial: list[Problem] = []
            _check_value(value, member, path, key, trial)
            if not trial:
                return
        if plain:
            _check_value(value, plain[0], path, key, problems)
        return
    if typing.is_typeddict(hint):
        _check_dict(value, hint, path, problems)
        return
    if origin in (Sequence, list, tuple, typing.Sequence):
        if isinstance(value, str) or not isinstance(value, Sequence):
            problems.append(Problem(path, f"{_show(value)} is not a list"))
            return
        for i, item in enumerate(value):
            _check_value(item, args[0] if args else Any, f"{path}[{i}]", key, problems)
        return
    if origin in (Mapping, dict, typing.Mapping):
        if not isinstance(value, Mapping):
            problems.append(Problem(path, f"{_show(value)} is not an object"))
            return
        for k, v in value.items():
            if not isinstance(k, str):
                problems.append(Problem(path, f"key {_show(k)} is not a string"))
            _check_value(v, args[1] if len(args) > 1 else Any, f"{path}.{k}", key, problems)
        return
    if hint is str:
        if not isinstance(value, str):
            problems.append(Problem(path, f"{_show(value)} is not a string"))
        elif key in ALLOWED and value not in ALLOWED[key]:
            problems.append(
                Problem(path, f"{value!r} is not allowed; allowed: {', '.join(ALLOWED[key])}")
            )
        return
    if hint is bool:
        if not isinstance(value, bool):
            problems.append(Problem(path, f"{_show(value)} is not true or false"))
        return
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(Problem(path, f"{_show(value)} is not a whole number"))
        elif value < 0:
            problems.append(Problem(path, f"{value} is negative"))
        return
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(Problem(path, f"{_show(value)} is not a number"))
        return
    # Anything else (provider resources, Any) is the caller's and the providers' business.
