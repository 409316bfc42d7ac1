"""EKS clusters created through boto3: the cluster, one managed node group per node pool,
the IAM roles they need and (unless the provider block names subnets) a VPC with two subnets.

`ensure` converges one step at a time and never waits for AWS: each call creates what is
missing, resizes node groups whose `nodeCount` changed, and says what it is waiting on.
`release` deletes in dependency order (node groups, then the cluster, then subnets, VPC and
roles), one step per call, until nothing it created is left.

Credentials come only from the Secret in `laneway-system` that `eks.credentialsSecretRef`
names (keys `aws_access_key_id`, `aws_secret_access_key`, optional `aws_session_token`);
they are passed to boto3 explicitly, so the host's environment, profiles and instance role
are never consulted. `eks.endpointUrl` (platform lane) points every call at another endpoint
(moto's server in tests). Provider errors are reported with AWS's own message and retried
with exponential backoff; credentials never appear in a message.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from laneway.api.kinds.platform import InferenceClass, InferenceCluster
from laneway.api.meta import SYSTEM_NAMESPACE
from laneway.cloud.aws import isolated_session
from laneway.drivers.kubeconfig import Kubeconfig, NoKubeconfig
from laneway.drivers.provisioners.credentials import credentials_secret
from laneway.drivers.provisioners.plan import ClusterPlan, PoolPlan, provider_block
from laneway.drivers.provisioners.retry import ProviderBlockError, Waits
from laneway.drivers.provisioners.stepwise import StepwiseProvisioner
from laneway.drivers.provisioning import ProvisionPhase, ProvisionState
from laneway.store.base import Store

CLUSTER_TAG = "laneway.dev/cluster"
DEFAULT_AMI = "AL2023_x86_64_NVIDIA"
_TRUST = {
    "cluster": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
    "node": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
}
_POLICIES = {
    "cluster": ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"],
    "node": [
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ],
}


@dataclass(frozen=True)
class AwsCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # a credential: keep it out of tracebacks and logs
        return "AwsCredentials(<redacted>)"


@dataclass
class _Clients:
    eks: Any
    ec2: Any
    iam: Any
    sts: Any


def role_name(cluster: str, which: str) -> str:
    return f"laneway-{cluster}-{which}"[:64]


def credentials_from_store(store: Store, cluster: InferenceCluster) -> AwsCredentials:
    """The AWS credentials in the Secret the cluster's `eks.credentialsSecretRef` names."""
    secret, _ = credentials_secret(store, cluster, holding="aws_access_key_id and aws_secret_access_key")
    key_id, key = secret.value("aws_access_key_id"), secret.value("aws_secret_access_key")
    if not key_id or not key:
        raise ProviderBlockError(f"Secret {SYSTEM_NAMESPACE}/{secret.name} needs keys aws_access_key_id and aws_secret_access_key")
    return AwsCredentials(key_id, key, secret.value("aws_session_token") or None)


def aws_client(service: str, credentials: AwsCredentials, region: str, endpoint: str | None) -> Any:
    """A client with exactly these credentials: no config or credentials files, no endpoint
    variables, an empty credential chain, so the host's AWS identity is never used."""
    return isolated_session().create_client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=10, read_timeout=30),
    )


def _error_message(error: Exception) -> str:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{info.get('Code', 'Error')}: {info.get('Message', str(error))}"
    return str(error)


@dataclass
class EksProvisioner(StepwiseProvisioner):
    """The `Provisioner` of `source: EKS` (see `laneway.drivers.provisioning`)."""

    _waits: Waits = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._waits = Waits(clock=self.clock)

    def _provider_errors(self) -> tuple[type[Exception], ...]:
        return (ClientError, BotoCoreError)

    def _describe_error(self, error: Exception) -> str:
        return _error_message(error)

    def _waiting(self, cluster: str, phase: ProvisionPhase, *waits: str) -> ProvisionState:
        """`phase`, saying what it waits on and for how long."""
        return ProvisionState(phase, "waiting for " + "; ".join(self._waits.timed(cluster, list(waits))))

    def _clients(self, cluster: InferenceCluster) -> _Clients:
        block = provider_block(cluster)
        region = block.get("region")
        if not isinstance(region, str) or not region:
            raise ProviderBlockError(f"cluster {cluster.name}: eks.region is required (e.g. us-east-1)")
        endpoint = block.get("endpointUrl")
        credentials = credentials_from_store(self.store, cluster)
        url = endpoint if isinstance(endpoint, str) and endpoint else None
        return _Clients(*(aws_client(s, credentials, region, url) for s in ("eks", "ec2", "iam", "sts")))

    # The steps below run in a worker thread (boto3 is blocking).

    def _role(self, c: _Clients, cluster: str, which: str) -> str:
        """The role, created when missing, with every policy it needs attached (a step that
        failed half way, say on a policy, is completed on the next call)."""
        name = role_name(cluster, which)
        try:
            arn = str(c.iam.get_role(RoleName=name)["Role"]["Arn"])
        except c.iam.exceptions.NoSuchEntityException:
            trust = json.dumps(_TRUST[which])
            arn = str(c.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, Tags=[{"Key": CLUSTER_TAG, "Value": cluster}])["Role"]["Arn"])
        attached = {p["PolicyArn"] for p in c.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]}
        for policy in _POLICIES[which]:
            if policy not in attached:
                c.iam.attach_role_policy(RoleName=name, PolicyArn=policy)
        return arn

    def _subnets(self, c: _Clients, cluster: InferenceCluster) -> list[str]:
        given = provider_block(cluster).get("subnetIds")
        if isinstance(given, list) and given:
            return [str(s) for s in given]
        tag = [{"Name": f"tag:{CLUSTER_TAG}", "Values": [cluster.name]}]
        vpcs = c.ec2.describe_vpcs(Filters=tag)["Vpcs"]
        spec = [{"ResourceType": "vpc", "Tags": [{"Key": CLUSTER_TAG, "Value": cluster.name}]}]
        vpc = vpcs[0]["VpcId"] if vpcs else c.ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=spec)["Vpc"]["VpcId"]
        subnets = [s["SubnetId"] for s in c.ec2.describe_subnets(Filters=tag)["Subnets"]]
        if len(subnets) >= 2:
            return sorted(subnets)
        zones = [z["ZoneName"] for z in c.ec2.describe_availability_zones()["AvailabilityZones"]][:2]
        sub_spec = [{"ResourceType": "subnet", "Tags": [{"Key": CLUSTER_TAG, "Value": cluster.name}]}]
        for i, zone in enumerate(zones[len(subnets):], start=len(subnets)):
            made = c.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i * 16}.0/20", AvailabilityZone=zone, TagSpecifications=sub_spec)
            subnets.append(made["Subnet"]["SubnetId"])
        return sorted(subnets)

    def _converge(self, cluster: InferenceCluster, plan: ClusterPlan) -> ProvisionState:
        c = self._clients(cluster)
        name = cluster.name
        try:
            described = c.eks.describe_cluster(name=name)["cluster"]
        except c.eks.exceptions.ResourceNotFoundException:
            subnets = self._subnets(c, cluster)
            c.eks.create_cluster(
                name=name, roleArn=self._role(c, name, "cluster"), resourcesVpcConfig={"subnetIds": subnets}, tags={CLUSTER_TAG: name}
            )
            return ProvisionState("Provisioning", f"creating EKS cluster {name}")
        if described["status"] != "ACTIVE":
            return self._waiting(name, "Provisioning", f"EKS cluster {name} to become ACTIVE (it is {described['status']})")
        subnets = list(described["resourcesVpcConfig"]["subnetIds"])
        existing = set(c.eks.list_nodegroups(clusterName=name)["nodegroups"])
        waiting: list[str] = []
        for pool in plan.pools:
            waiting += self._converge_pool(c, cluster, pool, subnets, exists=pool.name in existing)
        for stale in sorted(existing - {p.name for p in plan.pools}):
            c.eks.delete_nodegroup(clusterName=name, nodegroupName=stale)
            waiting.append(f"node group {stale} (no longer declared) to be deleted")
        if waiting:
            return self._waiting(name, "Provisioning", *waiting)
        self._waits.forget(name)
        return ProvisionState("Ready", f"EKS cluster {name} ACTIVE with node groups " + ", ".join(p.name for p in plan.pools))

    def _converge_pool(self, c: _Clients, cluster: InferenceCluster, pool: PoolPlan, subnets: list[str], *, exists: bool) -> list[str]:
        scaling = {"minSize": pool.min_node_count, "maxSize": max(pool.max_node_count, 1), "desiredSize": pool.node_count}
        if not exists:
            klass = self._classes().get(pool.class_name)
            block = provider_block_of_class(klass)
            c.eks.create_nodegroup(
                clusterName=cluster.name,
                nodegroupName=pool.name,
                nodeRole=self._role(c, cluster.name, "node"),
                subnets=subnets,
                instanceTypes=[pool.machine],
                amiType=str(block.get("amiType", DEFAULT_AMI)),
                scalingConfig=scaling,
                labels={"laneway.dev/pool": pool.name},
                tags={CLUSTER_TAG: cluster.name},
            )
            return [f"node group {pool.name} ({pool.node_count} x {pool.machine}) to be created"]
        group = c.eks.describe_nodegroup(clusterName=cluster.name, nodegroupName=pool.name)["nodegroup"]
        if group["status"] != "ACTIVE":
            return [f"node group {pool.name} to become ACTIVE (it is {group['status']})"]
        current = group.get("scalingConfig", {})
        if any(current.get(k) != v for k, v in scaling.items()):
            c.eks.update_nodegroup_config(clusterName=cluster.name, nodegroupName=pool.name, scalingConfig=scaling)
            return [f"node group {pool.name} to resize from {current.get('desiredSize')} to {pool.node_count} nodes"]
        return []

    def _delete_step(self, cluster: InferenceCluster) -> ProvisionState:
        c = self._clients(cluster)
        name = cluster.name
        try:
            c.eks.describe_cluster(name=name)
            groups: list[str] | None = list(c.eks.list_nodegroups(clusterName=name)["nodegroups"])
        except c.eks.exceptions.ResourceNotFoundException:
            groups = None
        if groups:
            for group in groups:
                c.eks.delete_nodegroup(clusterName=name, nodegroupName=group)
            return self._waiting(name, "Deleting", f"node groups {', '.join(sorted(groups))} to be deleted")
        if groups is not None:
            c.eks.delete_cluster(name=name)
            return self._waiting(name, "Deleting", f"EKS cluster {name} to be deleted")
        tag = [{"Name": f"tag:{CLUSTER_TAG}", "Values": [name]}]
        for subnet in c.ec2.describe_subnets(Filters=tag)["Subnets"]:
            c.ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        for vpc in c.ec2.describe_vpcs(Filters=tag)["Vpcs"]:
            c.ec2.delete_vpc(VpcId=vpc["VpcId"])
        for which in ("node", "cluster"):
            role = role_name(name, which)
            try:
                for policy in c.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
                    c.iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
                c.iam.delete_role(RoleName=role)
            except c.iam.exceptions.NoSuchEntityException:
                pass
        self._waits.forget(name)
        return ProvisionState("Pending", f"EKS cluster {name} and everything laneway created for it are deleted")

    def kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        """A kubeconfig for the created cluster whose token is a presigned STS request (what
        `aws eks get-token` returns): short-lived, never a stored admin key; minted again
        every 10 minutes (`MintedKubeconfigs`)."""
        return self._kubeconfigs.get(cluster.name, lambda: self._mint_kubeconfig(cluster))

    def _mint_kubeconfig(self, cluster: InferenceCluster) -> Kubeconfig:
        try:
            c = self._clients(cluster)
            described = c.eks.describe_cluster(name=cluster.name)["cluster"]
        except (ClientError, BotoCoreError, ProviderBlockError) as error:
            raise NoKubeconfig(f"EKS cluster {cluster.name}: {_error_message(error)}") from None
        if described.get("status") != "ACTIVE":
            raise NoKubeconfig(f"EKS cluster {cluster.name} is not ACTIVE yet")
        token = eks_token(c.sts, cluster.name)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster.name, "cluster": {"server": described["endpoint"], "certificate-authority-data": described["certificateAuthority"]["data"]}}],
            "users": [{"name": "laneway", "user": {"token": token}}],
            "contexts": [{"name": cluster.name, "context": {"cluster": cluster.name, "user": "laneway"}}],
            "current-context": cluster.name,
        }
        return Kubeconfig(json.dumps(config), f"EKS cluster {cluster.name} (token from STS, 15 minutes)")

    async def close(self) -> None:
        self._retrying.clear()
        self._waits = Waits(clock=self.clock)
        self._kubeconfigs.forget()


def provider_block_of_class(klass: InferenceClass | None) -> dict[str, object]:
    provisioning = klass.spec.provisioning if klass is not None else None
    block = (provisioning.model_extra or {}).get("eks") if provisioning is not None else None
    return dict(block) if isinstance(block, dict) else {}


def eks_token(sts: Any, cluster: str) -> str:
    """The bearer token EKS accepts: a presigned sts:GetCallerIdentity URL bound to the
    cluster name (header x-k8s-aws-id), base64url-encoded with the k8s-aws-v1. prefix."""

    def add_header(request: Any, **_: object) -> None:
        request.headers["x-k8s-aws-id"] = cluster

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_header)
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    return "k8s-aws-v1." + base64.urlsafe_b64encode(str(url).encode()).decode().rstrip("=")
