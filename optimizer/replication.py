"""Which native transfer service carries each replication direction, and how often it runs.

Design section 10. Event-driven mechanisms replicate continuously; scheduled ones run on an
interval, and each service has a shortest interval it supports.
"""

from __future__ import annotations

# Intervals tricloud schedules, minutes. The plan uses the largest one <= maxStalenessMinutes
# that every scheduled mechanism in the plan supports.
INTERVAL_LADDER = (5, 10, 15, 30, 60, 120, 180, 240, 360, 480, 720, 1440)

# mechanism -> shortest supported schedule interval in minutes (None: event-driven).
MECHANISMS: dict[str, int | None] = {
    "s3-replication": None,  # S3 Replication: continuous, per object write
    "azure-object-replication": None,  # Azure object replication: continuous, change feed
    "gcp-storage-transfer": 60,  # Storage Transfer Service: schedule repeatInterval >= 1 h
    "aws-datasync": 60,  # DataSync task schedule: at most once an hour
    "azure-data-factory": 15,  # ADF schedule trigger; tricloud keeps copy runs >= 15 min
}


def mechanism(source_cloud: str, target_cloud: str) -> str:
    """The plan id of the mechanism that copies from `source_cloud` to `target_cloud`."""
    if target_cloud == "gcp":
        return "gcp-storage-transfer"
    if source_cloud == target_cloud == "aws":
        return "s3-replication"
    if source_cloud == target_cloud == "azure":
        return "azure-object-replication"
    if target_cloud == "aws":
        return "aws-datasync"
    return "azure-data-factory"


def interval_minutes(max_staleness: int, mechanisms: list[str]) -> int:
    """Largest ladder interval <= max_staleness that every scheduled mechanism supports.

    When a mechanism cannot run that often, its own minimum is returned: the plan is then
    staler than asked, and `explain` says so.
    """
    floor = max((MECHANISMS[m] or 0) for m in mechanisms) if mechanisms else 0
    fitting = [i for i in INTERVAL_LADDER if floor <= i <= max_staleness]
    if fitting:
        return fitting[-1]
    return max(floor, min(INTERVAL_LADDER[0], max_staleness))
