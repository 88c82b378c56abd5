"""`Platform`: everything a plan asks for, composed from the other components (design 8).

Per plan cluster: an explicit provider for its (cloud, region), the cloud's GPU cluster with
one node pool per plan pool, and one `InferenceService` per service placed there. The stack
disables default providers, so nothing can land in an unplanned account or region.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_aws import Provider as AwsProvider
from pulumi_aws import ProviderDefaultTagsArgs, ec2
from pulumi_azure_native import Provider as AzureProvider
from pulumi_gcp import Provider as GcpProvider

from optimizer.catalog import Offering
from optimizer.errors import print_problems
from optimizer.geo import GEO_CONTINENT
from optimizer.plan import Cluster, NodePool, Plan
from optimizer.solve import Infeasible, solve

from .aliases import component_opts
from .allocatable import replica_requests
from .aws import EKS_MIN_ZONES, AwsGpuCluster
from .azure import AzureGpuCluster
from .cluster import GpuClusterArgs, GpuPoolArgs, pool_key
from .gcp import GcpGpuCluster, GcpGpuClusterArgs
from .naming import fit
from .replication import DatasetReplication, DatasetReplicationArgs
from .serving import (
    InferenceService,
    InferenceServiceArgs,
    WorkloadPoolArgs,
    regional_algorithm,
)
from .settings import Settings
from .traffic import DnsRegion, EndpointArgs, GlobalLoadBalancer

CLUSTER_NAME_RULE = {"aws": "eks-cluster", "azure": "aks-cluster", "gcp": "gke-cluster"}


def solve_plan(settings: Settings) -> Plan:
    """The optimizer's plan for the stack, keeping the lock unless moving saves enough.

    An infeasible stack is user input like any other: one line per way out, exit 2.
    """
    try:
        label = settings.lock_path if settings.lock is not None else None  # no lock: no incumbent
        return solve(settings.scenario, settings.catalog, settings.lock, label)
    except Infeasible as e:
        print_problems(f"no placement meets every constraint of stack {settings.stack}", e.lines())
        raise SystemExit(2) from None


def cluster_name(settings: Settings, cloud: str, region: str) -> str:
    return fit(f"tc-{settings.stack}-{region}", CLUSTER_NAME_RULE[cloud])


@dataclass(frozen=True)
class _Fit:
    """How one service's replicas use a node of a pool."""

    gpus_per_replica: int
    cpu: str
    memory: str
    per_node: int


def _fit(settings: Settings, cluster: Cluster, pool: NodePool, service: str) -> _Fit:
    svc = next(s for s in settings.scenario.services if s.name == service)
    gpus = svc.gpus_per_replica(pool.accelerator)
    offering = _offering(settings, cluster, pool)
    # Each replica gets its GPU share of what the node leaves after the cloud's reservations
    # and the DaemonSets: a larger request would never schedule.
    requests = replica_requests(
        cluster.cloud,
        pool.instance_type,
        offering.vcpus,
        offering.memory_gb,
        gpus / pool.accelerator_count,
    )
    return _Fit(
        gpus_per_replica=gpus,
        cpu=f"{requests.cpu_m}m",
        memory=f"{requests.memory_mi}Mi",
        per_node=max(1, pool.accelerator_count // gpus),
    )


def _offering(settings: Settings, cluster: Cluster, pool: NodePool) -> Offering:
    for o in settings.catalog.offerings:
        if (o.cloud, o.region, o.instance_type) == (
            cluster.cloud,
            cluster.region,
            pool.instance_type,
        ):
            return o
    raise LookupError(f"{cluster.key} {pool.instance_type} is not in the catalog")


def gpu_pools(settings: Settings, cluster: Cluster) -> list[GpuPoolArgs]:
    return [
        GpuPoolArgs(
            instance_type=p.instance_type,
            accelerator=p.accelerator,
            accelerator_count=p.accelerator_count,
            pricing=p.pricing,
            min_nodes=p.min_nodes,
            max_nodes=p.max_nodes,
            zones=list(_offering(settings, cluster, p).zones),
        )
        for p in sorted(cluster.node_pools, key=lambda p: (p.instance_type, p.pricing))
    ]


def cluster_zones(settings: Settings, cluster: Cluster, pools: list[GpuPoolArgs]) -> list[str]:
    """The zones a cluster spans: those of its pools' types, and on AWS at least two (EKS
    needs two for its control plane), topped up with the region's other catalog zones."""
    zones = sorted({z for p in pools for z in p["zones"]})
    if cluster.cloud == "aws" and len(zones) < EKS_MIN_ZONES:
        region_zones = sorted(
            {
                z
                for o in settings.catalog.offerings
                if (o.cloud, o.region) == (cluster.cloud, cluster.region)
                for z in o.zones
            }
        )
        zones += [z for z in region_zones if z not in zones][: EKS_MIN_ZONES - len(zones)]
    return zones


def workload_pools(settings: Settings, cluster: Cluster, service: str) -> list[WorkloadPoolArgs]:
    out = []
    for pool in sorted(cluster.node_pools, key=lambda p: (p.instance_type, p.pricing)):
        replicas = pool.replicas.get(service, 0)
        if replicas <= 0:
            continue
        f = _fit(settings, cluster, pool, service)
        out.append(
            WorkloadPoolArgs(
                pool=pool_key({"instance_type": pool.instance_type, "pricing": pool.pricing}),  # type: ignore[typeddict-item]
                accelerator=pool.accelerator,
                pricing=pool.pricing,
                gpus_per_replica=f.gpus_per_replica,
                replicas=replicas,
                # Every node the autoscaler may add could go to this service.
                max_replicas=replicas + (pool.max_nodes - pool.nodes) * f.per_node,
                cpu=f.cpu,
                memory=f.memory,
            )
        )
    return out


class Platform(pulumi.ComponentResource):
    """All clusters and workloads of a plan."""

    clusters: dict[str, AwsGpuCluster | AzureGpuCluster | GcpGpuCluster]
    services: dict[str, dict[str, InferenceService]]
    endpoints: pulumi.Output[dict]
    """Per cluster ("cloud/region"): the Kubernetes API URL and each service's LB address."""
    kubeconfigs: pulumi.Output[dict]
    """Per cluster: its kubeconfig (secret)."""
    load_balancers: dict[str, GlobalLoadBalancer]
    hostnames: dict[str, str]
    """Per service: its global DNS name."""
    datasets: DatasetReplication
    """Model and dataset storage: the primary bucket and a replica per serving region."""

    def __init__(
        self,
        name: str,
        plan: Plan,
        settings: Settings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            "tricloud:index:Platform", name, {}, component_opts("tricloud:index:Platform", opts)
        )
        tags = settings.cost_tags()
        self.clusters = {}
        self.services = {}
        self._region_providers: dict[str, pulumi.ProviderResource] = {}
        for cluster in sorted(plan.clusters, key=lambda c: (c.cloud, c.region)):
            key = f"{cluster.cloud}-{cluster.region}"
            provider = self._region_provider(key, cluster.cloud, cluster.region, settings, tags)
            self._region_providers[cluster.key] = provider
            pools = gpu_pools(settings, cluster)
            args = GpuClusterArgs(
                region=cluster.region,
                cluster_name=cluster_name(settings, cluster.cloud, cluster.region),
                kubernetes_version=settings.kubernetes.version,
                gpu_pools=pools,
                tags=tags,
                api_allowed_cidrs=list(settings.kubernetes.api_allowed_cidrs),
                zones=cluster_zones(settings, cluster, pools),
            )
            if cluster.cloud == "aws" and settings.kubernetes.support["aws"] == "extended":
                args["extended_support"] = True
            if cluster.control_plane == "zonal":
                args["zonal_control_plane"] = True
            if cluster.cloud == "azure" and settings.kubernetes.azure_cluster_admins:
                args["cluster_admins"] = list(settings.kubernetes.azure_cluster_admins)
            if cluster.cloud == "aws" and settings.kubernetes.aws_cluster_admins:
                args["cluster_admins"] = list(settings.kubernetes.aws_cluster_admins)
            opts_c = pulumi.ResourceOptions(parent=self, providers=[provider])
            if cluster.cloud == "aws":
                gpu_cluster = AwsGpuCluster(key, args, opts_c)
            elif cluster.cloud == "azure":
                gpu_cluster = AzureGpuCluster(key, args, opts_c)
            else:
                gcp_args = GcpGpuClusterArgs(**args, project=settings.providers.gcp_project or "")
                gpu_cluster = GcpGpuCluster(key, gcp_args, opts_c)
            self.clusters[cluster.key] = gpu_cluster

            placed = sorted({s for p in cluster.node_pools for s, n in p.replicas.items() if n > 0})
            self.services[cluster.key] = {}
            for service in placed:
                svc = next(s for s in settings.scenario.services if s.name == service)
                args = InferenceServiceArgs(
                    service=service,
                    image=svc.image,
                    port=svc.port,
                    cloud=cluster.cloud,
                    pools=workload_pools(settings, cluster, service),
                    labels=tags,
                    regional_algorithm=settings.traffic.regional_algorithm,
                )
                if isinstance(gpu_cluster, AwsGpuCluster):
                    # Static IPs for the NLB, one per public subnet (the controller needs
                    # exactly that many): DNS health checks and Cloud DNS routing target IPs,
                    # and a preview shows them.
                    eips = [
                        ec2.Eip(
                            f"{key}-{service}-lb-{az}",
                            domain="vpc",
                            tags={**tags, "Name": f"{service}-{az}"},
                            opts=pulumi.ResourceOptions(parent=gpu_cluster, provider=provider),
                        )
                        for az in gpu_cluster.zones
                    ]
                    args["static_ips"] = [e.public_ip for e in eips]
                    args["static_ip_allocations"] = [e.id for e in eips]
                    args["subnets"] = gpu_cluster.public_subnet_ids
                self.services[cluster.key][service] = InferenceService(
                    f"{key}-{service}",
                    args,
                    pulumi.ResourceOptions(
                        parent=gpu_cluster,
                        providers=[gpu_cluster.provider],
                        depends_on=gpu_cluster.workload_dependencies,
                    ),
                )

        self._warn_regional_algorithm(plan, settings)
        if plan.clusters and not settings.kubernetes.api_allowed_cidrs:
            # Not an error: a runner inside the networks is a valid setup. But the engine
            # reaches every Kubernetes object through the API, so say where it must run.
            pulumi.log.warn(
                "tricloud:apiAllowedCidrs is empty: every cluster's Kubernetes API is private, "
                "so pulumi up must run from inside each cluster's network (a runner with "
                "private connectivity to every VPC/VNet), or no Kubernetes object can be created",
                resource=self,
            )
        self.load_balancers = self._global_load_balancers(plan, settings, tags)
        self.hostnames = {s: lb.hostname for s, lb in self.load_balancers.items()}
        self.datasets = self._replication(plan, settings, tags)

        self.endpoints = pulumi.Output.all(
            **{
                region: pulumi.Output.all(
                    api=c.endpoint,
                    services=pulumi.Output.all(
                        **{s: svc.address for s, svc in self.services[region].items()}
                    ),
                )
                for region, c in self.clusters.items()
            }
        )
        self.kubeconfigs = pulumi.Output.secret(
            pulumi.Output.all(**{region: c.kubeconfig for region, c in self.clusters.items()})
        )
        self.register_outputs(
            {
                "endpoints": self.endpoints,
                "kubeconfigs": self.kubeconfigs,
                "hostnames": self.hostnames,
                "buckets": self.datasets.buckets,
            }
        )

    def _replication(
        self, plan: Plan, settings: Settings, tags: dict[str, str]
    ) -> DatasetReplication:
        r = plan.replication
        providers = {}
        for location in [r.primary, *(t.region for t in r.targets)]:
            if location not in self._region_providers:
                # A primary named in config need not serve: it still needs its provider.
                cloud, region = location.split("/", 1)
                key = f"{cloud}-{region}"
                self._region_providers[location] = self._region_provider(
                    key, cloud, region, settings, tags
                )
            providers[location] = self._region_providers[location]
        args = DatasetReplicationArgs(
            primary=r.primary,
            targets=[{"region": t.region, "mechanism": t.mechanism} for t in r.targets],
            mode=r.mode,
            interval_minutes=r.interval_minutes,
            name_prefix=f"tc-{settings.stack}",
            tags=tags,
        )
        if settings.providers.gcp_project:
            args["gcp_project"] = settings.providers.gcp_project
        return DatasetReplication(
            "datasets", args, pulumi.ResourceOptions(parent=self), providers=providers
        )

    def _warn_regional_algorithm(self, plan: Plan, settings: Settings) -> None:
        """Once per cloud: say what its load balancer does when it cannot do what was asked."""
        for cloud in sorted({c.cloud for c in plan.clusters}):
            algorithm = regional_algorithm(cloud, settings.traffic.regional_algorithm)
            if algorithm.warning:
                pulumi.log.warn(algorithm.warning, resource=self)

    def _global_load_balancers(
        self, plan: Plan, settings: Settings, tags: dict[str, str]
    ) -> dict[str, GlobalLoadBalancer]:
        traffic = settings.traffic
        dns_cloud = {"route53": "aws", "traffic-manager": "azure", "cloud-dns": "gcp"}[traffic.dns]
        provider = self._dns_provider(dns_cloud, settings, tags)
        regions = settings.catalog.regions
        dns_regions = {
            r.region: DnsRegion(latitude=r.latitude, longitude=r.longitude, continent=r.continent)
            for r in regions.values()
            if r.cloud == dns_cloud
        }
        out = {}
        for service in sorted({s for by in self.services.values() for s in by}):
            endpoints = []
            for region, by_service in sorted(self.services.items()):
                if service not in by_service:
                    continue
                continents = sorted(
                    {
                        GEO_CONTINENT[a.geo]
                        for a in plan.assignments.get(service, ())
                        if a.region == region
                    }
                )
                endpoints.append(
                    EndpointArgs(
                        region=region,
                        ips=by_service[service].ips,
                        weight=plan.routing.get(service, {}).get(region, 0.0),
                        continents=continents,
                        latitude=regions[region].latitude,
                        longitude=regions[region].longitude,
                    )
                )
            out[service] = GlobalLoadBalancer(
                f"{service}-global",
                {
                    "service": service,
                    "zone": traffic.zone,
                    "hostname": traffic.hostname,
                    "dns": traffic.dns,
                    "policy": traffic.policy,
                    "endpoints": endpoints,
                    "port": 80,
                    "dns_regions": dns_regions,
                    "tags": tags,
                    "name_prefix": f"tc-{settings.stack}",
                    **(
                        {"zone_resource_group": traffic.zone_resource_group}
                        if traffic.zone_resource_group
                        else {}
                    ),
                    **({"managed_zone": traffic.managed_zone} if traffic.managed_zone else {}),
                },
                pulumi.ResourceOptions(parent=self, providers=[provider]),
            )
        return out

    def _dns_provider(
        self, cloud: str, settings: Settings, tags: dict[str, str]
    ) -> pulumi.ProviderResource:
        """The DNS cloud's provider. Route 53, Traffic Manager and Cloud DNS are global; the
        AWS provider still needs a region for its API calls."""
        region = "us-east-1" if cloud == "aws" else None
        return self._region_provider("dns", cloud, region, settings, tags)

    def _region_provider(
        self, key: str, cloud: str, region: str | None, settings: Settings, tags: dict[str, str]
    ) -> pulumi.ProviderResource:
        """An explicit provider for `cloud` in `region` (None: the cloud's global services)."""
        opts = pulumi.ResourceOptions(parent=self)
        p = settings.providers
        if cloud == "aws":
            return AwsProvider(
                key,
                region=region,
                default_tags=ProviderDefaultTagsArgs(tags=tags),
                allowed_account_ids=list(p.aws_allowed_account_ids) or None,
                opts=opts,
            )
        if cloud == "azure":
            return AzureProvider(
                key, location=region, subscription_id=p.azure_subscription_id, opts=opts
            )
        return GcpProvider(
            key, project=p.gcp_project, region=region, default_labels=tags, opts=opts
        )
