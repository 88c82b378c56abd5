"""What the clouds would answer, made up deterministically for the offline plan.

A resource's mock state is its inputs plus the few computed outputs the program reads
(endpoints, ARNs, CA data, load balancer addresses), in the providers' camelCase names. Every
value is derived from the resource's name, so two runs give byte-identical results, and every
made-up value says so (`mock` in hostnames, documentation-range IPs), so nobody mistakes it
for a real endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks


def _h(text: str, n: int = 12) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _ip(text: str) -> str:
    """An address in TEST-NET-3 (RFC 5737): never routable, obviously not real."""
    return f"203.0.113.{int(_h(text, 4), 16) % 250 + 1}"


def _fake_ca(text: str) -> str:
    return base64.b64encode(f"mock certificate authority for {text}".encode()).decode()


# The input that holds an Azure resource's own name, per type tricloud declares.
AZURE_NAME_INPUT = {
    "azure-native:resources:ResourceGroup": "resourceGroupName",
    "azure-native:network:VirtualNetwork": "virtualNetworkName",
    "azure-native:network:Subnet": "subnetName",
    "azure-native:containerservice:ManagedCluster": "resourceName",
    "azure-native:containerservice:AgentPool": "agentPoolName",
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:trafficmanager:Profile": "profileName",
    "azure-native:datafactory:Factory": "factoryName",
    "azure-native:dns:RecordSet": "relativeRecordSetName",
}


class CloudMocks(Mocks):
    """Computed outputs for the resource types tricloud declares; inputs pass through."""

    def __init__(self) -> None:
        # provider URN (and id) -> its inputs, so an invoke knows its region
        self.providers: dict[str, dict[str, Any]] = {}

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict]:
        inputs = dict(args.inputs)
        name, typ = args.name, args.typ
        resource_id = f"{name}-id"
        if typ.startswith("pulumi:providers:"):
            self.providers[f"{typ}::{name}"] = inputs
            return resource_id, inputs
        state = {
            **inputs,
            **self._computed(typ, name, inputs),
            **_storage_outputs(typ, name, inputs),
        }
        return resource_id, state

    def _computed(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        if typ.startswith("azure-native:"):
            # Azure returns the resource's own name as `name`; later inputs (a pool's cluster,
            # a subnet's VNet) are built from it.
            own = AZURE_NAME_INPUT.get(typ)
            out = {"name": inputs.get(own, name) if own else name}
            return out | self._azure(typ, name, inputs)
        if typ.startswith("aws:"):
            out: dict[str, Any] = {"arn": f"arn:aws:mock:::{typ.split(':')[-1].lower()}/{name}"}
            if typ == "aws:ec2/eip:Eip":
                out["publicIp"] = _ip(name)
            if typ == "aws:eks/cluster:Cluster":
                out |= {
                    "endpoint": f"https://{_h(name).upper()}.mock.eks.amazonaws.com",
                    "certificateAuthority": {"data": _fake_ca(name)},
                    "name": inputs.get("name", name),
                }
            return out
        if typ == "gcp:container/cluster:Cluster":
            return {
                "endpoint": _ip(name),
                "masterAuth": {"clusterCaCertificate": _fake_ca(name)},
                "selfLink": f"https://container.googleapis.com/mock/{name}",
            }
        if typ == "gcp:serviceaccount/account:Account":
            account = inputs.get("accountId", name)
            return {"email": f"{account}@mock.iam.gserviceaccount.com"}
        if typ == "kubernetes:core/v1:Service" and inputs.get("spec", {}).get("type") == (
            "LoadBalancer"
        ):
            return {
                "status": {
                    "loadBalancer": {
                        "ingress": [{"ip": _ip(name), "hostname": f"{_h(name)}.mock-lb.example"}]
                    }
                }
            }
        return {}

    def _azure(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        if typ == "azure-native:containerservice:ManagedCluster":
            return {"fqdn": f"{inputs.get('dnsPrefix', name)}-{_h(name, 8)}.mock.azmk8s.io"}
        if typ == "azure-native:trafficmanager:Profile":
            relative = inputs.get("dnsConfig", {}).get("relativeName", name)
            return {
                "dnsConfig": {
                    **inputs.get("dnsConfig", {}),
                    "fqdn": f"{relative}.trafficmanager.net",
                }
            }
        return {}

    def call(self, args: MockCallArgs) -> dict:
        token = args.token
        if token in STORAGE_CALLS:
            return STORAGE_CALLS[token](dict(args.args))
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            region = self._provider_input(args.provider, "region") or "mock-region-1"
            return {"names": [f"{region}{z}" for z in "abc"], "zoneIds": []}
        if token == "aws:route53/getZone:getZone":
            zone = args.args.get("name", "example.com")
            return {"zoneId": f"Z{_h(zone, 12).upper()}", "name": zone}
        if token == "azure-native:containerservice:listManagedClusterUserCredentials":
            cluster = args.args.get("resourceName", "cluster")
            doc = {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": cluster, "cluster": {"server": f"https://{cluster}.mock.azmk8s.io"}}
                ],
                "users": [{"name": cluster, "user": {"token": "mock-token-not-a-secret"}}],
            }
            value = base64.b64encode(json.dumps(doc).encode()).decode()
            return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}
        return {}

    def _provider_input(self, ref: str, key: str) -> Any:
        urn = ref.rsplit("::", 1)[0] if ref else ""
        for known, inputs in self.providers.items():
            if urn.endswith(known):
                return inputs.get(key)
        return None


# --- dataset replication (components/replication.py) -------------------------------------
# Outputs the replication component reads that the clouds compute: credentials (so that the
# capture shows them as secrets, not as missing), the Storage Transfer agent's identity, the
# Azure object replication policy id Azure assigns, and the Data Factory's managed identity.


def _storage_outputs(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    if typ == "aws:iam/accessKey:AccessKey":
        return {"secret": f"mock-secret-access-key-{_h(name)}"}
    if typ == "gcp:storage/hmacKey:HmacKey":
        return {"accessId": f"GOOGMOCK{_h(name).upper()}", "secret": f"mock-hmac-{_h(name)}"}
    if typ == "azure-native:datafactory:Factory":
        principal = str(uuid.UUID(_h(name, 32)))
        return {"identity": {**inputs.get("identity", {}), "principalId": principal}}
    if typ == "azure-native:storage:ObjectReplicationPolicy":
        given = inputs.get("objectReplicationPolicyId", "default")
        rules = [
            {**r, "ruleId": r.get("ruleId") or str(uuid.UUID(_h(f"{name}/{i}", 32)))}
            for i, r in enumerate(inputs.get("rules", []))
        ]
        return {
            "policyId": given if given != "default" else str(uuid.UUID(_h(name, 32))),
            "rules": rules,
        }
    return {}


def _transfer_agent(args: dict[str, Any]) -> dict[str, Any]:
    project = args.get("project", "mock-project")
    email = f"project-{int(_h(project, 8), 16)}@storage-transfer-service.iam.gserviceaccount.com"
    return {
        "email": email,
        "member": f"serviceAccount:{email}",
        "subjectId": str(int(_h(email, 16), 16)),
        "project": project,
    }


def _account_sas(args: dict[str, Any]) -> dict[str, Any]:
    return {"accountSasToken": f"sv=mock&ss=b&sig={_h(str(sorted(args.items())), 24)}"}


STORAGE_CALLS = {
    "gcp:storage/getTransferProjectServiceAccount:getTransferProjectServiceAccount": (
        _transfer_agent
    ),
    "azure-native:storage:listStorageAccountSAS": _account_sas,
}
