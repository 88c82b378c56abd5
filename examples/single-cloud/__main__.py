"""One GPU cluster on one cloud with one inference service, without the optimizer.

The node pool and the replicas are written by hand: one GKE cluster in europe-west4 with an
on-demand pool of g2-standard-48 nodes (4 x L4 each, 1 to 3 nodes) and one service running one
replica per GPU on it. See README.md for what this declares.
"""

import pulumi
from pulumi_gcp import Provider as GcpProvider

from components import (
    GcpGpuCluster,
    GcpGpuClusterArgs,
    GpuPoolArgs,
    InferenceService,
    InferenceServiceArgs,
    WorkloadPoolArgs,
)

# A program reads its own config; the components never do.
project = pulumi.Config("gcp").require("project")
stack = pulumi.get_stack()
region = "europe-west4"
tags = {"team": "ml-platform", "cost-center": "cc-4711", "stack": stack, "managed-by": "tricloud"}

gcp = GcpProvider("gcp", project=project, region=region, default_labels=tags)

pool = GpuPoolArgs(
    instance_type="g2-standard-48",
    accelerator="L4",
    accelerator_count=4,
    pricing="on-demand",
    min_nodes=1,
    max_nodes=3,
    # G2 (L4) machines exist in these zones of europe-west4 only: a pool spanning another
    # zone would be rejected by GKE.
    zones=["europe-west4-a", "europe-west4-b", "europe-west4-c"],
)
cluster = GcpGpuCluster(
    "gpu",
    GcpGpuClusterArgs(
        region=region,
        cluster_name=f"ex-{stack}-{region}",
        kubernetes_version="1.35",
        gpu_pools=[pool],
        tags=tags,
        project=project,
        api_allowed_cidrs=["198.51.100.0/24"],
    ),
    pulumi.ResourceOptions(providers=[gcp]),
)

service = InferenceService(
    "assist-8b",
    InferenceServiceArgs(
        service="assist-8b",
        image="ghcr.io/acme/vllm-llama-8b:0.6.3",
        port=8000,
        cloud="gcp",
        pools=[
            WorkloadPoolArgs(
                pool="g2-standard-48-od",  # the pool's tricloud/pool node label
                accelerator="L4",
                pricing="on-demand",
                gpus_per_replica=1,
                replicas=4,  # one per GPU of the first node
                max_replicas=12,  # what 3 nodes hold
                cpu="9",
                memory="40Gi",
            )
        ],
        labels=tags,
    ),
    # The workload goes into the new cluster through its Kubernetes provider, and waits for
    # its nodes (every object of the component gets this dependsOn).
    pulumi.ResourceOptions(
        parent=cluster,
        providers=[cluster.provider],
        depends_on=cluster.workload_dependencies,
    ),
)

pulumi.export("endpoint", cluster.endpoint)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("address", service.address)
