"""Policy verdicts for the offline plan.

The policy pack (`policies/`, design 11) plugs in here: it will be run through
`pulumi_policy`'s analyzer servicer on the captured resources. Until it exists the plan says
so in its summary instead of pretending that anything was checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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


def evaluate(capture: Capture, stack: str, project: Path) -> Verdicts:
    """Verdicts of the stack's policy pack on the captured resources."""
    if not (project / "policies" / "PulumiPolicy.yaml").is_file():
        return Verdicts(
            note="policy pack not run: no policies/PulumiPolicy.yaml in this project yet"
        )
    return Verdicts(note="policy pack present but not yet wired into the offline plan")
