"""Stack configuration: the one place that reads Pulumi config (design sections 2 and 3).

`parse(config, stack=..., stacks_dir=...)` turns the stack's config, in the form the Pulumi
engine hands it to a Python program (a flat mapping of full keys such as "tricloud:services"
or "gcp:project" to strings; structured and array values are JSON text), into frozen
`Settings`: the optimizer's `Scenario` and catalog, traffic, Kubernetes and provider settings,
and the committed placement lock. Every invalid value is collected and raised at once as one
`optimizer.errors.InputError` whose problems name the full key path (`tricloud:traffic.policy`,
`tricloud:services[0].throughputRps`), the bad value and what is allowed.

`load()` reads the running program's config and exits 2 with one line per problem on bad
input. `config_from_stack_file()` reads a `Pulumi.<stack>.yaml` into the same wire form, so
the offline plan feeds the mock engine what `pulumi preview` would.

Only `load()` imports pulumi, so everything else is testable without the Pulumi runtime.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from optimizer import catalog as catalog_mod
from optimizer import kubernetes, lockfile
from optimizer import scenario as scenario_mod
from optimizer.catalog import CLOUDS, Catalog
from optimizer.errors import Collector, InputError, Problem, print_problems
from optimizer.plan import load_plan_file
from optimizer.scenario import Scenario

PROJECT = "tricloud"
REPO_ROOT = Path(__file__).resolve().parents[1]
# Where `load()` finds the stack's lock. None: the stackConfigDir of the Pulumi project in the
# working directory, which is where Pulumi (and the offline plan) runs a program.
STACKS_DIR: Path | None = None

DNS_CLOUD = {"route53": "aws", "traffic-manager": "azure", "cloud-dns": "gcp"}
POLICIES = ("latency", "weighted", "failover", "geo")
REGIONAL_ALGORITHMS = ("round-robin", "least-request", "source-ip")
# Source ranges a public API endpoint never sees: clients there reach the internet through NAT.
# (The documentation ranges 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 stay allowed as
# stand-ins for real office ranges in examples.)
NON_PUBLIC_RANGES = {
    "10.0.0.0/8": "a private range (RFC 1918)",
    "172.16.0.0/12": "a private range (RFC 1918)",
    "192.168.0.0/16": "a private range (RFC 1918)",
    "100.64.0.0/10": "the carrier-grade NAT range (RFC 6598)",
    "127.0.0.0/8": "the loopback range",
    "169.254.0.0/16": "the link-local range",
    "0.0.0.0/8": "the 'this network' range",
    "224.0.0.0/4": "the multicast range",
    "240.0.0.0/4": "the reserved range",
}
OWNER_KEYS = ("team", "costCenter")
TRAFFIC_KEYS = (
    "dns",
    "zone",
    "hostname",
    "policy",
    "regionalAlgorithm",
    "zoneResourceGroup",
    "managedZone",
)
AZURE_GROUP_RE = re.compile(r"^[-\w.()]{0,89}[-\w()]$")

# Keys of the project namespace. JSON keys arrive as JSON text (objects, arrays); text keys raw.
JSON_KEYS = (
    "owner",
    "clouds",
    "services",
    "placement",
    "traffic",
    "replication",
    "apiAllowedCidrs",
    "azureClusterAdmins",
    "awsClusterAdmins",
)
TEXT_KEYS = ("kubernetesVersion", "catalog")
KEYS = (*JSON_KEYS, *TEXT_KEYS)

# Provider namespaces: the loader reads a few of their keys (explicit providers do not inherit
# stack config, so the program passes them on) and leaves the rest to the providers/engine.
PROVIDER_NAMESPACES = ("aws", "azure-native", "gcp", "kubernetes")

LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9_]{0,61}[a-z0-9])?$")  # GCP and Kubernetes label value
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
GCP_PROJECT_RE = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
AWS_ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
# An IAM role or user ARN, as EKS access entries take them (path allowed; not an STS session).
IAM_PRINCIPAL_RE = re.compile(
    r"^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(role|user)/([\x21-\x7e]+/)*[\w+=,.@-]{1,128}$"
)
GCP_ZONE_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class Owner:
    team: str
    cost_center: str


@dataclass(frozen=True)
class Traffic:
    dns: str  # route53 | traffic-manager | cloud-dns
    zone: str  # DNS zone, e.g. example.com
    hostname: str  # label in the zone, e.g. api
    policy: str  # latency | weighted | failover | geo
    regional_algorithm: str  # round-robin | least-request | source-ip
    zone_resource_group: str | None = None  # traffic-manager: the Azure DNS zone's resource group
    managed_zone: str | None = None  # cloud-dns: managed zone name (default: zone with dashes)


@dataclass(frozen=True)
class Kubernetes:
    version: str
    api_allowed_cidrs: tuple[str, ...]  # empty: no public API endpoint
    # per cloud of the stack: "standard" or "extended" support on the catalog's snapshot date
    support: dict[str, str] = field(default_factory=dict)
    azure_cluster_admins: tuple[str, ...] = ()  # Entra object ids; empty: the deploying identity
    aws_cluster_admins: tuple[str, ...] = ()  # IAM role/user ARNs beside the cluster's creator


@dataclass(frozen=True)
class Providers:
    gcp_project: str | None
    azure_subscription_id: str | None
    aws_allowed_account_ids: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    project: str
    stack: str
    owner: Owner
    scenario: Scenario
    catalog: Catalog
    traffic: Traffic
    kubernetes: Kubernetes
    providers: Providers
    lock: dict | None  # the committed plan stacks/placement.<stack>.json, None when absent
    lock_path: str  # as shown to users, e.g. "stacks/placement.prod.json"

    def cost_tags(self) -> dict[str, str]:
        """The four cost-allocation tags/labels every taggable resource carries (design 8)."""
        return {
            "team": self.owner.team,
            "cost-center": self.owner.cost_center,
            "stack": self.stack,
            "managed-by": "tricloud",
        }


# ---------------------------------------------------------------------------------------
# Wire form


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _normalise_key(key: str) -> str:
    """ "ns:config:key" (older engines) -> "ns:key"."""
    parts = key.split(":")
    if len(parts) == 3 and parts[1] == "config":
        return f"{parts[0]}:{parts[2]}"
    return key


_MISSING = object()  # key not set
_BAD = object()  # key set but not decodable (already reported)


def _decode_json(config: Mapping[str, Any], key: str, errors: Collector) -> Any:
    """The decoded value of a JSON-valued key; `_MISSING` if absent, `_BAD` if undecodable."""
    if key not in config:
        return _MISSING
    value = config[key]
    if not isinstance(value, str):
        return value  # already decoded (tests, callers holding Python values)
    try:
        return json.loads(value)
    except json.JSONDecodeError as e:
        errors.add(key, f"{_show(value)} is not valid JSON ({e.msg} at character {e.pos})")
        return _BAD


def _text(value: Any) -> Any:
    """A scalar as the engine would pass it (already-decoded numbers become text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


# ---------------------------------------------------------------------------------------
# Sections


def _mapping(value: Any, key: str, known: tuple[str, ...], errors: Collector) -> dict | None:
    if not isinstance(value, dict):
        errors.add(key, f"{_show(value)} is not a mapping with the keys {', '.join(known)}")
        return None
    for sub in value:
        if sub not in known:
            errors.add(f"{key}.{sub}", f"unknown key; allowed: {', '.join(known)}")
    return value


def _owner(value: Any, key: str, errors: Collector) -> Owner | None:
    if value is _BAD:
        return None
    if value is _MISSING:
        errors.add(key, "is required: {team: ..., costCenter: ...} (cost-allocation labels)")
        return None
    raw = _mapping(value, key, OWNER_KEYS, errors)
    if raw is None:
        return None
    out = {}
    for sub in OWNER_KEYS:
        v = raw.get(sub)
        if sub not in raw:
            errors.add(f"{key}.{sub}", "is required")
        elif not isinstance(v, str) or not LABEL_RE.match(v):
            errors.add(
                f"{key}.{sub}",
                f"{_show(v)} is not a valid label value (GCP and Kubernetes): 1-63 lowercase "
                "letters, digits, '-' or '_', starting and ending with a letter or digit",
            )
        else:
            out[sub] = v
    if len(out) != len(OWNER_KEYS):
        return None
    return Owner(out["team"], out["costCenter"])


def _zone(v: Any, key: str, errors: Collector) -> str | None:
    what = "a DNS zone name such as example.com (lowercase labels, at most 253 characters)"
    if not isinstance(v, str):
        errors.add(key, f"{_show(v)} is not {what}")
        return None
    name = v[:-1] if v.endswith(".") else v
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(DNS_LABEL_RE.match(x) for x in labels):
        errors.add(key, f"{_show(v)} is not {what}")
        return None
    return name


def _traffic(value: Any, key: str, clouds: tuple[str, ...] | None, errors: Collector):
    if value is _BAD:
        return None
    if value is _MISSING:
        errors.add(key, "is required: {dns: route53|traffic-manager|cloud-dns, zone: ...}")
        return None
    raw = _mapping(value, key, TRAFFIC_KEYS, errors)
    if raw is None:
        return None
    n_before = len(errors.problems)
    dns = raw.get("dns")
    if "dns" not in raw:
        errors.add(f"{key}.dns", f"is required; allowed: {', '.join(DNS_CLOUD)}")
    elif dns not in DNS_CLOUD:
        errors.add(f"{key}.dns", f"{_show(dns)} is not allowed; allowed: {', '.join(DNS_CLOUD)}")
    elif clouds is not None and DNS_CLOUD[dns] not in clouds:
        errors.add(
            f"{key}.dns",
            f"{dns!r} runs on {DNS_CLOUD[dns]}, which is not in {PROJECT}:clouds "
            f"({', '.join(clouds)}); add {DNS_CLOUD[dns]} to clouds or pick the DNS of "
            f"one of them: " + ", ".join(d for d, c in DNS_CLOUD.items() if c in clouds),
        )
    zone = None
    if "zone" not in raw:
        errors.add(f"{key}.zone", "is required: the DNS zone name, e.g. example.com")
    else:
        zone = _zone(raw["zone"], f"{key}.zone", errors)
    hostname = raw.get("hostname", "api")
    if not isinstance(hostname, str) or not DNS_LABEL_RE.match(hostname):
        errors.add(
            f"{key}.hostname",
            f"{_show(hostname)} is not a DNS label (1-63 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit)",
        )
    elif zone is not None and len(hostname) + 1 + len(zone) > 253:
        errors.add(f"{key}.hostname", f"{hostname}.{zone} is longer than 253 characters")
    policy = raw.get("policy", "latency")
    if policy not in POLICIES:
        errors.add(
            f"{key}.policy", f"{_show(policy)} is not allowed; allowed: {', '.join(POLICIES)}"
        )
    algorithm = raw.get("regionalAlgorithm", "round-robin")
    if algorithm not in REGIONAL_ALGORITHMS:
        errors.add(
            f"{key}.regionalAlgorithm",
            f"{_show(algorithm)} is not allowed; allowed: {', '.join(REGIONAL_ALGORITHMS)}",
        )
    group = raw.get("zoneResourceGroup")
    if dns == "traffic-manager" and group is None:
        errors.add(
            f"{key}.zoneResourceGroup",
            "is required with traffic-manager: the resource group of the Azure DNS zone "
            "(the Traffic Manager profiles are created there too)",
        )
    elif group is not None and (not isinstance(group, str) or not AZURE_GROUP_RE.match(group)):
        errors.add(
            f"{key}.zoneResourceGroup",
            f"{_show(group)} is not an Azure resource group name (1-90 letters, digits, "
            "'-', '_', '.', '(', ')', not ending with '.')",
        )
    managed = raw.get("managedZone")
    if managed is not None and (not isinstance(managed, str) or not GCP_ZONE_RE.match(managed)):
        errors.add(
            f"{key}.managedZone",
            f"{_show(managed)} is not a Cloud DNS managed zone name (1-63 lowercase letters, "
            "digits or '-', starting with a letter)",
        )
    if len(errors.problems) != n_before:
        return None
    return Traffic(dns, zone, hostname, policy, algorithm, group, managed)  # type: ignore[arg-type]


def _kubernetes_version(
    value: Any, key: str, clouds: tuple[str, ...] | None, cat: Catalog | None, errors: Collector
) -> tuple[str, dict[str, str]] | None:
    """The version and its support status per cloud, on the catalog's snapshot date: a version
    a cloud of the stack no longer offers (or does not offer yet) is rejected."""
    if cat is None:
        return None  # reported elsewhere; the snapshot date comes from the catalog
    clouds = clouds or CLOUDS  # invalid clouds (reported elsewhere): hold it to all three
    on = kubernetes.snapshot_day(cat.snapshot)
    default = kubernetes.default_version(list(clouds), on)
    if value is _MISSING:
        if default is None:
            errors.add(
                key, f"no version is in standard support on all of {', '.join(clouds)} on {on}"
            )
            return None
        value = default
    value = _text(value)
    status = {c: kubernetes.support(c, value, on).status for c in clouds}
    refused = [c for c, st in status.items() if st == kubernetes.UNSUPPORTED]
    if refused:
        offered = "; ".join(
            f"{c}: {', '.join(kubernetes.offered(c, on)) or 'none'}" for c in clouds
        )
        errors.add(
            key,
            f"{_show(value)} is not offered by {', '.join(refused)} on {on} (the catalog's "
            f"snapshot date); offered: {offered}; in standard support everywhere: "
            f'{default or "none"} (quote it in YAML: "1.35")',
        )
        return None
    return value, status


# Accelerators the optimizer can price but the components cannot run: their GPU plumbing is
# NVIDIA's (device plugin, `nvidia.com/gpu` requests, the clouds' NVIDIA driver installs).
NOT_DEPLOYABLE = {
    "MI300X": "an AMD GPU: the components deploy NVIDIA GPUs only (NVIDIA device plugin, "
    "nvidia.com/gpu requests, NVIDIA driver install); AMD's device plugin and ROCm images "
    "are not declared",
}


def _deployable_accelerators(scenario: Scenario, key: str, errors: Collector) -> None:
    for i, svc in enumerate(scenario.services):
        for acc in svc.throughput_rps:
            if acc in NOT_DEPLOYABLE:
                errors.add(
                    f"{key}[{i}].throughputRps.{acc}",
                    f"{acc} is {NOT_DEPLOYABLE[acc]}; remove it from throughputRps",
                )


def _aws_cluster_admins(value: Any, key: str, errors: Collector) -> tuple[str, ...] | None:
    if value is _BAD:
        return None
    if value is _MISSING:
        return ()
    if not isinstance(value, list):
        errors.add(
            key,
            f"{_show(value)} is not a list of IAM role or user ARNs "
            "([] or left out: only the identity that creates each cluster)",
        )
        return None
    n_before = len(errors.problems)
    for i, entry in enumerate(value):
        if isinstance(entry, str) and ":sts::" in entry and ":assumed-role/" in entry:
            errors.add(
                f"{key}[{i}]",
                f"{entry!r} is an STS session; EKS access entries take the role's ARN "
                "(arn:aws:iam::<account>:role/<name>)",
            )
        elif not isinstance(entry, str) or not IAM_PRINCIPAL_RE.match(entry):
            errors.add(
                f"{key}[{i}]",
                f"{_show(entry)} is not an IAM role or user ARN "
                "(arn:aws:iam::<12-digit account>:role/<name> or :user/<name>)",
            )
        elif value.index(entry) != i:
            errors.add(f"{key}[{i}]", f"{entry!r} is listed twice")
    if len(errors.problems) != n_before:
        return None
    return tuple(value)


def _azure_cluster_admins(value: Any, key: str, errors: Collector) -> tuple[str, ...] | None:
    if value is _BAD:
        return None
    if value is _MISSING:
        return ()
    if not isinstance(value, list):
        errors.add(
            key,
            f"{_show(value)} is not a list of Entra ID object ids "
            "([] or left out: the deploying identity)",
        )
        return None
    n_before = len(errors.problems)
    for i, entry in enumerate(value):
        if not isinstance(entry, str) or not UUID_RE.match(entry):
            errors.add(f"{key}[{i}]", f"{_show(entry)} is not an Entra ID object id (a GUID)")
        elif value.index(entry) != i:
            errors.add(f"{key}[{i}]", f"{entry!r} is listed twice")
    if len(errors.problems) != n_before:
        return None
    return tuple(value)


def _cidrs(value: Any, key: str, errors: Collector) -> tuple[str, ...] | None:
    if value is _BAD:
        return None
    if value is _MISSING:
        return ()
    if not isinstance(value, list):
        errors.add(key, f"{_show(value)} is not a list of IPv4 CIDRs such as 203.0.113.0/24")
        return None
    out: list[str] = []
    n_before = len(errors.problems)
    for i, entry in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(entry, str):
            errors.add(where, f"{_show(entry)} is not an IPv4 CIDR such as 203.0.113.0/24")
            continue
        try:
            net = ipaddress.ip_network(entry, strict=True)
        except ValueError as e:
            hint = ""
            if "host bits set" in str(e):
                hint = f"; did you mean {ipaddress.ip_network(entry, strict=False)}?"
            errors.add(where, f"{entry!r} is not an IPv4 CIDR such as 203.0.113.0/24 ({e}{hint})")
            continue
        if net.version != 4:
            errors.add(where, f"{entry!r} is IPv6; allowed: IPv4 CIDRs such as 203.0.113.0/24")
        elif net.prefixlen == 0:
            errors.add(
                where,
                f"{entry!r} covers the whole internet: it would open the Kubernetes API to "
                "everyone; list your office/VPN ranges, or leave the list empty for a "
                "private-only endpoint",
            )
        elif (kind := _non_public(net)) is not None:
            errors.add(
                where,
                f"{entry!r} is {kind}: the public Kubernetes API endpoints (EKS public access, "
                "AKS authorized IP ranges, GKE master authorized networks) only ever see public "
                "source addresses, so it can never match; list the public egress ranges of your "
                "offices, VPN and CI runners instead",
            )
        elif str(net) in out:
            errors.add(where, f"{entry!r} is listed twice")
        else:
            out.append(str(net))
    if len(errors.problems) != n_before:
        return None
    return tuple(out)


def _non_public(net: ipaddress.IPv4Network) -> str | None:
    """What kind of non-public range `net` overlaps, if any."""
    for cidr, kind in NON_PUBLIC_RANGES.items():
        if net.overlaps(ipaddress.ip_network(cidr)):
            return kind
    return None


def _providers(
    config: Mapping[str, Any], clouds: tuple[str, ...] | None, errors: Collector
) -> Providers:
    project = config.get("gcp:project")
    if project is None:
        if clouds is not None and "gcp" in clouds:
            errors.add(
                "gcp:project",
                f"is required because gcp is in {PROJECT}:clouds: the GCP project id "
                "(6-30 lowercase letters, digits or '-', starting with a letter)",
            )
    elif not isinstance(project, str) or not GCP_PROJECT_RE.match(project):
        errors.add(
            "gcp:project",
            f"{_show(project)} is not a GCP project id (6-30 lowercase letters, digits or '-', "
            "starting with a letter, not ending with '-')",
        )
        project = None
    subscription = config.get("azure-native:subscriptionId")
    if subscription is None:
        if clouds is not None and "azure" in clouds:
            errors.add(
                "azure-native:subscriptionId",
                f"is required because azure is in {PROJECT}:clouds: the Azure subscription id "
                "(a UUID such as 00000000-0000-0000-0000-000000000000)",
            )
    elif not isinstance(subscription, str) or not UUID_RE.match(subscription):
        errors.add(
            "azure-native:subscriptionId",
            f"{_show(subscription)} is not an Azure subscription id "
            "(a UUID such as 00000000-0000-0000-0000-000000000000)",
        )
        subscription = None
    accounts: list[str] = []
    raw = _decode_json(config, "aws:allowedAccountIds", errors)
    if raw not in (_MISSING, _BAD):
        if not isinstance(raw, list):
            errors.add(
                "aws:allowedAccountIds", f"{_show(raw)} is not a list of 12-digit account ids"
            )
        else:
            for i, acc in enumerate(raw):
                if not isinstance(acc, str) or not AWS_ACCOUNT_RE.match(acc):
                    errors.add(
                        f"aws:allowedAccountIds[{i}]",
                        f"{_show(acc)} is not an AWS account id: 12 digits, as a quoted string",
                    )
                else:
                    accounts.append(acc)
    return Providers(project, subscription, tuple(accounts))


def _clouds_for_checks(value: Any) -> tuple[str, ...] | None:
    """The clouds that cloud-dependent checks use; None when clouds itself is invalid
    (the scenario reports that, and dependent checks would only add noise)."""
    if value is _MISSING:
        return CLOUDS
    if value is not _BAD and isinstance(value, list) and value and all(c in CLOUDS for c in value):
        return tuple(c for c in CLOUDS if c in value)
    return None


def _catalog(
    value: Any, key: str, root: Path, default: Catalog | None, errors: Collector
) -> Catalog | None:
    if value is _MISSING or value == "":
        return default if default is not None else catalog_mod.load()
    if not isinstance(value, str):
        errors.add(key, f"{_show(value)} is not a path to a catalog folder")
        return None
    path = Path(value)
    try:
        return catalog_mod.load(path if path.is_absolute() else root / path)
    except InputError as e:
        for p in e.problems:
            errors.add(key, f"catalog {value!r}: {p}")
        return None


def _lock(path: Path, shown: str, errors: Collector, cat: Catalog | None) -> dict | None:
    if not path.exists():
        return None
    try:
        doc = load_plan_file(path, label=shown)
        problems = lockfile.check(doc, cat, shown) if cat is not None else []
    except InputError as e:
        problems, doc = e.problems, None
    for p in problems:
        errors.add(p.where, f"{p.message} (the placement lock; fix it or delete it)")
    return None if problems else doc


# ---------------------------------------------------------------------------------------


def parse(
    config: Mapping[str, Any],
    *,
    stack: str,
    stacks_dir: Path,
    catalog: Catalog | None = None,
    project: str = PROJECT,
) -> Settings:
    """Validate a stack's config (wire form) and build `Settings`; raises `InputError`.

    `catalog` is used unless the stack sets `<project>:catalog` (default: the shipped
    snapshot). `project` is the config namespace (a program composing these components under
    another project name passes its own).
    """
    errors = Collector()
    config = {_normalise_key(k): v for k, v in config.items()}
    ns = f"{project}:"
    ours = {k[len(ns) :]: v for k, v in config.items() if k.startswith(ns)}
    for k in ours:
        if k not in KEYS:
            errors.add(f"{ns}{k}", f"unknown key; allowed: {', '.join(ns + x for x in KEYS)}")
    decoded = {k: _decode_json(config, f"{ns}{k}", errors) for k in JSON_KEYS}
    text = {k: ours.get(k, _MISSING) for k in TEXT_KEYS}

    owner = _owner(decoded["owner"], f"{ns}owner", errors)

    # services, placement, replication and clouds: the optimizer's own validation.
    cat = _catalog(text["catalog"], f"{ns}catalog", stacks_dir.parent, catalog, errors)
    scenario = None
    if cat is not None:
        present = {k: decoded[k] for k in scenario_mod.SCENARIO_KEYS}
        raw = {k: v for k, v in present.items() if v not in (_MISSING, _BAD)}
        undecodable = {f"{ns}{k}" for k, v in present.items() if v is _BAD}
        try:
            scenario = scenario_mod.parse(raw, cat, prefix=ns)
        except InputError as e:
            for p in e.problems:
                if p.where not in undecodable:  # "is required": its JSON error says more
                    errors.add(p.where, p.message)
        else:
            _deployable_accelerators(scenario, f"{ns}services", errors)

    clouds = _clouds_for_checks(decoded["clouds"])
    traffic = _traffic(decoded["traffic"], f"{ns}traffic", clouds, errors)
    version = _kubernetes_version(
        text["kubernetesVersion"], f"{ns}kubernetesVersion", clouds, cat, errors
    )
    cidrs = _cidrs(decoded["apiAllowedCidrs"], f"{ns}apiAllowedCidrs", errors)
    admins = _azure_cluster_admins(decoded["azureClusterAdmins"], f"{ns}azureClusterAdmins", errors)
    aws_admins = _aws_cluster_admins(decoded["awsClusterAdmins"], f"{ns}awsClusterAdmins", errors)
    providers = _providers(config, clouds, errors)

    lock_path = f"{stacks_dir.name}/placement.{stack}.json"
    lock = _lock(stacks_dir / f"placement.{stack}.json", lock_path, errors, cat)

    errors.raise_if_any(f"invalid stack config for {stack}")
    return Settings(
        project=project,
        stack=stack,
        owner=owner,  # type: ignore[arg-type]
        scenario=scenario,  # type: ignore[arg-type]
        catalog=_priced_for(cat, version[0], version[1]),  # type: ignore[arg-type,index]
        traffic=traffic,  # type: ignore[arg-type]
        kubernetes=Kubernetes(version[0], cidrs, version[1], admins, aws_admins),  # type: ignore[arg-type,index]
        providers=providers,
        lock=lock,
        lock_path=lock_path,
    )


def _priced_for(cat: Catalog, version: str, support: dict[str, str]) -> Catalog:
    """The catalog with each cloud's control-plane fee for `version` (EKS extended support
    costs $0.60/h instead of $0.10/h), so that the optimizer prices what will be billed."""
    on = kubernetes.snapshot_day(cat.snapshot)
    clusters = {
        cloud: replace(
            fees,
            control_plane_usd_hr=kubernetes.control_plane_usd_hr(
                cloud, version, on, fees.control_plane_usd_hr
            ),
        )
        for cloud, fees in cat.clusters.items()
    }
    return replace(cat, clusters=clusters)


def load(stacks_dir: Path | None = None) -> Settings:
    """The running program's settings; on bad input prints one line per problem, exits 2."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    stack = pulumi.get_stack()
    try:
        return parse(
            config,
            stack=stack,
            stacks_dir=stacks_dir or STACKS_DIR or read_project(Path.cwd())[1],
            project=pulumi.get_project(),
        )
    except InputError as e:
        print_problems(f"invalid stack config for {stack}", e.lines())
        raise SystemExit(2) from None


# ---------------------------------------------------------------------------------------
# Stack files


@dataclass(frozen=True)
class StackConfig:
    """A stack file's config in the engine's wire form."""

    values: dict[str, str]  # full key -> text; a secret's value is its ciphertext
    secret_keys: frozenset[str]  # keys written as {secure: ...}


def wire_value(value: Any) -> str:
    """A config value as the engine hands it to a program: JSON for objects and arrays."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=False)
    return _text(value) if not isinstance(value, str) else value


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(), Loader=scenario_mod.StrictLoader)
    except FileNotFoundError:
        raise InputError([Problem(str(path), "file not found")]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise InputError([Problem(where, f"not valid YAML: {getattr(e, 'problem', e)}")]) from None


def _full_key(key: Any, project: str) -> str:
    key = str(key)
    return key if ":" in key else f"{project}:{key}"


def read_project(project_dir: Path) -> tuple[str, Path]:
    """A Pulumi project's name and stacks folder (`stackConfigDir`; Pulumi's default is the
    project folder itself). Without a `Pulumi.yaml`: this repo's name and `stacks/`."""
    project_file = project_dir / "Pulumi.yaml"
    if not project_file.is_file():
        return PROJECT, REPO_ROOT / "stacks"
    doc = _read_yaml(project_file)
    if not isinstance(doc, dict):
        raise InputError([Problem(str(project_file), "is not a Pulumi project (a mapping)")])
    return str(doc.get("name", PROJECT)), project_dir / str(doc.get("stackConfigDir") or ".")


def project_defaults(project_file: Path) -> dict[str, str]:
    """The config defaults and values a `Pulumi.yaml` declares, in wire form, full keys."""
    doc = _read_yaml(project_file)
    if not isinstance(doc, dict):
        raise InputError([Problem(str(project_file), "is not a Pulumi project (a mapping)")])
    project = str(doc.get("name", PROJECT))
    out = {}
    for key, decl in (doc.get("config") or {}).items():
        # A declaration {type, default, ...} or {value: ...}, or a plain value.
        plain = not isinstance(decl, dict)
        value = decl if plain else decl.get("value", decl.get("default", _MISSING))
        if value is not _MISSING:
            out[_full_key(key, project)] = wire_value(value)
    return out


def config_from_stack_file(
    path: Path, *, project: str = PROJECT, project_file: Path | None = None
) -> StackConfig:
    """Read `Pulumi.<stack>.yaml` into the engine's wire form.

    Keys without a namespace belong to `project`. With `project_file` (the `Pulumi.yaml`),
    its declared defaults fill the keys the stack does not set, as the engine does.
    Duplicate keys and invalid YAML raise `InputError` naming the file and line.
    """
    doc = _read_yaml(path)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise InputError([Problem(str(path), "is not a Pulumi stack file (a mapping)")])
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise InputError([Problem(f"{path}: config", "is not a mapping of keys to values")])
    values = project_defaults(project_file) if project_file is not None else {}
    secret: set[str] = set()
    for key, value in config.items():
        full = _full_key(key, project)
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[full] = str(value["secure"])
            secret.add(full)
        else:
            values[full] = wire_value(value)
    return StackConfig(values, frozenset(secret))


def stack_names(project_dir: Path) -> list[str]:
    """The stacks of a Pulumi project: one per `Pulumi.<stack>.yaml` in its stacks folder."""
    _, stacks = read_project(project_dir)
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stacks.glob("Pulumi.*.yaml"))


def project_stack_config(project_dir: Path, stack: str) -> StackConfig:
    """A stack's config as the engine hands it to the project's program: the stack file in
    the project's stacks folder, keys of the project's namespace, `Pulumi.yaml`'s defaults."""
    name, stacks = read_project(project_dir)
    return config_from_stack_file(
        stacks / f"Pulumi.{stack}.yaml", project=name, project_file=project_dir / "Pulumi.yaml"
    )
