"""`AwsGpuCluster`: VPC, EKS and one managed node group per GPU pool (design 8)."""

import ipaddress
import json
import re

import pulumi
import pulumi_kubernetes as k8s
from pulumi_aws import ec2, eks, iam, kms

from optimizer.catalog import SYSTEM_POOL
from optimizer.errors import InputError, Problem

from .addons import (
    AUTOSCALER_SERVICE_ACCOUNT,
    AWS_LOAD_BALANCER_CONTROLLER,
    CLUSTER_AUTOSCALER,
    CLUSTER_AUTOSCALER_IMAGE_TAG,
    LBC_SERVICE_ACCOUNT,
    METRICS_SERVER,
    SYSTEM_NODE_SELECTOR,
    cluster_autoscaler_policy,
    eks_addon,
    helm_release,
    load_balancer_controller_policy,
    pod_identity_role,
)
from .aliases import component_opts
from .cluster import (
    DEFAULT_NETWORK_CIDR,
    GPU_NODE_READY_MINUTES,
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    GpuClusterArgs,
    cluster_zones,
    exec_kubeconfig,
    kubernetes_provider,
    node_labels,
    nvidia_device_plugin,
    pool_key,
    validate_pools,
    zones_of,
)
from .naming import fit, short_hash
from .validate import check_args

AZ_ID_RE = re.compile(r"^[a-z]{2,}[0-9]+-az([1-7])$")
# EKS requires the control plane's subnets in at least two availability zones.
EKS_MIN_ZONES = 2
# The EKS access policy equal to Kubernetes' cluster-admin (one ARN per partition).
EKS_CLUSTER_ADMIN_POLICY = (
    "arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
)
# The label the Cluster Autoscaler reads on AWS to recognise GPU nodes.
AWS_ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator"


def _assume(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ],
        }
    )


class AwsGpuCluster(pulumi.ComponentResource):
    """An EKS cluster with a system node group and one GPU node group per pool."""

    cloud: str
    """`aws`."""
    region: str
    """The cluster's region (the `region` arg)."""
    name: pulumi.Output[str]
    """Physical name of the EKS cluster."""
    endpoint: pulumi.Output[str]
    """URL of the Kubernetes API server."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig of the cluster (secret); credentials come from the cloud CLI at use."""
    provider: k8s.Provider
    """Kubernetes provider for this cluster: deploy workloads into it with this provider."""

    def __init__(
        self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check_args("AwsGpuCluster", name, args, GpuClusterArgs)
        super().__init__(
            "tricloud:index:AwsGpuCluster",
            name,
            {},
            component_opts("tricloud:index:AwsGpuCluster", opts),
        )
        validate_pools(args["gpu_pools"])
        self.cloud = "aws"
        self.region = args["region"]
        tags = dict(args["tags"])
        cluster_name = args["cluster_name"]
        child = pulumi.ResourceOptions(parent=self)

        # --- network: per zone a private subnet for nodes and pods, a public one for NLBs --
        # The zones are named, not looked up: a pool's subnets must be those where its
        # instance type is offered, and that must be known at preview. They are AZ IDs
        # (use1-az1): an AZ name (us-east-1a) maps to a different zone in every account.
        zones = cluster_zones(args, minimum=EKS_MIN_ZONES)
        self.zones = zones
        net = ipaddress.ip_network(args.get("network_cidr", DEFAULT_NETWORK_CIDR))
        # vpc-cni gives every pod a VPC address: private subnets get the large blocks (1/8 of
        # the network each, by AZ ID number az1-az7); public ones share the last eighth.
        eighths = list(net.subnets(new_prefix=net.prefixlen + 3))
        public_blocks = list(eighths[7].subnets(new_prefix=net.prefixlen + 6))
        vpc = ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(net),
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**tags, "Name": cluster_name},
            opts=child,
        )
        igw = ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={**tags, "Name": cluster_name}, opts=child
        )
        public_rt = ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={**tags, "Name": f"{cluster_name}-public"},
            opts=child,
        )
        public: dict[str, ec2.Subnet] = {}
        private: dict[str, ec2.Subnet] = {}
        for az in zones:
            slot = _zone_slot(az)
            public[az] = ec2.Subnet(
                f"{name}-public-{az}",
                vpc_id=vpc.id,
                cidr_block=str(public_blocks[slot]),
                availability_zone_id=az,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{cluster_name}-public-{az}", "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            private[az] = ec2.Subnet(
                f"{name}-private-{az}",
                vpc_id=vpc.id,
                cidr_block=str(eighths[slot]),
                availability_zone_id=az,
                tags={
                    **tags,
                    "Name": f"{cluster_name}-private-{az}",
                    "kubernetes.io/role/internal-elb": "1",
                },
                opts=child,
            )
            ec2.RouteTableAssociation(
                f"{name}-public-{az}",
                route_table_id=public_rt.id,
                subnet_id=public[az].id,
                opts=child,
            )
        self.public_subnet_ids = [public[az].id for az in zones]
        # One NAT gateway per cluster, not per zone: nodes pull images and models through it;
        # a zone outage costs egress until it is back, which the region-level plan tolerates.
        eip = ec2.Eip(f"{name}-nat", domain="vpc", tags={**tags, "Name": cluster_name}, opts=child)
        nat = ec2.NatGateway(
            f"{name}-nat",
            allocation_id=eip.id,
            subnet_id=public[zones[0]].id,
            tags={**tags, "Name": cluster_name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
        )
        private_rt = ec2.RouteTable(
            f"{name}-private",
            vpc_id=vpc.id,
            routes=[ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
            tags={**tags, "Name": f"{cluster_name}-private"},
            opts=child,
        )
        for az, subnet in private.items():
            ec2.RouteTableAssociation(
                f"{name}-private-{az}",
                route_table_id=private_rt.id,
                subnet_id=subnet.id,
                opts=child,
            )

        # --- IAM: one role for the control plane, one for the nodes -------------------------
        cluster_role = iam.Role(
            f"{name}-cluster",
            name=fit(f"{cluster_name}-cluster", "iam-role"),
            assume_role_policy=_assume("eks.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        cluster_attach = iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
            opts=child,
        )
        node_role = iam.Role(
            f"{name}-node",
            name=fit(f"{cluster_name}-node", "iam-role"),
            assume_role_policy=_assume("ec2.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        node_attach = [
            iam.RolePolicyAttachment(
                f"{name}-node-{short}",
                role=node_role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}",
                opts=child,
            )
            for short, policy in (
                ("worker", "AmazonEKSWorkerNodePolicy"),
                ("cni", "AmazonEKS_CNI_Policy"),
                ("ecr", "AmazonEC2ContainerRegistryReadOnly"),
            )
        ]

        # --- control plane ---------------------------------------------------------------
        secrets_key = kms.Key(
            f"{name}-secrets",
            description=f"EKS secrets encryption for {cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=child,
        )
        cidrs = list(args.get("api_allowed_cidrs", []))
        version = args["kubernetes_version"]
        cluster = eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=version,
            role_arn=cluster_role.arn,
            vpc_config=eks.ClusterVpcConfigArgs(
                subnet_ids=[s.id for s in [*private.values(), *public.values()]],
                endpoint_private_access=True,
                endpoint_public_access=bool(cidrs),
                public_access_cidrs=cidrs or None,
            ),
            access_config=eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=True,
            ),
            encryption_config=eks.ClusterEncryptionConfigArgs(
                provider=eks.ClusterEncryptionConfigProviderArgs(key_arn=secrets_key.arn),
                resources=["secrets"],
            ),
            enabled_cluster_log_types=["api", "audit", "authenticator"],
            # Explicit: EKS enrols a cluster in extended support by default, and then bills
            # $0.60/h instead of $0.10/h once standard support ends. STANDARD upgrades it
            # instead; EXTENDED only where the version is already there (priced by the plan).
            upgrade_policy=eks.ClusterUpgradePolicyArgs(
                support_type="EXTENDED" if args.get("extended_support") else "STANDARD"
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster_attach]),
        )

        # --- API access: the creator (bootstrap) plus the listed admins, by access entry ----
        for arn in args.get("cluster_admins") or []:
            # Keyed by the ARN's hash: adding or removing one admin never renames another's.
            key = short_hash(arn, 8)
            entry = eks.AccessEntry(
                f"{name}-admin-{key}",
                cluster_name=cluster.name,
                principal_arn=arn,
                type="STANDARD",
                tags=tags,
                opts=child,
            )
            eks.AccessPolicyAssociation(
                f"{name}-admin-{key}",
                cluster_name=cluster.name,
                principal_arn=arn,
                policy_arn=EKS_CLUSTER_ADMIN_POLICY.format(partition=arn.split(":")[1]),
                access_scope=eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                # The association needs the entry: EKS refuses a principal without one.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            )

        # --- managed add-ons: CNI, kube-proxy and the Pod Identity agent before any node ----
        addon = {
            short: eks_addon(
                f"{name}-{short}",
                short,
                cluster=cluster,
                kubernetes_version=version,
                tags=tags,
                parent=self,
            )
            for short in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
        }

        # --- node groups -------------------------------------------------------------------
        node_opts = pulumi.ResourceOptions(
            parent=self,
            # Nodes join Ready only with the CNI in place.
            depends_on=[*node_attach, addon["vpc-cni"], addon["kube-proxy"]],
            # The cluster autoscaler moves desired size; Pulumi must not move it back.
            ignore_changes=["scalingConfig.desiredSize"],
            custom_timeouts=pulumi.CustomTimeouts(
                create=f"{GPU_NODE_READY_MINUTES['aws'] + 15}m",
                update=f"{GPU_NODE_READY_MINUTES['aws'] + 45}m",
            ),
        )
        discovery = {
            "k8s.io/cluster-autoscaler/enabled": "true",
            f"k8s.io/cluster-autoscaler/{cluster_name}": "owned",
        }
        system_type, system_nodes = SYSTEM_POOL["aws"]
        system = eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster.name,
            node_group_name=fit(f"{cluster_name}-system", "eks-nodegroup"),
            node_role_arn=node_role.arn,
            subnet_ids=[s.id for s in private.values()],
            instance_types=[system_type],
            capacity_type="ON_DEMAND",
            ami_type="AL2023_x86_64_STANDARD",
            scaling_config=eks.NodeGroupScalingConfigArgs(
                desired_size=system_nodes, min_size=system_nodes, max_size=system_nodes + 1
            ),
            labels=dict(SYSTEM_NODE_SELECTOR),
            tags={**tags, **discovery},
            opts=node_opts,
        )
        self.pools: dict[str, pulumi.Resource] = {}
        for pool in args["gpu_pools"]:
            key = pool_key(pool)
            self.pools[key] = eks.NodeGroup(
                f"{name}-gpu-{key}",
                cluster_name=cluster.name,
                node_group_name=fit(f"{cluster_name}-{key}", "eks-nodegroup"),
                node_role_arn=node_role.arn,
                # Only the zones where the instance type is offered: EC2 refuses a launch
                # elsewhere, and the node group would retry there forever.
                subnet_ids=[private[az].id for az in zones_of(pool, zones)],
                instance_types=[pool["instance_type"]],
                capacity_type="SPOT" if pool["pricing"] == "spot" else "ON_DEMAND",
                ami_type="AL2023_x86_64_NVIDIA",
                disk_size=200,  # model weights are cached on the node
                scaling_config=eks.NodeGroupScalingConfigArgs(
                    desired_size=pool["min_nodes"],
                    min_size=pool["min_nodes"],
                    max_size=pool["max_nodes"],
                ),
                update_config=eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
                taints=[
                    eks.NodeGroupTaintArgs(
                        key=GPU_TAINT_KEY, value=GPU_TAINT_VALUE, effect="NO_SCHEDULE"
                    )
                ],
                # The Cluster Autoscaler waits for a node with this label to advertise its
                # GPUs instead of scaling up again while the device plugin starts.
                labels={**node_labels(pool), AWS_ACCELERATOR_LABEL: pool["accelerator"]},
                tags={**tags, **discovery},
                opts=node_opts,
            )
        # CoreDNS is a Deployment: its add-on turns ACTIVE only once nodes can run it.
        addon["coredns"] = eks_addon(
            f"{name}-coredns",
            "coredns",
            cluster=cluster,
            kubernetes_version=version,
            tags=tags,
            depends_on=[system],
            parent=self,
        )

        # --- access ----------------------------------------------------------------------
        self.name = cluster.name
        self.endpoint = cluster.endpoint
        self.kubeconfig = exec_kubeconfig(
            cluster.name,
            cluster.endpoint,
            cluster.certificate_authority.data,
            "aws",
            ["eks", "get-token", "--cluster-name", cluster_name, "--region", args["region"]],
        )
        self.provider = kubernetes_provider(name, self.kubeconfig, cluster_name, self)
        self.device_plugin = nvidia_device_plugin(name, self.provider, tags, self)

        # --- controllers EKS does not run itself ------------------------------------------
        # They run on the system nodes, with CoreDNS up and their Pod Identity in place.
        ready = [system, addon["coredns"]]
        lbc_identity = pod_identity_role(
            f"{name}-lbc",
            cluster=cluster,
            cluster_name=cluster_name,
            service_account=LBC_SERVICE_ACCOUNT,
            policy=load_balancer_controller_policy(),
            tags=tags,
            agent=addon["eks-pod-identity-agent"],
            parent=self,
        )
        self.load_balancer_controller = helm_release(
            f"{name}-lbc",
            AWS_LOAD_BALANCER_CONTROLLER,
            {
                "clusterName": cluster_name,
                # Region and VPC given, not discovered: AL2023 nodes limit the instance
                # metadata hop count to 1, which pods cannot reach.
                "region": args["region"],
                "vpcId": vpc.id,
                "serviceAccount": {"create": True, "name": LBC_SERVICE_ACCOUNT},
                "replicaCount": 2,
                "nodeSelector": SYSTEM_NODE_SELECTOR,
            },
            provider=self.provider,
            depends_on=[*ready, lbc_identity],
            parent=self,
        )
        autoscaler_identity = pod_identity_role(
            f"{name}-autoscaler",
            cluster=cluster,
            cluster_name=cluster_name,
            service_account=AUTOSCALER_SERVICE_ACCOUNT,
            policy=cluster_autoscaler_policy(cluster_name),
            tags=tags,
            agent=addon["eks-pod-identity-agent"],
            parent=self,
        )
        self.autoscaler = helm_release(
            f"{name}-autoscaler",
            CLUSTER_AUTOSCALER,
            {
                "cloudProvider": "aws",
                "awsRegion": args["region"],
                "autoDiscovery": {"clusterName": cluster_name},
                "rbac": {"serviceAccount": {"create": True, "name": AUTOSCALER_SERVICE_ACCOUNT}},
                "image": {"tag": CLUSTER_AUTOSCALER_IMAGE_TAG[version]},
                "extraArgs": {
                    # One pool per (type, pricing): similar pools are not interchangeable.
                    "balance-similar-node-groups": "false",
                    "expander": "least-waste",
                    "skip-nodes-with-system-pods": "false",
                    # A GPU node that just joined is not empty: it is loading a model.
                    "scale-down-unneeded-time": "15m",
                },
                "nodeSelector": SYSTEM_NODE_SELECTOR,
            },
            provider=self.provider,
            depends_on=[*ready, autoscaler_identity],
            parent=self,
        )
        self.metrics_server = helm_release(
            f"{name}-metrics-server",
            METRICS_SERVER,
            {"nodeSelector": SYSTEM_NODE_SELECTOR},
            provider=self.provider,
            depends_on=ready,
            parent=self,
        )
        # What a workload in this cluster waits for: its nodes, the GPUs the device plugin
        # advertises, and the controller that alone serves `aws-load-balancer-type: external`
        # Services (created before it, a Service waits for an address that never comes).
        self.workload_dependencies = [
            *self.pools.values(),
            self.device_plugin,
            self.load_balancer_controller,
        ]
        self.register_outputs(
            {"name": self.name, "endpoint": self.endpoint, "kubeconfig": self.kubeconfig}
        )


def _zone_slot(az_id: str) -> int:
    """The index of an AZ's subnet blocks: its AZ ID's number (use1-az1 -> 0 ... az7 -> 6), so
    that adding or removing a zone never renumbers another zone's subnets."""
    match = AZ_ID_RE.match(az_id)
    if not match:
        raise InputError(
            [
                Problem(
                    "zones", f"{az_id!r} is not an availability zone ID such as use1-az1 (az1-az7)"
                )
            ],
            "invalid zones",
        )
    return int(match.group(1)) - 1
