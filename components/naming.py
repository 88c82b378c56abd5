"""Physical names that satisfy each cloud's naming rules, derived from stable inputs.

Every physical name is explicit (never left to auto-naming) so that a preview shows it, a
test can check it against the provider's rule, and it does not change between runs. A name
that would be too long keeps a readable prefix and gets a short hash of the full name, so two
long names never collide after shortening.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """A provider's rule for one kind of name."""

    what: str
    pattern: re.Pattern[str]
    max_len: int
    min_len: int = 1

    def check(self, name: str) -> str | None:
        """None if `name` is valid, else why not."""
        if not self.min_len <= len(name) <= self.max_len:
            return f"{self.what} {name!r} must be {self.min_len}-{self.max_len} characters"
        if not self.pattern.fullmatch(name):
            return f"{self.what} {name!r} does not match {self.pattern.pattern}"
        return None


_GCP = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

# Sources: EKS CreateCluster/CreateNodegroup API references, IAM quotas page, Azure "naming
# rules and restrictions for Azure resources", GCP resource naming (RFC 1035), Kubernetes
# object names (RFC 1123 labels and subdomains).
RULES: dict[str, Rule] = {
    "eks-cluster": Rule("EKS cluster name", re.compile(r"[0-9A-Za-z][A-Za-z0-9\-_]*"), 100),
    "eks-nodegroup": Rule("EKS node group name", re.compile(r"[0-9A-Za-z][A-Za-z0-9\-_]*"), 63),
    "iam-role": Rule("IAM role name", re.compile(r"[\w+=,.@-]+"), 64),
    "aks-cluster": Rule(
        "AKS cluster name", re.compile(r"[a-zA-Z0-9]([-_a-zA-Z0-9]*[a-zA-Z0-9])?"), 63
    ),
    "aks-dns-prefix": Rule(
        "AKS DNS prefix", re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?"), 54
    ),
    # Linux node pools: lowercase letter first, alphanumerics only, at most 12.
    "aks-agentpool": Rule("AKS node pool name", re.compile(r"[a-z][a-z0-9]*"), 12),
    "azure-resource-group": Rule("Azure resource group name", re.compile(r"[-\w.()]*[-\w()]"), 90),
    "azure-vnet": Rule("Azure virtual network name", re.compile(r"[a-zA-Z0-9]([-\w.]*\w)?"), 64, 2),
    "azure-subnet": Rule("Azure subnet name", re.compile(r"[a-zA-Z0-9]([-\w.]*\w)?"), 80),
    "gke-cluster": Rule("GKE cluster name", _GCP, 40),
    "gke-nodepool": Rule("GKE node pool name", _GCP, 40),
    "gcp-compute": Rule("GCP compute resource name", _GCP, 63),
    "gcp-service-account": Rule("GCP service account id", _GCP, 30, 6),
    # Storage for datasets (components/replication.py). S3, GCS, storage account and Data
    # Factory names are global: callers add a stable hash so that two stacks never clash.
    # Sources: S3 "general purpose bucket naming rules", GCS "bucket naming", Azure "naming
    # rules and restrictions" (storage, Microsoft.DataFactory), DataSync CreateTask, IAM
    # quotas, Storage Transfer Service TransferJob.name.
    "s3-bucket": Rule("S3 bucket name", re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]"), 63, 3),
    "gcs-bucket": Rule("GCS bucket name", re.compile(r"[a-z0-9][a-z0-9_.-]*[a-z0-9]"), 63, 3),
    "storage-account": Rule("Azure storage account name", re.compile(r"[a-z0-9]+"), 24, 3),
    "blob-container": Rule(
        "Azure blob container name", re.compile(r"[a-z0-9](-?[a-z0-9])+"), 63, 3
    ),
    "adf-factory": Rule("Data Factory name", re.compile(r"[A-Za-z0-9](-?[A-Za-z0-9])+"), 63, 3),
    "adf-entity": Rule(
        "Data Factory linked service/dataset/pipeline/trigger name",
        re.compile(r"[A-Za-z0-9_][^.+?/<>*%&:\\]*"),
        140,
    ),
    "datasync-task": Rule("DataSync task name", re.compile(r"[a-zA-Z0-9\s+=._:@/-]+"), 256),
    "iam-user": Rule("IAM user name", re.compile(r"[\w+=,.@-]+"), 64),
    "sts-job": Rule(
        "Storage Transfer job name",
        re.compile(r"transferJobs/(?!OPI)[A-Za-z0-9._~-]*[A-Za-z0-9]"),
        128,
    ),
    "k8s-label": Rule("Kubernetes name", _DNS_LABEL, 63),
    # Service names are RFC 1035 labels: a letter first (they become DNS names).
    "k8s-service": Rule("Kubernetes Service name", _GCP, 63),
    # DNS record names (Route 53, Azure DNS relative names, Cloud DNS with the final dot):
    # dot-separated labels of at most 63, 253 in all.
    "dns-name": Rule(
        "DNS record name",
        re.compile(
            r"(?=[^.]{1,63}(\.|$))(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?\.(?=[^.]{1,63}(\.|$)))*"
            r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\.?"
        ),
        254,
    ),
    # Inline IAM policies (RolePolicy, UserPolicy): IAM quotas page.
    "iam-policy": Rule("IAM inline policy name", re.compile(r"[\w+=,.@-]+"), 128),
    # Traffic Manager profile names and their relative DNS names (global under trafficmanager.net).
    "traffic-manager": Rule("Traffic Manager name", _DNS_LABEL, 63),
}


# Rules that allow lowercase letters and digits only: no dash before the hash.
ALPHANUMERIC_ONLY = frozenset({"aks-agentpool", "storage-account"})


def short_hash(text: str, length: int = 6) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def fit(name: str, rule: str) -> str:
    """`name` made valid for `rule`: lowercased where the rule demands, shortened with a hash.

    Raises ValueError for a name that cannot be made valid (a bug in the caller: the parts
    come from validated config and the catalog).
    """
    r = RULES[rule]
    candidate = name
    if r.pattern.pattern.startswith("[a-z]") or r.pattern is _DNS_LABEL:
        candidate = re.sub(r"[^a-z0-9-]+", "-", candidate.lower()).strip("-")
    dashes = rule not in ALPHANUMERIC_ONLY
    if not dashes:
        candidate = re.sub(r"[^a-z0-9]", "", candidate.lower())
    if len(candidate) > r.max_len:
        h = short_hash(name, 6 if r.max_len > 20 else 4)
        sep = "-" if dashes else ""
        keep = r.max_len - len(h) - len(sep)
        candidate = candidate[:keep].rstrip("-_.") + sep + h
    problem = r.check(candidate)
    if problem:
        raise ValueError(problem)
    return candidate


def pool_slug(instance_type: str, pricing: str) -> str:
    """A node pool's name part: p5.48xlarge + spot -> p5-48xlarge-spot."""
    base = re.sub(r"[^a-z0-9]+", "-", instance_type.lower().removeprefix("standard_")).strip("-")
    return f"{base}-{'spot' if pricing == 'spot' else 'od'}"


def aks_pool_name(instance_type: str, pricing: str) -> str:
    """AKS pool names are at most 12 lowercase alphanumerics; a hash keeps long sizes distinct."""
    base = re.sub(r"[^a-z0-9]", "", instance_type.lower().removeprefix("standard_"))
    suffix = "s" if pricing == "spot" else "o"
    if len(base) + 1 <= 12:
        name = base + suffix
    else:
        name = base[:7] + short_hash(instance_type, 4) + suffix
    if not name[0].isalpha():
        name = "g" + name[:11]
    return fit(name, "aks-agentpool")
