"""`GlobalLoadBalancer`: one DNS name per service across clouds, with health checks (design 9).

Each regional endpoint gets its own A record (`<cloud>-<region>.<service>.<hostname>.<zone>`)
holding the public IPs of its regional load balancer, and a health check. The service's name
(`<service>.<hostname>.<zone>`) is then routed over those endpoints by the configured policy:

| policy   | route53                              | traffic-manager | cloud-dns                     |
|----------|--------------------------------------|-----------------|-------------------------------|
| latency  | latency records (AWS region labels)  | Performance     | geo items: each GCP region to its nearest endpoint |
| weighted | weighted records (plan weights x100) | Weighted        | wrr items (plan weights x100) |
| failover | PRIMARY largest region, SECONDARY the rest (weighted) | Priority | primary_backup |
| geo      | geolocation by continent + default   | Geographic      | geo items by continent        |

Endpoints of other clouds are external endpoints everywhere. Why IPs: Cloud DNS health checks
only target IP addresses, so every regional load balancer has static public IPs (AWS NLBs get
Elastic IPs); Route 53 latency records need an AWS region label, so non-AWS endpoints carry the
nearest AWS region's; Traffic Manager's Performance method needs an Azure location per external
endpoint, likewise the nearest one.
"""

import math
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi

from optimizer.geo import great_circle_km

from .aliases import component_opts
from .naming import fit, short_hash
from .validate import check_args

TTL = 60
HEALTH_PATH = "/health"
ROUTE53_CONTINENT = {
    "North America": "NA",
    "South America": "SA",
    "Europe": "EU",
    "Asia": "AS",
    "Oceania": "OC",
    "Africa": "AF",
}
TRAFFIC_MANAGER_GEO = {
    "North America": "GEO-NA",
    "South America": "GEO-SA",
    "Europe": "GEO-EU",
    "Asia": "GEO-AS",
    "Oceania": "GEO-AP",
    "Africa": "GEO-AF",
}


class EndpointArgs(TypedDict):
    """One regional endpoint of a service."""

    region: str
    """`cloud/region` of the cluster serving it."""
    ips: pulumi.Input[Sequence[str]]
    """Public IPs of the regional load balancer."""
    weight: float
    """Share of the service's normal traffic (the plan's routing weight, 0..1)."""
    continents: Sequence[str]
    """Continents whose users the plan assigns to this region (geo routing)."""
    latitude: float
    """Location of the region (nearest-region labels)."""
    longitude: float
    """Location of the region (nearest-region labels)."""


class DnsRegion(TypedDict):
    """A region of the DNS cloud: where it is and on which continent."""

    latitude: float
    """Latitude of the region, degrees."""
    longitude: float
    """Longitude of the region, degrees."""
    continent: str
    """Continent, e.g. `Europe`, `North America` (geo routing)."""


class GlobalLoadBalancerArgs(TypedDict):
    """Arguments of `GlobalLoadBalancer`."""

    service: str
    """Service name; the DNS name is `<service>.<hostname>.<zone>`."""
    zone: str
    """DNS zone that exists already (e.g. `example.com`)."""
    hostname: str
    """Label under the zone for all services (e.g. `api`)."""
    dns: str
    """`route53`, `traffic-manager` or `cloud-dns`."""
    policy: str
    """`latency`, `weighted`, `failover` or `geo`."""
    endpoints: Sequence[EndpointArgs]
    """The regional endpoints; at least one."""
    port: int
    """Port the regional load balancers listen on (health checks use it)."""
    dns_regions: Mapping[str, DnsRegion]
    """Regions of the DNS cloud (names as the cloud spells them): latency labels, geo items."""
    tags: Mapping[str, str]
    """Cost-allocation tags on the taggable DNS resources."""
    name_prefix: str
    """Prefix of physical names (e.g. `tc-prod`)."""
    zone_resource_group: NotRequired[str]
    """Azure DNS: resource group of the zone (Traffic Manager profiles go there too)."""
    managed_zone: NotRequired[str]
    """Cloud DNS: managed zone name (default: the zone with dots as dashes)."""


def integer_weights(
    weights: Mapping[str, float], total: int = 100, floor: int = 0
) -> dict[str, int]:
    """Weights as integers summing to `total` (largest remainder), each at least `floor`.

    All-zero weights are spread evenly. Ties go to the region key, so the result is stable.
    """
    keys = sorted(weights)
    if not keys:
        return {}
    base = {k: floor for k in keys}
    left = total - floor * len(keys)
    mass = sum(max(0.0, weights[k]) for k in keys)
    share = {k: (max(0.0, weights[k]) / mass if mass > 0 else 1 / len(keys)) * left for k in keys}
    out = {k: base[k] + math.floor(share[k]) for k in keys}
    rest = total - sum(out.values())
    for k in sorted(keys, key=lambda k: (-(share[k] - math.floor(share[k])), k))[:rest]:
        out[k] += 1
    return out


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return great_circle_km(*a, *b)


def _where(r: DnsRegion) -> tuple[float, float]:
    return (r["latitude"], r["longitude"])


def nearest_labels(
    endpoints: Sequence[EndpointArgs], regions: Mapping[str, DnsRegion]
) -> dict[str, str]:
    """Each endpoint's nearest region of the DNS cloud, never two endpoints on one label
    (Route 53 allows one latency record per AWS region and name)."""
    used: set[str] = set()
    out = {}
    for e in sorted(endpoints, key=lambda e: e["region"]):
        own = e["region"].split("/", 1)[1]
        if own in regions and own not in used:
            out[e["region"]] = own
            used.add(own)
    for e in sorted(endpoints, key=lambda e: e["region"]):
        if e["region"] in out:
            continue
        here = (e["latitude"], e["longitude"])
        for label in sorted(regions, key=lambda r: (_distance(here, _where(regions[r])), r)):
            if label not in used:
                out[e["region"]] = label
                used.add(label)
                break
    return out


def largest(endpoints: Sequence[EndpointArgs]) -> EndpointArgs:
    return max(endpoints, key=lambda e: (e["weight"], e["region"]))


def continent_owners(endpoints: Sequence[EndpointArgs]) -> dict[str, str]:
    """Continent -> the endpoint region with the largest weight among those serving it."""
    owners: dict[str, str] = {}
    for e in sorted(endpoints, key=lambda e: (-e["weight"], e["region"])):
        for c in e["continents"]:
            owners.setdefault(c, e["region"])
    return owners


def _label(region: str) -> str:
    return region.replace("/", "-")


class GlobalLoadBalancer(pulumi.ComponentResource):
    """DNS-based global load balancing of one service over its regional endpoints."""

    hostname: str
    """The service's DNS name, `<service>.<hostname>.<zone>`."""
    endpoint_names: dict[str, str]
    """`cloud/region` -> the endpoint's own DNS name."""
    weights: dict[str, int]
    """`cloud/region` -> integer weight (sums to 100) used by the weighted policy."""

    def __init__(
        self, name: str, args: GlobalLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check_args("GlobalLoadBalancer", name, args, GlobalLoadBalancerArgs)
        super().__init__(
            "tricloud:index:GlobalLoadBalancer",
            name,
            {},
            component_opts("tricloud:index:GlobalLoadBalancer", opts),
        )
        endpoints = sorted(args["endpoints"], key=lambda e: e["region"])
        if not endpoints:
            raise ValueError(f"{args['service']}: a global load balancer needs endpoints")
        zone = args["zone"].rstrip(".")
        self.hostname = f"{args['service']}.{args['hostname']}.{zone}"
        self.endpoint_names = {
            e["region"]: f"{_label(e['region'])}.{self.hostname}" for e in endpoints
        }
        floor = 1 if args["dns"] == "traffic-manager" else 0  # TM weights are 1..1000
        self.weights = integer_weights({e["region"]: e["weight"] for e in endpoints}, floor=floor)
        build = {
            "route53": self._route53,
            "traffic-manager": self._traffic_manager,
            "cloud-dns": self._cloud_dns,
        }
        build[args["dns"]](name, args, endpoints)
        self.register_outputs({"hostname": self.hostname})

    # --- Route 53 ----------------------------------------------------------------------
    def _route53(
        self, name: str, args: GlobalLoadBalancerArgs, endpoints: list[EndpointArgs]
    ) -> None:
        from pulumi_aws import route53

        child = pulumi.ResourceOptions(parent=self)
        zone_id = route53.get_zone_output(
            name=args["zone"].rstrip("."),
            private_zone=False,
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).zone_id
        checks = {}
        for e in endpoints:
            label = _label(e["region"])
            route53.Record(
                f"{name}-{label}",
                zone_id=zone_id,
                name=self.endpoint_names[e["region"]],
                type="A",
                ttl=TTL,
                records=e["ips"],
                opts=child,
            )
            checks[e["region"]] = route53.HealthCheck(
                f"{name}-{label}",
                type="HTTP",
                fqdn=self.endpoint_names[e["region"]],
                port=args["port"],
                resource_path=HEALTH_PATH,
                request_interval=30,
                failure_threshold=3,
                tags={**args["tags"], "Name": self.endpoint_names[e["region"]]},
                opts=child,
            )

        def record(suffix: str, e: EndpointArgs, record_name: str | None = None, **policy) -> None:
            route53.Record(
                f"{name}-{suffix}",
                zone_id=zone_id,
                name=record_name or self.hostname,
                type="CNAME",
                ttl=TTL,
                records=[self.endpoint_names[e["region"]]],
                set_identifier=suffix,
                health_check_id=checks[e["region"]].id,
                opts=child,
                **policy,
            )

        policy = args["policy"]
        if policy == "latency":
            labels = nearest_labels(endpoints, args["dns_regions"])
            for e in endpoints:
                record(
                    f"latency-{_label(e['region'])}",
                    e,
                    latency_routing_policies=[
                        route53.RecordLatencyRoutingPolicyArgs(region=labels[e["region"]])
                    ],
                )
        elif policy == "weighted":
            for e in endpoints:
                record(
                    f"weighted-{_label(e['region'])}",
                    e,
                    weighted_routing_policies=[
                        route53.RecordWeightedRoutingPolicyArgs(weight=self.weights[e["region"]])
                    ],
                )
        elif policy == "failover":
            primary = largest(endpoints)
            record(
                "failover-primary",
                primary,
                failover_routing_policies=[route53.RecordFailoverRoutingPolicyArgs(type="PRIMARY")],
            )
            rest = [e for e in endpoints if e is not primary]
            if rest:
                # Route 53 has one SECONDARY per name: it points at a weighted set of the
                # other regions, so every one of them takes part in a failover.
                backup = f"backup.{self.hostname}"
                route53.Record(
                    f"{name}-failover-secondary",
                    zone_id=zone_id,
                    name=self.hostname,
                    type="CNAME",
                    ttl=TTL,
                    records=[backup],
                    set_identifier="failover-secondary",
                    failover_routing_policies=[
                        route53.RecordFailoverRoutingPolicyArgs(type="SECONDARY")
                    ],
                    opts=child,
                )
                rest_weights = integer_weights({e["region"]: e["weight"] for e in rest})
                for e in rest:
                    record(
                        f"backup-{_label(e['region'])}",
                        e,
                        record_name=backup,
                        weighted_routing_policies=[
                            route53.RecordWeightedRoutingPolicyArgs(
                                weight=rest_weights[e["region"]]
                            )
                        ],
                    )
        elif policy == "geo":
            owners = continent_owners(endpoints)
            by_region = {e["region"]: e for e in endpoints}
            for continent, region in sorted(owners.items()):
                code = ROUTE53_CONTINENT[continent]
                record(
                    f"geo-{code.lower()}",
                    by_region[region],
                    geolocation_routing_policies=[
                        route53.RecordGeolocationRoutingPolicyArgs(continent=code)
                    ],
                )
            # Users from continents no region serves still need an answer.
            record(
                "geo-default",
                largest(endpoints),
                geolocation_routing_policies=[
                    route53.RecordGeolocationRoutingPolicyArgs(country="*")
                ],
            )
        else:
            raise ValueError(f"unknown policy {policy!r}")

    # --- Azure Traffic Manager -----------------------------------------------------------
    def _traffic_manager(
        self, name: str, args: GlobalLoadBalancerArgs, endpoints: list[EndpointArgs]
    ) -> None:
        from pulumi_azure_native import dns as azure_dns
        from pulumi_azure_native import trafficmanager as tm

        child = pulumi.ResourceOptions(parent=self)
        group = args.get("zone_resource_group")
        if not group:
            raise ValueError("traffic-manager needs zone_resource_group")
        zone = args["zone"].rstrip(".")
        relative = self.hostname[: -len(zone) - 1]
        for e in endpoints:
            azure_dns.RecordSet(
                f"{name}-{_label(e['region'])}",
                resource_group_name=group,
                zone_name=zone,
                relative_record_set_name=self.endpoint_names[e["region"]][: -len(zone) - 1],
                record_type="A",
                ttl=TTL,
                a_records=pulumi.Output.from_input(e["ips"]).apply(
                    lambda ips: [azure_dns.ARecordArgs(ipv4_address=ip) for ip in ips]
                ),
                opts=child,
            )
        method = {
            "latency": "Performance",
            "weighted": "Weighted",
            "failover": "Priority",
            "geo": "Geographic",
        }[args["policy"]]
        locations = nearest_labels(endpoints, args["dns_regions"])
        priorities = {
            e["region"]: i + 1
            for i, e in enumerate(sorted(endpoints, key=lambda e: (-e["weight"], e["region"])))
        }
        owners = continent_owners(endpoints)
        default = largest(endpoints)["region"]

        def geo_codes(e: EndpointArgs) -> list[str]:
            codes = sorted(TRAFFIC_MANAGER_GEO[c] for c, r in owners.items() if r == e["region"])
            # Every location must map somewhere: the largest region also takes WORLD.
            return [*codes, "WORLD"] if e["region"] == default else codes

        def endpoint(e: EndpointArgs) -> tm.EndpointArgs:
            extra: dict = {}
            if method == "Performance":
                extra["endpoint_location"] = locations[e["region"]]
            elif method == "Weighted":
                extra["weight"] = self.weights[e["region"]]
            elif method == "Priority":
                extra["priority"] = priorities[e["region"]]
            else:
                extra["geo_mapping"] = geo_codes(e)
            return tm.EndpointArgs(
                name=_label(e["region"]),
                type="Microsoft.Network/trafficManagerProfiles/externalEndpoints",
                target=self.endpoint_names[e["region"]],
                endpoint_status="Enabled",
                **extra,
            )

        # Geographic: a region that owns no continent gets no traffic, so it is not listed.
        listed = [e for e in endpoints if method != "Geographic" or geo_codes(e)]
        profile = tm.Profile(
            f"{name}-tm",
            profile_name=fit(f"{args['name_prefix']}-{args['service']}", "traffic-manager"),
            resource_group_name=group,
            location="global",
            profile_status="Enabled",
            traffic_routing_method=method,
            dns_config=tm.DnsConfigArgs(
                # The relative name is global across Azure: a stable hash keeps it unique.
                relative_name=fit(
                    f"{args['name_prefix']}-{args['service']}-{short_hash(self.hostname)}",
                    "traffic-manager",
                ),
                ttl=TTL,
            ),
            monitor_config=tm.MonitorConfigArgs(
                protocol="HTTP",
                port=args["port"],
                path=HEALTH_PATH,
                interval_in_seconds=30,
                timeout_in_seconds=10,
                tolerated_number_of_failures=3,
            ),
            endpoints=[endpoint(e) for e in listed],
            tags=dict(args["tags"]),
            opts=child,
        )
        azure_dns.RecordSet(
            f"{name}-cname",
            resource_group_name=group,
            zone_name=zone,
            relative_record_set_name=relative,
            record_type="CNAME",
            ttl=TTL,
            cname_record=azure_dns.CnameRecordArgs(cname=profile.dns_config.fqdn),
            opts=child,
        )

    # --- Cloud DNS -------------------------------------------------------------------------
    def _cloud_dns(
        self, name: str, args: GlobalLoadBalancerArgs, endpoints: list[EndpointArgs]
    ) -> None:
        from pulumi_gcp import compute
        from pulumi_gcp import dns as gcp_dns

        child = pulumi.ResourceOptions(parent=self)
        zone = args["zone"].rstrip(".")
        managed_zone = args.get("managed_zone") or zone.replace(".", "-")
        regions = args["dns_regions"]
        # Cloud DNS checks external endpoints from exactly three source regions.
        sources = sorted(regions, key=lambda r: (-_spread(r, regions), r))[:3]
        check = compute.HealthCheck(
            f"{name}-hc",
            name=fit(f"{args['name_prefix']}-{args['service']}-dns", "gcp-compute"),
            http_health_check=compute.HealthCheckHttpHealthCheckArgs(
                port=args["port"], request_path=HEALTH_PATH
            ),
            check_interval_sec=30,
            timeout_sec=10,
            source_regions=sorted(sources),
            opts=child,
        )
        for e in endpoints:
            gcp_dns.RecordSet(
                f"{name}-{_label(e['region'])}",
                managed_zone=managed_zone,
                name=f"{self.endpoint_names[e['region']]}.",
                type="A",
                ttl=TTL,
                rrdatas=e["ips"],
                opts=child,
            )

        def targets(e: EndpointArgs):
            return gcp_dns.RecordSetRoutingPolicyGeoHealthCheckedTargetsArgs(
                external_endpoints=e["ips"]
            )

        policy = args["policy"]
        by_region = {e["region"]: e for e in endpoints}
        if policy == "weighted":
            routing = gcp_dns.RecordSetRoutingPolicyArgs(
                health_check=check.id,
                wrrs=[
                    gcp_dns.RecordSetRoutingPolicyWrrArgs(
                        weight=self.weights[e["region"]],
                        health_checked_targets=gcp_dns.RecordSetRoutingPolicyWrrHealthCheckedTargetsArgs(
                            external_endpoints=e["ips"]
                        ),
                    )
                    for e in endpoints
                ],
            )
        elif policy in ("latency", "geo"):
            owners = continent_owners(endpoints) if policy == "geo" else {}
            geos = []
            for location in sorted(regions):
                chosen = (
                    owners.get(regions[location]["continent"])
                    or _nearest(endpoints, regions[location])["region"]
                )
                geos.append(
                    gcp_dns.RecordSetRoutingPolicyGeoArgs(
                        location=location, health_checked_targets=targets(by_region[chosen])
                    )
                )
            routing = gcp_dns.RecordSetRoutingPolicyArgs(health_check=check.id, geos=geos)
        elif policy == "failover":
            primary = largest(endpoints)
            rest = [e for e in endpoints if e is not primary] or [primary]
            backups = [
                gcp_dns.RecordSetRoutingPolicyGeoArgs(
                    location=location,
                    health_checked_targets=targets(_nearest(rest, regions[location])),
                )
                for location in sorted(regions)
            ]
            routing = gcp_dns.RecordSetRoutingPolicyArgs(
                health_check=check.id,
                primary_backup=gcp_dns.RecordSetRoutingPolicyPrimaryBackupArgs(
                    primary=gcp_dns.RecordSetRoutingPolicyPrimaryBackupPrimaryArgs(
                        external_endpoints=primary["ips"]
                    ),
                    backup_geos=backups,
                    trickle_ratio=0,
                ),
            )
        else:
            raise ValueError(f"unknown policy {policy!r}")
        gcp_dns.RecordSet(
            f"{name}-policy",
            managed_zone=managed_zone,
            name=f"{self.hostname}.",
            type="A",
            ttl=TTL,
            routing_policy=routing,
            opts=child,
        )


def _nearest(endpoints: Sequence[EndpointArgs], place: DnsRegion) -> EndpointArgs:
    return min(
        endpoints,
        key=lambda e: (_distance(_where(place), (e["latitude"], e["longitude"])), e["region"]),
    )


def _spread(region: str, regions: Mapping[str, DnsRegion]) -> float:
    """How far a region is from the others on average: the health check sources are spread."""
    here = _where(regions[region])
    return sum(_distance(here, _where(p)) for p in regions.values()) / max(1, len(regions) - 1)
