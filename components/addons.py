"""Cluster add-ons a GPU cluster needs to work, each pinned so that an upgrade is a diff.

EKS ships a bare control plane: no load balancer controller for `aws-load-balancer-type:
external` Services, no autoscaler for node groups, no metrics-server for HPAs. AKS and GKE run
their own (cloud controller manager, cluster autoscaler, metrics-server). This module declares
what EKS lacks, with a least-privilege EKS Pod Identity role per controller, and the EKS
managed add-ons (vpc-cni, coredns, kube-proxy, pod identity agent) at explicit versions.

Every version here is a pin, with where it was read; `tests/test_real_engine.py` fails on an
add-on without one. The tables are keyed by Kubernetes minor version where the add-on tracks it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
from pulumi_aws import eks, iam

from .naming import fit

DATA = Path(__file__).with_name("data")


@dataclass(frozen=True)
class HelmChart:
    """A Helm chart at a pinned version, from its publisher's repository."""

    chart: str
    repo: str
    version: str
    app_version: str
    source: str  # where the pin was read


# --- Helm charts (publisher's chart repository; versions read 2026-12-02) ----------------------
AWS_LOAD_BALANCER_CONTROLLER = HelmChart(
    chart="aws-load-balancer-controller",
    repo="https://aws.github.io/eks-charts",
    version="3.5.0",
    app_version="v3.5.0",
    source="aws/eks-charts stable/aws-load-balancer-controller/Chart.yaml, released 2026-08-03",
)
CLUSTER_AUTOSCALER = HelmChart(
    chart="cluster-autoscaler",
    repo="https://kubernetes.github.io/autoscaler",
    version="9.59.0",
    app_version="1.35.0",
    source="kubernetes/autoscaler cluster-autoscaler/charts/cluster-autoscaler/Chart.yaml, "
    "released 2026-07-21",
)
METRICS_SERVER = HelmChart(
    chart="metrics-server",
    repo="https://kubernetes-sigs.github.io/metrics-server/",
    version="3.13.1",
    app_version="0.8.1",
    source="kubernetes-sigs/metrics-server charts/metrics-server/Chart.yaml, released 2026-06-11",
)
# The Cluster Autoscaler's image must match the cluster's Kubernetes minor (its README): the
# newest patch release per minor (kubernetes/autoscaler tags cluster-autoscaler-X.Y.Z).
CLUSTER_AUTOSCALER_IMAGE_TAG = {
    "1.32": "v1.32.7",
    "1.33": "v1.33.6",
    "1.34": "v1.34.5",
    "1.35": "v1.35.2",
}

# --- EKS managed add-ons, per Kubernetes minor ---------------------------------------------
# kube-proxy and CoreDNS from the EKS user guide's version tables (managing-kube-proxy,
# managing-coredns); vpc-cni and the Pod Identity agent do not track the minor and come from
# pinned configurations published for 1.33-1.35. EKS refuses an add-on version it does not
# offer for the cluster's minor at create, so a wrong pin fails the first preview/up, never
# silently: `aws eks describe-addon-versions --kubernetes-version 1.35` lists what it offers.
EKS_ADDONS = {
    "1.32": {
        "vpc-cni": "v1.21.1-eksbuild.7",
        "coredns": "v1.11.4-eksbuild.33",
        "kube-proxy": "v1.32.13-eksbuild.5",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.2",
    },
    "1.33": {
        "vpc-cni": "v1.21.1-eksbuild.7",
        "coredns": "v1.13.2-eksbuild.4",
        "kube-proxy": "v1.33.10-eksbuild.2",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.2",
    },
    "1.34": {
        "vpc-cni": "v1.21.1-eksbuild.7",
        "coredns": "v1.13.2-eksbuild.4",
        "kube-proxy": "v1.34.6-eksbuild.2",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.2",
    },
    "1.35": {
        "vpc-cni": "v1.21.1-eksbuild.7",
        "coredns": "v1.14.2-eksbuild.4",
        "kube-proxy": "v1.35.3-eksbuild.2",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.2",
    },
}

# Service accounts the controllers run as (Helm values set them; Pod Identity binds them).
LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller"
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
ADDON_NAMESPACE = "kube-system"
# Helm waits for every object of a release to be ready; controllers start in a minute or two.
HELM_TIMEOUT_SECONDS = 600
SYSTEM_NODE_SELECTOR = {"tricloud/role": "system"}


def _pod_identity_trust() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "pods.eks.amazonaws.com"},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ],
        }
    )


def load_balancer_controller_policy() -> dict:
    """The AWS Load Balancer Controller's IAM policy, as its project publishes it for the
    pinned version (components/data/aws-load-balancer-controller-iam-policy.json)."""
    return json.loads((DATA / "aws-load-balancer-controller-iam-policy.json").read_text())


def cluster_autoscaler_policy(cluster_name: str) -> dict:
    """Least privilege for the Cluster Autoscaler on AWS: the read actions of its AWS README's
    recommended policy (kubernetes/autoscaler, cluster-autoscaler/cloudprovider/aws/README.md),
    and its two write actions only on Auto Scaling groups tagged as this cluster's (EKS tags a
    managed node group's group so; the README recommends a tag condition without giving one)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"
                    }
                },
            },
        ],
    }


def pod_identity_role(
    name: str,
    *,
    cluster: eks.Cluster,
    cluster_name: str,
    service_account: str,
    policy: dict,
    tags: Mapping[str, str],
    agent: eks.Addon,
    parent: pulumi.Resource,
) -> eks.PodIdentityAssociation:
    """An IAM role only `service_account` in kube-system can assume, through EKS Pod Identity.

    The association is what a controller's pods wait on: without the agent add-on and the
    association, the pod starts with no AWS credentials and crash-loops."""
    child = pulumi.ResourceOptions(parent=parent)
    role = iam.Role(
        name,
        name=fit(f"{cluster_name}-{service_account}", "iam-role"),
        assume_role_policy=_pod_identity_trust(),
        tags=dict(tags),
        opts=child,
    )
    role_policy = iam.RolePolicy(
        name, name=service_account, role=role.id, policy=json.dumps(policy), opts=child
    )
    return eks.PodIdentityAssociation(
        name,
        cluster_name=cluster.name,
        namespace=ADDON_NAMESPACE,
        service_account=service_account,
        role_arn=role.arn,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role_policy, agent]),
    )


def helm_release(
    name: str,
    chart: HelmChart,
    values: Mapping,
    *,
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource],
    parent: pulumi.Resource,
) -> k8s.helm.v3.Release:
    """A Helm release of `chart` at its pinned version. Helm waits until every object is
    ready (skip_await off) and rolls back a failed install (atomic), so whatever depends on
    the release starts only once the controller serves."""
    return k8s.helm.v3.Release(
        name,
        name=chart.chart,
        chart=chart.chart,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
        namespace=ADDON_NAMESPACE,
        values=dict(values),
        atomic=True,
        cleanup_on_fail=True,
        timeout=HELM_TIMEOUT_SECONDS,
        max_history=5,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on)),
    )


# Add-on settings: the VPC CNI enforces NetworkPolicy only with its network policy agent on.
EKS_ADDON_CONFIGURATION = {"vpc-cni": {"enableNetworkPolicy": "true"}}


def eks_addon(
    name: str,
    addon: str,
    *,
    cluster: eks.Cluster,
    kubernetes_version: str,
    tags: Mapping[str, str],
    depends_on: Sequence[pulumi.Resource] = (),
    parent: pulumi.Resource,
) -> eks.Addon:
    """An EKS managed add-on at the version pinned for the cluster's Kubernetes minor.

    OVERWRITE on create: EKS installs vpc-cni, coredns and kube-proxy itself as self-managed
    add-ons, which the managed add-on takes over; PRESERVE on update keeps a user's tuning."""
    return eks.Addon(
        name,
        cluster_name=cluster.name,
        addon_name=addon,
        addon_version=EKS_ADDONS[kubernetes_version][addon],
        configuration_values=(
            json.dumps(EKS_ADDON_CONFIGURATION[addon]) if addon in EKS_ADDON_CONFIGURATION else None
        ),
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="PRESERVE",
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
