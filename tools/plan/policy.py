"""Policy verdicts for the offline plan: the policy pack run on the captured resources.

`evaluate` sends the captured registrations to `policies`' analyzer servicer exactly as the
Pulumi engine would (`policies.engine`: GetAnalyzerInfo, Configure with
`stacks/policy.<stack>.json`, one AnalyzeRequest per resource with its provider and options,
one AnalyzeStackRequest with every resource plus the stack resource and its outputs). Masked
secrets reach the pack as `"[secret]"`, which no policy reads as a real value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer.errors import InputError, Problem

from .engine import Capture


@dataclass(frozen=True)
class Verdict:
    policy: str
    level: str  # mandatory | advisory
    urn: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {
            "policy": self.policy,
            "level": self.level,
            "urn": self.urn,
            "message": self.message,
        }


@dataclass
class Verdicts:
    items: list[Verdict] = field(default_factory=list)
    note: str = ""
    config: str = ""  # which policy config the pack ran with, for the summary
    config_doc: dict[str, Any] = field(default_factory=dict)  # that config, as given

    def mandatory_failures(self) -> list[Verdict]:
        return [v for v in self.items if v.level == "mandatory"]


@dataclass(frozen=True)
class StackPolicyConfig:
    doc: dict[str, Any]  # the `--policy-pack-config` document ({} without a file)
    described: str  # which config, in words


def stack_config(project: Path, stack: str) -> StackPolicyConfig:
    """The stack's policy config `<stackConfigDir>/policy.<stack>.json`, validated as the
    engine would; raises `InputError` (one problem per line, naming the file and key)."""
    from components.settings import read_project
    from policies.pack import ConfigError, load_config, resolve_config

    _, stacks = read_project(project)
    path = stacks / f"policy.{stack}.json"
    shown = _shown(path, project)
    if not path.is_file():
        return StackPolicyConfig(
            {},
            f"no {shown}: the pack's defaults; monthly-cost-limit holds the stack to the "
            "monthlyBudgetUsd it exports (tricloud:placement.monthlyBudgetUsd), if any",
        )
    try:
        doc = load_config(path)
        resolve_config(doc)
    except ConfigError as e:
        raise InputError(
            [Problem(shown, line) for line in e.problems], f"invalid policy config for {stack}"
        ) from None
    return StackPolicyConfig(doc, f"policy config {shown}")


def _shown(path: Path, project: Path) -> str:
    try:
        return str(path.relative_to(project))
    except ValueError:
        return str(path)


def evaluate(
    capture: Capture, stack: str, project: Path, config: dict[str, Any] | None = None
) -> Verdicts:
    """Verdicts of the stack's policy pack on the captured resources, under `config` (a
    `--policy-pack-config` document; default: the stack's `policy.<stack>.json`). Raises
    `InputError` for a policy config the engine would reject."""
    from policies.engine import analyze

    described = "the given policy config"
    if config is None:
        stack_cfg = stack_config(project, stack)
        config, described = stack_cfg.doc, stack_cfg.described
    diagnostics = analyze(pack_resources(capture, stack), config)
    items = [Verdict(d.policy, d.level, d.urn, d.message) for d in diagnostics]
    items.sort(key=lambda v: (v.level != "mandatory", v.policy, v.urn))
    return Verdicts(items=items, config=described, config_doc=dict(config))


def pack_resources(capture: Capture, stack: str) -> list[dict[str, Any]]:
    """The captured registrations plus the stack resource, whose properties are the stack
    outputs (the engine analyzes it too)."""
    resources = [r.to_json() for r in capture.resources]
    urn = stack_urn(capture, stack)
    resources.append(
        {"urn": urn, "type": "pulumi:pulumi:Stack", "name": short(urn), "inputs": capture.outputs}
    )
    return resources


def short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def stack_urn(capture: Capture, stack: str) -> str:
    """The root stack resource's URN, from any captured URN (`urn:pulumi:<stack>::<project>::`)."""
    for r in capture.resources:
        head = r.urn.split("::")
        if len(head) >= 2:
            return f"{head[0]}::{head[1]}::pulumi:pulumi:Stack::{head[1]}-{stack}"
    return f"urn:pulumi:{stack}::project::pulumi:pulumi:Stack::{stack}"
