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
from pulumi_kubernetes.policy.v1 import PodDisruptionBudget

from .aliases import component_opts
from .cluster import GPU_TAINT_KEY, LABEL_ACCELERATOR, LABEL_POOL
from .naming import fit
from .validate import check_args

APP_LABEL = "app.kubernetes.io/name"
# GPU servers are probed on the vLLM/TGI/Triton convention; startup may take minutes while
# weights load, so the startup probe allows 20 minutes before the readiness probe takes over.
HEALTH_PATH = "/health"
STARTUP_FAILURES = 120
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
        # AWS Load Balancer Controller: an NLB sending straight to pod IPs.
        return {
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
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
        self, name: str, args: InferenceServiceArgs, opts: pulumi.ResourceOptions | None = None
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
        child = pulumi.ResourceOptions(parent=self)

        ns = Namespace(f"{name}-ns", metadata=ObjectMetaArgs(name=svc, labels=labels), opts=child)
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
                            "containers": [
                                {
                                    "name": "server",
                                    "image": args["image"],
                                    "ports": [{"name": "http", "containerPort": args["port"]}],
                                    "resources": resources,
                                    "startupProbe": {
                                        "httpGet": {"path": HEALTH_PATH, "port": "http"},
                                        "periodSeconds": 10,
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
                                    "securityContext": {"allowPrivilegeEscalation": False},
                                }
                            ],
                        },
                    },
                },
                # The HPA owns the replica count once the Deployment exists.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["spec.replicas"]),
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
            opts=child,
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
