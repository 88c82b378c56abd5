"""Two GPU clusters on two clouds behind one DNS name, with replicated model storage.

Written by hand, no optimizer: an EKS cluster in us-east-1 and a GKE cluster in europe-west4,
each with one L4 pool and the same inference service; a Cloud DNS latency policy sends each
user to the nearer region (with health checks), and the model bucket in S3 is replicated to
GCS by Storage Transfer Service. See README.md for what this declares.
"""

import pulumi
from pulumi_aws import Provider as AwsProvider
from pulumi_aws import ProviderDefaultTagsArgs, ec2
from pulumi_gcp import Provider as GcpProvider

from components import (
    AwsGpuCluster,
    DatasetReplication,
    DnsRegion,
    EndpointArgs,
    GcpGpuCluster,
    GlobalLoadBalancer,
    GpuClusterArgs,
    GpuPoolArgs,
    InferenceService,
    InferenceServiceArgs,
    WorkloadPoolArgs,
)

gcp_config = pulumi.Config("gcp")
project = gcp_config.require("project")
account_ids = pulumi.Config("aws").get_object("allowedAccountIds")
stack = pulumi.get_stack()
tags = {"team": "ml-platform", "cost-center": "cc-4711", "stack": stack, "managed-by": "tricloud"}
SERVICE = "assist-8b"
IMAGE = "ghcr.io/acme/vllm-llama-8b:0.6.3"

aws = AwsProvider(
    "aws-us-east-1",
    region="us-east-1",
    default_tags=ProviderDefaultTagsArgs(tags=tags),
    allowed_account_ids=account_ids,
)
gcp = GcpProvider("gcp-europe-west4", project=project, region="europe-west4", default_labels=tags)


def cluster_args(region: str, instance_type: str, gpus: int, zones: list[str]) -> GpuClusterArgs:
    return GpuClusterArgs(
        region=region,
        cluster_name=f"ex-{stack}-{region}",
        kubernetes_version="1.35",
        gpu_pools=[
            GpuPoolArgs(
                instance_type=instance_type,
                accelerator="L4",
                accelerator_count=gpus,
                pricing="on-demand",
                min_nodes=1,
                max_nodes=2,
                zones=zones,  # where the instance type is offered in the region
            )
        ],
        tags=tags,
        api_allowed_cidrs=["198.51.100.0/24"],
    )


def service_args(cloud: str, pool: str, gpus_per_node: int) -> InferenceServiceArgs:
    return InferenceServiceArgs(
        service=SERVICE,
        image=IMAGE,
        port=8000,
        cloud=cloud,
        pools=[
            WorkloadPoolArgs(
                pool=pool,
                accelerator="L4",
                pricing="on-demand",
                gpus_per_replica=1,
                replicas=gpus_per_node,  # one replica per GPU of the first node
                max_replicas=2 * gpus_per_node,  # what max_nodes hold
                cpu="8",
                memory="32Gi",
            )
        ],
        labels=tags,
    )


# --- AWS: EKS with g6.12xlarge (4 x L4); the NLB gets Elastic IPs for DNS health checks ---
eks = AwsGpuCluster(
    "aws-us-east-1",
    # AZ IDs (the same zone in every account) offering g6.12xlarge in us-east-1
    cluster_args("us-east-1", "g6.12xlarge", 4, ["use1-az1", "use1-az2", "use1-az4", "use1-az6"]),
    pulumi.ResourceOptions(providers=[aws]),
)
eips = [
    ec2.Eip(
        f"{SERVICE}-us-east-1-{i}",
        domain="vpc",
        opts=pulumi.ResourceOptions(parent=eks, provider=aws),
    )
    for i in range(len(eks.zones))  # one per public subnet (one subnet per zone)
]
aws_args = service_args("aws", "g6-12xlarge-od", 4)
aws_args["static_ips"] = [e.public_ip for e in eips]
aws_args["static_ip_allocations"] = [e.id for e in eips]
aws_args["subnets"] = eks.public_subnet_ids
on_aws = InferenceService(
    f"aws-us-east-1-{SERVICE}",
    aws_args,
    # waits for the nodes, the device plugin and the AWS Load Balancer Controller
    pulumi.ResourceOptions(
        parent=eks, providers=[eks.provider], depends_on=eks.workload_dependencies
    ),
)

# --- GCP: GKE with g2-standard-48 (4 x L4) -------------------------------------------------
gke = GcpGpuCluster(
    "gcp-europe-west4",
    {
        **cluster_args(
            "europe-west4",
            "g2-standard-48",
            4,
            ["europe-west4-a", "europe-west4-b", "europe-west4-c"],
        ),
        "project": project,
    },
    pulumi.ResourceOptions(providers=[gcp]),
)
on_gcp = InferenceService(
    f"gcp-europe-west4-{SERVICE}",
    service_args("gcp", "g2-standard-48-od", 4),
    pulumi.ResourceOptions(
        parent=gke, providers=[gke.provider], depends_on=gke.workload_dependencies
    ),
)

# --- one DNS name, nearest healthy region (Cloud DNS in the existing zone example.com) -----
dns = GcpProvider("dns", project=project, default_labels=tags)
lb = GlobalLoadBalancer(
    f"{SERVICE}-global",
    {
        "service": SERVICE,
        "zone": "example.com",
        "hostname": "api",
        "dns": "cloud-dns",
        "policy": "latency",
        "endpoints": [
            EndpointArgs(
                region="aws/us-east-1",
                ips=on_aws.ips,
                weight=0.5,
                continents=["North America"],
                latitude=39.04,
                longitude=-77.49,
            ),
            EndpointArgs(
                region="gcp/europe-west4",
                ips=on_gcp.ips,
                weight=0.5,
                continents=["Europe"],
                latitude=53.44,
                longitude=6.83,
            ),
        ],
        "port": 80,
        # GCP regions whose users Cloud DNS routes (each to its nearest endpoint).
        "dns_regions": {
            "us-east4": DnsRegion(latitude=39.04, longitude=-77.49, continent="North America"),
            "us-central1": DnsRegion(latitude=41.26, longitude=-95.86, continent="North America"),
            "europe-west4": DnsRegion(latitude=53.44, longitude=6.83, continent="Europe"),
        },
        "tags": tags,
        "name_prefix": f"ex-{stack}",
    },
    pulumi.ResourceOptions(providers=[dns]),
)

# --- the model bucket: primary in S3, replica in GCS (Storage Transfer, hourly) ------------
datasets = DatasetReplication(
    "datasets",
    {
        "primary": "aws/us-east-1",
        "targets": [{"region": "gcp/europe-west4", "mechanism": "gcp-storage-transfer"}],
        "mode": "incremental",
        "interval_minutes": 60,
        "name_prefix": f"ex-{stack}",
        "tags": tags,
        "gcp_project": project,
    },
    providers={"aws/us-east-1": aws, "gcp/europe-west4": gcp},
)

pulumi.export("hostnames", {SERVICE: lb.hostname})
pulumi.export("buckets", datasets.buckets)
pulumi.export("kubeconfigs", pulumi.Output.secret({"aws": eks.kubeconfig, "gcp": gke.kubeconfig}))
