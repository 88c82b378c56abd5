"""GCP Cloud Billing Catalog API (API key): https://cloud.google.com/billing/docs/reference/rest/v1/services.skus/list

The Compute Engine service's SKUs (`services/6F81-5844-456A/skus`), paged by `nextPageToken`.
An instance's hourly price is vCPUs x its family's core SKU + memory GiB x the family's RAM SKU
+ GPUs x the GPU SKU, from the SKUs whose `serviceRegions` include the region. On-demand uses
usageType OnDemand; spot uses the "Spot Preemptible ..." SKUs (usageType Preemptible). Only
SKUs whose description is exactly "<component> running in <place>" count, which leaves out
commitments, sole-tenancy premiums, DWS/calendar-mode and custom-shape SKUs.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass, field

from optimizer.catalog import Offering

from .families import known_types
from .http import FetchError, Http, Progress
from .rows import offering, usable_spot

DEFAULT_URL = "https://cloudbilling.googleapis.com"
SERVICE = "services/6F81-5844-456A"  # Compute Engine
KEY_VARS = ("TRICLOUD_GCP_API_KEY", "GOOGLE_API_KEY")

# Machine family (instance type prefix) -> the name its core and RAM SKUs carry.
HOST_SKU_NAME = {"a2": "A2", "a3": "A3", "g2": "G2", "n1": "N1 Predefined"}
# tricloud accelerator -> the name of its GPU SKU.
GPU_SKU_NAME = {
    "T4": "Nvidia Tesla T4",
    "L4": "Nvidia L4",
    "A100-40GB": "Nvidia Tesla A100",
    "A100-80GB": "Nvidia Tesla A100 80GB",
    "H100": "Nvidia H100 80GB",
}
_UNITS = {"core": "h", "ram": "GiBy.h", "gpu": "h"}


def api_key(env=os.environ) -> tuple[str, str] | None:
    for var in KEY_VARS:
        if env.get(var):
            return var, env[var]
    return None


@dataclass
class GcpResult:
    offerings: list[Offering]
    pages: int = 0
    skus: int = 0
    used: int = 0
    notes: list[str] = field(default_factory=list)


def _component_patterns() -> list[tuple[re.Pattern, tuple[str, str]]]:
    pats = []
    for fam, name in HOST_SKU_NAME.items():
        pats.append(
            (re.compile(rf"^{re.escape(name)} Instance Core running in .+$"), ("core", fam))
        )
        pats.append((re.compile(rf"^{re.escape(name)} Instance Ram running in .+$"), ("ram", fam)))
    for acc, name in GPU_SKU_NAME.items():
        pats.append((re.compile(rf"^{re.escape(name)} GPU running in .+$"), ("gpu", acc)))
    return pats


_PATTERNS = _component_patterns()


def unit_price(sku: dict) -> tuple[str, float] | None:
    """(usageUnit, USD per unit) of the SKU's current first tier."""
    try:
        expr = sku["pricingInfo"][0]["pricingExpression"]
        rates = sorted(expr["tieredRates"], key=lambda r: float(r.get("startUsageAmount", 0)))
        price = rates[0]["unitPrice"]
        if price.get("currencyCode", "USD") != "USD":
            return None
        return expr["usageUnit"], int(price.get("units") or 0) + int(price.get("nanos") or 0) / 1e9
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def fetch(http: Http, key: str, regions: list[str], base: str = DEFAULT_URL) -> GcpResult:
    skus: list[dict] = []
    token = ""
    pages = 0
    bar = Progress("gcp: billing catalog pages", unit=" pages")
    while True:
        q = {"key": key, "currencyCode": "USD", "pageSize": "5000"}
        if token:
            q["pageToken"] = token
        doc = http.get_json(f"{base.rstrip('/')}/v1/{SERVICE}/skus?{urllib.parse.urlencode(q)}")
        if not isinstance(doc, dict) or not isinstance(doc.get("skus", []), list):
            raise FetchError(f"gcp: page {pages + 1} has no skus list")
        skus.extend(doc.get("skus", []))
        pages += 1
        bar.advance()
        token = doc.get("nextPageToken") or ""
        if not token:
            break
    bar.finish(f"({len(skus)} SKUs)")
    result = parse(skus, regions)
    result.pages, result.skus = pages, len(skus)
    return result


def parse(skus: list[dict], regions: list[str]) -> GcpResult:
    # (kind, family-or-accelerator, usage, region) -> USD per unit
    table: dict[tuple[str, str, str, str], float] = {}
    used = 0
    notes: list[str] = []
    for sku in skus:
        cat = sku.get("category") or {}
        usage = cat.get("usageType")
        if cat.get("resourceFamily") != "Compute" or usage not in ("OnDemand", "Preemptible"):
            continue
        desc = sku.get("description", "")
        if usage == "Preemptible":
            if not desc.startswith("Spot Preemptible "):
                continue
            desc = desc[len("Spot Preemptible ") :]
        component = next((c for p, c in _PATTERNS if p.match(desc)), None)
        if component is None:
            continue
        priced = unit_price(sku)
        if priced is None or priced[0] != _UNITS[component[0]]:
            notes.append(
                f"gcp: SKU {sku.get('skuId')} ({sku.get('description')}) skipped: unexpected price unit"
            )
            continue
        used += 1
        for region in sku.get("serviceRegions") or []:
            table[(*component, usage, region)] = priced[1]

    def price(shape, fam, region, usage) -> float | None:
        parts = [
            table.get(("core", fam, usage, region)),
            table.get(("ram", fam, usage, region)),
            table.get(("gpu", shape.accelerator, usage, region)),
        ]
        if None in parts:
            return None
        core, ram, gpu = parts
        return shape.vcpus * core + shape.memory_gb * ram + shape.count * gpu

    out = []
    for shape in known_types("gcp"):
        fam = shape.instance_type.split("-")[0]
        for region in regions:
            od = price(shape, fam, region, "OnDemand")
            if od is None or od <= 0:
                continue
            spot = price(shape, fam, region, "Preemptible")
            out.append(offering("gcp", region, shape, od, usable_spot(od, spot)))
    return GcpResult(out, used=used, notes=notes)
