"""Every physical name of every shipped stack satisfies its cloud's naming rule, and names
that share an account or project never clash, across all stacks at once (they may share one).

`NAMES` maps every resource type the program registers to its physical name field(s) with
the rule (components/naming.py RULES) and the scope the name must be unique in, or to the
reason the type has no physical name. A registered type the table does not know fails.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from typing import Any

import pytest

from components.naming import RULES, aks_pool_name, fit, short_hash
from tests.conftest import SHIPPED_STACKS, stack_capture
from tools.plan.cli import REPO_ROOT

# Scopes: GLOBAL = unique in an account/subscription/project (or worldwide): checked over
# all shipped stacks combined. A tuple of input paths = unique within that container
# (cluster, zone, namespace, ...) in one stack; "@provider" is the resource's provider
# (for Kubernetes objects: the cluster).
GLOBAL = "global"
Scope = str | tuple[str, ...]
K8S_NS = ("@provider", "metadata.namespace")
K8S_CLUSTER = ("@provider",)
NONE = "no physical name"

NAMES: dict[str, list[tuple[str, str, Scope]] | str] = {
    # --- AWS -----------------------------------------------------------------------------
    "aws:ec2/vpc:Vpc": f"{NONE}: AWS assigns the id (the Name tag is a display label)",
    "aws:ec2/subnet:Subnet": f"{NONE}: AWS assigns the id",
    "aws:ec2/internetGateway:InternetGateway": f"{NONE}: AWS assigns the id",
    "aws:ec2/routeTable:RouteTable": f"{NONE}: AWS assigns the id",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": f"{NONE}: an association",
    "aws:ec2/eip:Eip": f"{NONE}: AWS assigns the allocation id",
    "aws:ec2/natGateway:NatGateway": f"{NONE}: AWS assigns the id",
    "aws:kms/key:Key": f"{NONE}: AWS assigns the key id (no alias is declared)",
    "aws:iam/role:Role": [("name", "iam-role", GLOBAL)],
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": f"{NONE}: role + policy ARN",
    "aws:eks/cluster:Cluster": [("name", "eks-cluster", GLOBAL)],
    "aws:eks/nodeGroup:NodeGroup": [("nodeGroupName", "eks-nodegroup", ("clusterName",))],
    "aws:eks/addon:Addon": f"{NONE}: the add-on's own EKS name (vpc-cni, ...), once per cluster",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": f"{NONE}: AWS assigns the id",
    "aws:route53/healthCheck:HealthCheck": f"{NONE}: Route 53 assigns the id",
    "aws:route53/record:Record": [("name", "dns-name", ("zoneId", "type", "setIdentifier"))],
    "aws:s3/bucket:Bucket": [("bucket", "s3-bucket", GLOBAL)],
    "aws:s3/bucketVersioning:BucketVersioning": f"{NONE}: a setting of its bucket",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        f"{NONE}: a setting of its bucket"
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": f"{NONE}: a setting of its bucket",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": f"{NONE}: a setting of its bucket",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": f"{NONE}: a setting of its bucket",
    "aws:iam/rolePolicy:RolePolicy": [("name", "iam-policy", ("role",))],
    "aws:iam/user:User": [("name", "iam-user", GLOBAL)],
    "aws:iam/userPolicy:UserPolicy": [("name", "iam-policy", ("user",))],
    "aws:iam/accessKey:AccessKey": f"{NONE}: AWS assigns the key id",
    "aws:datasync/locationObjectStorage:LocationObjectStorage": f"{NONE}: AWS assigns the ARN",
    "aws:datasync/s3Location:S3Location": f"{NONE}: AWS assigns the ARN",
    "aws:datasync/task:Task": [("name", "datasync-task", GLOBAL)],
    # --- Azure ---------------------------------------------------------------------------
    "azure-native:resources:ResourceGroup": [("resourceGroupName", "azure-resource-group", GLOBAL)],
    "azure-native:network:VirtualNetwork": [("virtualNetworkName", "azure-vnet", GLOBAL)],
    "azure-native:network:Subnet": [("subnetName", "azure-subnet", ("@parent",))],
    "azure-native:containerservice:ManagedCluster": [
        ("resourceName", "aks-cluster", GLOBAL),
        ("dnsPrefix", "aks-dns-prefix", GLOBAL),
        ("agentPoolProfiles[*].name", "aks-agentpool", ("@parent",)),
    ],
    # The mock engine does not return the cluster's `name`, so the pool's `resourceName` is
    # not captured: the parent component (one cluster each) is the scope.
    "azure-native:containerservice:AgentPool": [("agentPoolName", "aks-agentpool", ("@parent",))],
    "azure-native:trafficmanager:Profile": [
        ("profileName", "traffic-manager", GLOBAL),
        ("dnsConfig.relativeName", "traffic-manager", GLOBAL),  # <name>.trafficmanager.net
    ],
    "azure-native:dns:RecordSet": [
        ("relativeRecordSetName", "dns-name", ("zoneName", "recordType"))
    ],
    "azure-native:storage:StorageAccount": [("accountName", "storage-account", GLOBAL)],
    "azure-native:storage:BlobServiceProperties": f"{NONE}: always `default`",
    "azure-native:storage:BlobContainer": [("containerName", "blob-container", ("accountName",))],
    "azure-native:storage:ObjectReplicationPolicy": f"{NONE}: Azure assigns the policy id",
    "azure-native:authorization:RoleAssignment": f"{NONE}: a GUID (uuid5 of a stable key)",
    "azure-native:datafactory:Factory": [("factoryName", "adf-factory", GLOBAL)],
    "azure-native:datafactory:LinkedService": [
        ("linkedServiceName", "adf-entity", ("factoryName",))
    ],
    "azure-native:datafactory:Dataset": [("datasetName", "adf-entity", ("factoryName",))],
    "azure-native:datafactory:Pipeline": [("pipelineName", "adf-entity", ("factoryName",))],
    "azure-native:datafactory:Trigger": [("triggerName", "adf-entity", ("factoryName",))],
    # --- GCP -----------------------------------------------------------------------------
    "gcp:compute/network:Network": [("name", "gcp-compute", GLOBAL)],
    "gcp:compute/subnetwork:Subnetwork": [("name", "gcp-compute", GLOBAL)],
    "gcp:compute/router:Router": [("name", "gcp-compute", GLOBAL)],
    "gcp:compute/routerNat:RouterNat": [("name", "gcp-compute", ("router",))],
    "gcp:compute/healthCheck:HealthCheck": [("name", "gcp-compute", GLOBAL)],
    "gcp:serviceaccount/account:Account": [("accountId", "gcp-service-account", GLOBAL)],
    "gcp:projects/iAMMember:IAMMember": f"{NONE}: a binding of member and role",
    "gcp:container/cluster:Cluster": [("name", "gke-cluster", GLOBAL)],
    "gcp:container/nodePool:NodePool": [("name", "gke-nodepool", ("@parent",))],
    "gcp:dns/recordSet:RecordSet": [("name", "dns-name", ("managedZone", "type"))],
    "gcp:storage/bucket:Bucket": [("name", "gcs-bucket", GLOBAL)],
    "gcp:storage/bucketIAMMember:BucketIAMMember": f"{NONE}: a binding of member and role",
    "gcp:storage/hmacKey:HmacKey": f"{NONE}: GCP assigns the access id",
    "gcp:storage/transferJob:TransferJob": [("name", "sts-job", GLOBAL)],
    # --- Kubernetes (names of DNS-label form; Deployments: the docs advise labels) --------
    "kubernetes:core/v1:Namespace": [("metadata.name", "k8s-label", K8S_CLUSTER)],
    "kubernetes:core/v1:Service": [("metadata.name", "k8s-service", K8S_NS)],
    "kubernetes:apps/v1:Deployment": [("metadata.name", "k8s-label", K8S_NS)],
    "kubernetes:apps/v1:DaemonSet": [("metadata.name", "k8s-label", K8S_NS)],
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": [("metadata.name", "k8s-label", K8S_NS)],
    "kubernetes:policy/v1:PodDisruptionBudget": [("metadata.name", "k8s-label", K8S_NS)],
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": [("metadata.name", "k8s-label", K8S_NS)],
    "kubernetes:helm.sh/v3:Release": [("name", "k8s-label", ("@provider", "namespace"))],
    # --- providers -----------------------------------------------------------------------
    "pulumi:providers:aws": f"{NONE}: a provider configuration in the Pulumi engine",
    "pulumi:providers:azure-native": f"{NONE}: a provider configuration in the Pulumi engine",
    "pulumi:providers:gcp": f"{NONE}: a provider configuration in the Pulumi engine",
    "pulumi:providers:kubernetes": f"{NONE}: a provider configuration in the Pulumi engine",
    "pulumi:providers:command": f"{NONE}: a provider configuration in the Pulumi engine",
    "command:local:Command": f"{NONE}: a command run on the deploying machine",
    "pulumi:providers:time": f"{NONE}: a provider configuration in the Pulumi engine",
    "time:index/sleep:Sleep": f"{NONE}: a wait in the deploy, nothing in a cloud",
}

# Names unique in an account or project that must tell stacks and regions apart.
STACK_AND_REGION = {
    ("aws:iam/role:Role", "name"),
    ("aws:eks/cluster:Cluster", "name"),
    ("azure-native:resources:ResourceGroup", "resourceGroupName"),
    ("azure-native:containerservice:ManagedCluster", "resourceName"),
    ("gcp:serviceaccount/account:Account", "accountId"),
    ("gcp:compute/network:Network", "name"),
    ("gcp:container/cluster:Cluster", "name"),
}
GPU_CLUSTERS = ("AwsGpuCluster", "AzureGpuCluster", "GcpGpuCluster")


def values_at(doc: Any, path: str) -> list[Any]:
    """The values at a dotted path; `[*]` fans out over a list; a missing step is None."""
    found = [doc]
    for step in path.split("."):
        key = step.removesuffix("[*]")
        nxt = []
        for node in found:
            value = node.get(key) if isinstance(node, dict) else None
            nxt.extend(value or []) if step.endswith("[*]") else nxt.append(value)
        found = nxt
    return found


def names_of(stack: str):
    """(resource, path, rule, scope, name) for every physical name in the stack."""
    for r in stack_capture(stack).resources:
        entry = NAMES.get(r.type)
        if not r.custom or not isinstance(entry, list):
            continue
        for path, rule, scope in entry:
            for name in values_at(r.inputs, path):
                yield r, path, rule, scope, name


def scope_key(r, scope: Scope, stack: str) -> tuple:
    if scope == GLOBAL:
        return (GLOBAL,)
    parts: list[Any] = [stack]
    for p in scope:
        if p == "@provider":
            parts.append(r.provider)
        elif p == "@parent":
            parts.append(r.parent)
        else:
            (value,) = values_at(r.inputs, p)
            parts.append(value)
    return tuple(parts)


def test_every_registered_type_is_in_the_table():
    missing = {
        r.type
        for s in SHIPPED_STACKS
        for r in stack_capture(s).resources
        if r.custom and r.type not in NAMES
    }
    assert not missing, "add to NAMES (name field, rule, scope; or why none): " + ", ".join(
        sorted(missing)
    )


def test_table_rules_exist_and_reasons_are_given():
    for type_, entry in NAMES.items():
        if isinstance(entry, str):
            assert entry.startswith(NONE), type_
        else:
            for _, rule, _ in entry:
                assert rule in RULES, (type_, rule)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_physical_name_satisfies_its_rule(stack):
    problems = []
    checked = 0
    for r, path, rule, _, name in names_of(stack):
        checked += 1
        if not isinstance(name, str):
            problems.append(f"{r.urn} {path}: no name ({name!r})")
        elif why := RULES[rule].check(name):
            problems.append(f"{r.urn} {path}: {why}")
    assert not problems, "\n".join(problems)
    assert checked > 0


def test_no_two_resources_of_a_type_share_a_name_across_all_stacks():
    """All shipped stacks could share one account/subscription/project: account-wide names
    must differ over all of them; scoped names within their container."""
    seen: dict[tuple, list[str]] = defaultdict(list)
    for stack in SHIPPED_STACKS:
        for r, path, _, scope, name in names_of(stack):
            seen[(r.type, path, scope_key(r, scope, stack), name)].append(r.urn)
    clashes = {k: v for k, v in seen.items() if len(v) > 1}
    assert not clashes, "\n".join(f"{k}: {v}" for k, v in clashes.items())


def region_of(capture, r) -> str:
    (p,) = [x for x in capture.resources if x.urn == r.provider]
    return p.inputs.get("region") or p.inputs["location"]


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_account_wide_names_include_the_stack_and_region(stack):
    capture = stack_capture(stack)
    checked = 0
    for r, path, rule, _, name in names_of(stack):
        if (r.type, path) not in STACK_AND_REGION:
            continue
        checked += 1
        assert f"-{stack}-" in f"-{name}-", (r.urn, name)
        if any(f"tricloud:index:{c}" in r.parent for c in GPU_CLUSTERS):
            region = region_of(capture, r)
            shortened = len(name) == RULES[rule].max_len and re.search(r"[0-9a-f]{4,6}$", name)
            assert region in name or shortened, (r.urn, name, region)
    assert checked > 0


def test_scoped_names_do_repeat_so_the_scopes_matter():
    """Namespaces and GKE `system` pools repeat per cluster: a global check would be wrong."""
    names = [(r.type, n) for r, _, _, _, n in names_of("prod")]
    assert names.count(("gcp:container/nodePool:NodePool", "system")) > 1


# --- naming.fit and aks_pool_name ---------------------------------------------------------


# A long name each rule's callers could hand `fit` (dashes where the rule allows them).
LONG_PREFIX = {"storage-account": "tcstagingnorthamerica", "sts-job": "transferJobs/tc-staging-"}


@pytest.mark.parametrize("rule", sorted(r for r in RULES if RULES[r].max_len <= 140))
def test_fit_shortens_long_names_with_a_stable_hash(rule):
    long_name = LONG_PREFIX.get(rule, "tc-staging-northamerica-northeast1-") + "x" * 300
    short = fit(long_name, rule)
    assert RULES[rule].check(short) is None
    assert RULES[rule].max_len - 2 <= len(short) <= RULES[rule].max_len
    assert short == fit(long_name, rule)  # stable across calls (and runs: sha256)
    assert short.endswith(short_hash(long_name, 6 if RULES[rule].max_len > 20 else 4))


@pytest.mark.parametrize(
    "rule", ["gcp-compute", "gke-cluster", "eks-nodegroup", "iam-role", "aks-agentpool"]
)
def test_two_long_names_differing_only_at_the_end_stay_distinct(rule):
    base = "tc-prod-asia-northeast1-" + "a" * 80
    assert fit(base + "-one", rule) != fit(base + "-two", rule)


def test_fit_keeps_valid_names_and_normalises_case():
    assert fit("tc-prod-us-east-1", "eks-cluster") == "tc-prod-us-east-1"
    assert fit("tc-prod-us-east-1", "gcp-compute") == "tc-prod-us-east-1"
    assert fit("TC_Prod.Europe", "gcp-compute") == "tc-prod-europe"
    assert fit("Standard_NC24", "aks-agentpool") == "standardnc24"


def test_fit_refuses_what_cannot_be_made_valid():
    with pytest.raises(ValueError):
        fit("---", "gcp-compute")
    with pytest.raises(ValueError):
        fit("ab", "gcp-service-account")  # at least 6


def azure_sizes() -> list[str]:
    with (REPO_ROOT / "optimizer" / "data" / "offerings.csv").open() as f:
        return sorted(
            {row["instance_type"] for row in csv.DictReader(f) if row["cloud"] == "azure"}
        )


def test_aks_pool_names_are_valid_and_distinct_for_every_azure_size_and_pricing():
    sizes = azure_sizes()
    assert len(sizes) > 5
    names = {}
    for size in sizes:
        for pricing in ("on-demand", "spot"):
            name = aks_pool_name(size, pricing)
            assert len(name) <= 12 and name[0].isalpha(), name
            assert RULES["aks-agentpool"].check(name) is None, name
            assert name not in names, (size, pricing, names.get(name))
            names[name] = (size, pricing)


@pytest.mark.parametrize(
    "size",
    ["Standard_ND96isr_H100_v5", "Standard_NC40ads_H100_v5", "Standard_1gpu_x", "Standard_NC4"],
)
def test_aks_pool_names_of_made_up_sizes(size):
    """Long sizes, sizes starting with a digit and short ones: valid, and spot differs from
    on-demand."""
    od, spot = aks_pool_name(size, "on-demand"), aks_pool_name(size, "spot")
    for name in (od, spot):
        assert RULES["aks-agentpool"].check(name) is None, name
    assert od != spot
