"""`DatasetReplication`: the primary dataset storage and one replica per serving region (design 10).

The primary bucket lives in the plan's primary region; every target region gets a replica, and
each direction uses the mechanism the plan names (`optimizer.replication.mechanism`), i.e. the
destination cloud's native transfer service:

| mechanism | from -> to | runs | intervals the service supports |
|---|---|---|---|
| `s3-replication` | aws -> aws | on every write | none (continuous; no schedule) |
| `azure-object-replication` | azure -> azure | on every write (change feed) | none (continuous) |
| `gcp-storage-transfer` | any -> gcp | schedule | `repeatInterval` >= 1 h, any number of seconds |
| `aws-datasync` | gcp/azure -> aws | schedule | `rate(...)` >= 1 h (DataSync runs at most hourly) |
| `azure-data-factory` | aws/gcp -> azure | tumbling window | `Minute` x N (tricloud keeps >= 15 min) |

The scheduled mechanisms run every `interval_minutes` (the plan's `intervalMinutes`, which the
optimizer chose as the largest ladder interval <= `maxStalenessMinutes` that every mechanism of
the plan supports). A shorter interval than a service supports is raised to its minimum, with a
warning: the replica is then staler than asked.

Modes: `incremental` copies new and changed objects and never deletes in the sink; `mirror` also
propagates deletes. Where a service cannot do what the mode asks, the program says so in a
warning naming the target, never silently:
- S3 replication: delete markers are replicated only in mirror (`deleteMarkerReplication`);
  S3 never replicates the deletion of a specific version, so old versions stay in the replica.
- Azure object replication always replicates deletes (a deleted blob's current version becomes
  a previous version in the destination too; versions are kept). It has no switch to keep
  deleted blobs, so `incremental` warns that deletes reach the replica.
- Storage Transfer Service: `deleteObjectsUniqueInSink` only in mirror.
- DataSync: `preserveDeletedFiles` REMOVE in mirror, PRESERVE in incremental.
- Data Factory Copy never deletes in the sink: mirror warns.

Data safety (design 8): every bucket, storage account, blob container (and the resource group
holding the accounts) is `protect=True`, versioned, encrypted and never public. Credentials are
avoided where the services federate (S3 replication and DataSync assume IAM roles, Storage
Transfer assumes an AWS role through Google's OIDC identity, Data Factory writes with its managed
identity); where a key is unavoidable (HMAC for GCS, an access key for Data Factory's S3 source,
account SAS for Azure sources) it is a Pulumi secret and belongs to a principal that can only
read the primary bucket. IAM is one role/principal per mechanism.
"""

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_command as command
from pulumi_aws import datasync, iam, s3
from pulumi_azure_native import authorization, datafactory, resources
from pulumi_azure_native import storage as azstorage
from pulumi_gcp import serviceaccount
from pulumi_gcp import storage as gcs

from optimizer.replication import MECHANISMS, mechanism

from .aliases import component_opts
from .naming import fit, short_hash
from .validate import check_args

MODES = ("incremental", "mirror")
CONTAINER = "datasets"
# Deterministic dates: a preview must not change by itself. Schedules start on this day (a
# past start date runs at the next interval); account SAS tokens for Azure sources are valid
# for a year from it and must be rotated by then (a new date here rolls every job).
SCHEDULE_START = (2026, 12, 1)
# The Data Factory REST API version whose triggers/{name}/start and /stop the program calls.
ADF_API_VERSION = "2018-06-01"
SAS_START = "2026-12-01T00:00:00Z"
SAS_EXPIRY = "2027-12-01T00:00:00Z"
# Azure object replication copies only blobs created after the policy unless the rule's
# minimum creation time is this sentinel ("copy all existing blobs").
ALL_EXISTING_BLOBS = "1601-01-01T00:00:00Z"
# Built-in role "Storage Blob Data Contributor" (same id in every tenant).
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
# Azure allows a source account at most two object replication destination accounts.
MAX_OBJECT_REPLICATION_DESTINATIONS = 2
GCS_ENDPOINT = "storage.googleapis.com"


class ReplicationTargetArgs(TypedDict):
    """One serving region that gets a replica."""

    region: str
    """`cloud/region` of the replica, e.g. `gcp/europe-west4`."""
    mechanism: str
    """Plan id of the mechanism that copies into it, e.g. `gcp-storage-transfer`."""


class DatasetReplicationArgs(TypedDict):
    """The plan's `replication` section plus naming and tags.

    The explicit provider per `cloud/region` is not an arg (a provider resource per location is
    not expressible in a Pulumi package schema): Python callers pass `providers=` to
    `DatasetReplication`; other languages pass one provider per cloud as the `providers`
    resource option.
    """

    primary: str
    """`cloud/region` that holds the primary bucket."""
    targets: Sequence[ReplicationTargetArgs]
    """Regions that get a replica, each with its mechanism."""
    mode: str
    """`incremental` (never delete in a replica) or `mirror` (propagate deletes)."""
    interval_minutes: int
    """Schedule of the scheduled mechanisms, minutes (the plan's `intervalMinutes`)."""
    name_prefix: str
    """Prefix of every physical name, e.g. `tc-prod`."""
    tags: Mapping[str, str]
    """Cost-allocation tags (AWS tags, Azure tags, GCP labels)."""
    gcp_project: NotRequired[str]
    """GCP project of GCS buckets and transfer jobs; required when a location is on GCP."""


@dataclass
class _Store:
    """One location's bucket (or account + container) and what other resources need of it."""

    location: str
    cloud: str
    region: str
    provider: pulumi.ProviderResource | None
    name: str  # S3/GCS bucket name or storage account name
    url: pulumi.Output[str]
    ready: list[pulumi.Resource] = field(default_factory=list)  # versioning etc. in place
    arn: pulumi.Output[str] | None = None  # aws
    bucket_id: pulumi.Output[str] | None = None  # aws: the bucket's id (its name)
    account: "azstorage.StorageAccount | None" = None  # azure
    group: "resources.ResourceGroup | None" = None  # azure
    group_name: str = ""  # azure
    container: str = CONTAINER  # azure


def _split(location: str) -> tuple[str, str]:
    cloud, _, region = location.partition("/")
    if cloud not in ("aws", "azure", "gcp") or not region:
        raise ValueError(f"location {location!r} is not cloud/region")
    return cloud, region


def global_name(prefix: str, location: str, rule: str) -> str:
    """A globally unique physical name: readable prefix and region, then a stable hash of both.

    The hash keeps two stacks (or two regions whose names were shortened) apart; it depends
    only on the prefix and the location, so the name never changes between runs.
    """
    _, region = _split(location)
    h = short_hash(prefix + location)
    if rule == "storage-account":  # 3-24 lowercase alphanumerics, no separator
        base = re.sub(r"[^a-z0-9]", "", f"{prefix}{region}".lower())
        return fit(base[: 24 - len(h)] + h, rule)
    base = re.sub(r"[^a-z0-9-]+", "-", f"{prefix}-{region}".lower()).strip("-")
    return fit(f"{base[: 63 - len(h) - 1].rstrip('-')}-{h}", rule)


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(actions: Sequence[str], resources_: Sequence[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(actions), "Resource": list(resources_)}


def _assume(service: str) -> str:
    return _policy(
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    )


def _expression(value: str) -> dict[str, str]:
    """A Data Factory dynamic-content value."""
    return {"value": value, "type": "Expression"}


def _blob_contributor(account_id: str) -> str:
    """The role definition id of "Storage Blob Data Contributor" in the account's subscription."""
    subscription = account_id.split("/resourceGroups/")[0]
    return (
        f"{subscription}/providers/Microsoft.Authorization/roleDefinitions/{BLOB_DATA_CONTRIBUTOR}"
    )


def rate_expression(minutes: int) -> str:
    """An EventBridge rate expression: `rate(1 hour)`, `rate(2 hours)`, `rate(90 minutes)`."""
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"rate({hours} hour{'s' if hours > 1 else ''})"
    return f"rate({minutes} minute{'s' if minutes > 1 else ''})"


class DatasetReplication(pulumi.ComponentResource):
    """Primary dataset storage, one replica per target region, and the mechanisms between them."""

    buckets: dict[str, pulumi.Output[str]]
    """`cloud/region` -> bucket URL (`s3://...`, `https://<acct>.blob.core.windows.net/<c>`,
    `gs://...`)."""
    mechanisms: dict[str, str]
    """Target `cloud/region` -> mechanism id."""

    def __init__(
        self,
        name: str,
        args: DatasetReplicationArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        providers: Mapping[str, pulumi.ProviderResource] | None = None,
    ) -> None:
        """`providers`: one explicit provider per `cloud/region` of the primary and every
        target (Python only). Without it every location uses the provider this component
        inherits for its cloud (`opts.providers`), so each cloud may then hold one location
        only, in that provider's region."""
        check_args("DatasetReplication", name, args, DatasetReplicationArgs)
        super().__init__(
            "tricloud:index:DatasetReplication",
            name,
            {},
            component_opts("tricloud:index:DatasetReplication", opts),
        )
        if providers is None:
            # Before 0.2 the providers were an arg; still accepted until the next major.
            providers = args.get("providers")  # type: ignore[typeddict-item]
        self._providers: Mapping[str, pulumi.ProviderResource | None] | None = providers
        self._name = name
        self._prefix = args["name_prefix"]
        self._tags = dict(args["tags"])
        self._mode = args["mode"]
        self._interval = int(args["interval_minutes"])
        self._project = args.get("gcp_project", "")
        self._command: command.Provider | None = None  # made on first use (Data Factory)
        self._validate(args)
        primary = args["primary"]
        targets = sorted(args["targets"], key=lambda t: t["region"])
        self.mechanisms = {t["region"]: t["mechanism"] for t in targets}

        by_mechanism: dict[str, list[str]] = {}
        for t in targets:
            by_mechanism.setdefault(t["mechanism"], []).append(t["region"])
        src_cloud, _ = _split(primary)
        # Account SAS is signed with the account key: allow shared keys only on a primary
        # account that a SAS-based service reads (Storage Transfer); everywhere else Entra ID.
        sas_source = src_cloud == "azure" and "gcp-storage-transfer" in by_mechanism
        change_feed = "azure-object-replication" in by_mechanism

        self._stores: dict[str, _Store] = {}
        for location in [primary, *(t["region"] for t in targets)]:
            self._stores[location] = self._storage(
                location,
                self._providers[location] if self._providers is not None else None,
                shared_key=sas_source and location == primary,
                change_feed=change_feed and location == primary,
            )
        self.buckets = {loc: s.url for loc, s in self._stores.items()}

        src = self._stores[primary]
        if "s3-replication" in by_mechanism:
            self._s3_replication(src, [self._stores[r] for r in by_mechanism["s3-replication"]])
        if "azure-object-replication" in by_mechanism:
            self._object_replication(
                src, [self._stores[r] for r in by_mechanism["azure-object-replication"]]
            )
        if "gcp-storage-transfer" in by_mechanism:
            self._storage_transfer(
                src, [self._stores[r] for r in by_mechanism["gcp-storage-transfer"]]
            )
        if "aws-datasync" in by_mechanism:
            self._datasync(src, [self._stores[r] for r in by_mechanism["aws-datasync"]])
        if "azure-data-factory" in by_mechanism:
            self._data_factory(src, [self._stores[r] for r in by_mechanism["azure-data-factory"]])

        self.register_outputs({"buckets": self.buckets, "mechanisms": self.mechanisms})

    # --- checks ----------------------------------------------------------------------------

    def _validate(self, args: DatasetReplicationArgs) -> None:
        """A caller's mistake (the plan and settings are validated before): fail before any
        resource exists."""
        problems = []
        if self._mode not in MODES:
            problems.append(f"mode {self._mode!r} is not one of {', '.join(MODES)}")
        if self._interval < 1:
            problems.append(f"interval_minutes {self._interval} < 1")
        src_cloud, _ = _split(args["primary"])
        locations = [args["primary"]]
        for t in args["targets"]:
            dst_cloud, _ = _split(t["region"])
            if t["region"] in locations:
                problems.append(f"{t['region']} is the primary or listed twice")
            locations.append(t["region"])
            expected = mechanism(src_cloud, dst_cloud)
            if t["mechanism"] != expected:
                problems.append(
                    f"{args['primary']} -> {t['region']}: mechanism {t['mechanism']!r}, "
                    f"expected {expected!r}"
                )
        if self._providers is not None:
            problems += [
                f"no provider for {loc}" for loc in locations if loc not in self._providers
            ]
        else:
            clouds = [_split(loc)[0] for loc in locations]
            problems += [
                f"{cloud}: {clouds.count(cloud)} locations share the inherited {cloud} provider; "
                "pass providers= (one per cloud/region)"
                for cloud in sorted(set(clouds))
                if clouds.count(cloud) > 1
            ]
        if any(_split(loc)[0] == "gcp" for loc in locations) and not args.get("gcp_project"):
            problems.append("gcp_project is required when a location is on GCP")
        if problems:
            raise ValueError("DatasetReplication: " + "; ".join(problems))

    def _opts(self, store_or_provider: _Store | pulumi.ProviderResource, **kw: Any):
        provider = (
            store_or_provider.provider
            if isinstance(store_or_provider, _Store)
            else store_or_provider
        )
        return pulumi.ResourceOptions(parent=self, provider=provider, **kw)

    def _schedule_minutes(self, mechanism_id: str, targets: Sequence[_Store]) -> int:
        """The plan's interval, raised to what the service supports (with a warning)."""
        floor = MECHANISMS[mechanism_id] or 0
        if self._interval >= floor:
            return self._interval
        for t in targets:
            pulumi.log.warn(
                f"replication to {t.location} ({mechanism_id}): the service runs at most every "
                f"{floor} minutes, not every {self._interval}; the replica is staler than asked",
                self,
            )
        return floor

    # --- storage ---------------------------------------------------------------------------

    def _storage(
        self,
        location: str,
        provider: pulumi.ProviderResource | None,
        shared_key: bool,
        change_feed: bool,
    ) -> _Store:
        cloud, region = _split(location)
        key = f"{self._name}-{cloud}-{region}"
        if cloud == "aws":
            return self._s3_bucket(key, location, region, provider)
        if cloud == "azure":
            return self._azure_account(key, location, region, provider, shared_key, change_feed)
        return self._gcs_bucket(key, location, region, provider)

    def _s3_bucket(
        self, key: str, location: str, region: str, provider: pulumi.ProviderResource | None
    ) -> _Store:
        bucket_name = global_name(self._prefix, location, "s3-bucket")
        bucket = s3.Bucket(
            key,
            bucket=bucket_name,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=True),
        )
        versioning = s3.BucketVersioning(
            f"{key}-versioning",
            bucket=bucket.id,
            versioning_configuration=s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=self._opts(provider),
        )
        # SSE-S3 (AES256): every replication service reads it without KMS grants; a
        # customer-managed key would need the key policy to admit each mechanism's role and
        # S3 replication's SSE-KMS source selection per destination key.
        encryption = s3.BucketServerSideEncryptionConfiguration(
            f"{key}-encryption",
            bucket=bucket.id,
            rules=[
                s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                )
            ],
            opts=self._opts(provider),
        )
        block = s3.BucketPublicAccessBlock(
            f"{key}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._opts(provider),
        )
        ownership = s3.BucketOwnershipControls(
            f"{key}-ownership",
            bucket=bucket.id,
            rule=s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=self._opts(provider),
        )
        return _Store(
            location=location,
            cloud="aws",
            region=region,
            provider=provider,
            name=bucket_name,
            url=pulumi.Output.from_input(f"s3://{bucket_name}"),
            ready=[versioning, encryption, block, ownership],
            arn=bucket.arn,
            bucket_id=bucket.id,
        )

    def _azure_account(
        self,
        key: str,
        location: str,
        region: str,
        provider: pulumi.ProviderResource | None,
        shared_key: bool,
        change_feed: bool,
    ) -> _Store:
        # Deleting a resource group deletes the accounts in it: it is protected as well.
        group_name = fit(f"{self._prefix}-data-{region}", "azure-resource-group")
        group = resources.ResourceGroup(
            f"{key}-rg",
            resource_group_name=group_name,
            location=region,
            tags=self._tags,
            opts=self._opts(provider, protect=True),
        )
        account_name = global_name(self._prefix, location, "storage-account")
        account = azstorage.StorageAccount(
            key,
            account_name=account_name,
            resource_group_name=group_name,
            location=region,
            kind=azstorage.Kind.STORAGE_V2,
            sku=azstorage.SkuArgs(name=azstorage.SkuName.STANDARD_LRS),
            enable_https_traffic_only=True,
            minimum_tls_version=azstorage.MinimumTlsVersion.TLS1_2,
            allow_blob_public_access=False,
            allow_shared_key_access=shared_key,
            allow_cross_tenant_replication=False,
            default_to_o_auth_authentication=True,
            encryption=azstorage.EncryptionArgs(
                key_source=azstorage.KeySource.MICROSOFT_STORAGE,
                require_infrastructure_encryption=True,
                services=azstorage.EncryptionServicesArgs(
                    blob=azstorage.EncryptionServiceArgs(
                        enabled=True, key_type=azstorage.KeyType.ACCOUNT
                    ),
                ),
            ),
            tags=self._tags,
            opts=self._opts(provider, protect=True, depends_on=[group]),
        )
        properties = azstorage.BlobServiceProperties(
            f"{key}-blob-service",
            account_name=account_name,
            resource_group_name=group_name,
            blob_services_name="default",
            is_versioning_enabled=True,
            # Object replication reads the source account's change feed.
            change_feed=azstorage.ChangeFeedArgs(enabled=True) if change_feed else None,
            opts=self._opts(provider, depends_on=[account]),
        )
        container = azstorage.BlobContainer(
            f"{key}-container",
            account_name=account_name,
            resource_group_name=group_name,
            container_name=fit(CONTAINER, "blob-container"),
            public_access=azstorage.PublicAccess.NONE,
            opts=self._opts(provider, protect=True, depends_on=[account]),
        )
        return _Store(
            location=location,
            cloud="azure",
            region=region,
            provider=provider,
            name=account_name,
            url=pulumi.Output.from_input(
                f"https://{account_name}.blob.core.windows.net/{CONTAINER}"
            ),
            ready=[properties, container],
            account=account,
            group=group,
            group_name=group_name,
        )

    def _gcs_bucket(
        self, key: str, location: str, region: str, provider: pulumi.ProviderResource | None
    ) -> _Store:
        bucket_name = global_name(self._prefix, location, "gcs-bucket")
        # GCS encrypts every object at rest (Google-managed keys); nothing to switch on.
        bucket = gcs.Bucket(
            key,
            name=bucket_name,
            project=self._project,
            location=region.upper(),
            versioning=gcs.BucketVersioningArgs(enabled=True),
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            labels=self._tags,
            opts=self._opts(provider, protect=True),
        )
        return _Store(
            location=location,
            cloud="gcp",
            region=region,
            provider=provider,
            name=bucket_name,
            url=pulumi.Output.from_input(f"gs://{bucket_name}"),
            ready=[bucket],
        )

    # --- aws -> aws ------------------------------------------------------------------------

    def _s3_replication(self, src: _Store, dests: Sequence[_Store]) -> None:
        """One replication configuration on the primary bucket with a rule per destination
        (S3 allows one configuration per bucket), assumed through one role."""
        mirror = self._mode == "mirror"
        key = f"{self._name}-s3-replication"
        role = iam.Role(
            key,
            name=fit(f"{self._prefix}-s3-replication", "iam-role"),
            assume_role_policy=_assume("s3.amazonaws.com"),
            tags=self._tags,
            opts=self._opts(src),
        )
        # Delete markers are replicated only in mirror: the role may not even write them else.
        write = ["s3:ReplicateObject", "s3:ReplicateTags"] + (
            ["s3:ReplicateDelete"] if mirror else []
        )
        policy = iam.RolePolicy(
            key,
            role=role.id,
            name="replicate",
            policy=pulumi.Output.all(src.arn, *(d.arn for d in dests)).apply(
                lambda arns: _policy(
                    _allow(["s3:GetReplicationConfiguration", "s3:ListBucket"], [arns[0]]),
                    _allow(
                        [
                            "s3:GetObjectVersionForReplication",
                            "s3:GetObjectVersionAcl",
                            "s3:GetObjectVersionTagging",
                        ],
                        [f"{arns[0]}/*"],
                    ),
                    _allow(write, [f"{a}/*" for a in arns[1:]]),
                )
            ),
            opts=self._opts(src),
        )
        status = "Enabled" if mirror else "Disabled"
        s3.BucketReplicationConfig(
            key,
            bucket=src.bucket_id,
            role=role.arn,
            rules=[
                s3.BucketReplicationConfigRuleArgs(
                    id=f"to-{d.region}",
                    priority=i,
                    status="Enabled",
                    # An empty filter (whole bucket) is what allows several destinations and
                    # delete marker replication (replication configuration V2).
                    filter=s3.BucketReplicationConfigRuleFilterArgs(),
                    destination=s3.BucketReplicationConfigRuleDestinationArgs(bucket=d.arn),
                    delete_marker_replication=s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                        status=status
                    ),
                )
                for i, d in enumerate(dests)
            ],
            # Replication requires versioning on both sides before the configuration exists.
            opts=self._opts(
                src, depends_on=[policy, *src.ready, *(r for d in dests for r in d.ready)]
            ),
        )

    # --- azure -> azure --------------------------------------------------------------------

    def _object_replication(self, src: _Store, dests: Sequence[_Store]) -> None:
        """A policy on each destination account ("default": Azure assigns the id and rule ids),
        then the same policy on the source account with those ids."""
        assert src.account is not None and src.group is not None
        if len(dests) > MAX_OBJECT_REPLICATION_DESTINATIONS:
            pulumi.log.warn(
                f"azure-object-replication: {src.location} replicates to "
                f"{', '.join(d.location for d in dests)}, but Azure allows a source account at "
                f"most {MAX_OBJECT_REPLICATION_DESTINATIONS} destination accounts; the policies "
                "beyond that fail to deploy",
                self,
            )
        for d in dests:
            assert d.account is not None and d.group is not None
            if self._mode == "incremental":
                # Object replication replicates every write and delete from the change feed:
                # a blob deleted in the source loses its current version in the destination
                # too (its previous versions are kept, versioning is on). It has no option to
                # keep deleted blobs, so incremental cannot be honoured exactly.
                pulumi.log.warn(
                    f"replication to {d.location} (azure-object-replication): Azure object "
                    "replication propagates deletes (the replica keeps them only as previous "
                    "versions); incremental mode cannot keep deleted blobs current there",
                    self,
                )
            key = f"{self._name}-{d.cloud}-{d.region}-object-replication"
            dest_policy = azstorage.ObjectReplicationPolicy(
                f"{key}-destination",
                account_name=d.name,
                resource_group_name=d.group_name,
                object_replication_policy_id="default",
                # Full resource ids: required while cross-tenant replication is disallowed.
                source_account=src.account.id,
                destination_account=d.account.id,
                rules=[
                    azstorage.ObjectReplicationPolicyRuleArgs(
                        source_container=src.container,
                        destination_container=d.container,
                        filters=azstorage.ObjectReplicationPolicyFilterArgs(
                            min_creation_time=ALL_EXISTING_BLOBS
                        ),
                    )
                ],
                opts=self._opts(d, depends_on=[*src.ready, *d.ready]),
            )
            # On the source account: named after the primary's side, not the replica's.
            azstorage.ObjectReplicationPolicy(
                f"{self._name}-object-replication-to-{d.cloud}-{d.region}",
                account_name=src.name,
                resource_group_name=src.group_name,
                object_replication_policy_id=dest_policy.policy_id,
                source_account=src.account.id,
                destination_account=d.account.id,
                rules=[
                    azstorage.ObjectReplicationPolicyRuleArgs(
                        rule_id=dest_policy.rules.apply(
                            lambda rules: rules[0].rule_id if rules else None
                        ),
                        source_container=src.container,
                        destination_container=d.container,
                        filters=azstorage.ObjectReplicationPolicyFilterArgs(
                            min_creation_time=ALL_EXISTING_BLOBS
                        ),
                    )
                ],
                opts=self._opts(src, depends_on=[*src.ready]),
            )

    # --- any -> gcp ------------------------------------------------------------------------

    def _storage_transfer(self, src: _Store, dests: Sequence[_Store]) -> None:
        """One Storage Transfer job per GCS replica, run by the project's transfer agent."""
        minutes = self._schedule_minutes("gcp-storage-transfer", dests)
        mirror = self._mode == "mirror"
        agent = gcs.get_transfer_project_service_account_output(
            project=self._project,
            opts=pulumi.InvokeOutputOptions(parent=self, provider=dests[0].provider),
        )
        member = agent.email.apply(lambda e: f"serviceAccount:{e}")
        source_ready: list[pulumi.Resource] = []
        source: dict[str, Any] = {}
        if src.cloud == "aws":
            # No access key: the transfer agent assumes this role with its Google identity
            # (web identity from accounts.google.com; the subject is the agent's unique id).
            role = iam.Role(
                f"{self._name}-storage-transfer",
                name=fit(f"{self._prefix}-storage-transfer", "iam-role"),
                assume_role_policy=agent.subject_id.apply(
                    lambda sub: _policy(
                        {
                            "Effect": "Allow",
                            "Principal": {"Federated": "accounts.google.com"},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {"StringEquals": {"accounts.google.com:sub": sub}},
                        }
                    )
                ),
                tags=self._tags,
                opts=self._opts(src),
            )
            source_ready.append(
                iam.RolePolicy(
                    f"{self._name}-storage-transfer",
                    role=role.id,
                    name="read-primary",
                    policy=src.arn.apply(
                        lambda arn: _policy(
                            _allow(["s3:ListBucket", "s3:GetBucketLocation"], [arn]),
                            _allow(["s3:GetObject"], [f"{arn}/*"]),
                        )
                    ),
                    opts=self._opts(src),
                )
            )
            source["aws_s3_data_source"] = gcs.TransferJobTransferSpecAwsS3DataSourceArgs(
                bucket_name=src.name, role_arn=role.arn
            )
        elif src.cloud == "azure":
            assert src.account is not None and src.group is not None
            sas = self._account_sas(src)
            source["azure_blob_storage_data_source"] = (
                gcs.TransferJobTransferSpecAzureBlobStorageDataSourceArgs(
                    storage_account=src.name,
                    container=src.container,
                    azure_credentials=gcs.TransferJobTransferSpecAzureBlobStorageDataSourceAzureCredentialsArgs(
                        sas_token=sas
                    ),
                )
            )
        else:
            key = f"{self._name}-storage-transfer-source"
            for role_name in ("roles/storage.objectViewer", "roles/storage.legacyBucketReader"):
                source_ready.append(
                    gcs.BucketIAMMember(
                        f"{key}-{role_name.rsplit('.', 1)[1].lower()}",
                        bucket=src.name,
                        role=role_name,
                        member=member,
                        opts=self._opts(src, depends_on=src.ready),
                    )
                )
            source["gcs_data_source"] = gcs.TransferJobTransferSpecGcsDataSourceArgs(
                bucket_name=src.name
            )
        year, month, day = SCHEDULE_START
        for d in dests:
            key = f"{self._name}-{d.cloud}-{d.region}-storage-transfer"
            sink = gcs.BucketIAMMember(
                f"{key}-sink",
                bucket=d.name,
                role="roles/storage.legacyBucketWriter",
                member=member,
                opts=self._opts(d, depends_on=d.ready),
            )
            gcs.TransferJob(
                key,
                name=fit(f"transferJobs/{self._prefix}-to-{d.region}", "sts-job"),
                description=f"{src.location} -> {d.location} ({self._mode})",
                project=self._project,
                transfer_spec=gcs.TransferJobTransferSpecArgs(
                    **source,
                    gcs_data_sink=gcs.TransferJobTransferSpecGcsDataSinkArgs(bucket_name=d.name),
                    transfer_options=gcs.TransferJobTransferSpecTransferOptionsArgs(
                        delete_objects_unique_in_sink=mirror,
                        overwrite_when="DIFFERENT",
                    ),
                ),
                schedule=gcs.TransferJobScheduleArgs(
                    schedule_start_date=gcs.TransferJobScheduleScheduleStartDateArgs(
                        year=year, month=month, day=day
                    ),
                    start_time_of_day=gcs.TransferJobScheduleStartTimeOfDayArgs(
                        hours=0, minutes=0, seconds=0, nanos=0
                    ),
                    repeat_interval=f"{minutes * 60}s",
                ),
                status="ENABLED",
                opts=self._opts(d, depends_on=[sink, *source_ready]),
            )

    def _account_sas(self, src: _Store) -> pulumi.Output[str]:
        """A read/list account SAS for the primary container's account, as a secret."""
        assert src.account is not None and src.group is not None
        sas = azstorage.list_storage_account_sas_output(
            account_name=src.name,
            resource_group_name=src.group_name,
            services=azstorage.Services.B,
            resource_types="co",
            permissions="rl",
            protocols=azstorage.HttpProtocol.HTTPS,
            shared_access_start_time=SAS_START,
            shared_access_expiry_time=SAS_EXPIRY,
            opts=pulumi.InvokeOutputOptions(
                parent=self, provider=src.provider, depends_on=[src.account]
            ),
        )
        return pulumi.Output.secret(sas.account_sas_token)

    # --- gcp/azure -> aws ------------------------------------------------------------------

    def _datasync(self, src: _Store, dests: Sequence[_Store]) -> None:
        """Per S3 replica: a role DataSync assumes to write it, its S3 location, and a task from
        the primary (agentless Enhanced mode for GCS through its S3-compatible API)."""
        # Only a GCS source gets a task (see below), so only then does the schedule matter.
        minutes = self._schedule_minutes("aws-datasync", dests) if src.cloud == "gcp" else 0
        mirror = self._mode == "mirror"
        hmac: gcs.HmacKey | None = None
        if src.cloud == "gcp":
            hmac = self._gcs_reader(src, "datasync")
        for d in dests:
            key = f"{self._name}-{d.cloud}-{d.region}-datasync"
            role = iam.Role(
                key,
                name=fit(f"{self._prefix}-datasync-{d.region}", "iam-role"),
                assume_role_policy=_assume("datasync.amazonaws.com"),
                tags=self._tags,
                opts=self._opts(d),
            )
            policy = iam.RolePolicy(
                key,
                role=role.id,
                name="write-replica",
                policy=d.arn.apply(
                    lambda arn: _policy(
                        _allow(
                            [
                                "s3:GetBucketLocation",
                                "s3:ListBucket",
                                "s3:ListBucketMultipartUploads",
                            ],
                            [arn],
                        ),
                        _allow(
                            [
                                "s3:AbortMultipartUpload",
                                "s3:DeleteObject",
                                "s3:GetObject",
                                "s3:GetObjectTagging",
                                "s3:ListMultipartUploadParts",
                                "s3:PutObject",
                                "s3:PutObjectTagging",
                            ],
                            [f"{arn}/*"],
                        ),
                    )
                ),
                opts=self._opts(d),
            )
            destination = datasync.S3Location(
                key,
                s3_bucket_arn=d.arn,
                subdirectory="/",
                s3_config=datasync.S3LocationS3ConfigArgs(bucket_access_role_arn=role.arn),
                tags=self._tags,
                opts=self._opts(d, depends_on=[policy, *d.ready]),
            )
            if src.cloud != "gcp":
                # The DataSync API takes Azure Blob agentless in Enhanced mode, but the AWS
                # provider still requires agent_arns on LocationAzureBlob
                # (hashicorp/terraform-provider-aws#43066). An agent is a VM from the DataSync
                # image, activated over HTTP from where `pulumi up` runs; tricloud does not run
                # one, so no task is declared until the provider accepts agentless locations.
                pulumi.log.warn(
                    f"replication to {d.location} (aws-datasync) from {src.location}: the AWS "
                    "provider requires a DataSync agent for Azure Blob sources "
                    "(LocationAzureBlob.agent_arns; terraform-provider-aws#43066), which this "
                    "program does not deploy; the replica bucket, role and S3 location exist but "
                    "no task copies into it. Put the replication primary on AWS or GCP "
                    "(tricloud:replication.primary) to avoid this",
                    self,
                )
                continue
            assert hmac is not None
            source = datasync.LocationObjectStorage(
                f"{key}-source",
                server_hostname=GCS_ENDPOINT,
                server_protocol="HTTPS",
                server_port=443,
                bucket_name=src.name,
                subdirectory="/",
                access_key=hmac.access_id,
                secret_key=pulumi.Output.secret(hmac.secret),
                tags=self._tags,
                opts=self._opts(d),
            )
            datasync.Task(
                key,
                name=fit(f"{self._prefix}-{src.region}-to-{d.region}", "datasync-task"),
                source_location_arn=source.arn,
                destination_location_arn=destination.arn,
                # Enhanced mode transfers from other clouds without an agent.
                task_mode="ENHANCED",
                options=datasync.TaskOptionsArgs(
                    transfer_mode="CHANGED",
                    verify_mode="ONLY_FILES_TRANSFERRED",
                    preserve_deleted_files="REMOVE" if mirror else "PRESERVE",
                    # GCS's XML API has no object tagging.
                    object_tags="NONE",
                ),
                schedule=datasync.TaskScheduleArgs(schedule_expression=rate_expression(minutes)),
                tags=self._tags,
                opts=self._opts(d),
            )

    def _gcs_reader(self, src: _Store, purpose: str) -> "gcs.HmacKey":
        """A service account that can only read the primary bucket, and its HMAC key (for
        services that speak the S3 API to GCS). One per mechanism."""
        key = f"{self._name}-{purpose}-reader"
        account = serviceaccount.Account(
            key,
            account_id=fit(f"{self._prefix}-{purpose}-read", "gcp-service-account"),
            display_name=f"{purpose} reads {src.name}",
            project=self._project,
            opts=self._opts(src),
        )
        grant = gcs.BucketIAMMember(
            key,
            bucket=src.name,
            role="roles/storage.objectViewer",
            member=account.email.apply(lambda e: f"serviceAccount:{e}"),
            opts=self._opts(src, depends_on=src.ready),
        )
        return gcs.HmacKey(
            key,
            service_account_email=account.email,
            project=self._project,
            opts=self._opts(src, depends_on=[grant]),
        )

    # --- aws/gcp -> azure ------------------------------------------------------------------

    def _data_factory(self, src: _Store, dests: Sequence[_Store]) -> None:
        """Per Azure replica: a factory whose identity writes the replica container, a Copy
        pipeline from the primary and a tumbling window trigger every interval."""
        minutes = self._schedule_minutes("azure-data-factory", dests)
        if src.cloud == "aws":
            source_service = self._s3_reader_for_adf(src)
        else:
            hmac = self._gcs_reader(src, "adf")
            source_service = datafactory.GoogleCloudStorageLinkedServiceArgs(
                type="GoogleCloudStorage",
                service_url=f"https://{GCS_ENDPOINT}",
                access_key_id=hmac.access_id,
                secret_access_key=datafactory.SecureStringArgs(
                    type="SecureString", value=pulumi.Output.secret(hmac.secret)
                ),
            )
        for d in dests:
            assert d.account is not None and d.group is not None
            if self._mode == "mirror":
                pulumi.log.warn(
                    f"replication to {d.location} (azure-data-factory): a Data Factory Copy "
                    "never deletes in the sink; objects deleted in the primary stay in this "
                    "replica (mirror asked for deletes)",
                    self,
                )
            key = f"{self._name}-{d.cloud}-{d.region}-adf"
            factory_name = global_name(f"{self._prefix}-adf", d.location, "adf-factory")
            factory = datafactory.Factory(
                key,
                factory_name=factory_name,
                resource_group_name=d.group_name,
                location=d.region,
                identity=datafactory.FactoryIdentityArgs(type="SystemAssigned"),
                tags=self._tags,
                opts=self._opts(d, depends_on=[d.group]),
            )
            # The factory's own identity writes the replica: no key for the sink.
            grant = authorization.RoleAssignment(
                key,
                role_assignment_name=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{key}/blob-writer")),
                scope=d.account.id,
                principal_id=factory.identity.apply(lambda i: i.principal_id if i else None),
                principal_type="ServicePrincipal",
                role_definition_id=d.account.id.apply(_blob_contributor),
                opts=self._opts(d),
            )
            common = {"factory_name": factory_name, "resource_group_name": d.group_name}
            names = {e: fit(e, "adf-entity") for e in ("primary", "replica", "replicate")}
            src_ls = datafactory.LinkedService(
                f"{key}-source",
                linked_service_name=names["primary"],
                properties=source_service,
                **common,
                opts=self._opts(d, depends_on=[factory]),
            )
            sink_ls = datafactory.LinkedService(
                f"{key}-sink",
                linked_service_name=names["replica"],
                # No credential: the factory's system-assigned identity authenticates.
                properties=datafactory.AzureBlobStorageLinkedServiceArgs(
                    type="AzureBlobStorage",
                    service_endpoint=f"https://{d.name}.blob.core.windows.net/",
                    account_kind="StorageV2",
                ),
                **common,
                opts=self._opts(d, depends_on=[factory, grant, *d.ready]),
            )
            location: Any
            if src.cloud == "aws":
                location = datafactory.AmazonS3LocationArgs(
                    type="AmazonS3Location", bucket_name=src.name
                )
                read_type = "AmazonS3ReadSettings"
            else:
                location = datafactory.GoogleCloudStorageLocationArgs(
                    type="GoogleCloudStorageLocation", bucket_name=src.name
                )
                read_type = "GoogleCloudStorageReadSettings"
            src_ds = datafactory.Dataset(
                f"{key}-source",
                dataset_name=names["primary"],
                properties=datafactory.BinaryDatasetArgs(
                    type="Binary",
                    linked_service_name=datafactory.LinkedServiceReferenceArgs(
                        reference_name=names["primary"], type="LinkedServiceReference"
                    ),
                    location=location,
                ),
                **common,
                opts=self._opts(d, depends_on=[src_ls]),
            )
            sink_ds = datafactory.Dataset(
                f"{key}-sink",
                dataset_name=names["replica"],
                properties=datafactory.BinaryDatasetArgs(
                    type="Binary",
                    linked_service_name=datafactory.LinkedServiceReferenceArgs(
                        reference_name=names["replica"], type="LinkedServiceReference"
                    ),
                    location=datafactory.AzureBlobStorageLocationArgs(
                        type="AzureBlobStorageLocation", container=d.container
                    ),
                ),
                **common,
                opts=self._opts(d, depends_on=[sink_ls]),
            )
            # Each run copies what changed in its trigger window: objects modified in
            # [windowStart, windowEnd), as the tumbling window hands them to the pipeline.
            read_settings = {
                "type": read_type,
                "recursive": True,
                "modifiedDatetimeStart": _expression("@pipeline().parameters.windowStart"),
                "modifiedDatetimeEnd": _expression("@pipeline().parameters.windowEnd"),
            }
            pipeline = datafactory.Pipeline(
                key,
                pipeline_name=names["replicate"],
                parameters={
                    "windowStart": datafactory.ParameterSpecificationArgs(type="String"),
                    "windowEnd": datafactory.ParameterSpecificationArgs(type="String"),
                },
                activities=[
                    datafactory.CopyActivityArgs(
                        name="copy",
                        type="Copy",
                        inputs=[
                            datafactory.DatasetReferenceArgs(
                                reference_name=names["primary"], type="DatasetReference"
                            )
                        ],
                        outputs=[
                            datafactory.DatasetReferenceArgs(
                                reference_name=names["replica"], type="DatasetReference"
                            )
                        ],
                        source=datafactory.BinarySourceArgs(
                            type="BinarySource", store_settings=read_settings
                        ),
                        sink=datafactory.BinarySinkArgs(
                            type="BinarySink",
                            store_settings=datafactory.AzureBlobStorageWriteSettingsArgs(
                                type="AzureBlobStorageWriteSettings",
                                copy_behavior="PreserveHierarchy",
                            ),
                        ),
                        policy=datafactory.ActivityPolicyArgs(
                            retry=3, retry_interval_in_seconds=60, secure_input=True
                        ),
                    )
                ],
                **common,
                opts=self._opts(d, depends_on=[src_ds, sink_ds]),
            )
            # Data Factory creates triggers stopped, and only a POST starts one (no resource
            # property can: pulumi-azure-native#3540); a started trigger cannot be updated or
            # deleted, so a change replaces it, its Command stopping it first.
            trigger = datafactory.Trigger(
                key,
                trigger_name=fit(f"every-{minutes}m", "adf-entity"),
                properties=datafactory.TumblingWindowTriggerArgs(
                    type="TumblingWindowTrigger",
                    frequency="Minute",
                    interval=minutes,
                    start_time="{:04d}-{:02d}-{:02d}T00:00:00Z".format(*SCHEDULE_START),
                    max_concurrency=1,
                    pipeline=datafactory.TriggerPipelineReferenceArgs(
                        pipeline_reference=datafactory.PipelineReferenceArgs(
                            reference_name=names["replicate"], type="PipelineReference"
                        ),
                        parameters={
                            "windowStart": "@trigger().outputs.windowStartTime",
                            "windowEnd": "@trigger().outputs.windowEndTime",
                        },
                    ),
                ),
                **common,
                opts=self._opts(
                    d, depends_on=[pipeline], replace_on_changes=["*"], delete_before_replace=True
                ),
            )
            self._start_trigger(key, trigger)

    def _start_trigger(self, key: str, trigger: "datafactory.Trigger") -> None:
        """Start a Data Factory trigger once it exists, stop it before it goes: `az rest` on
        the trigger's ARM id, with the Azure CLI session that deploys (`az login`, or
        `azure/login` with a federated credential in CI)."""
        if self._command is None:
            self._command = command.Provider(
                f"{self._name}-command", opts=pulumi.ResourceOptions(parent=self)
            )

        def call(action: str) -> pulumi.Output[str]:
            return trigger.id.apply(
                lambda arm_id: (
                    "az rest --method post --url "
                    f"'https://management.azure.com{arm_id}/{action}?api-version={ADF_API_VERSION}'"
                )
            )

        command.local.Command(
            f"{key}-start",
            create=call("start"),
            delete=call("stop"),
            triggers=[trigger.id],
            opts=pulumi.ResourceOptions(parent=self, provider=self._command),
        )

    def _s3_reader_for_adf(self, src: _Store) -> "datafactory.AmazonS3LinkedServiceArgs":
        """Data Factory reads S3 with an access key only: a dedicated user that can only list
        and read the primary bucket; its secret is a Pulumi secret."""
        key = f"{self._name}-adf-reader"
        user = iam.User(
            key,
            name=fit(f"{self._prefix}-adf-reader", "iam-user"),
            tags=self._tags,
            opts=self._opts(src),
        )
        iam.UserPolicy(
            key,
            user=user.name,
            name="read-primary",
            policy=src.arn.apply(
                lambda arn: _policy(
                    _allow(["s3:ListBucket", "s3:GetBucketLocation"], [arn]),
                    _allow(["s3:GetObject", "s3:GetObjectVersion"], [f"{arn}/*"]),
                )
            ),
            opts=self._opts(src),
        )
        access_key = iam.AccessKey(key, user=user.name, opts=self._opts(src))
        return datafactory.AmazonS3LinkedServiceArgs(
            type="AmazonS3",
            authentication_type="AccessKey",
            access_key_id=access_key.id,
            secret_access_key=datafactory.SecureStringArgs(
                type="SecureString", value=pulumi.Output.secret(access_key.secret)
            ),
        )
