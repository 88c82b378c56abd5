"""`GcpGpuCluster`: VPC, Cloud NAT and a regional GKE cluster with one node pool per GPU pool."""

import ipaddress
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from pulumi_gcp import compute, container, projects, serviceaccount

from optimizer.catalog import SYSTEM_POOL
from optimizer.cost import GKE_FREE_TIER_LABEL as FREE_TIER_LABEL

from .aliases import component_opts
from .cluster import (
    DEFAULT_NETWORK_CIDR,
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    GpuPoolArgs,
    cluster_zones,
    exec_kubeconfig,
    kubernetes_provider,
    node_labels,
    pool_key,
    validate_pools,
    zones_of,
)
from .naming import fit
from .validate import check_args

# Accelerator-optimized machine families come with their GPUs, but GKE still needs the
# accelerator declared (to install the driver), and it must be the family's own type: an
# a3-megagpu node carries nvidia-h100-mega-80gb, not the a3-highgpu's nvidia-h100-80gb.
GCE_MACHINE_ACCELERATOR = {
    "a2-highgpu": "nvidia-tesla-a100",
    "a2-megagpu": "nvidia-tesla-a100",
    "a2-ultragpu": "nvidia-a100-80gb",
    "a3-highgpu": "nvidia-h100-80gb",
    "a3-edgegpu": "nvidia-h100-80gb",
    "a3-megagpu": "nvidia-h100-mega-80gb",
    "a3-ultragpu": "nvidia-h200-141gb",
    "a4-highgpu": "nvidia-b200",
    "g2-standard": "nvidia-l4",
}
# GPUs attached to general-purpose (N1) machines: by tricloud's accelerator name.
GCE_ACCELERATOR = {
    "T4": "nvidia-tesla-t4",
    "V100": "nvidia-tesla-v100",
    "P100": "nvidia-tesla-p100",
    "P4": "nvidia-tesla-p4",
}


def gce_accelerator_type(machine_type: str, accelerator: str) -> str | None:
    """The GCE accelerator type GKE must be told for a pool of `machine_type`."""
    family = "-".join(machine_type.split("-")[:2])
    if family in GCE_MACHINE_ACCELERATOR:
        return GCE_MACHINE_ACCELERATOR[family]
    if machine_type.startswith("n1-"):
        return GCE_ACCELERATOR.get(accelerator)
    return None


# Secondary ranges for pods and services, outside the default 10.0.0.0/16 node network.
POD_RANGE = "10.64.0.0/14"
SERVICE_RANGE = "10.68.0.0/20"
MASTER_RANGE = "172.16.0.32/28"
NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/artifactregistry.reader",
)
OAUTH_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


class GcpGpuClusterArgs(TypedDict):
    """`GpuClusterArgs` plus the GCP project (workload identity and IAM are per project).

    The shared fields are repeated rather than inherited: the schema takes each field's
    description from the class that declares it (a test keeps the two in step).
    """

    region: str
    """Cloud region, e.g. `us-east-1`, `westeurope`, `europe-west4`."""
    cluster_name: str
    """Physical cluster name; must already satisfy the cloud's naming rule."""
    kubernetes_version: str
    """Kubernetes minor version, e.g. `1.33`."""
    gpu_pools: Sequence[GpuPoolArgs]
    """The GPU node pools; one pool per (instance type, pricing)."""
    tags: Mapping[str, str]
    """Cost-allocation tags put on every taggable resource (AWS tags, Azure tags, GCP labels)."""
    api_allowed_cidrs: NotRequired[Sequence[str]]
    """CIDRs that may reach the public Kubernetes API; empty = private endpoint only."""
    network_cidr: NotRequired[str]
    """Address space of the cluster network (default 10.0.0.0/16)."""
    cluster_admins: NotRequired[Sequence[str]]
    """AKS only: Entra ID object ids granted "Azure Kubernetes Service RBAC Cluster Admin" on
    the cluster; default: the identity that deploys."""
    extended_support: NotRequired[bool]
    """EKS only: keep the version in extended support once standard support ends (billed
    $0.60/h instead of $0.10/h); default false: EKS upgrades the cluster at that date instead."""
    zones: NotRequired[Sequence[str]]
    """Zones the cluster spans (AWS subnets, GKE node locations, AKS pool zones); default: the
    union of the pools' zones. EKS needs at least two."""
    project: str
    """GCP project id that holds the cluster."""
    node_service_account_id: NotRequired[str]
    """Account id of the nodes' service account (6-30 chars); derived from the name if unset."""
    zonal_control_plane: NotRequired[bool]
    """Run the control plane in one zone (the first of `zones`) instead of the region's three:
    the only kind of Standard cluster the GKE free-tier credit applies to. Its SLA is 99.5%
    instead of 99.95%, and the API is down while that zone is; nodes still span `zones`.
    Changing it replaces the cluster. Default false (regional)."""


class GcpGpuCluster(pulumi.ComponentResource):
    """A regional GKE cluster with private nodes, a system pool and one pool per GPU pool."""

    cloud: str
    """`gcp`."""
    region: str
    """The cluster's region (the `region` arg)."""
    name: pulumi.Output[str]
    """Physical name of the GKE cluster."""
    endpoint: pulumi.Output[str]
    """URL of the Kubernetes API server."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig of the cluster (secret); credentials come from the cloud CLI at use."""
    provider: k8s.Provider
    """Kubernetes provider for this cluster: deploy workloads into it with this provider."""

    def __init__(
        self, name: str, args: GcpGpuClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check_args("GcpGpuCluster", name, args, GcpGpuClusterArgs)
        super().__init__(
            "tricloud:index:GcpGpuCluster",
            name,
            {},
            component_opts("tricloud:index:GcpGpuCluster", opts),
        )
        validate_pools(args["gpu_pools"])
        for pool in args["gpu_pools"]:
            if gce_accelerator_type(pool["instance_type"], pool["accelerator"]) is None:
                raise ValueError(
                    f"no GCE accelerator type for {pool['instance_type']} ({pool['accelerator']})"
                )
        self.cloud = "gcp"
        self.region = region = args["region"]
        zones = cluster_zones(args)
        self.zones = zones
        project = args["project"]
        labels = dict(args["tags"])
        cluster_name = args["cluster_name"]
        # Where the control plane runs: the region (three zones), or one zone for the cluster
        # that takes the free-tier credit. Node pools are created at the cluster's location.
        location = region
        if args.get("zonal_control_plane"):
            if not zones:
                raise ValueError(
                    f"GcpGpuCluster {name}: zonal_control_plane needs the cluster's zones "
                    "(zones, or pools with zones); none are known"
                )
            location = zones[0]
        child = pulumi.ResourceOptions(parent=self)

        vpc = compute.Network(
            f"{name}-vpc",
            name=fit(cluster_name, "gcp-compute"),
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child,
        )
        net = ipaddress.ip_network(args.get("network_cidr", DEFAULT_NETWORK_CIDR))
        subnet = compute.Subnetwork(
            f"{name}-nodes",
            name=fit(f"{cluster_name}-nodes", "gcp-compute"),
            region=region,
            network=vpc.id,
            ip_cidr_range=str(net),
            private_ip_google_access=True,
            secondary_ip_ranges=[
                compute.SubnetworkSecondaryIpRangeArgs(range_name="pods", ip_cidr_range=POD_RANGE),
                compute.SubnetworkSecondaryIpRangeArgs(
                    range_name="services", ip_cidr_range=SERVICE_RANGE
                ),
            ],
            opts=child,
        )
        # Private nodes reach image registries and model stores through Cloud NAT.
        router = compute.Router(
            f"{name}-router",
            name=fit(f"{cluster_name}-router", "gcp-compute"),
            region=region,
            network=vpc.id,
            opts=child,
        )
        compute.RouterNat(
            f"{name}-nat",
            name=fit(f"{cluster_name}-nat", "gcp-compute"),
            router=router.name,
            region=region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            opts=child,
        )

        account = serviceaccount.Account(
            f"{name}-nodes",
            account_id=args.get("node_service_account_id")
            or fit(f"{cluster_name}-nodes", "gcp-service-account"),
            display_name=f"GKE nodes of {cluster_name}",
            opts=child,
        )
        member = account.email.apply(lambda email: f"serviceAccount:{email}")
        for role in NODE_ROLES:
            projects.IAMMember(
                f"{name}-nodes-{role.split('/')[-1]}",
                project=project,
                role=role,
                member=member,
                opts=child,
            )

        cidrs = list(args.get("api_allowed_cidrs", []))
        cluster = container.Cluster(
            f"{name}-gke",
            name=cluster_name,
            # Regional: the control plane survives a zone outage. Zonal only on request.
            location=location,
            network=vpc.id,
            subnetwork=subnet.id,
            min_master_version=args["kubernetes_version"],
            release_channel=container.ClusterReleaseChannelArgs(channel="REGULAR"),
            # GKE requires a default pool at creation; it is removed and replaced by the
            # pools below so that every pool is declared (and priced) explicitly.
            remove_default_node_pool=True,
            initial_node_count=1,
            networking_mode="VPC_NATIVE",
            # Dataplane V2 enforces the services' NetworkPolicies (GKE enforces none without).
            datapath_provider="ADVANCED_DATAPATH",
            ip_allocation_policy=container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name="pods", services_secondary_range_name="services"
            ),
            private_cluster_config=container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True,
                enable_private_endpoint=not cidrs,
                master_ipv4_cidr_block=MASTER_RANGE,
            ),
            master_authorized_networks_config=container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=c, display_name=f"allowed-{i}"
                    )
                    for i, c in enumerate(cidrs)
                ]
            ),
            workload_identity_config=container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=f"{project}.svc.id.goog"
            ),
            # Clusters hold no data (models come from the replicated buckets), and the
            # optimizer may move a region away: deletion must not need a second apply.
            deletion_protection=False,
            # The label tells the cost estimate (policy pack) that this cluster's fee is
            # credited by the free tier; GKE itself credits zonal clusters by billing account.
            resource_labels=({**labels, FREE_TIER_LABEL: "true"} if location != region else labels),
            opts=child,
        )

        def node_config(machine_type: str, **extra) -> container.NodePoolNodeConfigArgs:
            return container.NodePoolNodeConfigArgs(
                machine_type=machine_type,
                service_account=account.email,
                oauth_scopes=OAUTH_SCOPES,
                workload_metadata_config=container.NodePoolNodeConfigWorkloadMetadataConfigArgs(
                    mode="GKE_METADATA"
                ),
                shielded_instance_config=container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True
                ),
                resource_labels=labels,
                **extra,
            )

        management = container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True)
        # Counts are totals over the region's zones (total_*), so they equal the plan's node
        # counts whatever the number of zones; the autoscaler owns the current count.
        pool_opts = pulumi.ResourceOptions(
            parent=self, ignore_changes=["nodeCount", "initialNodeCount"]
        )
        system_type, system_nodes = SYSTEM_POOL["gcp"]
        container.NodePool(
            f"{name}-system",
            name="system",
            cluster=cluster.id,
            location=location,
            node_config=node_config(system_type, labels={"tricloud/role": "system"}),
            autoscaling=container.NodePoolAutoscalingArgs(
                total_min_node_count=system_nodes,
                total_max_node_count=system_nodes + 1,
                location_policy="BALANCED",
            ),
            management=management,
            opts=pool_opts,
        )
        self.pools: dict[str, pulumi.Resource] = {}
        for pool in args["gpu_pools"]:
            key = pool_key(pool)
            self.pools[key] = container.NodePool(
                f"{name}-gpu-{key}",
                name=fit(key, "gke-nodepool"),
                cluster=cluster.id,
                location=location,
                # A regional pool would span every zone of the region, and GKE rejects it
                # where the accelerator does not exist ("Accelerator type ... does not exist
                # in zone"): only the zones that offer the machine type.
                node_locations=zones_of(pool, zones),
                node_config=node_config(
                    pool["instance_type"],
                    spot=pool["pricing"] == "spot",
                    disk_size_gb=200,
                    guest_accelerators=[
                        container.NodePoolNodeConfigGuestAcceleratorArgs(
                            type=gce_accelerator_type(pool["instance_type"], pool["accelerator"]),
                            count=pool["accelerator_count"],
                            gpu_driver_installation_config=container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                                gpu_driver_version="LATEST"
                            ),
                        )
                    ],
                    # GKE adds this taint to GPU nodes itself; declared so that it is visible
                    # in the preview and identical on all three clouds.
                    taints=[
                        container.NodePoolNodeConfigTaintArgs(
                            key=GPU_TAINT_KEY, value=GPU_TAINT_VALUE, effect="NO_SCHEDULE"
                        )
                    ],
                    labels=node_labels(pool),
                ),
                autoscaling=container.NodePoolAutoscalingArgs(
                    total_min_node_count=pool["min_nodes"],
                    total_max_node_count=pool["max_nodes"],
                    # ANY: place GPU nodes in whichever zone has capacity.
                    location_policy="ANY",
                ),
                management=management,
                opts=pool_opts,
            )

        self.name = cluster.name
        self.endpoint = cluster.endpoint.apply(lambda ip: f"https://{ip}")
        self.kubeconfig = exec_kubeconfig(
            cluster.name,
            self.endpoint,
            cluster.master_auth.cluster_ca_certificate,
            "gke-gcloud-auth-plugin",
            [],
        )
        # GKE installs NVIDIA's device plugin on GPU nodes itself; no DaemonSet here.
        self.provider = kubernetes_provider(name, self.kubeconfig, cluster_name, self)
        # What a workload in this cluster waits for: its nodes (GKE runs the device plugin
        # and serves LoadBalancer Services itself).
        self.workload_dependencies = list(self.pools.values())
        self.register_outputs(
            {"name": self.name, "endpoint": self.endpoint, "kubeconfig": self.kubeconfig}
        )
