"""Azure Retail Prices API (no auth): https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices

One OData query for the known VM sizes (and regions), followed through `NextPageLink`. Kept:
`type` Consumption, `unitOfMeasure` "1 Hour", not Windows (`productName`), not Low Priority;
a meter with "Spot" in `meterName` or `skuName` is the spot price, any other the on-demand one.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from optimizer.catalog import Offering

from .families import KNOWN, known_types
from .http import FetchError, Http, Progress
from .rows import offering, usable_spot

DEFAULT_URL = "https://prices.azure.com/api/retail/prices"


@dataclass
class AzureResult:
    offerings: list[Offering]
    pages: int = 0
    items: int = 0
    notes: list[str] = field(default_factory=list)


def query_url(base: str, skus: list[str], regions: list[str] | None) -> str:
    flt = "serviceName eq 'Virtual Machines' and priceType eq 'Consumption'"
    flt += " and (" + " or ".join(f"armSkuName eq '{s}'" for s in skus) + ")"
    if regions:
        flt += " and (" + " or ".join(f"armRegionName eq '{r}'" for r in regions) + ")"
    return f"{base}?{urllib.parse.urlencode({'$filter': flt}, quote_via=urllib.parse.quote)}"


def fetch(http: Http, regions: list[str] | None, base: str = DEFAULT_URL) -> AzureResult:
    skus = [s.instance_type for s in known_types("azure")]
    url: str | None = query_url(base, skus, regions)
    items: list[dict] = []
    pages = 0
    bar = Progress("azure: retail prices pages", unit=" pages")
    while url:
        doc = http.get_json(url)
        if not isinstance(doc, dict) or not isinstance(doc.get("Items"), list):
            raise FetchError(f"azure: page {pages + 1} has no Items list")
        items.extend(doc["Items"])
        pages += 1
        bar.advance()
        url = doc.get("NextPageLink") or None
    bar.finish(f"({len(items)} price items)")
    result = parse(items, regions)
    result.pages, result.items = pages, len(items)
    return result


def parse(items: list[dict], regions: list[str] | None) -> AzureResult:
    wanted = set(regions) if regions else None
    # (region, sku, spot?) -> (effectiveStartDate, price): the latest effective price wins.
    prices: dict[tuple[str, str, bool], tuple[str, float]] = {}
    for it in items:
        sku, region = it.get("armSkuName", ""), it.get("armRegionName", "")
        if ("azure", sku) not in KNOWN or (wanted is not None and region not in wanted):
            continue
        if it.get("type") != "Consumption" or it.get("unitOfMeasure") != "1 Hour":
            continue
        if "Windows" in it.get("productName", ""):
            continue
        names = f"{it.get('meterName', '')} {it.get('skuName', '')}"
        if "Low Priority" in names:
            continue
        try:
            price = float(it["retailPrice"])
        except (KeyError, TypeError, ValueError):
            continue
        if price <= 0:
            continue
        key = (region, sku, "Spot" in names)
        start = str(it.get("effectiveStartDate", ""))
        if key not in prices or start > prices[key][0]:
            prices[key] = (start, price)
    out: list[Offering] = []
    notes: list[str] = []
    above = 0
    for (region, sku, is_spot), (_, od) in sorted(prices.items()):
        if is_spot:
            continue
        spot = prices.get((region, sku, True), (None, None))[1]
        if spot is not None and spot > od:
            above += 1
        out.append(offering("azure", region, KNOWN[("azure", sku)], od, usable_spot(od, spot)))
    if above:
        notes.append(f"azure: {above} spot prices above on-demand were dropped")
    return AzureResult(out, notes=notes)
