"""The pack's policies and its configuration in the `--policy-pack-config` format.

A config file maps policy names to an enforcement level (`"mandatory"`) or to an object with an
optional `enforcementLevel` and the policy's config properties; the key `all` sets the level of
every policy not named. As the Pulumi engine does before `Configure`, `resolve_config` applies
`all`, fills in the schema defaults and rejects unknown policies and properties.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi_policy import EnforcementLevel, Policy

from .cost import (
    ALLOWED_INSTANCE_TYPES,
    MAX_NODES_PER_POOL,
    MONTHLY_COST_LIMIT,
    REPLICATION_EGRESS_LIMIT,
    SPOT_REQUIRED,
)
from .safety import CLUSTER_ENDPOINT_RESTRICTED, COST_ALLOCATION_TAGS, STORAGE_SAFE

PACK_NAME = "tricloud-guardrails"
PACK_VERSION = "0.1.0"  # PulumiPolicy.yaml's version
DEFAULT_LEVEL = EnforcementLevel.ADVISORY  # for a policy that sets none (all of ours do)
POLICIES: list[Policy] = [
    MONTHLY_COST_LIMIT,
    MAX_NODES_PER_POOL,
    ALLOWED_INSTANCE_TYPES,
    SPOT_REQUIRED,
    COST_ALLOCATION_TAGS,
    REPLICATION_EGRESS_LIMIT,
    STORAGE_SAFE,
    CLUSTER_ENDPOINT_RESTRICTED,
]
LEVELS = tuple(level.value for level in EnforcementLevel)


class ConfigError(ValueError):
    """A policy config file that the engine would reject; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_config(path: Path) -> dict[str, Any]:
    """A policy config file as a document; raises `ConfigError` when it is not a JSON object."""
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError([f"line {e.lineno}: not valid JSON: {e.msg}"]) from None
    except UnicodeDecodeError as e:
        raise ConfigError([f"not UTF-8 text: {e.reason}"]) from None
    if not isinstance(doc, dict):
        raise ConfigError(
            [f"{json.dumps(doc)[:40]} is not an object of policy name -> level or config"]
        )
    return doc


def resolve_config(
    doc: Mapping[str, Any], policies: list[Policy] | None = None
) -> dict[str, tuple[str, dict[str, Any]]]:
    """policy name -> (enforcement level, properties) for every policy of the pack."""
    policies = POLICIES if policies is None else policies
    by_name = {p.name: p for p in policies}
    problems = []
    all_level = doc.get("all")
    if isinstance(all_level, Mapping):
        all_level = all_level.get("enforcementLevel")
    if all_level is not None and all_level not in LEVELS:
        problems.append(f"all: enforcement level {all_level!r}; allowed: {', '.join(LEVELS)}")
    for key in doc:
        if key != "all" and key not in by_name:
            problems.append(f"{key}: no such policy; known: {', '.join(sorted(by_name))}")
    out = {}
    for name, policy in by_name.items():
        level = (policy.enforcement_level or DEFAULT_LEVEL).value
        if all_level is not None:
            level = all_level
        schema = policy.config_schema.properties if policy.config_schema else {}
        props = {k: v["default"] for k, v in schema.items() if "default" in v}
        value = doc.get(name)
        if isinstance(value, str):
            value = {"enforcementLevel": value}
        if isinstance(value, Mapping):
            for k, v in value.items():
                if k == "enforcementLevel":
                    if v not in LEVELS:
                        problems.append(
                            f"{name}.enforcementLevel: {v!r}; allowed: {', '.join(LEVELS)}"
                        )
                    level = v
                elif k not in schema:
                    problems.append(
                        f"{name}.{k}: unknown property; known: {', '.join(sorted(schema)) or 'none'}"
                    )
                else:
                    problems += _check(f"{name}.{k}", v, schema[k])
                    props[k] = v
        elif value is not None:
            problems.append(f"{name}: expected an enforcement level or an object")
        out[name] = (level, props)
    if problems:
        raise ConfigError(problems)
    return out


def _check(where: str, value: Any, schema: Mapping[str, Any]) -> list[str]:
    """The few JSON-schema rules our config schemas use."""
    kind = schema.get("type")
    ok = {
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "string": isinstance(value, str),
        "array": isinstance(value, list),
    }.get(kind, True)
    if not ok:
        return [f"{where}: {value!r} is not a {kind}"]
    problems = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r}; allowed: {', '.join(map(str, schema['enum']))}")
    if "minimum" in schema and value < schema["minimum"]:
        problems.append(f"{where}: {value!r} is below the minimum {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        problems.append(f"{where}: {value!r} is above the maximum {schema['maximum']}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            problems += _check(f"{where}[{i}]", item, schema["items"])
    return problems
