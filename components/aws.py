"""`AwsGpuCluster`: VPC, EKS and one managed node group per GPU pool (design 8)."""

import ipaddress
import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pulumi_aws import ec2, eks, iam, kms

from optimizer.catalog import SYSTEM_POOL

from .aliases import component_opts
from .cluster import (
    DEFAULT_NETWORK_CIDR,
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    GpuClusterArgs,
    exec_kubeconfig,
    kubernetes_provider,
    node_labels,
    nvidia_device_plugin,
    pool_key,
    validate_pools,
)
from .naming import fit
from .validate import check_args

# Subnets span two availability zones: EKS requires two, and a GPU type missing in one zone
# can still be found in the other.
ZONES = 2


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

        # --- network: public subnets for load balancers, private subnets for nodes ---------
        net = ipaddress.ip_network(args.get("network_cidr", DEFAULT_NETWORK_CIDR))
        blocks = list(net.subnets(new_prefix=net.prefixlen + 3))  # 8 blocks: 2 public, 2 private
        vpc = ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(net),
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**tags, "Name": cluster_name},
            opts=child,
        )
        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self)
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
        public, private = [], []
        for i in range(ZONES):
            az = zones.names[i]
            public.append(
                ec2.Subnet(
                    f"{name}-public-{i}",
                    vpc_id=vpc.id,
                    cidr_block=str(blocks[i]),
                    availability_zone=az,
                    map_public_ip_on_launch=False,
                    tags={
                        **tags,
                        "Name": f"{cluster_name}-public-{i}",
                        "kubernetes.io/role/elb": "1",
                    },
                    opts=child,
                )
            )
            private.append(
                ec2.Subnet(
                    f"{name}-private-{i}",
                    vpc_id=vpc.id,
                    cidr_block=str(blocks[4 + i]),
                    availability_zone=az,
                    tags={
                        **tags,
                        "Name": f"{cluster_name}-private-{i}",
                        "kubernetes.io/role/internal-elb": "1",
                    },
                    opts=child,
                )
            )
            ec2.RouteTableAssociation(
                f"{name}-public-{i}",
                route_table_id=public_rt.id,
                subnet_id=public[i].id,
                opts=child,
            )
        # One NAT gateway per cluster, not per zone: nodes pull images and models through it;
        # a zone outage costs egress until it is back, which the region-level plan tolerates.
        eip = ec2.Eip(f"{name}-nat", domain="vpc", tags={**tags, "Name": cluster_name}, opts=child)
        nat = ec2.NatGateway(
            f"{name}-nat",
            allocation_id=eip.id,
            subnet_id=public[0].id,
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
        for i, subnet in enumerate(private):
            ec2.RouteTableAssociation(
                f"{name}-private-{i}", route_table_id=private_rt.id, subnet_id=subnet.id, opts=child
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
        cluster = eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=args["kubernetes_version"],
            role_arn=cluster_role.arn,
            vpc_config=eks.ClusterVpcConfigArgs(
                subnet_ids=[s.id for s in private + public],
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
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster_attach]),
        )

        # --- node groups -------------------------------------------------------------------
        node_opts = pulumi.ResourceOptions(
            parent=self,
            depends_on=node_attach,
            # The cluster autoscaler moves desired size; Pulumi must not move it back.
            ignore_changes=["scalingConfig.desiredSize"],
        )
        system_type, system_nodes = SYSTEM_POOL["aws"]
        eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster.name,
            node_group_name=fit(f"{cluster_name}-system", "eks-nodegroup"),
            node_role_arn=node_role.arn,
            subnet_ids=[s.id for s in private],
            instance_types=[system_type],
            capacity_type="ON_DEMAND",
            ami_type="AL2023_x86_64_STANDARD",
            scaling_config=eks.NodeGroupScalingConfigArgs(
                desired_size=system_nodes, min_size=system_nodes, max_size=system_nodes + 1
            ),
            labels={"tricloud/role": "system"},
            tags=tags,
            opts=node_opts,
        )
        for pool in args["gpu_pools"]:
            key = pool_key(pool)
            eks.NodeGroup(
                f"{name}-gpu-{key}",
                cluster_name=cluster.name,
                node_group_name=fit(f"{cluster_name}-{key}", "eks-nodegroup"),
                node_role_arn=node_role.arn,
                subnet_ids=[s.id for s in private],
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
                labels=node_labels(pool),
                tags=tags,
                opts=node_opts,
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
        nvidia_device_plugin(name, self.provider, tags, self)
        self.register_outputs(
            {"name": self.name, "endpoint": self.endpoint, "kubeconfig": self.kubeconfig}
        )
