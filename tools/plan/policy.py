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

    def mandatory_failures(self) -> list[Verdict]:
        return [v for v in self.items if v.level == "mandatory"]


def evaluate(
    capture: Capture, stack: str, project: Path, config: dict[str, Any] | None = None
) -> Verdicts:
    """Verdicts of the stack's policy pack on the captured resources, under `config` (a
    `--policy-pack-config` document; default: the stack's `stacks/policy.<stack>.json`)."""
    if not (project / "policies" / "PulumiPolicy.yaml").is_file():
        return Verdicts(
            note="policy pack not run: no policies/PulumiPolicy.yaml in this project yet"
        )
    from policies.engine import analyze
    from policies.pack import load_config

    note = ""
    if config is None:
        config_path = project / "stacks" / f"policy.{stack}.json"
        config = load_config(config_path) if config_path.is_file() else {}
        if not config_path.is_file():
            note = f"no stacks/policy.{stack}.json: the pack's default configuration"
    diagnostics = analyze(pack_resources(capture, stack), config)
    items = [Verdict(d.policy, d.level, d.urn, d.message) for d in diagnostics]
    items.sort(key=lambda v: (v.level != "mandatory", v.policy, v.urn))
    return Verdicts(items=items, note=note)


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
