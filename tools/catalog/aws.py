"""AWS Price List bulk offer files (no auth) and, with credentials, EC2 spot price history.

On-demand: `/offers/v1.0/aws/AmazonEC2/current/region_index.json`, then each region's offer
file; kept are products with operatingSystem Linux, tenancy Shared, preInstalledSw NA,
capacitystatus Used and an hourly USD OnDemand price.
https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-the-aws-price-list-bulk-api.html

Spot: EC2 `DescribeSpotPriceHistory` (Linux/UNIX, the price in effect now per availability
zone), signed with SigV4 from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN).
The region's spot price is the median over its standard zones (Local Zones are other metros),
leaving out zones whose spot price is not below on-demand. Without credentials the caller keeps
the previous snapshot's spot prices and says so.
"""

from __future__ import annotations

import os
import re
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime

from optimizer.catalog import Offering

from .families import KNOWN, known_types
from .http import FetchError, Http, Progress
from .rows import median, offering
from .sigv4 import sign_get

DEFAULT_URL = "https://pricing.us-east-1.amazonaws.com"
INDEX_PATH = "/offers/v1.0/aws/AmazonEC2/current/region_index.json"
DEFAULT_EC2_URL = "https://ec2.{region}.amazonaws.com/"
_EC2_NS = "{http://ec2.amazonaws.com/doc/2016-11-15/}"


@dataclass
class AwsResult:
    offerings: list[Offering]
    spot_source: str  # "ec2" or "none"
    files: int = 0
    products: int = 0
    notes: list[str] = field(default_factory=list)


def credentials(env=os.environ) -> tuple[str, str, str | None] | None:
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return key, secret, env.get("AWS_SESSION_TOKEN") or None
    return None


def fetch(
    http: Http,
    regions: list[str],
    base: str = DEFAULT_URL,
    ec2_url: str = DEFAULT_EC2_URL,
    creds: tuple[str, str, str | None] | None = None,
    now: datetime | None = None,
) -> AwsResult:
    index = http.get_json(base.rstrip("/") + INDEX_PATH)
    listed = index.get("regions") if isinstance(index, dict) else None
    if not isinstance(listed, dict):
        raise FetchError("aws: region_index.json has no regions map")
    on_demand: dict[tuple[str, str], float] = {}
    products = files = 0
    notes: list[str] = []
    for region in regions:
        entry = listed.get(region)
        if not isinstance(entry, dict) or "currentVersionUrl" not in entry:
            notes.append(f"aws: region {region} is not in the price list index; no rows for it")
            continue
        url = urllib.parse.urljoin(base.rstrip("/") + "/", entry["currentVersionUrl"].lstrip("/"))
        bar = Progress(f"aws: offer file {region}", unit="MB")
        doc = http.get_json(url, progress=bar)
        bar.finish()
        files += 1
        found, n = parse_offer(doc, region)
        products += n
        on_demand.update(found)
    spot: dict[tuple[str, str], float] = {}
    source = "none"
    if creds is not None:
        source = "ec2"
        bar = Progress("aws: spot price history", total=len(regions), unit=" regions")
        for region in regions:
            types = sorted({t for (r, t) in on_demand if r == region})
            if types:
                spot.update(fetch_spot(http, region, types, on_demand, ec2_url, creds, now))
            bar.advance()
        bar.finish()
    out = [
        offering("aws", r, KNOWN[("aws", t)], od, spot.get((r, t)))
        for (r, t), od in sorted(on_demand.items())
    ]
    return AwsResult(out, source, files, products, notes)


def parse_offer(doc, region: str) -> tuple[dict[tuple[str, str], float], int]:
    """(region, instance type) -> on-demand USD/h from one region's offer file."""
    if not isinstance(doc, dict) or not isinstance(doc.get("products"), dict):
        raise FetchError(f"aws: offer file for {region} has no products map")
    terms = (doc.get("terms") or {}).get("OnDemand") or {}
    wanted = {s.instance_type for s in known_types("aws")}
    out: dict[tuple[str, str], float] = {}
    for sku, product in doc["products"].items():
        a = product.get("attributes") or {}
        if a.get("instanceType") not in wanted:
            continue
        if (
            a.get("operatingSystem") != "Linux"
            or a.get("tenancy") != "Shared"
            or a.get("preInstalledSw") != "NA"
            or a.get("capacitystatus") != "Used"
        ):
            continue
        where = a.get("regionCode", region)
        for term in (terms.get(sku) or {}).values():
            for dim in (term.get("priceDimensions") or {}).values():
                try:
                    price = float(dim["pricePerUnit"]["USD"])
                except (KeyError, TypeError, ValueError):
                    continue
                if dim.get("unit") == "Hrs" and price > 0:
                    out[(where, a["instanceType"])] = price
    return out, len(doc["products"])


_STANDARD_AZ = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")


def fetch_spot(http, region, types, on_demand, ec2_url, creds, now=None):
    """(region, type) -> median spot price over standard zones below on-demand."""
    now = now or datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    params = {
        "Action": "DescribeSpotPriceHistory",
        "Version": "2016-11-15",
        "ProductDescription.1": "Linux/UNIX",
        "StartTime": stamp,
        "EndTime": stamp,
    }
    for i, t in enumerate(types, 1):
        params[f"InstanceType.{i}"] = t
    latest: dict[tuple[str, str], tuple[str, float]] = {}  # (type, zone) -> (timestamp, price)
    token = None
    base = ec2_url.format(region=region)
    while True:
        query = dict(params, **({"NextToken": token} if token else {}))
        url = f"{base}?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"
        key, secret, session = creds
        headers = sign_get(url, region, "ec2", key, secret, now, session)
        try:
            root = ET.fromstring(http.get(url, headers))
        except ET.ParseError as e:
            raise FetchError(f"aws: spot price history for {region} is not XML ({e})") from None
        for item in root.iter(f"{_EC2_NS}item"):
            t = item.findtext(f"{_EC2_NS}instanceType")
            zone = item.findtext(f"{_EC2_NS}availabilityZone") or ""
            ts = item.findtext(f"{_EC2_NS}timestamp") or ""
            try:
                price = float(item.findtext(f"{_EC2_NS}spotPrice") or "")
            except ValueError:
                continue
            if t and _STANDARD_AZ.match(zone) and ts >= latest.get((t, zone), ("", 0))[0]:
                latest[(t, zone)] = (ts, price)
        token = root.findtext(f"{_EC2_NS}nextToken")
        if not token:
            break
    out = {}
    for t in types:
        od = on_demand[(region, t)]
        zones = [p for (tt, _), (_, p) in latest.items() if tt == t and 0 < p < od]
        if zones:
            out[(region, t)] = median(zones)
    return out
