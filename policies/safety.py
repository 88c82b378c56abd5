"""Safety policies: cost-allocation-tags, storage-safe, cluster-endpoint-restricted."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import (
    CannotCheck,
    config,
    get,
    plain,
    provider_props,
    short,
    unreadable,
    why_unreadable,
)

# --- cost-allocation-tags ------------------------------------------------------------------

REQUIRED_TAGS = ["team", "cost-center", "stack", "managed-by"]
TAG_DEFAULTS: dict[str, Any] = {"requiredTags": REQUIRED_TAGS}

# Taggable types that may be declared without any tags (so the key is absent from the inputs).
# Any other aws/azure/gcp resource that declares `tags`/`labels` is checked as well.
AWS_TAGGABLE = {
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/instance:Instance",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:iam/role:Role",
    "aws:kms/key:Key",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:route53/healthCheck:HealthCheck",
    "aws:datasync/task:Task",
    "aws:lb/loadBalancer:LoadBalancer",
}
AZURE_TAGGABLE = {
    "azure-native:resources:ResourceGroup",
    "azure-native:network:VirtualNetwork",
    "azure-native:network:PublicIPAddress",
    "azure-native:network:NetworkSecurityGroup",
    "azure-native:containerservice:ManagedCluster",
    "azure-native:containerservice:AgentPool",
    "azure-native:storage:StorageAccount",
    "azure-native:datafactory:Factory",
    "azure-native:network:Profile",
}
# GCP: the labels input of each labelled type; provider default_labels apply to the ones
# marked True (Terraform's effective labels), not to a node pool's VM labels.
GCP_LABELS = {
    "gcp:container/cluster:Cluster": ("resourceLabels", True),
    "gcp:container/nodePool:NodePool": ("nodeConfig.resourceLabels", False),
    "gcp:storage/bucket:Bucket": ("labels", True),
    "gcp:compute/instance:Instance": ("labels", True),
    "gcp:compute/disk:Disk": ("labels", True),
}


def _tags_of(
    type_: str, inputs: dict[str, Any], provider: dict[str, Any]
) -> tuple[Any, str] | None:
    """(effective tags, where they are read from) of a taggable resource; None if untaggable."""
    cloud = type_.split(":", 1)[0]
    if type_.startswith("pulumi:"):
        return None
    if cloud == "aws" and (type_ in AWS_TAGGABLE or "tags" in inputs):
        defaults = get(provider, "defaultTags.tags")
        return _merge(defaults, inputs.get("tags")), "tags (with the provider's defaultTags)"
    if cloud == "azure-native" and (type_ in AZURE_TAGGABLE or "tags" in inputs):
        return _merge(None, inputs.get("tags")), "tags"
    if cloud == "gcp" and (type_ in GCP_LABELS or "labels" in inputs):
        path, defaults_apply = GCP_LABELS.get(type_, ("labels", True))
        defaults = provider.get("defaultLabels") if defaults_apply else None
        where = path + (" (with the provider's defaultLabels)" if defaults_apply else "")
        return _merge(defaults, get(inputs, path)), where
    if cloud == "kubernetes" and isinstance(inputs.get("metadata"), dict | str):
        return _merge(None, get(inputs, "metadata.labels")), "metadata.labels"
    return None


def _merge(defaults: Any, own: Any) -> Any:
    if unreadable(own) or unreadable(defaults):
        return own if unreadable(own) else defaults
    return {
        **(defaults if isinstance(defaults, dict) else {}),
        **(own if isinstance(own, dict) else {}),
    }


def _missing(tags: dict[str, Any], required: Iterable[str]) -> list[str]:
    return [k for k in required if not (isinstance(tags.get(k), str) and tags.get(k))]


def cost_allocation_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    required = list(config(args, TAG_DEFAULTS)["requiredTags"])
    inputs = plain(args.props)
    found = _tags_of(args.resource_type, inputs, provider_props(args.provider))
    if found is None:
        return
    tags, where = found
    if unreadable(tags) or unreadable(inputs.get("metadata")):
        raise CannotCheck(f"{short(args.urn)}: {where} {why_unreadable(tags)}")
    missing = _missing(tags, required)
    template = get(inputs, "spec.template.metadata.labels")
    missing_pods = (
        _missing(template, required)
        if args.resource_type.startswith("kubernetes:") and isinstance(template, dict)
        else []
    )
    if missing or missing_pods:
        parts = []
        if missing:
            parts.append(f"{where} lack {', '.join(missing)}")
        if missing_pods:
            parts.append(f"the pod template's labels lack {', '.join(missing_pods)}")
        report(
            f"{short(args.urn)}: {'; '.join(parts)}. Limit: every taggable resource carries "
            f"{', '.join(required)} (AWS tags or provider default_tags, Azure tags, GCP labels, "
            "Kubernetes labels). Fix: pass the stack's cost tags (components.tags.cost_tags) to "
            "the resource.",
            None,
        )


COST_ALLOCATION_TAGS = ResourceValidationPolicy(
    name="cost-allocation-tags",
    description=(
        "Every taggable resource carries the cost-allocation tags/labels (AWS tags incl. the "
        "provider's defaultTags, Azure tags, GCP labels incl. the provider's defaultLabels, "
        "Kubernetes labels incl. pod templates)."
    ),
    validate=cost_allocation_tags,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(
        properties={
            "requiredTags": {
                "type": "array",
                "items": {"type": "string"},
                "default": REQUIRED_TAGS,
                "description": "Tag/label keys every taggable resource must carry (non-empty).",
            }
        }
    ),
)


# --- cluster-endpoint-restricted -----------------------------------------------------------

ENDPOINT_DEFAULTS: dict[str, Any] = {"minPrefixLength": 8, "allowPublicEndpoint": True}


def _cidr_problems(cidrs: list[Any], min_prefix: int) -> tuple[list[str], list[str]]:
    """(problems, unreadable) of the CIDRs allowed to reach a public endpoint."""
    problems, cannot = [], []
    for c in cidrs:
        if unreadable(c):
            cannot.append(f"an allowed CIDR {why_unreadable(c)}")
            continue
        try:
            net = ipaddress.ip_network(str(c), strict=False)
        except ValueError:
            problems.append(f"{c!r} is not a CIDR")
            continue
        if net.prefixlen == 0:
            problems.append(f"{c} opens the API to the whole internet")
        elif net.prefixlen < min_prefix:
            problems.append(f"{c} is wider than /{min_prefix}")
    return problems, cannot


def _endpoint(type_: str, inputs: dict[str, Any]) -> tuple[Any, Any, str] | None:
    """(public endpoint on?, allowed CIDRs, how to fix) for a cluster; None for other types.

    `public` is True, False or an unreadable value; `cidrs` None means no restriction."""
    if type_ == "aws:eks/cluster:Cluster":
        vpc = inputs.get("vpcConfig")
        if unreadable(vpc):
            return vpc, None, ""
        public = get(vpc, "endpointPublicAccess")
        public = True if public is None else public  # EKS's default: public
        return (
            public,
            get(vpc, "publicAccessCidrs"),
            "set vpc_config.endpoint_public_access=False, or public_access_cidrs to your "
            "networks (tricloud:apiAllowedCidrs)",
        )
    if type_ == "azure-native:containerservice:ManagedCluster":
        profile = inputs.get("apiServerAccessProfile")
        if unreadable(profile):
            return profile, None, ""
        private = get(profile, "enablePrivateCluster")
        public = private if unreadable(private) else private is not True
        return (
            public,
            get(profile, "authorizedIPRanges"),
            "set api_server_access_profile.enable_private_cluster=True, or "
            "authorized_ip_ranges to your networks (tricloud:apiAllowedCidrs)",
        )
    if type_ == "gcp:container/cluster:Cluster":
        private = get(inputs, "privateClusterConfig.enablePrivateEndpoint")
        ip_public = get(
            inputs, "controlPlaneEndpointsConfig.ipEndpointsConfig.enablePublicEndpoint"
        )
        public = private if unreadable(private) else private is not True and ip_public is not False
        man = inputs.get("masterAuthorizedNetworksConfig")
        if unreadable(man):
            cidrs = man
        elif man is None:
            cidrs = None
        else:
            blocks = get(man, "cidrBlocks") or []
            cidrs = (
                blocks
                if unreadable(blocks)
                else [b if unreadable(b) else get(b, "cidrBlock") for b in blocks]
            )
            if get(man, "gcpPublicCidrsAccessEnabled") is True:
                cidrs = [*cidrs, "0.0.0.0/0"] if isinstance(cidrs, list) else cidrs
        return (
            public,
            cidrs,
            "set private_cluster_config.enable_private_endpoint=True, or "
            "master_authorized_networks_config.cidr_blocks to your networks "
            "(tricloud:apiAllowedCidrs) without gcp_public_cidrs_access_enabled",
        )
    return None


def cluster_endpoint_restricted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    cfg = config(args, ENDPOINT_DEFAULTS)
    found = _endpoint(args.resource_type, plain(args.props))
    if found is None:
        return
    public, cidrs, fix = found
    name = short(args.urn)
    if unreadable(public):
        raise CannotCheck(f"{name}: whether the API endpoint is public {why_unreadable(public)}")
    if not public:
        return
    if not cfg["allowPublicEndpoint"]:
        report(
            f"{name}: the Kubernetes API endpoint is public. Limit: allowPublicEndpoint is false "
            f"for this stack (private endpoint only). Fix: {fix.split(', or')[0]}.",
            None,
        )
        return
    if unreadable(cidrs):
        raise CannotCheck(f"{name}: the allowed CIDRs {why_unreadable(cidrs)}")
    if not cidrs:
        report(
            f"{name}: the Kubernetes API endpoint is public with no allowed CIDRs, i.e. open to "
            "0.0.0.0/0. Limit: a public endpoint only with restricted CIDRs (no /0, prefixes of "
            f"at least /{cfg['minPrefixLength']}). Fix: {fix}.",
            None,
        )
        return
    problems, cannot = _cidr_problems(list(cidrs), int(cfg["minPrefixLength"]))
    if problems:
        report(
            f"{name}: the public Kubernetes API endpoint allows {'; '.join(problems)}. Limit: no "
            f"0.0.0.0/0 and prefixes of at least /{cfg['minPrefixLength']}. Fix: {fix}.",
            None,
        )
    if cannot:
        raise CannotCheck(f"{name}: {'; '.join(cannot)}")


CLUSTER_ENDPOINT_RESTRICTED = ResourceValidationPolicy(
    name="cluster-endpoint-restricted",
    description=(
        "No Kubernetes API is open to 0.0.0.0/0: EKS, AKS and GKE endpoints are private, or public "
        "only for restricted CIDRs (EKS publicAccessCidrs, AKS authorizedIPRanges, GKE master "
        "authorized networks)."
    ),
    validate=cluster_endpoint_restricted,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "minPrefixLength": {
                "type": "integer",
                "minimum": 1,
                "maximum": 32,
                "default": 8,
                "description": "Allowed CIDRs must be at least this specific (/0 is never allowed).",
            },
            "allowPublicEndpoint": {
                "type": "boolean",
                "default": True,
                "description": "false: the API endpoint must be private.",
            },
        }
    ),
)


# --- storage-safe --------------------------------------------------------------------------

S3_BUCKET = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
S3_VERSIONING = {
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
}
S3_ENCRYPTION = {
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
}
S3_PUBLIC_ACCESS_BLOCK = {"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"}
S3_ACL = {"aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"}
S3_PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
AZ_ACCOUNT = "azure-native:storage:StorageAccount"
AZ_BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
AZ_CONTAINER = "azure-native:storage:BlobContainer"
GCS_BUCKET = "gcp:storage/bucket:Bucket"
GCS_IAM = {
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding",
    "gcp:storage/bucketAccessControl:BucketAccessControl",
}
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}


class _Stack:
    """The stack's resources as plain data, with companions found by dependency or name."""

    def __init__(self, resources: list[PolicyResource]) -> None:
        self.resources = resources
        self.props = {r.urn: plain(r.props) for r in resources}

    def companions(self, owner: PolicyResource, types: set[str], *name_keys: str) -> list:
        """Resources of `types` that depend on `owner` (or are its children) or name it."""
        names = {
            v
            for k in name_keys
            if isinstance(v := self.props[owner.urn].get(k), str) and not unreadable(v)
        }
        out = []
        for r in self.resources:
            if r.resource_type not in types:
                continue
            deps = {d.urn for d in r.dependencies}
            ref = self.props[r.urn].get("bucket") or self.props[r.urn].get("accountName")
            if (
                owner.urn in deps
                or (r.parent is not None and r.parent.urn == owner.urn)
                or (isinstance(ref, str) and ref in names | {owner.urn})
            ):
                out.append(r)
        return out


def _s3(stack: _Stack, bucket: PolicyResource, problems: list[str], cannot: list[str]) -> None:
    p = stack.props[bucket.urn]
    versioned = get(p, "versioning.enabled") is True
    for v in stack.companions(bucket, S3_VERSIONING, "bucket"):
        status = get(stack.props[v.urn], "versioningConfiguration.status")
        if unreadable(status):
            cannot.append(f"{short(v.urn)} versioningConfiguration.status {why_unreadable(status)}")
        versioned |= status == "Enabled"
    if not versioned and not cannot:
        problems.append("not versioned (no BucketVersioning with status Enabled)")
    inline = get(p, "serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault")
    encrypted = bool(get(inline, "sseAlgorithm")) if isinstance(inline, dict) else False
    for e in stack.companions(bucket, S3_ENCRYPTION, "bucket"):
        for rule in stack.props[e.urn].get("rules") or []:
            algo = get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm")
            if unreadable(algo):
                cannot.append(f"{short(e.urn)} sseAlgorithm {why_unreadable(algo)}")
            encrypted |= bool(algo) and not unreadable(algo)
    if not encrypted and not any("sseAlgorithm" in c for c in cannot):
        problems.append(
            "no server-side encryption declared (no BucketServerSideEncryptionConfiguration)"
        )
    blocks = stack.companions(bucket, S3_PUBLIC_ACCESS_BLOCK, "bucket")
    flags = [stack.props[b.urn].get(f) for b in blocks for f in PAB_FLAGS]
    if any(unreadable(f) for f in flags):
        cannot.append("BucketPublicAccessBlock flags")
    elif not blocks or not any(
        all(stack.props[b.urn].get(f) is True for f in PAB_FLAGS) for b in blocks
    ):
        problems.append(
            "public access not blocked (no BucketPublicAccessBlock with all four flags true)"
        )
    acls = [p.get("acl")] + [
        stack.props[a.urn].get("acl") for a in stack.companions(bucket, S3_ACL, "bucket")
    ]
    public = [a for a in acls if a in S3_PUBLIC_ACLS]
    if public:
        problems.append(f"public ACL {', '.join(public)}")
    if p.get("forceDestroy") is True:
        problems.append("forceDestroy is true (deletes every object with the bucket)")


def _azure(stack: _Stack, account: PolicyResource, problems: list[str], cannot: list[str]):
    p = stack.props[account.urn]
    public = p.get("allowBlobPublicAccess")
    if unreadable(public):
        cannot.append(f"allowBlobPublicAccess {why_unreadable(public)}")
    elif public is True:
        problems.append("allowBlobPublicAccess is true")
    if p.get("enableHttpsTrafficOnly") is False:
        problems.append("enableHttpsTrafficOnly is false (unencrypted transfer)")
    if get(p, "encryption.services.blob.enabled") is False:
        problems.append("blob encryption is disabled")
    services = stack.companions(account, {AZ_BLOB_SERVICE}, "accountName")
    flags = [stack.props[s.urn].get("isVersioningEnabled") for s in services]
    if any(unreadable(f) for f in flags):
        cannot.append("BlobServiceProperties isVersioningEnabled")
    elif True not in flags:
        problems.append("blob versioning off (no BlobServiceProperties with isVersioningEnabled)")
    for c in stack.companions(account, {AZ_CONTAINER}, "accountName"):
        access = stack.props[c.urn].get("publicAccess")
        if unreadable(access):
            cannot.append(f"{short(c.urn)} publicAccess {why_unreadable(access)}")
        elif access not in (None, "None"):
            problems.append(f"container {short(c.urn)} has publicAccess {access}")


def _gcs(stack: _Stack, bucket: PolicyResource, problems: list[str], cannot: list[str]) -> None:
    p = stack.props[bucket.urn]
    versioned = get(p, "versioning.enabled")
    if unreadable(versioned):
        cannot.append(f"versioning.enabled {why_unreadable(versioned)}")
    elif versioned is not True:
        problems.append("not versioned (versioning.enabled is not true)")
    prevention = p.get("publicAccessPrevention")
    if unreadable(prevention):
        cannot.append(f"publicAccessPrevention {why_unreadable(prevention)}")
    elif prevention != "enforced":
        problems.append(f"publicAccessPrevention is {prevention or 'unset'} (not enforced)")
    if p.get("forceDestroy") is True:
        problems.append("forceDestroy is true (deletes every object with the bucket)")
    # GCS encrypts every object at rest (Google-managed keys, or encryption.defaultKmsKeyName).
    for grant in stack.companions(bucket, GCS_IAM, "name"):
        g = stack.props[grant.urn]
        members = [g.get("member"), g.get("entity"), *(g.get("members") or [])]
        public = [m for m in members if isinstance(m, str) and m in PUBLIC_MEMBERS]
        if public:
            problems.append(f"{short(grant.urn)} grants access to {', '.join(public)}")


STORAGE_KINDS = [
    (
        S3_BUCKET,
        "S3 bucket",
        _s3,
        "protect=True, a BucketVersioning (Enabled), a "
        "BucketServerSideEncryptionConfiguration and a BucketPublicAccessBlock with all four flags",
    ),
    (
        {AZ_ACCOUNT},
        "storage account",
        _azure,
        "protect=True, allow_blob_public_access=False, "
        "BlobServiceProperties with is_versioning_enabled=True, containers with public_access None",
    ),
    (
        {GCS_BUCKET},
        "GCS bucket",
        _gcs,
        "protect=True, versioning enabled, public_access_prevention='enforced', no allUsers grants",
    ),
]


def storage_safe(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = _Stack(list(args.resources))
    cannot_all = []
    for r in stack.resources:
        for types, label, check, fix in STORAGE_KINDS:
            if r.resource_type not in types:
                continue
            problems: list[str] = []
            cannot: list[str] = []
            if not r.opts.protect:
                problems.append("not protected (protect=False)")
            check(stack, r, problems, cannot)
            if problems:
                report(
                    f"{label} {short(r.urn)}: {'; '.join(problems)}. Limit: storage is "
                    f"versioned, encrypted, never public and protected. Fix: {fix}.",
                    r.urn,
                )
            cannot_all += [f"{short(r.urn)}: {c}" for c in cannot]
    if cannot_all:
        raise CannotCheck("; ".join(cannot_all))


STORAGE_SAFE = StackValidationPolicy(
    name="storage-safe",
    description=(
        "S3 buckets, Azure storage accounts and GCS buckets are versioned, encrypted, not public "
        "and protected (protect=True); companion resources (BucketVersioning, "
        "BucketServerSideEncryptionConfiguration, BucketPublicAccessBlock, BlobServiceProperties, "
        "BlobContainer, bucket IAM) are matched by dependency or bucket/account name."
    ),
    validate=storage_safe,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={}),
)
