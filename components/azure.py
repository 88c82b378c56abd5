"""`AzureGpuCluster`: resource group, VNet and AKS with one agent pool per GPU pool (design 8)."""

import base64
import ipaddress
import uuid

import pulumi
import pulumi_kubernetes as k8s
import pulumiverse_time as time
import yaml
from pulumi_azure_native import authorization, network, resources
from pulumi_azure_native import containerservice as aks

from optimizer.catalog import SYSTEM_POOL

from .aliases import component_opts
from .cluster import (
    DEFAULT_NETWORK_CIDR,
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    GpuClusterArgs,
    cluster_zones,
    kubernetes_provider,
    node_labels,
    nvidia_device_plugin,
    pool_key,
    validate_pools,
    zones_of,
)
from .naming import aks_pool_name, fit
from .validate import check_args

# AKS puts this taint on spot nodes itself; declaring it avoids a diff on every preview.
SPOT_TAINT = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
# Overlay networking: pods get addresses outside the VNet, so these never overlap it.
POD_CIDR = "192.168.0.0/16"
SERVICE_CIDR = "172.16.0.0/16"
DNS_SERVICE_IP = "172.16.0.10"
# Built-in role "Azure Kubernetes Service RBAC Cluster Admin": with Azure RBAC and local
# accounts disabled, the only way to the Kubernetes API.
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
RBAC_PROPAGATION = "300s"
# The AKS Entra ID server application every AKS API token is issued for (kubelogin docs).
AKS_SERVER_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"


def non_interactive_kubeconfig(kubeconfig: str) -> str:
    """AKS's exec kubeconfig with kubelogin's `azurecli` login instead of its default
    `devicecode`, which waits for a person at a browser and hangs a CI deploy.

    `azurecli` takes the Azure CLI's session: `az login` for a person, `azure/login` with a
    federated (OIDC) credential in CI. kubelogin reads AAD_LOGIN_METHOD over the flag, so an
    operator can switch (e.g. to `workloadidentity`) without changing the kubeconfig."""
    doc = yaml.safe_load(kubeconfig)
    for user in doc.get("users") or []:
        exec_ = (user.get("user") or {}).get("exec")
        if not exec_ or exec_.get("command") != "kubelogin":
            continue
        args = list(exec_.get("args") or [])
        server_id = AKS_SERVER_ID
        if "--server-id" in args and args.index("--server-id") + 1 < len(args):
            server_id = args[args.index("--server-id") + 1]
        exec_["args"] = ["get-token", "--login", "azurecli", "--server-id", server_id]
        exec_["interactiveMode"] = "Never"
    return yaml.safe_dump(doc, sort_keys=False)


class AzureGpuCluster(pulumi.ComponentResource):
    """An AKS cluster with a system pool and one user agent pool per GPU pool."""

    cloud: str
    """`azure`."""
    region: str
    """The cluster's region (the `region` arg)."""
    name: pulumi.Output[str]
    """Physical name of the AKS cluster."""
    endpoint: pulumi.Output[str]
    """URL of the Kubernetes API server."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig of the cluster (secret); credentials come from the cloud CLI at use."""
    provider: k8s.Provider
    """Kubernetes provider for this cluster: deploy workloads into it with this provider."""

    def __init__(
        self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check_args("AzureGpuCluster", name, args, GpuClusterArgs)
        super().__init__(
            "tricloud:index:AzureGpuCluster",
            name,
            {},
            component_opts("tricloud:index:AzureGpuCluster", opts),
        )
        validate_pools(args["gpu_pools"])
        self.cloud = "azure"
        self.region = args["region"]
        # Regions without availability zones list none: their pools take no zones.
        zones = cluster_zones(args, minimum=0)
        self.zones = zones
        tags = dict(args["tags"])
        cluster_name = args["cluster_name"]
        child = pulumi.ResourceOptions(parent=self)

        group = resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=fit(cluster_name, "azure-resource-group"),
            location=args["region"],
            tags=tags,
            opts=child,
        )
        net = ipaddress.ip_network(args.get("network_cidr", DEFAULT_NETWORK_CIDR))
        vnet = network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=fit(cluster_name, "azure-vnet"),
            resource_group_name=group.name,
            location=args["region"],
            address_space=network.AddressSpaceArgs(address_prefixes=[str(net)]),
            tags=tags,
            # Subnets are their own resources below; without this the VNet would delete them.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
        )
        nodes = network.Subnet(
            f"{name}-nodes",
            subnet_name="nodes",
            resource_group_name=group.name,
            virtual_network_name=vnet.name,
            address_prefix=str(next(net.subnets(new_prefix=net.prefixlen + 1))),
            opts=child,
        )

        cidrs = list(args.get("api_allowed_cidrs", []))
        system_size, system_nodes = SYSTEM_POOL["azure"]
        cluster = aks.ManagedCluster(
            f"{name}-aks",
            resource_name_=fit(cluster_name, "aks-cluster"),
            resource_group_name=group.name,
            location=args["region"],
            dns_prefix=fit(cluster_name, "aks-dns-prefix"),
            kubernetes_version=args["kubernetes_version"],
            sku=aks.ManagedClusterSKUArgs(name="Base", tier="Standard"),
            identity=aks.ManagedClusterIdentityArgs(type=aks.ResourceIdentityType.SYSTEM_ASSIGNED),
            enable_rbac=True,
            # Entra ID sign-in with Azure RBAC; no static admin certificates to leak.
            aad_profile=aks.ManagedClusterAADProfileArgs(managed=True, enable_azure_rbac=True),
            disable_local_accounts=True,
            oidc_issuer_profile=aks.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            security_profile=aks.ManagedClusterSecurityProfileArgs(
                workload_identity=aks.ManagedClusterSecurityProfileWorkloadIdentityArgs(
                    enabled=True
                )
            ),
            api_server_access_profile=aks.ManagedClusterAPIServerAccessProfileArgs(
                authorized_ip_ranges=cidrs or None,
                enable_private_cluster=not cidrs,
            ),
            network_profile=aks.ContainerServiceNetworkProfileArgs(
                network_plugin="azure",
                network_plugin_mode="overlay",
                # Cilium enforces the services' NetworkPolicies (none is enforced without a
                # network policy engine).
                network_dataplane="cilium",
                network_policy="cilium",
                pod_cidr=POD_CIDR,
                service_cidr=SERVICE_CIDR,
                dns_service_ip=DNS_SERVICE_IP,
                load_balancer_sku="standard",
                outbound_type="loadBalancer",
            ),
            auto_upgrade_profile=aks.ManagedClusterAutoUpgradeProfileArgs(
                upgrade_channel="patch", node_os_upgrade_channel="NodeImage"
            ),
            agent_pool_profiles=[
                aks.ManagedClusterAgentPoolProfileArgs(
                    name="system",
                    mode=aks.AgentPoolMode.SYSTEM,
                    vm_size=system_size,
                    count=system_nodes,
                    os_type="Linux",
                    os_sku="AzureLinux",
                    vnet_subnet_id=nodes.id,
                    node_labels={"tricloud/role": "system"},
                    tags=tags,
                )
            ],
            tags=tags,
            # GPU pools are AgentPool resources below; the cluster must not remove them.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["agentPoolProfiles"]),
        )

        self.pools: dict[str, pulumi.Resource] = {}
        for pool in args["gpu_pools"]:
            spot = pool["pricing"] == "spot"
            taints = [f"{GPU_TAINT_KEY}={GPU_TAINT_VALUE}:NoSchedule"]
            self.pools[pool_key(pool)] = aks.AgentPool(
                f"{name}-gpu-{pool_key(pool)}",
                resource_group_name=group.name,
                resource_name_=cluster.name,
                agent_pool_name=aks_pool_name(pool["instance_type"], pool["pricing"]),
                mode=aks.AgentPoolMode.USER,
                vm_size=pool["instance_type"],
                # Only the zones that offer the size: AKS rejects a pool whose size is not
                # available in one of its zones.
                availability_zones=zones_of(pool, zones) or None,
                os_type="Linux",
                os_sku="AzureLinux",
                vnet_subnet_id=nodes.id,
                enable_auto_scaling=True,
                count=pool["min_nodes"],
                min_count=pool["min_nodes"],
                max_count=pool["max_nodes"],
                gpu_profile=aks.GPUProfileArgs(driver=aks.GPUDriver.INSTALL),
                scale_set_priority=aks.ScaleSetPriority.SPOT if spot else None,
                scale_set_eviction_policy=aks.ScaleSetEvictionPolicy.DELETE if spot else None,
                # -1: pay up to the on-demand price, never evicted for price (design 8).
                spot_max_price=-1 if spot else None,
                node_taints=[*taints, SPOT_TAINT] if spot else taints,
                node_labels=node_labels(pool),
                os_disk_size_gb=200,
                tags=tags,
                # The cluster autoscaler owns the node count between min and max.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]),
            )

        # --- data-plane access: Azure RBAC decides every Kubernetes request -----------------
        client = authorization.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        )
        role = client.subscription_id.apply(
            lambda sub: (
                f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/"
                f"{AKS_RBAC_CLUSTER_ADMIN}"
            )
        )
        admins: dict[str, pulumi.Input[str]] = {p: p for p in args.get("cluster_admins") or []} or {
            "deployer": client.object_id
        }
        grants = [
            authorization.RoleAssignment(
                f"{name}-admin-{key}",
                # A stable GUID per (cluster, principal): a new principal is a new assignment,
                # never a rename of another's.
                role_assignment_name=str(
                    uuid.uuid5(uuid.NAMESPACE_URL, f"{cluster_name}/rbac-cluster-admin/{key}")
                ),
                principal_id=principal,
                role_definition_id=role,
                scope=cluster.id,
                opts=child,
            )
            for key, principal in admins.items()
        ]
        credentials = aks.list_managed_cluster_user_credentials_output(
            resource_group_name=group.name,
            resource_name=cluster.name,
            # "exec": the kubeconfig calls kubelogin for an Entra ID token at use.
            format="exec",
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        self.name = cluster.name
        self.endpoint = cluster.fqdn.apply(lambda fqdn: f"https://{fqdn}")
        self.kubeconfig = pulumi.Output.secret(
            credentials.kubeconfigs[0].value.apply(
                lambda v: non_interactive_kubeconfig(base64.b64decode(v).decode())
            )
        )
        # Every object through this provider needs the grant first (without it: 403), and a
        # new role assignment reaches AKS's authorizer only minutes later (Azure RBAC
        # propagation, "up to 5 minutes"): the provider waits that long after the grants.
        propagated = time.Sleep(
            f"{name}-rbac-propagation",
            create_duration=RBAC_PROPAGATION,
            triggers={key: grant.id for key, grant in zip(admins, grants, strict=True)},
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=time.Provider(f"{name}-time", opts=child),
                depends_on=grants,
            ),
        )
        self.provider = kubernetes_provider(
            name, self.kubeconfig, cluster_name, self, depends_on=[propagated]
        )
        self.device_plugin = nvidia_device_plugin(name, self.provider, tags, self)
        # What a workload in this cluster waits for: its nodes and the GPUs the device plugin
        # advertises (cloud-provider-azure serves LoadBalancer Services itself).
        self.workload_dependencies = [*self.pools.values(), self.device_plugin]
        self.register_outputs(
            {"name": self.name, "endpoint": self.endpoint, "kubeconfig": self.kubeconfig}
        )
