"""The real engine's, the providers' and the clouds' rules over every stack's registrations.

Run on every shipped stack and on three test stacks (tests/fixtures/stacks) that between them
reach spot pools on all three clouds, every replication direction and every DNS provider.
Each check is also shown to fail on a capture where its finding is reintroduced, so the audit
cannot pass by accident.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from components.allocatable import SYSTEM_DAEMONSETS
from components.cluster import GPU_NODE_READY_MINUTES
from components.serving import IMAGE_PULL_MINUTES
from optimizer import catalog as catalog_mod
from optimizer.kubernetes import snapshot_day
from optimizer.replication import mechanism
from tests import real_engine as rules
from tests.conftest import SHIPPED_STACKS, stack_capture
from tools.plan.cli import REPO_ROOT, capture_for
from tools.plan.engine import Capture

FIXTURES = Path(__file__).parent / "fixtures" / "stacks"
TEST_STACKS = tuple(sorted(p.name.split(".")[1] for p in FIXTURES.glob("Pulumi.*.yaml")))
CATALOG = catalog_mod.load()
_test_captures: dict[str, Capture] = {}


def capture(stack: str, tmp_path_factory) -> Capture:
    if stack in SHIPPED_STACKS:
        return stack_capture(stack)
    if stack not in _test_captures:
        project = tmp_path_factory.mktemp(stack)
        shutil.copy(REPO_ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
        shutil.copy(REPO_ROOT / "__main__.py", project / "__main__.py")
        (project / "stacks").mkdir()
        shutil.copy(FIXTURES / f"Pulumi.{stack}.yaml", project / "stacks")
        _test_captures[stack] = capture_for(stack, project)
    return _test_captures[stack]


ALL = (*SHIPPED_STACKS, *TEST_STACKS)


def checks(fleet: rules.Fleet) -> dict[str, list[str]]:
    return {
        "lb_services_are_served": rules.lb_services_are_served(fleet),
        "workloads_wait_for_their_nodes": rules.workloads_wait_for_their_nodes(fleet),
        "timeouts_cover_startup": rules.timeouts_cover_startup(
            fleet, GPU_NODE_READY_MINUTES, IMAGE_PULL_MINUTES
        ),
        "pools_in_offered_zones": rules.pools_in_offered_zones(fleet, CATALOG),
        "replicas_fit_their_nodes": rules.replicas_fit_their_nodes(
            fleet, CATALOG, SYSTEM_DAEMONSETS
        ),
        "aks_data_plane_granted": rules.aks_data_plane_granted(fleet),
        "eks_admins_bound": rules.eks_admins_bound(fleet),
        "addons_pinned": rules.addons_pinned(fleet),
        "eks_clusters_work": rules.eks_clusters_work(fleet),
        "triggers_started": rules.triggers_started(fleet),
        "api_cidrs_public": rules.api_cidrs_public(fleet),
        "kubernetes_versions_offered": rules.kubernetes_versions_offered(
            fleet, snapshot_day(CATALOG.snapshot)
        ),
    }


@pytest.mark.parametrize("stack", ALL)
def test_a_real_up_would_work(stack, tmp_path_factory):
    findings = checks(rules.Fleet(capture(stack, tmp_path_factory)))
    assert {k: v for k, v in findings.items() if v} == {}


def test_the_test_stacks_reach_what_the_audit_must_cover(tmp_path_factory):
    """Spot pools on all three clouds, every replication direction, every DNS provider."""
    spot_clouds, directions, dns = set(), set(), set()
    for stack in ALL:
        plan = capture(stack, tmp_path_factory).outputs["placement"]
        for c in plan["clusters"]:
            if any(p["pricing"] == "spot" for p in c["nodePools"]):
                spot_clouds.add(c["cloud"])
        primary = plan["replication"]["primary"].split("/")[0]
        for t in plan["replication"]["targets"]:
            directions.add((primary, t["region"].split("/")[0]))
    for stack in ALL:
        regs = capture(stack, tmp_path_factory).resources
        types = {r.type for r in regs}
        dns |= {
            name
            for name, t in (
                ("route53", "aws:route53/record:Record"),
                ("traffic-manager", "azure-native:trafficmanager:Profile"),
                ("cloud-dns", "gcp:dns/recordSet:RecordSet"),
            )
            if t in types
        }
    assert spot_clouds == {"aws", "azure", "gcp"}
    clouds = ("aws", "azure", "gcp")
    assert directions == {(a, b) for a in clouds for b in clouds}, [
        (a, b, mechanism(a, b)) for a in clouds for b in clouds if (a, b) not in directions
    ]
    assert dns == {"route53", "traffic-manager", "cloud-dns"}


# --- each finding, reintroduced, fails its check -------------------------------------------


@pytest.fixture(scope="module")
def spot_fleet(tmp_path_factory):
    """A stack with clusters on all three clouds, copied so that a test may break it."""
    return capture("spot-all", tmp_path_factory)


def broken(cap: Capture, edit) -> rules.Fleet:
    cap = copy.deepcopy(cap)
    edit(cap)
    return rules.Fleet(cap)


def _drop_deps(cap: Capture, type_: str, needle: str) -> None:
    for r in cap.of_type(type_):
        r.depends_on = [d for d in r.depends_on if needle not in d]


def test_a_service_without_the_controller_is_found(spot_fleet):
    fleet = broken(spot_fleet, lambda c: _drop_deps(c, rules.SERVICE, "Release"))
    assert any(
        "does not depend on the AWS Load Balancer" in f for f in rules.lb_services_are_served(fleet)
    )

    def no_controller(c):
        c.resources = [
            r for r in c.resources if r.inputs.get("chart") != "aws-load-balancer-controller"
        ]

    assert any(
        "no AWS Load Balancer Controller" in f
        for f in rules.lb_services_are_served(broken(spot_fleet, no_controller))
    )


def test_a_deployment_racing_its_nodes_is_found(spot_fleet):
    for needle, text in (
        ("NodeGroup", "node pool"),
        ("AgentPool", "node pool"),
        ("NodePool", "node pool"),
        ("DaemonSet", "device plugin"),
    ):
        fleet = broken(spot_fleet, lambda c, n=needle: _drop_deps(c, rules.DEPLOYMENT, n))
        assert any(text in f for f in rules.workloads_wait_for_their_nodes(fleet)), needle


def test_default_timeouts_are_found(spot_fleet):
    def defaults(c):
        for r in c.resources:
            r.custom_timeouts = {}

    found = rules.timeouts_cover_startup(
        broken(spot_fleet, defaults), GPU_NODE_READY_MINUTES, IMAGE_PULL_MINUTES
    )
    assert any("create timeout 10 min" in f for f in found)
    assert any(rules.SERVICE.split(":")[-1] in f or "leaves no margin" in f for f in found)


def test_a_regional_pool_is_found(spot_fleet):
    def regional(c):
        for r in c.resources:
            if r.type == "gcp:container/nodePool:NodePool":
                r.inputs.pop("nodeLocations", None)
            if r.type == "azure-native:containerservice:AgentPool":
                r.inputs["availabilityZones"] = ["1", "2", "3", "4"]
            if r.type == "aws:ec2/subnet:Subnet":
                r.inputs["availabilityZoneId"] = "use1-az9"

    found = rules.pools_in_offered_zones(broken(spot_fleet, regional), CATALOG)
    assert {f.split("::")[2].split("$")[-1].split(":")[0] for f in found} >= {"gcp", "aws"}


def test_oversized_requests_are_found(spot_fleet):
    def eighty_five_percent(c):
        for d in c.of_type(rules.DEPLOYMENT):
            container = d.inputs["spec"]["template"]["spec"]["containers"][0]
            mem = container["resources"]["requests"]["memory"]
            container["resources"]["requests"]["memory"] = f"{int(int(mem[:-2]) * 1.2)}Mi"

    found = rules.replicas_fit_their_nodes(
        broken(spot_fleet, eighty_five_percent), CATALOG, SYSTEM_DAEMONSETS
    )
    assert found


def test_aks_without_a_grant_is_found(spot_fleet):
    def no_grant(c):
        c.resources = [
            r
            for r in c.resources
            if r.type != "azure-native:authorization:RoleAssignment" or "admin" not in r.name
        ]

    assert any(
        "without a data-plane role" in f
        for f in rules.aks_data_plane_granted(broken(spot_fleet, no_grant))
    )


def test_eks_admins_without_their_policy_are_found(spot_fleet):
    entries = spot_fleet.of_type("aws:eks/accessEntry:AccessEntry")
    assert entries, "the spot-all stack lists awsClusterAdmins: access entries expected"
    association = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"

    def no_association(c):
        c.resources = [r for r in c.resources if r.type != association]

    def unordered(c):
        for r in c.of_type(association):
            r.depends_on = []

    def session(c):
        for r in c.of_type("aws:eks/accessEntry:AccessEntry"):
            r.inputs["principalArn"] = "arn:aws:sts::111122223333:assumed-role/platform/alice"

    assert any(
        "grants nothing" in f for f in rules.eks_admins_bound(broken(spot_fleet, no_association))
    )
    assert any("not after" in f for f in rules.eks_admins_bound(broken(spot_fleet, unordered)))
    assert any("not an IAM role" in f for f in rules.eks_admins_bound(broken(spot_fleet, session)))


def test_unpinned_addons_are_found(spot_fleet):
    def unpin(c):
        for r in c.resources:
            if r.type == rules.RELEASE:
                r.inputs.pop("version")
            if r.type == "aws:eks/addon:Addon":
                r.inputs.pop("addonVersion")

    found = rules.addons_pinned(broken(spot_fleet, unpin))
    assert any("chart version None" in f for f in found)
    assert any("add-on version None" in f for f in found)


def test_an_eks_cluster_without_autoscaler_or_addons_is_found(spot_fleet):
    def strip(c):
        c.resources = [
            r
            for r in c.resources
            if r.inputs.get("chart") != "cluster-autoscaler" and r.type != "aws:eks/addon:Addon"
        ]
        for r in c.of_type("aws:eks/nodeGroup:NodeGroup"):
            r.inputs["tags"] = {}

    found = rules.eks_clusters_work(broken(spot_fleet, strip))
    assert any("no cluster-autoscaler" in f for f in found)
    assert any("no managed add-on coredns" in f for f in found)
    assert any("not tagged" in f for f in found)


def test_a_stopped_trigger_is_found(spot_fleet):
    def no_start(c):
        c.resources = [r for r in c.resources if r.type != "command:local:Command"]

    found = rules.triggers_started(broken(spot_fleet, no_start))
    assert found and all("never started" in f for f in found)


def test_private_api_ranges_and_unoffered_versions_are_found(spot_fleet):
    def private(c):
        for r in c.of_type("aws:eks/cluster:Cluster"):
            r.inputs["vpcConfig"]["publicAccessCidrs"] = ["10.0.0.0/8"]
            r.inputs["version"] = "1.31"
        for r in c.of_type("gcp:container/cluster:Cluster"):
            r.inputs["minMasterVersion"] = "1.33"

    fleet = broken(spot_fleet, private)
    assert any("10.0.0.0/8" in f for f in rules.api_cidrs_public(fleet))
    found = rules.kubernetes_versions_offered(fleet, snapshot_day(CATALOG.snapshot))
    assert any("does not offer Kubernetes 1.31" in f for f in found)
    assert any("does not offer Kubernetes 1.33" in f for f in found)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_the_offline_plan_lists_every_add_on_with_its_version(stack):
    """`make plan` shows what each stack's clusters run besides the workloads, pinned."""
    from components import addons
    from tools.plan.summary import _addon_rows

    cap = stack_capture(stack)
    rows = {(name, how, version) for name, how, version, _ in _addon_rows(cap)}
    if cap.of_type("aws:eks/cluster:Cluster"):
        version = cap.of_type("aws:eks/cluster:Cluster")[0].inputs["version"]
        for chart in (
            addons.AWS_LOAD_BALANCER_CONTROLLER,
            addons.CLUSTER_AUTOSCALER,
            addons.METRICS_SERVER,
        ):
            assert (chart.chart, "Helm chart", chart.version) in rows
        for name, pinned in addons.EKS_ADDONS[version].items():
            assert (name, "EKS add-on", pinned) in rows
    if cap.of_type("aws:eks/cluster:Cluster") or cap.of_type(
        "azure-native:containerservice:ManagedCluster"
    ):  # GKE runs its own device plugin
        assert any(name == "k8s-device-plugin" for name, _, _ in rows)


def test_private_only_api_endpoints_say_where_pulumi_must_run(tmp_path):
    """With no public endpoint the engine cannot reach the clusters from outside their
    networks: the plan says so (it is a valid setup with a private runner, not an error)."""
    project = tmp_path
    shutil.copy(REPO_ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copy(REPO_ROOT / "__main__.py", project / "__main__.py")
    (project / "stacks").mkdir()
    text = (REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    text = text.replace(
        'tricloud:apiAllowedCidrs: ["203.0.113.0/24"]', "tricloud:apiAllowedCidrs: []"
    )
    (project / "stacks" / "Pulumi.dev.yaml").write_text(text)
    cap = capture_for("dev", project)
    assert any("apiAllowedCidrs is empty" in w for w in cap.warnings)
    assert not any("apiAllowedCidrs is empty" in w for w in stack_capture("dev").warnings)
