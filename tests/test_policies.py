"""Each policy through pulumi_policy's analyzer servicer (AnalyzeRequest / AnalyzeStackRequest,
Configure): compliant passes, each violation at the configured level with a message saying what
was found, the limit and the fix; unknown values are advisory "cannot check during preview"."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from pulumi.runtime.proto import analyzer_pb2

from policies.engine import analyze, analyze_request, configure_request, servicer
from policies.pack import ConfigError, resolve_config
from tests import policy_fixtures as f

ROOT = Path(__file__).resolve().parents[1]
UNKNOWN = "[unknown]"
SECRET = "[secret]"


def run(resources, config=None, placement=f.NO_REPLICATION):
    return analyze(f.with_providers(resources, placement), config or f.STRICT)


def only(diagnostics, policy):
    found = [d for d in diagnostics if d.policy == policy]
    assert {d.policy for d in diagnostics} == {policy}, [(d.policy, d.message) for d in diagnostics]
    return found


# --- the pack as the engine sees it --------------------------------------------------------


def test_analyzer_info_lists_every_policy_with_schema_and_level():
    info = servicer().GetAnalyzerInfo(None, None)
    assert info.name == "tricloud-guardrails" and info.supportsConfig
    names = [p.name for p in info.policies]
    assert names == [
        "monthly-cost-limit",
        "max-nodes-per-pool",
        "allowed-instance-types",
        "spot-required",
        "cost-allocation-tags",
        "replication-egress-limit",
        "storage-safe",
        "cluster-endpoint-restricted",
    ]
    for p in info.policies:
        assert p.description
        assert p.enforcementLevel in (analyzer_pb2.ADVISORY, analyzer_pb2.MANDATORY)
    stack = {p.name for p in info.policies if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK}
    assert stack == {"monthly-cost-limit", "replication-egress-limit", "storage-safe"}
    schema = {p.name: set(p.configSchema.properties) for p in info.policies}
    assert schema["monthly-cost-limit"] == {"maxMonthlyUsd", "basis"}
    assert schema["max-nodes-per-pool"] == {"maxNodesPerPool"}


def test_importing_the_pack_does_not_serve_and_main_only_serves_as_a_program():
    source = (ROOT / "policies" / "__main__.py").read_text()
    tree = ast.parse(source)
    top_level_calls = [n for n in tree.body if isinstance(n, ast.Expr)]
    assert all(isinstance(n.value, ast.Constant) for n in top_level_calls)  # docstring only
    guarded = [n for n in tree.body if isinstance(n, ast.If)]
    assert len(guarded) == 1 and "__main__" in ast.unparse(guarded[0].test)
    assert "from policies.serve import main" in ast.unparse(guarded[0])
    # serving is a function call, never an import side effect (the written pack folders of
    # python -m policies.location call it too)
    serve = ast.parse((ROOT / "policies" / "serve.py").read_text())
    assert not [n for n in serve.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
    assert "PolicyPack(" in (ROOT / "policies" / "serve.py").read_text()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import runpy; runpy.run_path('policies/__main__.py', run_name='x')",
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout == b""


def test_policies_import_only_optimizer_of_the_project():
    for path in (ROOT / "policies").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in ("components", "tools"), (path.name, name)


def test_pulumi_policy_yaml_uses_the_project_environment():
    import yaml

    doc = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert doc["runtime"] == {"name": "python", "options": {"virtualenv": "../.venv"}}
    assert (ROOT / "policies" / doc["runtime"]["options"]["virtualenv"]).resolve() == (
        ROOT / ".venv"
    )


def test_config_all_sets_the_default_level_and_policies_override_it():
    resolved = resolve_config({"all": "advisory", "storage-safe": "mandatory"})
    assert resolved["monthly-cost-limit"][0] == "advisory"
    assert resolved["storage-safe"][0] == "mandatory"
    assert resolved["max-nodes-per-pool"][1] == {"maxNodesPerPool": 20}  # schema default
    assert resolve_config({})["cost-allocation-tags"][0] == "advisory"  # the policy's default
    assert resolve_config({})["monthly-cost-limit"][0] == "mandatory"


@pytest.mark.parametrize(
    "doc,problem",
    [
        ({"no-such-policy": "mandatory"}, "no-such-policy: no such policy"),
        ({"all": "blocking"}, "all: enforcement level 'blocking'"),
        ({"monthly-cost-limit": {"maxMonthlyUSD": 5}}, "maxMonthlyUSD: unknown property"),
        ({"monthly-cost-limit": {"basis": "min"}}, "basis: 'min'; allowed: max, desired"),
        ({"max-nodes-per-pool": {"maxNodesPerPool": "ten"}}, "'ten' is not a integer"),
        ({"allowed-instance-types": {"allowedAccelerators": ["X200"]}}, "[0]: 'X200'"),
    ],
)
def test_bad_config_is_rejected_with_the_key(doc, problem):
    with pytest.raises(ConfigError) as e:
        resolve_config(doc)
    assert any(problem in p for p in e.value.problems), e.value.problems


def test_configure_request_carries_levels_and_properties():
    request = configure_request({"all": "advisory", "spot-required": {"requireSpot": True}})
    assert request.policyConfig["spot-required"].properties["requireSpot"] is True
    assert request.policyConfig["monthly-cost-limit"].enforcementLevel == analyzer_pb2.ADVISORY


def test_analyze_request_has_provider_and_options():
    ng = f.node_group()
    by_urn = {r["urn"]: r for r in f.with_providers([ng])}
    request = analyze_request({**ng, "protect": True}, by_urn)
    assert request.provider.type == "pulumi:providers:aws"
    assert request.provider.properties["region"] == "us-east-1"
    assert request.options.protect


# --- levels: the configured level is the reported level ------------------------------------

VIOLATIONS = {
    "monthly-cost-limit": ([f.node_group()], {"maxMonthlyUsd": 10}),
    "max-nodes-per-pool": ([f.node_group()], {"maxNodesPerPool": 2}),
    "allowed-instance-types": ([f.node_group()], {"allowedAccelerators": ["H100"]}),
    "spot-required": ([f.node_group(capacityType="ON_DEMAND")], {"requireSpot": True}),
    "cost-allocation-tags": ([f.node_group()], {"requiredTags": ["owner"]}),
    "replication-egress-limit": ([f.node_group()], {"maxEgressMonthlyUsd": 1}),
    "storage-safe": (f.s3(protect=False), {}),
    "cluster-endpoint-restricted": ([f.eks_cluster()], {"minPrefixLength": 28}),
}
PLACEMENT = {
    "replication": {
        "primary": "aws/us-east-1",
        "targets": [
            {"region": "gcp/us-central1", "monthlyEgressUsd": 53.28},
            {"region": "aws/eu-west-1", "monthlyEgressUsd": 9.56},
        ],
    }
}


@pytest.mark.parametrize("level", ["advisory", "mandatory"])
@pytest.mark.parametrize("policy", sorted(VIOLATIONS))
def test_a_violation_is_reported_at_the_configured_level(policy, level):
    resources, props = VIOLATIONS[policy]
    config = {**f.STRICT, policy: {**f.STRICT.get(policy, {}), **props, "enforcementLevel": level}}
    found = only(run(resources, config, PLACEMENT), policy)
    assert found and all(d.level == level for d in found)
    for d in found:
        assert "Limit" in d.message or "exceeds" in d.message
        assert "Fix:" in d.message


def test_disabled_policies_do_not_run():
    resources, props = VIOLATIONS["max-nodes-per-pool"]
    config = {**f.STRICT, "max-nodes-per-pool": {**props, "enforcementLevel": "disabled"}}
    assert run(resources, config) == []


# --- unknown during preview: advisory, never a pass, never mandatory ------------------------

UNKNOWNS = [
    ("monthly-cost-limit", [f.node_group(scalingConfig={"minSize": 1, "maxSize": UNKNOWN})]),
    ("max-nodes-per-pool", [f.node_group(scalingConfig={"minSize": 1, "maxSize": UNKNOWN})]),
    ("allowed-instance-types", [f.node_group(instanceTypes=[UNKNOWN])]),
    ("spot-required", [f.node_group(capacityType=UNKNOWN)]),
    (
        "cost-allocation-tags",
        [f.node_group(provider=f.aws_provider(default_tags=False), tags=UNKNOWN)],
    ),
    (
        "cluster-endpoint-restricted",
        [f.eks_cluster(vpc={"endpointPublicAccess": True, "publicAccessCidrs": [UNKNOWN]})],
    ),
    (
        "cluster-endpoint-restricted",
        [f.eks_cluster(vpc={"endpointPublicAccess": True, "publicAccessCidrs": [SECRET]})],
    ),
    ("cluster-endpoint-restricted", [f.aks_cluster(profile={"enablePrivateCluster": UNKNOWN})]),
    ("cluster-endpoint-restricted", [f.gke_cluster(masterAuthorizedNetworksConfig=UNKNOWN)]),
    (
        "storage-safe",
        [
            f.s3()[0],
            {
                **f.s3()[1],
                "inputs": {"bucket": "x", "versioningConfiguration": {"status": UNKNOWN}},
            },
            *f.s3()[2:],
        ],
    ),
    ("storage-safe", f.azure_storage(public=UNKNOWN)),
]
UNKNOWN_IDS = [
    "cost-max-size",
    "nodes-max-size",
    "types",
    "spot-capacity",
    "tags",
    "eks-cidr-unknown",
    "eks-cidr-secret",
    "aks-private-unknown",
    "gke-networks-unknown",
    "s3-versioning",
    "azure-public",
]


@pytest.mark.parametrize("policy,resources", UNKNOWNS, ids=UNKNOWN_IDS)
def test_unknown_values_are_advisory_cannot_check(policy, resources):
    diagnostics = run(resources)
    assert all(d.level == "advisory" for d in diagnostics)  # never a mandatory failure
    found = [d for d in diagnostics if d.policy == policy]
    assert len(found) == 1  # never a pass
    d = found[0]
    assert d.level == "advisory"  # STRICT makes every policy mandatory: this is not a failure
    assert "cannot check during preview" in d.message
    assert d.urn != "" or policy in ("monthly-cost-limit", "storage-safe")


def test_unknown_placement_makes_egress_cannot_check():
    found = only(run([], placement=UNKNOWN), "replication-egress-limit")
    assert found[0].level == "advisory" and "cannot check during preview" in found[0].message
    found = only(run([], placement=None), "replication-egress-limit")
    assert "exports no `placement`" in found[0].message


def test_a_known_violation_is_still_reported_beside_an_unknown():
    ng = f.node_group(instanceTypes=["p5.48xlarge", UNKNOWN])
    config = {**f.STRICT, "allowed-instance-types": {"allowedAccelerators": ["L4"]}}
    found = only(run([ng], config), "allowed-instance-types")
    assert sorted(d.level for d in found) == ["advisory", "mandatory"]


def test_secret_cidr_is_not_a_pass_and_not_a_cidr():
    ng = f.aks_cluster(profile={"authorizedIPRanges": [SECRET, "0.0.0.0/0"]})
    found = only(run([ng]), "cluster-endpoint-restricted")
    assert sorted(d.level for d in found) == ["advisory", "mandatory"]
    mandatory = next(d for d in found if d.level == "mandatory")
    assert "0.0.0.0/0" in mandatory.message and SECRET not in mandatory.message


# --- messages --------------------------------------------------------------------------------


def test_cost_message_lists_the_top_five_items_most_expensive_first():
    pools = [
        f.node_group(name=f"ng-{t}", instanceTypes=[t], capacityType="ON_DEMAND")
        for t in [
            "g4dn.xlarge",
            "g5.xlarge",
            "g6.xlarge",
            "g6e.xlarge",
            "p4d.24xlarge",
            "p5.48xlarge",
        ]
    ]
    config = {**f.STRICT, "spot-required": "disabled", "allowed-instance-types": "disabled"}
    config["monthly-cost-limit"] = {"maxMonthlyUsd": 1000}
    (d,) = only(run(pools, config), "monthly-cost-limit")
    assert d.level == "mandatory" and d.urn == ""
    top = d.message.split("Top cost items:")[1]
    order = [
        top.index(f"ng-{t}") for t in ["p5.48xlarge", "p4d.24xlarge", "g6e.xlarge", "g5.xlarge"]
    ]
    assert order == sorted(order)
    assert "ng-g4dn.xlarge" not in top.split("Fix:")[0]  # the sixth item is left out
    assert "maxMonthlyUsd $1,000.00" in d.message


def test_desired_basis_counts_starting_sizes():
    ng = f.node_group(scalingConfig={"minSize": 1, "desiredSize": 1, "maxSize": 20})
    config = {**f.STRICT, "monthly-cost-limit": {"maxMonthlyUsd": 1000, "basis": "max"}}
    assert only(run([ng], config), "monthly-cost-limit")
    config["monthly-cost-limit"]["basis"] = "desired"
    assert run([ng], config) == []


def test_endpoint_private_clusters_pass_without_cidrs():
    private = [
        f.eks_cluster(vpc={"endpointPublicAccess": False, "endpointPrivateAccess": True}),
        f.aks_cluster(profile={"enablePrivateCluster": True}),
        f.gke_cluster(
            privateClusterConfig={"enablePrivateEndpoint": True},
            masterAuthorizedNetworksConfig={"cidrBlocks": []},
        ),
    ]
    assert run(private) == []
    config = {**f.STRICT, "cluster-endpoint-restricted": {"allowPublicEndpoint": False}}
    assert run(private, config) == []
    found = only(run([f.eks_cluster()], config), "cluster-endpoint-restricted")
    assert "allowPublicEndpoint is false" in found[0].message


def test_s3_inline_versioning_and_encryption_count():
    bucket, *_, pab = f.s3()
    bucket["inputs"].update(
        versioning={"enabled": True},
        serverSideEncryptionConfiguration={
            "rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
        },
    )
    assert run([bucket, pab]) == []
