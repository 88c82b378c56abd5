"""The four cost-allocation tags, in each cloud's spelling.

Every taggable resource carries them: AWS tags, Azure tags, GCP labels and Kubernetes labels
(design 8). The keys are lowercase with dashes, which all four accept; the values come from
`tricloud:owner` and the stack name, which the settings loader validates as label values.
"""

from __future__ import annotations

from collections.abc import Mapping

COST_TAG_KEYS = ("team", "cost-center", "stack", "managed-by")
MANAGED_BY = "tricloud"


def cost_tags(team: str, cost_center: str, stack: str) -> dict[str, str]:
    return {"team": team, "cost-center": cost_center, "stack": stack, "managed-by": MANAGED_BY}


def merged(tags: Mapping[str, str], **extra: str) -> dict[str, str]:
    """Cost tags plus resource-specific ones (the cost tags win on a clash)."""
    return {**extra, **tags}
