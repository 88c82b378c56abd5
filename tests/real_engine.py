"""What the real engine, the providers and the clouds would do with a program's registrations.

The mock engine accepts any input shape and waits for nothing. Each check here reads the
captured registrations (type, inputs, dependsOn, customTimeouts, provider, parent) and returns
one line per place where a real `pulumi up` would fail or leave a fleet that does not work:

- `lb_services_are_served`: a LoadBalancer Service whose annotations only the AWS Load Balancer
  Controller serves needs that controller in its cluster, and must depend on it (else its
  await times out after 10 minutes with no address); one EIP per NLB subnet.
- `workloads_wait_for_their_nodes`: a Deployment depends on its GPU node pool and, where the
  program runs it, the NVIDIA device plugin.
- `timeouts_cover_startup`: a Deployment's create/update timeouts cover a new GPU node, the
  image pull and the startup probe's window (update: every replica in turn).
- `pools_in_offered_zones`: every GPU pool is pinned to zones that offer its type.
- `replicas_fit_their_nodes`: per node, the DaemonSets plus the replicas that share it
  request no more than the node's allocatable, by each cloud's reservation formula.
- `aks_data_plane_granted`: an AKS cluster with Azure RBAC and no local accounts has a
  data-plane role assignment scoped to it, and its Kubernetes provider waits for it.
- `eks_admins_bound`: every EKS access entry has its cluster-admin policy association, for
  the same principal and cluster, created after it (EKS refuses an association without an
  entry), and names an IAM role or user, never an STS session.
- `addons_pinned`: Helm releases, EKS add-ons and images carry explicit versions.
- `eks_clusters_work`: every EKS cluster runs the controllers EKS lacks, with their Pod
  Identity, node groups tagged for discovery, and the managed add-ons.
- `triggers_started`: every Data Factory trigger is started by the deploy.
- `api_cidrs_public`: public API allow-lists hold public ranges only.
- `kubernetes_versions_offered`: every cluster's version is offered on its cloud.

Each restates the rule it checks (tests/independent.py holds the reservation formulas), so a
mistake in the components' own tables cannot hide itself.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from tests import independent
from tools.plan.engine import Capture, Registration

CLUSTER_TYPES = {
    "tricloud:index:AwsGpuCluster": "aws",
    "tricloud:index:AzureGpuCluster": "azure",
    "tricloud:index:GcpGpuCluster": "gcp",
}
POOL_TYPES = {
    "aws:eks/nodeGroup:NodeGroup": "aws",
    "azure-native:containerservice:AgentPool": "azure",
    "gcp:container/nodePool:NodePool": "gcp",
}
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
SERVICE = "kubernetes:core/v1:Service"
RELEASE = "kubernetes:helm.sh/v3:Release"
K8S_PROVIDER = "pulumi:providers:kubernetes"
LABEL_POOL = "tricloud/pool"
GPU_TAINT = "nvidia.com/gpu"
AWS_LB_TYPE = "service.beta.kubernetes.io/aws-load-balancer-type"
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
# pulumi-kubernetes waits this long for a Deployment or Service unless told otherwise.
DEFAULT_AWAIT_MINUTES = 10


@dataclass
class Fleet:
    """The capture, indexed the way the checks walk it."""

    capture: Capture

    def __post_init__(self) -> None:
        self.by_urn = {r.urn: r for r in self.capture.resources}
        self.by_id = {r.id: r for r in self.capture.resources if r.id}

    def of(self, type_: str) -> list[Registration]:
        return self.capture.of_type(type_)

    def cluster_of(self, reg: Registration) -> Registration | None:
        """The cluster component a resource belongs to: through its Kubernetes provider for
        objects in the cluster, through its parents otherwise."""
        start = self.by_urn.get(reg.provider) if reg.type.startswith("kubernetes:") else reg
        node = start
        while node is not None:
            if node.type in CLUSTER_TYPES:
                return node
            node = self.by_urn.get(node.parent)
        return None

    def region_of(self, reg: Registration) -> str:
        provider = self.by_urn.get(reg.provider)
        inputs = provider.inputs if provider else {}
        return inputs.get("region") or inputs.get("location") or ""

    def in_cluster(self, cluster: Registration, type_: str) -> list[Registration]:
        return [r for r in self.of(type_) if self.cluster_of(r) is cluster]


def _minutes(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh])", value or "")
    if not match:
        return 0.0
    n, unit = float(match.group(1)), match.group(2)
    return n / 60 if unit == "s" else n * 60 if unit == "h" else n


def _pod_spec(deployment: Registration) -> dict:
    return deployment.inputs["spec"]["template"]["spec"]


def _pool_label(deployment: Registration) -> str | None:
    terms = (
        _pod_spec(deployment)
        .get("affinity", {})
        .get("nodeAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution", {})
        .get("nodeSelectorTerms", [])
    )
    for term in terms:
        for expr in term.get("matchExpressions", []):
            if expr.get("key") == LABEL_POOL and expr.get("operator") == "In":
                return expr["values"][0]
    return None


def pool_labels(pool: Registration) -> dict:
    if pool.type == "gcp:container/nodePool:NodePool":
        return pool.inputs.get("nodeConfig", {}).get("labels", {})
    if pool.type == "azure-native:containerservice:AgentPool":
        return pool.inputs.get("nodeLabels", {})
    return pool.inputs.get("labels", {})


def pool_instance_type(pool: Registration) -> str:
    if pool.type == "gcp:container/nodePool:NodePool":
        return pool.inputs["nodeConfig"]["machineType"]
    if pool.type == "azure-native:containerservice:AgentPool":
        return pool.inputs["vmSize"]
    return pool.inputs["instanceTypes"][0]


def _gpu_pool_for(fleet: Fleet, deployment: Registration) -> Registration | None:
    label = _pool_label(deployment)
    cluster = fleet.cluster_of(deployment)
    for pool_type in POOL_TYPES:
        for pool in fleet.in_cluster(cluster, pool_type) if cluster else []:
            if pool_labels(pool).get(LABEL_POOL) == label:
                return pool
    return None


def _tolerates_gpu(pod: dict) -> bool:
    return any(t.get("key") == GPU_TAINT for t in pod.get("tolerations", []))


# --- the checks ------------------------------------------------------------------------------


def lb_services_are_served(fleet: Fleet) -> list[str]:
    out = []
    for svc in fleet.of(SERVICE):
        if svc.inputs.get("spec", {}).get("type") != "LoadBalancer":
            continue
        annotations = svc.inputs.get("metadata", {}).get("annotations", {})
        if annotations.get(AWS_LB_TYPE) not in ("external", "nlb-ip"):
            continue  # the cloud's own controller serves it
        controllers = [
            r
            for r in fleet.of(RELEASE)
            if r.inputs.get("chart") == "aws-load-balancer-controller"
            and r.provider == svc.provider
        ]
        if not controllers:
            out.append(f"{svc.urn}: {AWS_LB_TYPE}=external but no AWS Load Balancer Controller")
        elif not any(c.urn in svc.depends_on for c in controllers):
            out.append(f"{svc.urn}: does not depend on the AWS Load Balancer Controller")
        eips = annotations.get("service.beta.kubernetes.io/aws-load-balancer-eip-allocations")
        subnets = annotations.get("service.beta.kubernetes.io/aws-load-balancer-subnets")
        if eips is not None and (subnets is None or eips.count(",") != subnets.count(",")):
            out.append(f"{svc.urn}: EIP allocations {eips!r} do not match subnets {subnets!r}")
    return out


def workloads_wait_for_their_nodes(fleet: Fleet) -> list[str]:
    out = []
    for d in fleet.of(DEPLOYMENT):
        pool = _gpu_pool_for(fleet, d)
        if pool is None:
            out.append(f"{d.urn}: no node pool carries its {LABEL_POOL} label")
            continue
        if pool.urn not in d.depends_on:
            out.append(f"{d.urn}: does not depend on its node pool {pool.urn}")
        plugins = [
            p
            for p in fleet.of(DAEMONSET)
            if p.provider == d.provider and "nvidia-device-plugin" in p.urn
        ]
        cloud = CLUSTER_TYPES[fleet.cluster_of(d).type]  # type: ignore[union-attr]
        if cloud in ("aws", "azure") and not any(p.urn in d.depends_on for p in plugins):
            out.append(f"{d.urn}: does not depend on the NVIDIA device plugin")
    return out


def timeouts_cover_startup(
    fleet: Fleet, node_ready_minutes: dict[str, int], pull: int
) -> list[str]:
    out = []
    for d in fleet.of(DEPLOYMENT):
        cloud = CLUSTER_TYPES[fleet.cluster_of(d).type]  # type: ignore[union-attr]
        container = _pod_spec(d)["containers"][0]
        probe = container.get("startupProbe", {})
        window = (
            probe.get("initialDelaySeconds", 0)
            + probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3)
        ) / 60
        one = pull + window
        replicas = max(1, d.inputs["spec"].get("replicas", 1))
        need = {
            "create": node_ready_minutes[cloud] + one,
            "update": node_ready_minutes[cloud] + replicas * one,
        }
        for op, minutes in need.items():
            got = _minutes(d.custom_timeouts.get(op, f"{DEFAULT_AWAIT_MINUTES}m"))
            if got < minutes:
                out.append(f"{d.urn}: {op} timeout {got:g} min < {minutes:g} min needed")
    for svc in fleet.of(SERVICE):
        if svc.inputs.get("spec", {}).get("type") == "LoadBalancer":
            got = _minutes(svc.custom_timeouts.get("create", f"{DEFAULT_AWAIT_MINUTES}m"))
            if got <= DEFAULT_AWAIT_MINUTES:
                out.append(f"{svc.urn}: create timeout {got:g} min leaves no margin for its LB")
    return out


def gke_region(pool: Registration) -> str:
    """A GKE pool's region: its location, which is a zone in a zonal cluster (us-east4-a)."""
    location = pool.inputs.get("location") or ""
    return (
        location.rsplit("-", 1)[0]
        if re.fullmatch(r"[a-z]+-[a-z]+\d+-[a-z]", location)
        else location
    )


def pools_in_offered_zones(fleet: Fleet, catalog) -> list[str]:
    offered = {(o.cloud, o.region, o.instance_type): o for o in catalog.offerings}
    out = []
    for pool_type, cloud in POOL_TYPES.items():
        for pool in fleet.of(pool_type):
            if pool_labels(pool).get(LABEL_POOL) is None:
                continue  # the system pool
            region = gke_region(pool) if cloud == "gcp" else fleet.region_of(pool)
            itype = pool_instance_type(pool)
            o = offered.get((cloud, region, itype))
            if o is None:
                out.append(f"{pool.urn}: {cloud}/{region} {itype} is not in the catalog")
                continue
            if cloud == "aws":
                subnets = [fleet.by_id.get(s) for s in pool.inputs.get("subnetIds", [])]
                zones = [s.inputs.get("availabilityZoneId") if s else None for s in subnets]
            elif cloud == "azure":
                zones = pool.inputs.get("availabilityZones") or []
            else:
                zones = pool.inputs.get("nodeLocations") or []
            if o.zones and (not zones or not set(zones) <= set(o.zones)):
                out.append(f"{pool.urn}: zones {zones} not within {itype}'s {list(o.zones)}")
    return out


def replicas_fit_their_nodes(fleet: Fleet, catalog, system_daemonsets: dict) -> list[str]:
    offered = {(o.cloud, o.region, o.instance_type): o for o in catalog.offerings}
    out = []
    for d in fleet.of(DEPLOYMENT):
        pool = _gpu_pool_for(fleet, d)
        if pool is None:
            continue
        cloud = POOL_TYPES[pool.type]
        region = gke_region(pool) if cloud == "gcp" else fleet.region_of(pool)
        o = offered[(cloud, region, pool_instance_type(pool))]
        container = _pod_spec(d)["containers"][0]
        requests = container["resources"]["requests"]
        gpus = int(container["resources"]["limits"]["nvidia.com/gpu"])
        per_node = o.accelerator_count // gpus
        cpu, mem = system_daemonsets[cloud]
        for ds in fleet.of(DAEMONSET):
            pod = ds.inputs["spec"]["template"]["spec"]
            if ds.provider == d.provider and _tolerates_gpu(pod):
                for c in pod["containers"]:
                    r = c.get("resources", {}).get("requests", {})
                    cpu += independent.millicores(r.get("cpu", "0"))
                    mem += independent.mebibytes(r.get("memory", "0"))
        cpu += per_node * independent.millicores(requests["cpu"])
        mem += per_node * independent.mebibytes(requests["memory"])
        alloc_cpu, alloc_mem = independent.allocatable(cloud, o.instance_type, o.vcpus, o.memory_gb)
        if cpu > alloc_cpu or mem > alloc_mem:
            out.append(
                f"{d.urn}: {per_node} replica(s) + DaemonSets request {cpu}m/{mem}Mi on "
                f"{o.instance_type}, allocatable {alloc_cpu}m/{alloc_mem}Mi"
            )
    return out


def eks_admins_bound(fleet: Fleet) -> list[str]:
    out = []
    associations = fleet.of("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    for entry in fleet.of("aws:eks/accessEntry:AccessEntry"):
        arn = str(entry.inputs.get("principalArn", ""))
        if not re.fullmatch(r"arn:aws[-a-z]*:iam::\d{12}:(role|user)/.+", arn):
            out.append(f"{entry.urn}: principal {arn!r} is not an IAM role or user ARN")
        bound = [
            a
            for a in associations
            if a.inputs.get("principalArn") == arn
            and a.inputs.get("clusterName") == entry.inputs.get("clusterName")
            and str(a.inputs.get("policyArn", "")).endswith("/AmazonEKSClusterAdminPolicy")
            and (a.inputs.get("accessScope") or {}).get("type") == "cluster"
        ]
        if not bound:
            out.append(
                f"{entry.urn}: no cluster-admin policy association: the entry grants nothing"
            )
        for a in bound:
            if entry.urn not in a.depends_on:
                out.append(f"{a.urn}: not after its access entry (EKS refuses it before)")
    return out


def aks_data_plane_granted(fleet: Fleet) -> list[str]:
    out = []
    for mc in fleet.of("azure-native:containerservice:ManagedCluster"):
        aad = mc.inputs.get("aadProfile", {})
        if not (aad.get("enableAzureRBAC") and mc.inputs.get("disableLocalAccounts")):
            continue
        grants = [
            ra
            for ra in fleet.of("azure-native:authorization:RoleAssignment")
            if ra.inputs.get("scope") == mc.id
            and str(ra.inputs.get("roleDefinitionId", "")).endswith(AKS_RBAC_CLUSTER_ADMIN)
        ]
        if not grants:
            out.append(f"{mc.urn}: Azure RBAC without a data-plane role assignment")
            continue
        cluster = fleet.cluster_of(mc)
        providers = [p for p in fleet.of(K8S_PROVIDER) if fleet.by_urn.get(p.parent) is cluster]
        for p in providers:
            # directly, or through a wait for the assignment to propagate
            waits = [
                s
                for s in fleet.of("time:index/sleep:Sleep")
                if s.urn in p.depends_on and _minutes(s.inputs.get("createDuration", "")) >= 5
            ]
            granted = {g.urn for g in grants}
            if not any(granted & {*p.depends_on, *(d for s in waits for d in s.depends_on)}):
                out.append(f"{p.urn}: does not wait for the data-plane role assignment")
            elif not waits:
                out.append(f"{p.urn}: no wait for the role assignment to propagate (minutes)")
    return out


def _images(fleet: Fleet) -> Iterable[tuple[str, str]]:
    for type_ in (DEPLOYMENT, DAEMONSET):
        for r in fleet.of(type_):
            pod = r.inputs["spec"]["template"]["spec"]
            for c in [*pod.get("initContainers", []), *pod["containers"]]:
                yield r.urn, c["image"]


def addons_pinned(fleet: Fleet) -> list[str]:
    out = []
    for rel in fleet.of(RELEASE):
        if not re.fullmatch(r"\d+\.\d+\.\d+", str(rel.inputs.get("version", ""))):
            out.append(f"{rel.urn}: chart version {rel.inputs.get('version')!r} is not pinned")
    for addon in fleet.of("aws:eks/addon:Addon"):
        if not re.fullmatch(r"v\d+\.\d+\.\d+-eksbuild\.\d+", addon.inputs.get("addonVersion", "")):
            out.append(f"{addon.urn}: add-on version {addon.inputs.get('addonVersion')!r}")
    for urn, image in _images(fleet):
        tag = image.rsplit("/", 1)[-1]
        if "@sha256:" not in image and (":" not in tag or tag.endswith(":latest")):
            out.append(f"{urn}: image {image!r} is not pinned")
    return out


def eks_clusters_work(fleet: Fleet) -> list[str]:
    out = []
    for eks in fleet.of("aws:eks/cluster:Cluster"):
        cluster = fleet.cluster_of(eks)
        name = eks.inputs["name"]
        releases = {
            r.inputs["chart"]: r for r in fleet.of(RELEASE) if fleet.cluster_of(r) is cluster
        }
        for chart in ("aws-load-balancer-controller", "cluster-autoscaler", "metrics-server"):
            if chart not in releases:
                out.append(f"{eks.urn}: no {chart}")
        ca = releases.get("cluster-autoscaler")
        if ca and ca.inputs["values"].get("autoDiscovery", {}).get("clusterName") != name:
            out.append(f"{ca.urn}: autoDiscovery.clusterName is not {name}")
        associations = {
            a.inputs["serviceAccount"]: a
            for a in fleet.of("aws:eks/podIdentityAssociation:PodIdentityAssociation")
            if fleet.cluster_of(a) is cluster
        }
        for chart in ("aws-load-balancer-controller", "cluster-autoscaler"):
            rel = releases.get(chart)
            if rel is None:
                continue
            values = rel.inputs["values"]
            account = (
                values.get("serviceAccount") or values.get("rbac", {}).get("serviceAccount")
            )["name"]
            assoc = associations.get(account)
            if assoc is None:
                out.append(f"{rel.urn}: service account {account} has no Pod Identity")
            elif assoc.urn not in rel.depends_on:
                out.append(f"{rel.urn}: does not wait for its Pod Identity association")
        for ng in fleet.in_cluster(cluster, "aws:eks/nodeGroup:NodeGroup"):
            if ng.inputs.get("tags", {}).get(f"k8s.io/cluster-autoscaler/{name}") != "owned":
                out.append(f"{ng.urn}: not tagged for the Cluster Autoscaler's discovery")
        addons = {a.inputs["addonName"] for a in fleet.in_cluster(cluster, "aws:eks/addon:Addon")}
        for needed in ("vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent"):
            if needed not in addons:
                out.append(f"{eks.urn}: no managed add-on {needed}")
    return out


def triggers_started(fleet: Fleet) -> list[str]:
    out = []
    commands = fleet.of("command:local:Command")
    for trig in fleet.of("azure-native:datafactory:Trigger"):
        starts = [
            c
            for c in commands
            if trig.urn in c.depends_on and "/start?" in str(c.inputs.get("create", ""))
        ]
        if not starts:
            out.append(f"{trig.urn}: created stopped and never started")
        elif not all("/stop?" in str(c.inputs.get("delete", "")) for c in starts):
            out.append(f"{trig.urn}: not stopped before it is deleted")
    return out


_PRIVATE = [
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8")
]


def api_cidrs_public(fleet: Fleet) -> list[str]:
    out = []
    lists = []
    for r in fleet.of("aws:eks/cluster:Cluster"):
        lists.append((r.urn, r.inputs.get("vpcConfig", {}).get("publicAccessCidrs") or []))
    for r in fleet.of("azure-native:containerservice:ManagedCluster"):
        lists.append(
            (r.urn, r.inputs.get("apiServerAccessProfile", {}).get("authorizedIPRanges") or [])
        )
    for r in fleet.of("gcp:container/cluster:Cluster"):
        blocks = r.inputs.get("masterAuthorizedNetworksConfig", {}).get("cidrBlocks") or []
        lists.append((r.urn, [b["cidrBlock"] for b in blocks]))
    for urn, cidrs in lists:
        for c in cidrs:
            if any(ipaddress.ip_network(c).overlaps(p) for p in _PRIVATE):
                out.append(f"{urn}: {c} can never reach a public API endpoint")
    return out


def kubernetes_versions_offered(fleet: Fleet, on: date) -> list[str]:
    out = []
    versions = {
        "aws": [(r, r.inputs["version"]) for r in fleet.of("aws:eks/cluster:Cluster")],
        "azure": [
            (r, r.inputs["kubernetesVersion"])
            for r in fleet.of("azure-native:containerservice:ManagedCluster")
        ],
        "gcp": [
            (r, r.inputs["minMasterVersion"]) for r in fleet.of("gcp:container/cluster:Cluster")
        ],
    }
    for cloud, items in versions.items():
        for r, version in items:
            status = independent.kubernetes_status(cloud, version, on)
            if status == "unsupported":
                out.append(f"{r.urn}: {cloud} does not offer Kubernetes {version} on {on}")
            if cloud == "aws":
                support = r.inputs.get("upgradePolicy", {}).get("supportType")
                if support != ("EXTENDED" if status == "extended" else "STANDARD"):
                    out.append(f"{r.urn}: support type {support} for a {status} version")
    return out
