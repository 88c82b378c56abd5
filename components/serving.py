"""`InferenceService`: one inference service on one cluster (design 8).

One Deployment per GPU pool the plan puts replicas on, so that each pool gets exactly the
replicas the plan bought nodes for, with the GPU count its accelerator needs. One Service of
type LoadBalancer in front of all of them, an HPA per Deployment bounded by the plan, and a
PodDisruptionBudget over the service.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NotRequired, TypedDict

import pulumi
from pulumi_kubernetes.apps.v1 import Deployment
from pulumi_kubernetes.autoscaling.v2 import HorizontalPodAutoscaler
from pulumi_kubernetes.core.v1 import Namespace, Service
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs
from pulumi_kubernetes.networking.v1 import NetworkPolicy
from pulumi_kubernetes.policy.v1 import PodDisruptionBudget

from .aliases import component_opts
from .cluster import GPU_NODE_READY_MINUTES, GPU_TAINT_KEY, LABEL_ACCELERATOR, LABEL_POOL
from .naming import fit
from .validate import check_args

APP_LABEL = "app.kubernetes.io/name"
# GPU servers are probed on the vLLM/TGI/Triton convention; startup may take minutes while
# weights load, so the startup probe allows 20 minutes before the readiness probe takes over.
HEALTH_PATH = "/health"
STARTUP_PERIOD_SECONDS = 10
STARTUP_FAILURES = 120
# Pulling a multi-GB serving image onto a new node (budget, not a measurement).
IMAGE_PULL_MINUTES = 10
# An NLB / Azure LB / GCP passthrough NLB takes minutes to provision and pass its first
# health checks; pulumi-kubernetes waits for the Service's address (default 10 minutes).
SERVICE_ADDRESS_MINUTES = 20
# Pod Security Standards "restricted", enforced on every service namespace. Model servers run
# as this non-root user (images built to run as root, e.g. vLLM's, work when their caches
# point at the writable volumes below).
POD_SECURITY = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")
}
RUN_AS_USER = 1000
# The root filesystem is read-only: weights and compiled kernels go to /cache (node disk),
# scratch to /tmp; /dev/shm is memory for NCCL between the GPUs of one replica.
CACHE_ENV = {"HOME": "/cache", "HF_HOME": "/cache/huggingface", "XDG_CACHE_HOME": "/cache"}
CACHE_ENV["TMPDIR"] = "/tmp"
SHM_SHARE_OF_MEMORY = 0.25
# Where the metrics scraper runs, the one other client a service's pods admit besides its
# load balancer's traffic on the serving port.
METRICS_NAMESPACES = ("kube-system", "monitoring")
# CPU is what every cluster can measure without extra adapters; swap in a queue-depth metric
# (e.g. vLLM's num_requests_waiting through a metrics adapter) where one is installed.
HPA_CPU_UTILIZATION = 60


class WorkloadPoolArgs(TypedDict):
    """The replicas of the service that run on one GPU node pool."""

    pool: str
    """The pool's `tricloud/pool` node label, e.g. `p5-48xlarge-od`."""
    accelerator: str
    """Accelerator on the pool's nodes (`tricloud/accelerator` label)."""
    pricing: str
    """`on-demand` or `spot`."""
    gpus_per_replica: int
    """GPUs each replica requests (`nvidia.com/gpu` limit)."""
    replicas: int
    """Replicas the plan places on this pool; the HPA's minimum."""
    max_replicas: int
    """HPA ceiling: what the pool's autoscaling ceiling can hold."""
    cpu: str
    """CPU request per replica, e.g. `40`."""
    memory: str
    """Memory request per replica, e.g. `400Gi`."""


class InferenceServiceArgs(TypedDict):
    """Arguments of `InferenceService`."""

    service: str
    """Service name; also the namespace and the app label."""
    image: str
    """Container image serving the model, pinned by tag or digest."""
    port: int
    """Port the container serves HTTP on."""
    cloud: str
    """Cloud of the cluster (`aws`, `azure`, `gcp`); selects load balancer annotations."""
    pools: Sequence[WorkloadPoolArgs]
    """The pools and replicas on this cluster."""
    labels: Mapping[str, str]
    """Cost-allocation labels put on every Kubernetes object."""
    regional_algorithm: NotRequired[str]
    """`round-robin` (default), `least-request` or `source-ip`; see `regional_algorithm`."""
    static_ips: NotRequired[pulumi.Input[Sequence[str]]]
    """AWS: Elastic IPs the NLB takes, one per public subnet (DNS health checks need IPs)."""
    static_ip_allocations: NotRequired[pulumi.Input[Sequence[str]]]
    """AWS: allocation ids of `static_ips`, in the same order."""
    subnets: NotRequired[pulumi.Input[Sequence[str]]]
    """AWS: the public subnets the NLB spans, one per static IP, in the same order."""


def startup_budget_minutes(cloud: str) -> int:
    """Minutes one replica may take to serve on a node the autoscaler has to add: the node,
    the image pull and the startup probe's whole window (the model loads meanwhile)."""
    probe = STARTUP_PERIOD_SECONDS * STARTUP_FAILURES // 60
    return GPU_NODE_READY_MINUTES[cloud] + IMAGE_PULL_MINUTES + probe


def deployment_timeouts(cloud: str, replicas: int) -> pulumi.CustomTimeouts:
    """pulumi-kubernetes waits for a Deployment's rollout, 10 minutes unless told otherwise.
    Create: the replicas start in parallel on nodes the pool adds. Update: one surge replica
    at a time (maxSurge 1, maxUnavailable 0), so one new node, then every replica in turn."""
    per_replica = startup_budget_minutes(cloud) - GPU_NODE_READY_MINUTES[cloud]
    return pulumi.CustomTimeouts(
        create=f"{startup_budget_minutes(cloud)}m",
        update=f"{GPU_NODE_READY_MINUTES[cloud] + max(1, replicas) * per_replica}m",
    )


@dataclass(frozen=True)
class RegionalAlgorithm:
    """How one cloud's L4 load balancer realises a regional algorithm (design 9)."""

    annotations: dict[str, str]
    session_affinity: str | None  # Kubernetes spec.sessionAffinity
    used: str  # what the balancer does, in words
    warning: str | None  # set when the cloud cannot do what was asked


# The regional balancers are L4 (NLB, Azure Standard LB, GCP passthrough NLB) because the
# global DNS layer health-checks static IPs. L4 balancers spread connections by a 5-tuple
# flow hash, which is the round-robin mapping for all three; none of them can see requests,
# so least-request is not available and the program says so.
_FLOW_HASH = "5-tuple flow hash per connection"


def regional_algorithm(cloud: str, algorithm: str) -> RegionalAlgorithm:
    """The settings for `algorithm` on `cloud`'s load balancer, or a warning saying what is
    used instead."""
    if algorithm == "source-ip":
        if cloud == "aws":
            return RegionalAlgorithm(
                {
                    "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes": (
                        "stickiness.enabled=true,stickiness.type=source_ip"
                    )
                },
                None,
                "NLB target group stickiness.type=source_ip",
                None,
            )
        # Azure: cloud-provider-azure turns ClientIP into load_distribution=SourceIP;
        # GCP: the passthrough NLB's backend service gets session affinity CLIENT_IP.
        used = "load_distribution=SourceIP" if cloud == "azure" else "session affinity CLIENT_IP"
        return RegionalAlgorithm({}, "ClientIP", used, None)
    if algorithm == "round-robin":
        return RegionalAlgorithm({}, None, _FLOW_HASH, None)
    if algorithm == "least-request":
        return RegionalAlgorithm(
            {},
            None,
            _FLOW_HASH,
            f"{cloud}: least-request is not offered by its L4 load balancer; used {_FLOW_HASH} "
            "(the global DNS layer still weighs regions by the plan)",
        )
    raise ValueError(f"unknown regional algorithm {algorithm!r}")


def load_balancer_annotations(cloud: str, labels: Mapping[str, str]) -> dict[str, str]:
    """Annotations for an internet-facing L4 load balancer carrying the cost tags."""
    tag_list = ",".join(f"{k}={v}" for k, v in labels.items())
    if cloud == "aws":
        # AWS Load Balancer Controller: an NLB sending straight to pod IPs. Cross-zone: GPU
        # pods sit only in the zones that offer their type, the NLB's IPs in every zone.
        return {
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-attributes": (
                "load_balancing.cross_zone.enabled=true"
            ),
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
            "service.beta.kubernetes.io/aws-load-balancer-healthcheck-path": HEALTH_PATH,
            "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags": tag_list,
        }
    if cloud == "azure":
        return {
            "service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path": HEALTH_PATH,
            "service.beta.kubernetes.io/azure-pip-tags": tag_list,
        }
    if cloud == "gcp":
        # Backend-service-based external passthrough NLB (the one that supports weighting
        # and session affinity settings).
        return {"cloud.google.com/l4-rbs": "enabled"}
    raise ValueError(f"unknown cloud {cloud!r}")


class InferenceService(pulumi.ComponentResource):
    """Namespace, Deployments, LoadBalancer Service, HPAs and a PDB for one service."""

    service_name: str
    """The service's Kubernetes name (namespace, app label)."""
    namespace: pulumi.Output[str]
    """Namespace holding the service's objects."""
    address: pulumi.Output[str]
    """Public hostname or IP of the regional load balancer."""
    ips: pulumi.Output[list[str]]
    """Public IPs of the regional load balancer (the global DNS layer points at them)."""

    def __init__(
        self,
        name: str,
        args: InferenceServiceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        check_args("InferenceService", name, args, InferenceServiceArgs)
        super().__init__(
            "tricloud:index:InferenceService",
            name,
            {},
            component_opts("tricloud:index:InferenceService", opts),
        )
        svc = fit(args["service"], "k8s-label")
        self.service_name = svc
        labels = {**args["labels"], APP_LABEL: svc}
        # What the objects wait for in a real deploy (a cluster's `workload_dependencies`: its
        # node pools, the device plugin, the load balancer controller). The SDK does not make
        # a component's children wait for the component's dependsOn, so each child gets it.
        inherited = _depends_on_list(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=inherited)

        ns = Namespace(
            f"{name}-ns",
            metadata=ObjectMetaArgs(name=svc, labels={**labels, **POD_SECURITY}),
            opts=child,
        )
        namespace = ns.metadata.name
        for wp in args["pools"]:
            deploy_name = fit(f"{svc}-{wp['pool']}", "k8s-label")
            selector = {APP_LABEL: svc, LABEL_POOL: wp["pool"]}
            tolerations = [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]
            if args["cloud"] == "azure" and wp["pricing"] == "spot":
                tolerations.append(
                    {
                        "key": "kubernetes.azure.com/scalesetpriority",
                        "operator": "Equal",
                        "value": "spot",
                        "effect": "NoSchedule",
                    }
                )
            resources = {
                "requests": {"cpu": wp["cpu"], "memory": wp["memory"]},
                "limits": {
                    "nvidia.com/gpu": str(int(wp["gpus_per_replica"])),
                    "memory": wp["memory"],
                },
            }
            deployment = Deployment(
                f"{name}-{wp['pool']}",
                metadata=ObjectMetaArgs(name=deploy_name, namespace=namespace, labels=labels),
                spec={
                    "replicas": wp["replicas"],
                    "selector": {"matchLabels": selector},
                    "strategy": {
                        "type": "RollingUpdate",
                        # Never below the planned capacity during a rollout; GPUs are scarce,
                        # so one extra replica at a time.
                        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
                    },
                    "template": {
                        "metadata": {"labels": {**labels, **selector}},
                        "spec": {
                            "affinity": {
                                "nodeAffinity": {
                                    "requiredDuringSchedulingIgnoredDuringExecution": {
                                        "nodeSelectorTerms": [
                                            {
                                                "matchExpressions": [
                                                    {
                                                        "key": LABEL_ACCELERATOR,
                                                        "operator": "In",
                                                        "values": [wp["accelerator"]],
                                                    },
                                                    {
                                                        "key": LABEL_POOL,
                                                        "operator": "In",
                                                        "values": [wp["pool"]],
                                                    },
                                                ]
                                            }
                                        ]
                                    }
                                }
                            },
                            "tolerations": tolerations,
                            "topologySpreadConstraints": [
                                {
                                    "maxSkew": 1,
                                    "topologyKey": "topology.kubernetes.io/zone",
                                    "whenUnsatisfiable": "ScheduleAnyway",
                                    "labelSelector": {"matchLabels": selector},
                                }
                            ],
                            "terminationGracePeriodSeconds": 60,
                            # The server calls no Kubernetes API: no token in the pod.
                            "automountServiceAccountToken": False,
                            "securityContext": {
                                "runAsNonRoot": True,
                                "runAsUser": RUN_AS_USER,
                                "runAsGroup": RUN_AS_USER,
                                "fsGroup": RUN_AS_USER,
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                            "volumes": [
                                {"name": "cache", "emptyDir": {}},
                                {"name": "tmp", "emptyDir": {"sizeLimit": "4Gi"}},
                                {
                                    "name": "shm",
                                    "emptyDir": {
                                        "medium": "Memory",
                                        "sizeLimit": _shm_size(wp["memory"]),
                                    },
                                },
                            ],
                            "containers": [
                                {
                                    "name": "server",
                                    "image": args["image"],
                                    "ports": [{"name": "http", "containerPort": args["port"]}],
                                    "env": [{"name": k, "value": v} for k, v in CACHE_ENV.items()],
                                    "volumeMounts": [
                                        {"name": "cache", "mountPath": "/cache"},
                                        {"name": "tmp", "mountPath": "/tmp"},
                                        {"name": "shm", "mountPath": "/dev/shm"},
                                    ],
                                    "resources": resources,
                                    "startupProbe": {
                                        "httpGet": {"path": HEALTH_PATH, "port": "http"},
                                        "periodSeconds": STARTUP_PERIOD_SECONDS,
                                        "failureThreshold": STARTUP_FAILURES,
                                    },
                                    "readinessProbe": {
                                        "httpGet": {"path": HEALTH_PATH, "port": "http"},
                                        "periodSeconds": 5,
                                        "failureThreshold": 3,
                                    },
                                    "livenessProbe": {
                                        "httpGet": {"path": HEALTH_PATH, "port": "http"},
                                        "periodSeconds": 15,
                                        "failureThreshold": 4,
                                    },
                                    "securityContext": {
                                        "allowPrivilegeEscalation": False,
                                        "privileged": False,
                                        "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]},
                                    },
                                }
                            ],
                        },
                    },
                },
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # Its pods need their pool's nodes and the device plugin's GPUs.
                    depends_on=inherited,
                    # The HPA owns the replica count once the Deployment exists.
                    ignore_changes=["spec.replicas"],
                    custom_timeouts=deployment_timeouts(args["cloud"], wp["replicas"]),
                ),
            )
            HorizontalPodAutoscaler(
                f"{name}-{wp['pool']}",
                metadata=ObjectMetaArgs(name=deploy_name, namespace=namespace, labels=labels),
                spec={
                    "scaleTargetRef": {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": deployment.metadata.name,
                    },
                    "minReplicas": max(1, wp["replicas"]),
                    "maxReplicas": max(wp["max_replicas"], wp["replicas"], 1),
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {
                                    "type": "Utilization",
                                    "averageUtilization": HPA_CPU_UTILIZATION,
                                },
                            },
                        }
                    ],
                },
                opts=child,
            )

        # Only the serving port, and only the metrics scraper besides: the load balancer's
        # traffic keeps the client's address (externalTrafficPolicy Local), so it is admitted
        # by port from anywhere; everything else (other pods, other ports) is refused.
        NetworkPolicy(
            f"{name}-netpol",
            metadata=ObjectMetaArgs(name=svc, namespace=namespace, labels=labels),
            spec={
                "podSelector": {"matchLabels": {APP_LABEL: svc}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {"ports": [{"protocol": "TCP", "port": args["port"]}]},
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchExpressions": [
                                        {
                                            "key": "kubernetes.io/metadata.name",
                                            "operator": "In",
                                            "values": list(METRICS_NAMESPACES),
                                        }
                                    ]
                                }
                            }
                        ],
                    },
                ],
            },
            opts=child,
        )
        PodDisruptionBudget(
            f"{name}-pdb",
            metadata=ObjectMetaArgs(name=svc, namespace=namespace, labels=labels),
            spec={"maxUnavailable": 1, "selector": {"matchLabels": {APP_LABEL: svc}}},
            opts=child,
        )
        algorithm = regional_algorithm(args["cloud"], args.get("regional_algorithm", "round-robin"))
        annotations: dict[str, pulumi.Input[str]] = {
            **load_balancer_annotations(args["cloud"], args["labels"]),
            **algorithm.annotations,
        }
        if "static_ip_allocations" in args:
            annotations["service.beta.kubernetes.io/aws-load-balancer-eip-allocations"] = (
                pulumi.Output.from_input(args["static_ip_allocations"]).apply(",".join)
            )
        if "subnets" in args:
            # Named, not discovered: the controller needs exactly one EIP per subnet.
            annotations["service.beta.kubernetes.io/aws-load-balancer-subnets"] = (
                pulumi.Output.from_input(args["subnets"]).apply(",".join)
            )
        spec: dict = {
            "type": "LoadBalancer",
            "selector": {APP_LABEL: svc},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            "externalTrafficPolicy": "Local",
        }
        if algorithm.session_affinity:
            spec["sessionAffinity"] = algorithm.session_affinity
        service = Service(
            f"{name}-lb",
            metadata=ObjectMetaArgs(
                name=svc, namespace=namespace, labels=labels, annotations=annotations
            ),
            spec=spec,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=inherited,
                custom_timeouts=pulumi.CustomTimeouts(
                    create=f"{SERVICE_ADDRESS_MINUTES}m", update=f"{SERVICE_ADDRESS_MINUTES}m"
                ),
            ),
        )
        self.namespace = namespace
        ingress = service.status.load_balancer.ingress
        self.address = ingress.apply(
            lambda items: (items[0].hostname or items[0].ip or "") if items else ""
        )
        if "static_ips" in args:
            self.ips = pulumi.Output.from_input(args["static_ips"]).apply(list)
        else:
            self.ips = ingress.apply(lambda items: [i.ip for i in items or [] if i.ip])
        self.register_outputs(
            {"namespace": self.namespace, "address": self.address, "ips": self.ips}
        )


def _shm_size(memory: str) -> str:
    """/dev/shm for one replica: a quarter of its memory request (it counts against it)."""
    mi = int(memory[:-2]) if memory.endswith("Mi") else int(float(memory[:-2]) * 1024)
    return f"{int(mi * SHM_SHARE_OF_MEMORY)}Mi"


def _depends_on_list(opts: pulumi.ResourceOptions | None) -> list:
    """A component's `dependsOn` as a list (one resource or a list of them)."""
    if opts is None or opts.depends_on is None:
        return []
    if isinstance(opts.depends_on, Sequence):
        return list(opts.depends_on)
    return [opts.depends_on]
