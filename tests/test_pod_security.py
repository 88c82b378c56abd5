"""Every pod the program declares against the Kubernetes Pod Security Standards "restricted"
profile (v1.35), plus what the profile leaves open: a read-only root filesystem, no service
account token, a NetworkPolicy per service and namespaces that enforce the profile.

One row per rule; each is checked on every container and init container of every pod spec of
every shipped stack. The one exception is NVIDIA's device plugin in kube-system: it must write
its socket into the kubelet's /var/lib/kubelet/device-plugins (a hostPath) as root, which is
how every device plugin registers; it is otherwise held to the same rules.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import SHIPPED_STACKS, stack_capture

POD_TYPES = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DaemonSet")
ALLOWED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret", "name",
}  # fmt: skip
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
}  # fmt: skip
# The rules NVIDIA's device plugin breaks, and why: it registers through a socket in the
# kubelet's /var/lib/kubelet/device-plugins (hostPath, a volume type the profile refuses),
# which only root may write.
DEVICE_PLUGIN_EXCEPTIONS = {"host-path-volumes", "volume-types", "run-as-non-root"}


def _containers(pod: dict) -> list[dict]:
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def _sc(c: dict) -> dict:
    return c.get("securityContext", {})


def _pod_or_container(pod: dict, c: dict, key: str):
    return _sc(c).get(key, pod.get("securityContext", {}).get(key))


Rule = Callable[[dict, dict], bool]  # (pod spec, container) -> ok
RULES: dict[str, Rule] = {
    # Pod Security Standards, baseline
    "host-namespaces": lambda pod, c: (
        not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    ),
    "privileged": lambda pod, c: not _sc(c).get("privileged", False),
    "host-path-volumes": lambda pod, c: not any("hostPath" in v for v in pod.get("volumes", [])),
    "host-ports": lambda pod, c: not any(p.get("hostPort") for p in c.get("ports", [])),
    "proc-mount": lambda pod, c: _sc(c).get("procMount", "Default") == "Default",
    "sysctls": lambda pod, c: all(
        s["name"] in SAFE_SYSCTLS for s in pod.get("securityContext", {}).get("sysctls", [])
    ),
    # Pod Security Standards, restricted
    "volume-types": lambda pod, c: (
        all(set(v) <= ALLOWED_VOLUMES for v in pod.get("volumes", [])) or not pod.get("volumes")
    ),
    "allow-privilege-escalation-false": lambda pod, c: (
        _sc(c).get("allowPrivilegeEscalation") is False
    ),
    "run-as-non-root": lambda pod, c: (
        _pod_or_container(pod, c, "runAsNonRoot") is True
        and _pod_or_container(pod, c, "runAsUser") != 0
    ),
    "seccomp-runtime-default": lambda pod, c: (
        (_pod_or_container(pod, c, "seccompProfile") or {}).get("type")
        in ("RuntimeDefault", "Localhost")
    ),
    "capabilities-drop-all": lambda pod, c: (
        "ALL" in _sc(c).get("capabilities", {}).get("drop", [])
        and set(_sc(c).get("capabilities", {}).get("add", [])) <= {"NET_BIND_SERVICE"}
    ),
    # beyond the profile (the serving issue's hardening)
    "read-only-root-filesystem": lambda pod, c: _sc(c).get("readOnlyRootFilesystem") is True,
    "no-service-account-token": lambda pod, c: pod.get("automountServiceAccountToken") is False,
}


def pod_specs(stack: str):
    for r in stack_capture(stack).resources:
        if r.type in POD_TYPES:
            yield r, r.inputs["spec"]["template"]["spec"]


def findings(stack: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {rule: [] for rule in RULES}
    for r, pod in pod_specs(stack):
        device_plugin = "nvidia-device-plugin" in r.urn
        for c in _containers(pod):
            for rule, ok in RULES.items():
                if device_plugin and rule in DEVICE_PLUGIN_EXCEPTIONS:
                    continue
                if not ok(pod, c):
                    out[rule].append(f"{r.urn} container {c['name']}")
    return out


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_pod_meets_the_rule(stack, rule):
    assert list(pod_specs(stack)), stack
    assert findings(stack)[rule] == []


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_the_device_plugin_breaks_only_its_documented_exceptions(stack):
    for r, pod in pod_specs(stack):
        if "nvidia-device-plugin" not in r.urn:
            continue
        assert r.inputs["metadata"]["namespace"] == "kube-system"
        broken = {rule for rule, ok in RULES.items() for c in _containers(pod) if not ok(pod, c)}
        # a hostPath volume is also a volume type the profile does not allow
        assert broken == DEVICE_PLUGIN_EXCEPTIONS
        mounts = [v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v]
        assert mounts == ["/var/lib/kubelet/device-plugins"]


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_service_namespaces_enforce_restricted_and_every_service_has_a_network_policy(stack):
    cap = stack_capture(stack)
    namespaces = cap.of_type("kubernetes:core/v1:Namespace")
    assert namespaces
    for ns in namespaces:
        labels = ns.inputs["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted", ns.urn
    policies = {
        (p.provider, p.inputs["metadata"]["namespace"]): p
        for p in cap.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    for d in cap.of_type("kubernetes:apps/v1:Deployment"):
        policy = policies.get((d.provider, d.inputs["metadata"]["namespace"]))
        assert policy is not None, d.urn
        selected = policy.inputs["spec"]["podSelector"]["matchLabels"]
        pod_labels = d.inputs["spec"]["template"]["metadata"]["labels"]
        assert selected.items() <= pod_labels.items(), d.urn
        port = d.inputs["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
        rules = policy.inputs["spec"]["ingress"]
        # the serving port from anywhere (the L4 balancer keeps client addresses), the
        # metrics scraper's namespaces, nothing else
        assert rules[0] == {"ports": [{"protocol": "TCP", "port": port}]}
        assert set(rules[1]["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"]) == {
            "kube-system",
            "monitoring",
        }
        assert len(rules) == 2


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_network_policies_are_enforced_on_every_cluster(stack):
    """A NetworkPolicy does nothing without a policy engine: each cloud's is switched on."""
    cap = stack_capture(stack)
    for r in cap.of_type("aws:eks/addon:Addon"):
        if r.inputs["addonName"] == "vpc-cni":
            assert '"enableNetworkPolicy": "true"' in r.inputs["configurationValues"]
    for r in cap.of_type("azure-native:containerservice:ManagedCluster"):
        assert r.inputs["networkProfile"]["networkPolicy"] == "cilium"
    for r in cap.of_type("gcp:container/cluster:Cluster"):
        assert r.inputs["datapathProvider"] == "ADVANCED_DATAPATH"
