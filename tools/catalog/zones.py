"""Which zones of a region offer an instance type, from each cloud's API (credentials needed).

- AWS: EC2 `DescribeInstanceTypeOfferings` with `LocationType=availability-zone-id`, signed
  with SigV4 like the spot price history. AZ IDs (use1-az1) rather than AZ names: the names of
  the older regions are mapped per account, the IDs are the same physical zone everywhere.
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceTypeOfferings.html
- GCP: Compute Engine `aggregated/machineTypes` and `aggregated/acceleratorTypes` of a project
  (OAuth access token); a type with attached GPUs (N1 + T4) needs both in the zone.
  https://cloud.google.com/compute/docs/reference/rest/v1/machineTypes/aggregatedList
- Azure: `Microsoft.Compute/skus` of a subscription (bearer token), `locationInfo[].zones` of
  each VM size; a size listed for a region without zones is offered in no zone ("-").
  https://learn.microsoft.com/rest/api/compute/resource-skus/list

Each fetcher returns {(region, instance type): sorted zones} for the pairs the API lists.
"""

from __future__ import annotations

import os
import re
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from optimizer.catalog import zone_problem

from .families import KNOWN
from .http import FetchError, Http
from .sigv4 import sign_get

DEFAULT_EC2_URL = "https://ec2.{region}.amazonaws.com/"
DEFAULT_GCP_COMPUTE_URL = "https://compute.googleapis.com"
DEFAULT_AZURE_ARM_URL = "https://management.azure.com"
AZURE_SKUS_API_VERSION = "2021-07-01"
GCP_VARS = ("TRICLOUD_GCP_PROJECT", "TRICLOUD_GCP_ACCESS_TOKEN")
AZURE_VARS = ("AZURE_SUBSCRIPTION_ID", "TRICLOUD_AZURE_ACCESS_TOKEN")
_EC2_NS = "{http://ec2.amazonaws.com/doc/2016-11-15/}"
# tricloud accelerator -> GCP accelerator type name, for machine types with attached GPUs.
GCP_ACCELERATOR_TYPE = {"T4": "nvidia-tesla-t4", "L4": "nvidia-l4", "V100": "nvidia-tesla-v100"}

Zones = dict[tuple[str, str], tuple[str, ...]]


@dataclass(frozen=True)
class Credentials:
    """What one cloud's zone API needs; `source` names the variables for the README."""

    values: tuple[str, ...]
    source: str


def gcp_credentials(env=os.environ) -> Credentials | None:
    if all(env.get(v) for v in GCP_VARS):
        return Credentials(tuple(env[v] for v in GCP_VARS), " and ".join(GCP_VARS))
    return None


def azure_credentials(env=os.environ) -> Credentials | None:
    if all(env.get(v) for v in AZURE_VARS):
        return Credentials(tuple(env[v] for v in AZURE_VARS), " and ".join(AZURE_VARS))
    return None


def _standard(cloud: str, region: str, zones) -> tuple[str, ...]:
    """The zones that are zones of the region (AWS Local/Wavelength Zones are other metros)."""
    return tuple(sorted({z for z in zones if zone_problem(cloud, region, z) is None}))


# --- AWS -------------------------------------------------------------------------------------


def fetch_aws(
    http: Http,
    region: str,
    types: list[str],
    creds: tuple[str, str, str | None],
    ec2_url: str = DEFAULT_EC2_URL,
    now: datetime | None = None,
) -> Zones:
    now = now or datetime.now(UTC)
    params = {
        "Action": "DescribeInstanceTypeOfferings",
        "Version": "2016-11-15",
        "LocationType": "availability-zone-id",
        "Filter.1.Name": "instance-type",
        "MaxResults": "1000",
    }
    for i, t in enumerate(sorted(types), 1):
        params[f"Filter.1.Value.{i}"] = t
    found: dict[str, set[str]] = {}
    token = None
    base = ec2_url.format(region=region)
    key, secret, session = creds
    while True:
        query = dict(params, **({"NextToken": token} if token else {}))
        url = f"{base}?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"
        headers = sign_get(url, region, "ec2", key, secret, now, session)
        try:
            root = ET.fromstring(http.get(url, headers))
        except ET.ParseError as e:
            raise FetchError(
                f"aws: instance type offerings for {region} are not XML ({e})"
            ) from None
        for item in root.iter(f"{_EC2_NS}item"):
            t = item.findtext(f"{_EC2_NS}instanceType")
            zone = item.findtext(f"{_EC2_NS}location")
            if t and zone and item.findtext(f"{_EC2_NS}locationType") == "availability-zone-id":
                found.setdefault(t, set()).add(zone)
        token = root.findtext(f"{_EC2_NS}nextToken")
        if not token:
            break
    out = {}
    for t, zones in found.items():
        std = _standard("aws", region, zones)
        if std:
            out[(region, t)] = std
    return out


# --- GCP -------------------------------------------------------------------------------------


def _gcp_aggregated(
    http: Http, url: str, token: str, kind: str, names: list[str] | None = None
) -> dict[str, set[str]]:
    """name -> zones from an aggregated list (`machineTypes` or `acceleratorTypes`), all pages."""
    out: dict[str, set[str]] = {}
    page = ""
    # The list filter's `eq` takes a regular expression: only the wanted machine types.
    flt = {"filter": f"name eq ({'|'.join(re.escape(n) for n in names)})"} if names else {}
    while True:
        q = {**flt, "maxResults": "500", **({"pageToken": page} if page else {})}
        doc = http.get_json(
            f"{url}?{urllib.parse.urlencode(q)}", {"Authorization": f"Bearer {token}"}
        )
        items = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(items, dict):
            raise FetchError(f"gcp: aggregated {kind} answer has no items map")
        for scope, entry in items.items():
            if not scope.startswith("zones/") or not isinstance(entry, dict):
                continue
            zone = scope[len("zones/") :]
            for obj in entry.get(kind) or []:
                if isinstance(obj, dict) and obj.get("name"):
                    out.setdefault(obj["name"], set()).add(zone)
        page = doc.get("nextPageToken") or ""
        if not page:
            return out


def fetch_gcp(
    http: Http,
    creds: Credentials,
    regions: list[str],
    types: list[str],
    base: str = DEFAULT_GCP_COMPUTE_URL,
) -> Zones:
    project, token = creds.values
    root = f"{base.rstrip('/')}/compute/v1/projects/{urllib.parse.quote(project)}/aggregated"
    machines = _gcp_aggregated(http, f"{root}/machineTypes", token, "machineTypes", types)
    accelerators = _gcp_aggregated(http, f"{root}/acceleratorTypes", token, "acceleratorTypes")
    out: Zones = {}
    for t in types:
        zones = set(machines.get(t, ()))
        shape = KNOWN.get(("gcp", t))
        if shape is not None and t.startswith("n1-"):  # GPUs attached, not bundled
            zones &= accelerators.get(GCP_ACCELERATOR_TYPE.get(shape.accelerator, ""), set())
        for region in regions:
            here = _standard("gcp", region, (z for z in zones if z.rsplit("-", 1)[0] == region))
            if here:
                out[(region, t)] = here
    return out


# --- Azure -----------------------------------------------------------------------------------


def fetch_azure(
    http: Http,
    creds: Credentials,
    region: str,
    sizes: list[str],
    base: str = DEFAULT_AZURE_ARM_URL,
) -> Zones:
    subscription, token = creds.values
    q = {"api-version": AZURE_SKUS_API_VERSION, "$filter": f"location eq '{region}'"}
    url: str | None = (
        f"{base.rstrip('/')}/subscriptions/{urllib.parse.quote(subscription)}"
        f"/providers/Microsoft.Compute/skus?{urllib.parse.urlencode(q, quote_via=urllib.parse.quote)}"
    )
    wanted = set(sizes)
    out: Zones = {}
    while url:
        doc = http.get_json(url, {"Authorization": f"Bearer {token}"})
        if not isinstance(doc, dict) or not isinstance(doc.get("value"), list):
            raise FetchError(f"azure: resource SKUs answer for {region} has no value list")
        for sku in doc["value"]:
            if sku.get("resourceType") != "virtualMachines" or sku.get("name") not in wanted:
                continue
            for info in sku.get("locationInfo") or []:
                if str(info.get("location", "")).lower() == region:
                    zones = [str(z) for z in info.get("zones") or []]
                    out[(region, sku["name"])] = _standard("azure", region, zones)
        url = doc.get("nextLink") or None
    return out
