"""Replica requests that schedule, and cluster credentials that work without a person.

- Every replica shape of every catalog offering fits its node: the replicas that share a node
  plus the DaemonSets on it request no more than the node's allocatable, computed by each
  cloud's published reservation formula (restated in tests/independent.py).
- AKS's exec kubeconfig logs in with kubelogin's default `devicecode`, which waits for a
  person at a browser: the program's kubeconfig uses `azurecli` instead.
"""

from __future__ import annotations

import pytest
import yaml

from components.allocatable import daemonset_requests, replica_requests
from components.azure import AKS_SERVER_ID, non_interactive_kubeconfig
from optimizer import catalog as catalog_mod
from tests import independent

CATALOG = catalog_mod.load()


def shapes():
    """(offering, GPUs per replica) for every power-of-two replica size a node holds: the
    optimizer sizes replicas in powers of two GPUs."""
    for o in CATALOG.offerings:
        g = 1
        while g <= o.accelerator_count:
            yield o, g
            g *= 2


def test_every_replica_shape_of_every_offering_fits_its_node():
    checked, problems = 0, []
    for o, gpus in shapes():
        per_node = o.accelerator_count // gpus
        req = replica_requests(
            o.cloud, o.instance_type, o.vcpus, o.memory_gb, gpus / o.accelerator_count
        )
        ds = daemonset_requests(o.cloud)
        cpu = per_node * req.cpu_m + ds.cpu_m
        mem = per_node * req.memory_mi + ds.memory_mi
        alloc_cpu, alloc_mem = independent.allocatable(
            o.cloud, o.instance_type, o.vcpus, o.memory_gb
        )
        checked += 1
        if req.cpu_m <= 0 or req.memory_mi <= 0 or cpu > alloc_cpu or mem > alloc_mem:
            problems.append(
                f"{o.cloud}/{o.region} {o.instance_type} {per_node}x{gpus} GPU: "
                f"{cpu}m/{mem}Mi of {alloc_cpu}m/{alloc_mem}Mi"
            )
    assert checked >= len(CATALOG.offerings)
    assert problems == []


def test_the_old_85_percent_rule_did_not_fit_small_gke_nodes():
    """g2-standard-4 (4 vCPU, 16 GB): 85% of nominal memory is 13Gi, more than GKE leaves."""
    _, alloc_mem = independent.allocatable("gcp", "g2-standard-4", 4, 16)
    assert alloc_mem - daemonset_requests("gcp").memory_mi < 13 * 1024
    req = replica_requests("gcp", "g2-standard-4", 4, 16, 1.0)
    assert req.memory_mi + daemonset_requests("gcp").memory_mi <= alloc_mem


@pytest.mark.parametrize(
    ("cloud", "instance_type", "vcpus", "memory_gb", "cpu_m", "memory_mi"),
    [
        # GKE: 16 GB -> 2.6 GiB reserved + 100 MiB eviction; 4 vCPU -> 80m
        ("gcp", "g2-standard-4", 4, 16, 3920, int(16 * 1024 * 0.96 - 2.6 * 1024 - 100)),
        # EKS: g5.xlarge has 58 max pods -> 11*58+255 = 893 MiB; 4 vCPU -> 80m
        ("aws", "g5.xlarge", 4, 16, 3920, int(16 * 1024 * 0.96 - 893 - 100)),
        # AKS: 28 GiB -> min(5050, 7168) MiB; 4 cores -> 140m
        ("azure", "Standard_NC4as_T4_v3", 4, 28, 3860, int(28 * 1024 * 0.96 - 5050 - 100)),
    ],
)
def test_allocatable_by_hand(cloud, instance_type, vcpus, memory_gb, cpu_m, memory_mi):
    from components.allocatable import allocatable

    got = allocatable(cloud, instance_type, vcpus, memory_gb)
    assert (got.cpu_m, got.memory_mi) == (cpu_m, memory_mi)
    assert independent.allocatable(cloud, instance_type, vcpus, memory_gb) == (cpu_m, memory_mi)


# What AKS returns from listClusterUserCredential?format=exec (Entra ID + Azure RBAC cluster).
AKS_EXEC_KUBECONFIG = f"""\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTi1DRVJUSUZJQ0FURS0tLS0tCg==
    server: https://tc-dev-eastus-1a2b3c4d.hcp.eastus.azmk8s.io:443
  name: tc-dev-eastus
contexts:
- context:
    cluster: tc-dev-eastus
    user: clusterUser_tc-dev-eastus_tc-dev-eastus
  name: tc-dev-eastus
current-context: tc-dev-eastus
kind: Config
preferences: {{}}
users:
- name: clusterUser_tc-dev-eastus_tc-dev-eastus
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - get-token
      - --environment
      - AzurePublicCloud
      - --server-id
      - {AKS_SERVER_ID}
      - --client-id
      - 80faf920-1908-4b52-b5ef-a8e7bedfc67a
      - --tenant-id
      - 0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0
      - --login
      - devicecode
      command: kubelogin
      env: null
      installHint: kubelogin is not installed
      interactiveMode: IfAvailable
      provideClusterInfo: false
"""


def test_the_aks_kubeconfig_logs_in_without_a_person():
    before = yaml.safe_load(AKS_EXEC_KUBECONFIG)
    after = yaml.safe_load(non_interactive_kubeconfig(AKS_EXEC_KUBECONFIG))
    exec_ = after["users"][0]["user"]["exec"]
    assert exec_["args"] == ["get-token", "--login", "azurecli", "--server-id", AKS_SERVER_ID]
    assert exec_["interactiveMode"] == "Never"
    assert exec_["command"] == "kubelogin"
    # nothing else changes: the cluster, its CA and the context are AKS's
    assert after["clusters"] == before["clusters"] and after["contexts"] == before["contexts"]
    assert "devicecode" not in non_interactive_kubeconfig(AKS_EXEC_KUBECONFIG)


def test_a_kubeconfig_without_kubelogin_is_left_alone():
    doc = yaml.safe_load(AKS_EXEC_KUBECONFIG)
    doc["users"][0]["user"] = {"token": "abc"}
    assert yaml.safe_load(non_interactive_kubeconfig(yaml.safe_dump(doc))) == doc
