"""A table of violating resources across AWS, Azure, GCP and Kubernetes: each is caught by the
policy it violates and by no other (all policies on, mandatory, through the servicer)."""

from __future__ import annotations

import pytest

from policies.engine import analyze
from tests import policy_fixtures as f

TAGS_NO_TEAM = {k: v for k, v in f.TAGS.items() if k != "team"}
NO_DEFAULTS_AWS = f.aws_provider(default_tags=False)
NO_DEFAULTS_GCP = f.gcp_provider(default_labels=False)

# (id, policy that must catch it, resources)
CASES = [
    # --- AWS ---
    (
        "aws-unknown-instance-type",
        "allowed-instance-types",
        [f.node_group(instanceTypes=["x9.mega"], amiType="AL2023_x86_64_STANDARD")],
    ),
    (
        "aws-type-not-in-region",
        "allowed-instance-types",
        [f.node_group(provider=f.aws_provider("eu-west-1"))],
    ),
    (
        "aws-accelerator-not-allowed",
        "allowed-instance-types",
        [f.node_group(instanceTypes=["p5.48xlarge"])],
    ),
    (
        "aws-pool-too-large",
        "max-nodes-per-pool",
        [f.node_group(scalingConfig={"minSize": 1, "desiredSize": 1, "maxSize": 50})],
    ),
    ("aws-on-demand-gpu-pool", "spot-required", [f.node_group(capacityType="ON_DEMAND")]),
    ("aws-pool-untagged", "cost-allocation-tags", [f.node_group(provider=NO_DEFAULTS_AWS)]),
    (
        "aws-vpc-missing-team",
        "cost-allocation-tags",
        [
            f.res(
                "aws:ec2/vpc:Vpc",
                "vpc",
                {"cidrBlock": "10.0.0.0/16", "tags": TAGS_NO_TEAM},
                provider=NO_DEFAULTS_AWS,
            )
        ],
    ),
    (
        "eks-public-no-cidrs",
        "cluster-endpoint-restricted",
        [f.eks_cluster(vpc={"endpointPublicAccess": True})],
    ),
    (
        "eks-open-to-world",
        "cluster-endpoint-restricted",
        [f.eks_cluster(vpc={"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]})],
    ),
    ("s3-not-versioned", "storage-safe", f.s3(versioning=None)),
    ("s3-versioning-suspended", "storage-safe", f.s3(versioning="Suspended")),
    ("s3-not-encrypted", "storage-safe", f.s3(encryption=False)),
    ("s3-public-acl", "storage-safe", f.s3(acl="public-read")),
    ("s3-no-public-access-block", "storage-safe", f.s3(block=False)),
    ("s3-not-protected", "storage-safe", f.s3(protect=False)),
    # --- Azure ---
    ("aks-open-to-world", "cluster-endpoint-restricted", [f.aks_cluster(profile=None)]),
    (
        "aks-wide-cidr",
        "cluster-endpoint-restricted",
        [f.aks_cluster(profile={"authorizedIPRanges": ["16.0.0.0/4"]})],
    ),
    (
        "aks-gpu-pool-fixed-size",
        "max-nodes-per-pool",
        [f.agent_pool(enableAutoScaling=False, count=3, minCount=None, maxCount=None)],
    ),
    ("aks-on-demand-gpu-pool", "spot-required", [f.agent_pool(scaleSetPriority=None)]),
    ("aks-pool-missing-tags", "cost-allocation-tags", [f.agent_pool(tags=TAGS_NO_TEAM)]),
    ("azure-storage-public", "storage-safe", f.azure_storage(public=True)),
    ("azure-storage-unversioned", "storage-safe", f.azure_storage(versioning=False)),
    ("azure-container-public", "storage-safe", f.azure_storage(container_access="Blob")),
    # --- GCP ---
    (
        "gke-no-authorized-networks",
        "cluster-endpoint-restricted",
        [f.gke_cluster(masterAuthorizedNetworksConfig=None)],
    ),
    (
        "gke-gcp-public-cidrs",
        "cluster-endpoint-restricted",
        [
            f.gke_cluster(
                masterAuthorizedNetworksConfig={
                    "cidrBlocks": [],
                    "gcpPublicCidrsAccessEnabled": True,
                }
            )
        ],
    ),
    (
        "gke-per-zone-max-times-zones",
        "max-nodes-per-pool",
        [
            f.node_pool(
                autoscaling={"minNodeCount": 1, "maxNodeCount": 8},
                nodeLocations=["us-central1-a", "us-central1-b", "us-central1-c"],
            )
        ],
    ),
    (
        "gke-accelerators-not-the-offering",
        "allowed-instance-types",
        [f.node_pool(node_config={"guestAccelerators": [{"type": "nvidia-l4", "count": 2}]})],
    ),
    ("gke-on-demand-gpu-pool", "spot-required", [f.node_pool(node_config={"spot": False})]),
    ("gke-cluster-unlabelled", "cost-allocation-tags", [f.gke_cluster(provider=NO_DEFAULTS_GCP)]),
    ("gcs-public-access-inherited", "storage-safe", f.gcs(prevention="inherited")),
    ("gcs-all-users-reader", "storage-safe", f.gcs(member="allUsers")),
    ("gcs-unversioned", "storage-safe", f.gcs(versioning=False)),
    # --- Kubernetes ---
    ("k8s-namespace-unlabelled", "cost-allocation-tags", [f.k8s("Namespace", labels={})]),
    (
        "k8s-deployment-pods-unlabelled",
        "cost-allocation-tags",
        [f.k8s("Deployment", template_labels={"app": "x"})],
    ),
    (
        "k8s-service-missing-cost-center",
        "cost-allocation-tags",
        [f.k8s("Service", labels={k: v for k, v in f.TAGS.items() if k != "cost-center"})],
    ),
]


def test_the_table_is_large_and_covers_every_cloud():
    assert len(CASES) >= 20
    clouds = {r["type"].split(":")[0] for _, _, rs in CASES for r in rs}
    assert {"aws", "azure-native", "gcp", "kubernetes"} <= clouds
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("policy,resources", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_caught_by_the_intended_policy_only(policy, resources):
    diagnostics = analyze(f.with_providers(resources), f.STRICT)
    assert {d.policy for d in diagnostics} == {policy}, [(d.policy, d.message) for d in diagnostics]
    assert all(d.level == "mandatory" for d in diagnostics)


@pytest.mark.parametrize(
    "resources",
    [
        [f.node_group()],
        [f.agent_pool()],
        [f.node_pool()],
        [f.eks_cluster()],
        [f.aks_cluster()],
        [f.gke_cluster()],
        [f.k8s("Deployment")],
        f.s3(),
        f.azure_storage(),
        f.gcs(),
    ],
    ids=[
        "node-group",
        "agent-pool",
        "node-pool",
        "eks",
        "aks",
        "gke",
        "deployment",
        "s3",
        "azure-storage",
        "gcs",
    ],
)
def test_the_compliant_baselines_pass(resources):
    assert analyze(f.with_providers(resources), f.STRICT) == []
