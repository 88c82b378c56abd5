"""`diff OLD NEW`: prices that moved more than a threshold, offerings added and removed."""

from __future__ import annotations

from optimizer.catalog import Catalog, Offering
from optimizer.cli import table

from .rows import number


def _key(o: Offering) -> str:
    return f"{o.cloud}/{o.region}/{o.instance_type}"


def diff(old: Catalog, new: Catalog, threshold: float) -> tuple[str, dict[str, int]]:
    """The report text and counts: changed (beyond threshold percent), added, removed."""
    before = {_key(o): o for o in old.offerings}
    after = {_key(o): o for o in new.offerings}
    changed = []
    for key in sorted(before.keys() & after.keys()):
        a, b = before[key], after[key]
        for label, x, y in (
            ("on-demand", a.price_on_demand, b.price_on_demand),
            ("spot", a.price_spot, b.price_spot),
        ):
            if x is None and y is None:
                continue
            if x is None or y is None:
                change = "spot added" if x is None else "spot removed"
            elif abs(y - x) / x * 100 > threshold:
                change = f"{(y - x) / x * 100:+.1f}%"
            else:
                continue
            changed.append(
                [
                    key,
                    label,
                    "-" if x is None else number(x),
                    "-" if y is None else number(y),
                    change,
                ]
            )
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    out = [
        f"catalog diff: {old.path} (snapshot {old.snapshot}, {len(before)} offerings) -> "
        f"{new.path} (snapshot {new.snapshot}, {len(after)} offerings)",
        "",
        f"prices changed by more than {threshold:g}%: {len(changed)}",
    ]
    if changed:
        out.append(table(["offering", "price", "old $/h", "new $/h", "change"], changed, {2, 3, 4}))
    for title, keys, src in (("added", added, after), ("removed", removed, before)):
        out += ["", f"offerings {title}: {len(keys)}"]
        if keys:
            rows = [
                [
                    k,
                    f"{src[k].accelerator_count} x {src[k].accelerator}",
                    number(src[k].price_on_demand),
                    "-" if src[k].price_spot is None else number(src[k].price_spot),
                ]
                for k in keys
            ]
            out.append(table(["offering", "gpus", "on-demand $/h", "spot $/h"], rows, {2, 3}))
    return "\n".join(out), {"changed": len(changed), "added": len(added), "removed": len(removed)}
