"""Validate a placement lock (or any incumbent plan) against the catalog it will be priced in.

The program keeps the lock's pools unless moving saves enough, so a lock naming a region or an
instance type the catalog does not have, or a node count that is not a whole number, would
otherwise be dropped or crash the solve. A lock is user input like stack config: every problem
is reported at once, one line each, naming the file and the field.
"""

from __future__ import annotations

from typing import Any

from .catalog import Catalog
from .errors import Problem

PRICINGS = ("on-demand", "spot")
COUNT_FIELDS = ("nodes", "minNodes", "maxNodes")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def check(doc: dict[str, Any], catalog: Catalog, shown: str) -> list[Problem]:
    """Every problem of the plan document `doc` (read from the file named `shown`)."""
    problems: list[Problem] = []

    def add(where: str, message: str) -> None:
        problems.append(Problem(f"{shown}: {where}", message))

    regions = catalog.regions
    offered = {(o.region_key, o.instance_type): o for o in catalog.offerings}
    for i, cluster in enumerate(doc.get("clusters", [])):
        at = f"clusters[{i}]"
        if not isinstance(cluster, dict):
            add(at, "is not an object with cloud, region and nodePools")
            continue
        key = f"{cluster.get('cloud')}/{cluster.get('region')}"
        if key not in regions:
            known = sorted(k for k in regions if k.startswith(f"{cluster.get('cloud')}/"))
            add(
                f"{at}.region",
                f"{key!r} is not a region of the catalog {catalog.snapshot}"
                + (f"; known for this cloud: {', '.join(known)}" if known else "")
                + f"; clouds: {', '.join(sorted({k.split('/')[0] for k in regions}))}",
            )
            continue
        pools = cluster.get("nodePools")
        if not isinstance(pools, list):
            add(f"{at}.nodePools", "is required: a list of node pools")
            continue
        for j, pool in enumerate(pools):
            pat = f"{at}.nodePools[{j}]"
            if not isinstance(pool, dict):
                add(pat, "is not an object")
                continue
            itype = pool.get("instanceType")
            offering = offered.get((key, itype))
            if offering is None:
                types = sorted(t for (r, t) in offered if r == key)
                add(
                    f"{pat}.instanceType",
                    f"{_show(itype)} is not offered in {key} by the catalog; offered: "
                    f"{', '.join(types) or 'none'}",
                )
            pricing = pool.get("pricing")
            if pricing not in PRICINGS:
                add(f"{pat}.pricing", f"{_show(pricing)}; allowed: {', '.join(PRICINGS)}")
            elif pricing == "spot" and offering is not None and offering.price_spot is None:
                add(f"{pat}.pricing", f"spot is not offered for {itype} in {key}")
            for f in COUNT_FIELDS:
                if f not in pool:
                    add(f"{pat}.{f}", "is required: a whole number >= 0")
                elif not _is_count(pool[f]):
                    add(f"{pat}.{f}", f"{_show(pool[f])} is not a whole number >= 0")
            counts = [pool.get(f) for f in COUNT_FIELDS]
            if all(_is_count(c) for c in counts) and not counts[1] <= counts[0] <= counts[2]:
                add(
                    pat,
                    f"nodes {counts[0]} is not between minNodes {counts[1]} and "
                    f"maxNodes {counts[2]}",
                )
            replicas = pool.get("replicas", {})
            if not isinstance(replicas, dict):
                add(f"{pat}.replicas", "is not an object of service -> replicas")
            else:
                for service, n in replicas.items():
                    if not _is_count(n):
                        add(f"{pat}.replicas.{service}", f"{_show(n)} is not a whole number >= 0")
    return problems
