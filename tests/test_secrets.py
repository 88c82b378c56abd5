"""No kubeconfig, key or token in plain text: not in the stack outputs, not in what the
offline plan writes (design 8 "kubeconfigs and any keys are secrets", design 12)."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import SHIPPED_STACKS, stack_capture
from tools.plan import cli, mocks
from tools.plan.engine import SECRET

# Text that only a kubeconfig or a credential contains.
MARKERS = (
    "certificate-authority-data",
    '"kind": "Config"',
    '\\"kind\\": \\"Config\\"',  # a kubeconfig inside a JSON string
    "client-key",
    "client-certificate",
    "token",
    "BEGIN",  # PEM blocks: certificates and private keys
    "mock certificate authority",  # the mock CA (tools/plan/mocks.py), decoded
    "mock-token-not-a-secret",  # the mock AKS user token
    "clusterUser",  # the AKS credentials' name
)
CLUSTER_TYPES = ("aws:eks/cluster:Cluster", "gcp:container/cluster:Cluster")
# Field names that contain a marker but hold no credential (a pod's "no token" switch).
NOT_CREDENTIALS = ("automountServiceAccountToken",)


def leaks(text: str, stack: str) -> list[str]:
    """Each marker found in `text`, with some context."""
    capture = stack_capture(stack)
    markers = list(MARKERS)
    # the mock CA data as the clusters return it (base64), per cluster
    markers += [mocks._fake_ca(r.name) for t in CLUSTER_TYPES for r in capture.of_type(t)]
    for field in NOT_CREDENTIALS:
        text = text.replace(f'"{field}":', '"<field>":')
    found = []
    for m in markers:
        for hit in re.finditer(re.escape(m), text, flags=re.IGNORECASE):
            found.append(f"{m!r}: ...{text[max(0, hit.start() - 80) : hit.end() + 40]}...")
    return found


def resources_json(stack: str) -> str:
    """resources.json as `tools.plan` writes it, from the session's capture."""
    return cli.dumps([r.to_json() for r in stack_capture(stack).resources])


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_no_credential_in_resources_json(stack):
    assert leaks(resources_json(stack), stack) == []


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_no_credential_in_the_stack_outputs(stack):
    outputs = stack_capture(stack).outputs
    assert outputs["kubeconfigs"] == SECRET
    assert leaks(json.dumps(outputs, indent=2), stack) == []


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_kubeconfig_anywhere_is_a_secret(stack):
    """Whatever key names a kubeconfig, in the outputs or any resource's inputs, its value
    is masked (a per-cluster export added later is covered too)."""
    capture = stack_capture(stack)

    def walk(value, where):
        if isinstance(value, dict):
            for k, v in value.items():
                if "kubeconfig" in k.lower():
                    assert v == SECRET, f"{where}.{k}"
                walk(v, f"{where}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}[{i}]")

    walk(capture.outputs, "outputs")
    for r in capture.resources:
        walk(r.inputs, r.urn)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_kubernetes_providers_get_the_kubeconfig_as_a_secret(stack):
    providers = stack_capture(stack).of_type("pulumi:providers:kubernetes")
    assert providers
    for p in providers:
        assert p.inputs["kubeconfig"] == SECRET, p.urn


def test_the_clusters_do_return_credentials_material():
    """The check has something to find: the mock clusters return CA data, and the AKS
    credentials call a token, which flow into the (secret) kubeconfigs."""
    capture = stack_capture("staging")
    assert capture.of_type("azure-native:containerservice:ManagedCluster")
    assert capture.of_type("aws:eks/cluster:Cluster")
    text = json.dumps({"certificate-authority-data": mocks._fake_ca("x"), "token": "t"})
    assert len(leaks(text, "staging")) >= 2


def test_files_written_by_the_offline_plan_hold_no_credential(tmp_path, capsys):
    """The real writer, on the stack with EKS and AKS clusters (the AKS kubeconfig holds a token)."""
    stack = "staging"
    code = cli.main(["--stack", stack, "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["diff.json", "plan.json", "policy.json", "resources.json", "summary.md"]
    assert (tmp_path / "resources.json").read_text() == resources_json(stack)
    for name in written:
        assert leaks((tmp_path / name).read_text(), stack) == [], name
    assert leaks(out + err, stack) == []
