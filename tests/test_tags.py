"""Every taggable resource of every shipped stack carries the four cost tags (design 8).

`TAGS` maps every resource type the program registers to where its tags/labels go, or to
the reason it has none. A type the program registers that the table does not know fails the
test, so a new resource type cannot slip through untagged; the table itself is checked
against the installed SDKs (a "not taggable" type really has no tags/labels argument). Rows
for the replication types are in already; a row for a type no stack registers is harmless.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import re
from functools import cache
from typing import Any

import pytest
import yaml

from components.tags import MANAGED_BY
from tests.conftest import SHIPPED_STACKS, stack_capture
from tools.plan.cli import REPO_ROOT

K8S = ("metadata.labels",)
POD_TEMPLATE = ("metadata.labels", "spec.template.metadata.labels")

# type -> input paths that carry the cost tags (`[*]`: every element of a list), or the
# reason the type takes none. Paths are the registered (camelCase) inputs.
TAGS: dict[str, tuple[str, ...] | str] = {
    # --- AWS -----------------------------------------------------------------------------
    "aws:ec2/vpc:Vpc": ("tags",),
    "aws:ec2/subnet:Subnet": ("tags",),
    "aws:ec2/internetGateway:InternetGateway": ("tags",),
    "aws:ec2/routeTable:RouteTable": ("tags",),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": (
        "no tags argument: an association of a subnet with a route table, not a billed object"
    ),
    "aws:ec2/eip:Eip": ("tags",),
    "aws:ec2/natGateway:NatGateway": ("tags",),
    "aws:iam/role:Role": ("tags",),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (
        "no tags argument: attaches a managed policy to a role (the role is tagged)"
    ),
    "aws:kms/key:Key": ("tags",),
    "aws:eks/cluster:Cluster": ("tags",),
    "aws:eks/nodeGroup:NodeGroup": ("tags",),
    "aws:eks/addon:Addon": ("tags",),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": ("tags",),
    # --- Azure ---------------------------------------------------------------------------
    "azure-native:resources:ResourceGroup": ("tags",),
    "azure-native:network:VirtualNetwork": ("tags",),
    "azure-native:network:Subnet": (
        "no tags argument: a subnet is part of its virtual network (which is tagged)"
    ),
    "azure-native:containerservice:ManagedCluster": ("tags", "agentPoolProfiles[*].tags"),
    "azure-native:containerservice:AgentPool": ("tags",),
    # --- GCP -----------------------------------------------------------------------------
    "gcp:compute/network:Network": "no labels argument in the GCP API for VPC networks",
    "gcp:compute/subnetwork:Subnetwork": "no labels argument in the GCP API for subnetworks",
    "gcp:compute/router:Router": "no labels argument in the GCP API for Cloud Routers",
    "gcp:compute/routerNat:RouterNat": "no labels argument: a NAT config inside its router",
    "gcp:serviceaccount/account:Account": "no labels argument: IAM service accounts take none",
    "gcp:projects/iAMMember:IAMMember": "no labels argument: an IAM policy binding",
    "gcp:container/cluster:Cluster": ("resourceLabels",),
    "gcp:container/nodePool:NodePool": ("nodeConfig.resourceLabels",),
    # --- Kubernetes ----------------------------------------------------------------------
    "kubernetes:core/v1:Namespace": K8S,
    "kubernetes:core/v1:Service": K8S,
    "kubernetes:apps/v1:Deployment": POD_TEMPLATE,
    "kubernetes:apps/v1:DaemonSet": POD_TEMPLATE,
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": K8S,
    "kubernetes:policy/v1:PodDisruptionBudget": K8S,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": K8S,
    "kubernetes:helm.sh/v3:Release": (
        "no labels argument: a Helm release; its objects are the chart's own, in kube-system "
        "(cluster overhead, billed with the cluster)"
    ),
    # --- traffic (components/traffic.py) ------------------------------------------------
    "aws:route53/healthCheck:HealthCheck": ("tags",),
    "aws:route53/record:Record": "no tags argument: a record inside a hosted zone",
    "azure-native:trafficmanager:Profile": ("tags",),
    "azure-native:dns:RecordSet": (
        "no tags argument: record sets take DNS `metadata`, not ARM tags (the zone is billed)"
    ),
    "gcp:dns/recordSet:RecordSet": "no labels argument: a record inside a managed zone",
    "gcp:compute/healthCheck:HealthCheck": "no labels argument in the GCP API for health checks",
    # --- replication (components/replication.py) ---------------------------------------
    "aws:s3/bucket:Bucket": ("tags",),
    "aws:s3/bucketVersioning:BucketVersioning": "no tags argument: a setting of its bucket",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "no tags argument: a setting of its bucket"
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "no tags argument: a setting of its bucket"
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": (
        "no tags argument: a setting of its bucket"
    ),
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": (
        "no tags argument: a setting of its bucket"
    ),
    "aws:iam/rolePolicy:RolePolicy": "no tags argument: an inline policy of its role",
    "aws:iam/user:User": ("tags",),
    "aws:iam/userPolicy:UserPolicy": "no tags argument: an inline policy of its user",
    "aws:iam/accessKey:AccessKey": "no tags argument: a credential of its user",
    "aws:datasync/locationObjectStorage:LocationObjectStorage": ("tags",),
    "aws:datasync/s3Location:S3Location": ("tags",),
    "aws:datasync/task:Task": ("tags",),
    "azure-native:storage:StorageAccount": ("tags",),
    "azure-native:storage:BlobServiceProperties": (
        "no tags argument: settings of its storage account's blob service"
    ),
    "azure-native:storage:BlobContainer": (
        "no tags argument: container `metadata` are blob key-values, not ARM tags "
        "(billed with its storage account)"
    ),
    "azure-native:storage:ObjectReplicationPolicy": (
        "no tags argument: a setting of its storage account"
    ),
    "azure-native:authorization:RoleAssignment": "no tags argument: an RBAC binding",
    "azure-native:datafactory:Factory": ("tags",),
    "azure-native:datafactory:LinkedService": "no tags argument: a definition inside a factory",
    "azure-native:datafactory:Dataset": "no tags argument: a definition inside a factory",
    "azure-native:datafactory:Pipeline": "no tags argument: a definition inside a factory",
    "azure-native:datafactory:Trigger": "no tags argument: a definition inside a factory",
    "gcp:storage/bucket:Bucket": ("labels",),
    "gcp:storage/bucketIAMMember:BucketIAMMember": "no labels argument: an IAM policy binding",
    "gcp:storage/hmacKey:HmacKey": "no labels argument: a credential of a service account",
    "gcp:storage/transferJob:TransferJob": "no labels argument in the Storage Transfer API",
    # --- providers: default tags/labels reach every resource they manage ----------------
    "pulumi:providers:aws": ("defaultTags.tags",),
    "pulumi:providers:gcp": ("defaultLabels",),
    "pulumi:providers:azure-native": (
        "no default tags in the azure-native provider: each resource is tagged itself"
    ),
    "pulumi:providers:kubernetes": (
        "no labels argument: a connection to a cluster, not an object in it"
    ),
    "pulumi:providers:command": "no tags argument: runs commands on the deploying machine",
    "command:local:Command": "no tags argument: a command run on the deploying machine",
    "pulumi:providers:time": "no tags argument: waits in the deploy, nothing in a cloud",
    "time:index/sleep:Sleep": "no tags argument: a wait in the deploy, nothing in a cloud",
}

# A provider's default tags count for a resource whose own tags sit at the top-level input
# of this name (AWS `default_tags` -> `tags`, GCP `default_labels` -> `labels`).
PROVIDER_DEFAULTS = {
    "pulumi:providers:aws": ("tags", "defaultTags.tags"),
    "pulumi:providers:gcp": ("labels", "defaultLabels"),
}
# Argument names through which a resource can carry tags/labels in the Python SDKs
# (Kubernetes: `metadata.labels`; elsewhere `metadata` is not a cost tag).
TAG_ARGS = {"tags", "labels", "resource_labels", "default_tags", "default_labels"}


def expected_tags(stack: str) -> dict[str, str]:
    """The four tags from the stack file itself (not through the loader under test)."""
    doc = yaml.safe_load((REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    owner = doc["config"]["tricloud:owner"]
    return {
        "team": owner["team"],
        "cost-center": owner["costCenter"],
        "stack": stack,
        "managed-by": MANAGED_BY,
    }


def values_at(doc: Any, path: str) -> list[Any]:
    """The values at a dotted path; `[*]` fans out over a list. Providers carry nested
    values as JSON text, which is decoded on the way. A missing step yields None."""
    found = [doc]
    for step in path.split("."):
        fan = step.endswith("[*]")
        key = step.removesuffix("[*]")
        nxt = []
        for node in found:
            if isinstance(node, str):
                node = json.loads(node)
            value = node.get(key) if isinstance(node, dict) else None
            if fan:
                nxt.extend(value or [None])
            else:
                nxt.append(value)
        found = nxt
    return [json.loads(v) if isinstance(v, str) and v.startswith("{") else v for v in found]


def missing_types(stacks=SHIPPED_STACKS) -> set[str]:
    return {
        r.type
        for s in stacks
        for r in stack_capture(s).resources
        if r.custom and r.type not in TAGS
    }


def test_every_registered_type_is_in_the_table():
    missing = missing_types()
    assert not missing, "add to TAGS (input paths of the cost tags, or why none): " + ", ".join(
        f"{t} (SDK arguments: {sorted(sdk_tag_args(t)) or 'none for tags'})"
        for t in sorted(missing)
    )


def test_components_register_no_cloud_object():
    """Non-custom resources are tricloud's own components: nothing in a cloud to tag."""
    for stack in SHIPPED_STACKS:
        for r in stack_capture(stack).resources:
            if not r.custom:
                assert r.type.startswith("tricloud:index:"), r.urn
                assert r.inputs == {}, r.urn


def tag_problems(resources, want: dict[str, str]) -> tuple[list[str], int]:
    """Each taggable resource whose tags at a table path lack one of `want`; and how many
    tag sets were checked."""
    by_urn = {r.urn: r for r in resources}
    problems = []
    checked = 0
    for r in resources:
        paths = TAGS.get(r.type)
        if not r.custom or not isinstance(paths, tuple):
            continue
        for path in paths:
            defaults: dict[str, str] = {}
            provider = by_urn.get(r.provider)
            if provider is not None and provider.type in PROVIDER_DEFAULTS:
                top, default_path = PROVIDER_DEFAULTS[provider.type]
                if path == top:
                    (defaults,) = values_at(provider.inputs, default_path)
                    defaults = defaults or {}
            for found in values_at(r.inputs, path):
                tags = {**defaults, **(found or {})}
                wrong = {k: tags.get(k) for k, v in want.items() if tags.get(k) != v}
                if wrong:
                    problems.append(f"{r.urn} {path}: {wrong}")
                checked += 1
    return problems, checked


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_taggable_resource_carries_the_four_cost_tags(stack):
    problems, checked = tag_problems(stack_capture(stack).resources, expected_tags(stack))
    assert not problems, "\n".join(problems)
    assert checked > 0


def test_tag_paths_of_pod_templates_and_agent_pool_profiles_are_really_checked():
    """The table's deep paths resolve to values in the captured inputs (not to None)."""
    prod = stack_capture("prod")
    staging = stack_capture("staging")
    for capture, type_, path in [
        (prod, "kubernetes:apps/v1:Deployment", "spec.template.metadata.labels"),
        (prod, "gcp:container/nodePool:NodePool", "nodeConfig.resourceLabels"),
        (staging, "azure-native:containerservice:ManagedCluster", "agentPoolProfiles[*].tags"),
        (prod, "pulumi:providers:aws", "defaultTags.tags"),
        (prod, "pulumi:providers:gcp", "defaultLabels"),
    ]:
        resources = capture.of_type(type_)
        assert resources, type_
        for r in resources:
            assert all(isinstance(v, dict) and v for v in values_at(r.inputs, path)), (r.urn, path)


@pytest.mark.parametrize(
    ("type_", "path", "wrong"),
    [
        ("aws:ec2/vpc:Vpc", ("tags",), "someone-else"),
        ("azure-native:containerservice:AgentPool", ("tags",), None),
        ("kubernetes:apps/v1:Deployment", ("spec", "template", "metadata", "labels"), None),
        ("gcp:container/nodePool:NodePool", ("nodeConfig", "resourceLabels"), None),
        ("kubernetes:core/v1:Service", ("metadata", "labels"), "someone-else"),
    ],
)
def test_a_missing_or_wrong_tag_is_caught(type_, path, wrong):
    """The check itself: a copy of a capture with one tag dropped or changed fails."""
    stack = next(s for s in SHIPPED_STACKS if stack_capture(s).of_type(type_))
    resources = copy.deepcopy(stack_capture(stack).resources)
    (victim, *_) = [r for r in resources if r.type == type_]
    tags = victim.inputs
    for step in path:
        tags = tags[step]
    if wrong is None:
        del tags["team"]
    else:
        tags["team"] = wrong
    problems, _ = tag_problems(resources, expected_tags(stack))
    assert problems == [f"{victim.urn} {'.'.join(path)}: {{'team': {wrong!r}}}"]


def test_aws_provider_default_tags_count_for_a_resource_without_its_own():
    resources = copy.deepcopy(stack_capture("staging").resources)
    (vpc, *_) = [r for r in resources if r.type == "aws:ec2/vpc:Vpc"]
    del vpc.inputs["tags"]["team"]
    assert tag_problems(resources, expected_tags("staging"))[0] == []
    (provider,) = [r for r in resources if r.urn == vpc.provider]
    provider.inputs["defaultTags"] = json.dumps({"tags": {}})
    problems, _ = tag_problems(resources, expected_tags("staging"))
    assert f"{vpc.urn} tags: {{'team': None}}" in problems


# --- the table against the installed SDKs -------------------------------------------------


def _sdk_module(package: str) -> str:
    """The Python module of a provider package (community packages live under pulumiverse)."""
    return {"time": "pulumiverse_time"}.get(package, "pulumi_" + package.replace("-", "_"))


@cache
def sdk_class(type_: str) -> type:
    """The Python SDK class registering `type_` (e.g. `aws:ec2/vpc:Vpc` -> `pulumi_aws.ec2.Vpc`)."""
    from pulumi.runtime import rpc

    pkg, mod, name = type_.split(":")
    if (pkg, mod) == ("pulumi", "providers"):
        return importlib.import_module(_sdk_module(name)).Provider
    importlib.import_module(_sdk_module(pkg))  # registers its modules
    for module in rpc._RESOURCE_MODULES.get(f"{pkg}:{mod}", []):
        info = getattr(module, "mod_info", {})
        if type_ in info.get("classes", {}):
            return getattr(importlib.import_module(info["fqn"]), info["classes"][type_])
    raise LookupError(f"no SDK class registers {type_}")


def sdk_args(type_: str) -> set[str]:
    init = sdk_class(type_)._internal_init  # the real argument list behind the overloads
    return set(inspect.signature(init).parameters) - {"self", "resource_name", "opts"}


def sdk_tag_args(type_: str) -> set[str]:
    names = TAG_ARGS | ({"metadata"} if type_.startswith("kubernetes:") else set())
    return sdk_args(type_) & names


def snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


@pytest.mark.parametrize("type_", sorted(TAGS))
def test_table_agrees_with_the_sdk(type_):
    entry = TAGS[type_]
    if isinstance(entry, str):
        assert not sdk_tag_args(type_), f"{type_} takes {sdk_tag_args(type_)}: tag it"
        assert entry.startswith("no "), "say why the type takes no tags"
    else:
        for path in entry:
            top = snake(path.split(".")[0].removesuffix("[*]"))
            assert top in sdk_args(type_), f"{type_} has no argument {top}"


def test_gcp_node_config_takes_resource_labels():
    from pulumi_gcp.container import NodePoolNodeConfigArgs

    assert "resource_labels" in inspect.signature(NodePoolNodeConfigArgs.__init__).parameters
