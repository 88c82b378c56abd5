"""The example programs under the mock engine: each declares what its README says.

Both compose the components by hand (no optimizer, no `placement` output), so they also cover
the offline plan of a project without a placement: `plan.json` is `null` and the summary says so.
"""

import json
from collections import Counter
from pathlib import Path

import pytest

from tools.plan import cli
from tools.plan.cli import capture_for
from tools.plan.engine import SECRET, Capture, Registration

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
_captures: dict[str, Capture] = {}


def example(name: str) -> Capture:
    if name not in _captures:
        _captures[name] = capture_for("dev", EXAMPLES / name)
    return _captures[name]


def counts(capture: Capture) -> Counter:
    return Counter(r.type for r in capture.resources)


def one(capture: Capture, type_: str, name: str) -> Registration:
    found = [r for r in capture.of_type(type_) if r.name == name]
    assert len(found) == 1, (type_, name, [r.name for r in capture.of_type(type_)])
    return found[0]


@pytest.mark.parametrize("name", ["single-cloud", "two-clouds"])
def test_example_is_a_project_with_a_dev_stack_and_readme(name):
    import yaml

    folder = EXAMPLES / name
    project = yaml.safe_load((folder / "Pulumi.yaml").read_text())
    assert project["name"] == f"tricloud-example-{name}"
    assert project["runtime"]["name"] == "python"
    stack = yaml.safe_load((folder / "Pulumi.dev.yaml").read_text())
    assert stack["config"]["pulumi:disable-default-providers"] == ["*"]
    readme = (folder / "README.md").read_text()
    assert f"--project examples/{name} --stack dev" in readme
    # By hand: the optimizer is not used.
    source = (folder / "__main__.py").read_text()
    assert "optimizer" not in source.replace("no optimizer", "").replace("the optimizer", "")
    assert "solve" not in source


@pytest.mark.parametrize("name", ["single-cloud", "two-clouds"])
def test_example_uses_explicit_providers_only(name):
    capture = example(name)
    assert "placement" not in capture.outputs
    assert capture.errors == []
    for r in capture.resources:
        if r.custom and not r.type.startswith("pulumi:providers:"):
            assert r.provider, f"{r.name} uses a default provider"
            assert "::default" not in r.provider, r.name


def test_single_cloud_declares_one_cluster_one_pool_one_service():
    capture = example("single-cloud")
    c = counts(capture)
    assert c["tricloud:index:GcpGpuCluster"] == 1
    assert c["tricloud:index:InferenceService"] == 1
    assert c["gcp:container/cluster:Cluster"] == 1
    assert c["gcp:container/nodePool:NodePool"] == 2  # system + one GPU pool
    assert c["gcp:projects/iAMMember:IAMMember"] == 3
    assert c["gcp:compute/routerNat:RouterNat"] == 1
    for k8s_type in (
        "kubernetes:core/v1:Namespace",
        "kubernetes:apps/v1:Deployment",
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "kubernetes:core/v1:Service",
        "kubernetes:policy/v1:PodDisruptionBudget",
    ):
        assert c[k8s_type] == 1, k8s_type
    assert not [t for t in c if t.startswith(("aws:", "azure-native:"))]

    pool = one(capture, "gcp:container/nodePool:NodePool", "gpu-gpu-g2-standard-48-od")
    node = pool.inputs["nodeConfig"]
    assert node["machineType"] == "g2-standard-48"
    assert node["guestAccelerators"][0]["type"] == "nvidia-l4"
    assert node["guestAccelerators"][0]["count"] == 4
    assert node["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
    ]
    assert node.get("spot") is not True
    assert pool.inputs["autoscaling"]["totalMinNodeCount"] == 1
    assert pool.inputs["autoscaling"]["totalMaxNodeCount"] == 3

    deploy = capture.of_type("kubernetes:apps/v1:Deployment")[0]
    assert deploy.inputs["spec"]["replicas"] == 4
    container = deploy.inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["image"] == "ghcr.io/acme/vllm-llama-8b:0.6.3"
    hpa = capture.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")[0]
    assert (hpa.inputs["spec"]["minReplicas"], hpa.inputs["spec"]["maxReplicas"]) == (4, 12)
    service = capture.of_type("kubernetes:core/v1:Service")[0]
    assert service.inputs["spec"]["type"] == "LoadBalancer"
    assert service.inputs["spec"]["ports"][0]["port"] == 80
    assert service.inputs["metadata"]["namespace"] == "assist-8b"
    # The workload is declared through the new cluster's Kubernetes provider.
    k8s_provider = capture.of_type("pulumi:providers:kubernetes")[0]
    assert deploy.provider == k8s_provider.urn
    assert capture.outputs["kubeconfig"] == SECRET
    assert set(capture.outputs) == {"endpoint", "kubeconfig", "address"}


def test_two_clouds_declares_clusters_service_dns_and_replication():
    capture = example("two-clouds")
    c = counts(capture)
    assert c["tricloud:index:AwsGpuCluster"] == 1
    assert c["tricloud:index:GcpGpuCluster"] == 1
    assert c["tricloud:index:InferenceService"] == 2
    assert c["tricloud:index:GlobalLoadBalancer"] == 1
    assert c["tricloud:index:DatasetReplication"] == 1
    assert c["aws:ec2/eip:Eip"] == 5  # the NAT's and the load balancer's four (one per zone)
    assert c["kubernetes:apps/v1:Deployment"] == 2
    assert c["kubernetes:apps/v1:DaemonSet"] == 1  # device plugin on EKS; GKE has its own
    assert c["gcp:dns/recordSet:RecordSet"] == 3
    assert c["gcp:compute/healthCheck:HealthCheck"] == 1
    assert c["gcp:storage/transferJob:TransferJob"] == 1
    assert c["aws:s3/bucket:Bucket"] == 1 and c["gcp:storage/bucket:Bucket"] == 1
    assert not [t for t in c if t.startswith("azure-native:")]

    gpu_group = one(capture, "aws:eks/nodeGroup:NodeGroup", "aws-us-east-1-gpu-g6-12xlarge-od")
    assert gpu_group.inputs["instanceTypes"] == ["g6.12xlarge"]
    assert gpu_group.inputs["amiType"] == "AL2023_x86_64_NVIDIA"
    assert gpu_group.inputs["capacityType"] == "ON_DEMAND"
    assert gpu_group.inputs["scalingConfig"] == {"desiredSize": 1, "minSize": 1, "maxSize": 2}
    gke_pool = one(
        capture, "gcp:container/nodePool:NodePool", "gcp-europe-west4-gpu-g2-standard-48-od"
    )
    assert gke_pool.inputs["autoscaling"]["totalMaxNodeCount"] == 2

    replicas = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]["replicas"]
        for r in capture.of_type("kubernetes:apps/v1:Deployment")
    }
    assert sorted(replicas.values()) == [4, 4]
    aws_lb = one(capture, "kubernetes:core/v1:Service", "aws-us-east-1-assist-8b-lb")
    assert (
        "service.beta.kubernetes.io/aws-load-balancer-eip-allocations"
        in (aws_lb.inputs["metadata"]["annotations"])
    )

    policy = one(capture, "gcp:dns/recordSet:RecordSet", "assist-8b-global-policy")
    assert policy.inputs["name"] == "assist-8b.api.example.com."
    geos = {g["location"] for g in policy.inputs["routingPolicy"]["geos"]}
    assert geos == {"us-east4", "us-central1", "europe-west4"}
    endpoint_names = {r.inputs["name"] for r in capture.of_type("gcp:dns/recordSet:RecordSet")}
    assert "aws-us-east-1.assist-8b.api.example.com." in endpoint_names
    assert "gcp-europe-west4.assist-8b.api.example.com." in endpoint_names
    assert capture.outputs["hostnames"] == {"assist-8b": "assist-8b.api.example.com"}

    job = capture.of_type("gcp:storage/transferJob:TransferJob")[0]
    assert job.inputs["schedule"]["repeatInterval"] == "3600s"
    assert "awsS3DataSource" in job.inputs["transferSpec"]
    for bucket in capture.of_type("aws:s3/bucket:Bucket") + capture.of_type(
        "gcp:storage/bucket:Bucket"
    ):
        assert bucket.protect, bucket.name
    # Each location's storage is declared through that location's provider.
    providers = {r.name: r.urn for r in capture.resources if r.type.startswith("pulumi:providers:")}
    assert capture.of_type("aws:s3/bucket:Bucket")[0].provider == providers["aws-us-east-1"]
    assert capture.of_type("gcp:storage/bucket:Bucket")[0].provider == providers["gcp-europe-west4"]
    assert set(capture.outputs["buckets"]) == {"aws/us-east-1", "gcp/europe-west4"}
    assert capture.outputs["kubeconfigs"] == SECRET


def test_offline_plan_of_a_project_without_placement(tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(
        ["--project", str(EXAMPLES / "single-cloud"), "--stack", "dev", "--out", str(out)]
    )
    assert code == 0
    assert json.loads((out / "plan.json").read_text()) is None
    resources = json.loads((out / "resources.json").read_text())
    assert len(resources) == sum(counts(example("single-cloud")).values())
    assert all("aliases" not in r for r in resources)  # captured, not written (engine.py)
    summary = (out / "summary.md").read_text()
    assert "no placement" in summary and "Monthly cost" not in summary
    assert "tricloud:index:GcpGpuCluster" in summary
    console = capsys.readouterr().out
    assert "no placement" in console
    # the console counts resources per cloud; the types are in resources.json
    assert "resources: 21 (gcp 12, kubernetes 7, tricloud 2); by type: resources.json" in console
    # a project without its own policies/ runs the installed pack, held to its defaults
    assert "policy: no policy.dev.json: the pack's defaults" in console
    assert "policy: all policies pass" in console
    # where the files are, as the user can open them from the working directory
    assert f"to {out}" in console


def test_write_lock_needs_a_placement(tmp_path, capsys):
    args = ["--project", str(EXAMPLES / "single-cloud"), "--stack", "dev", "--out", str(tmp_path)]
    assert cli.main([*args, "--write-lock"]) == 2
    assert "exports no placement" in capsys.readouterr().err
    assert not list((EXAMPLES / "single-cloud").glob("placement.*.json"))
