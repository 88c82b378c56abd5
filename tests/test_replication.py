"""`DatasetReplication` under the mock engine: each direction of design 10 gets its mechanism with
the right source and sink, mode semantics, schedule, safe storage, valid names, secret
credentials and its region's provider.

Each case is a tiny program (explicit providers per region, one component) run once per
session. The mock engine's conventions used below: a resource's id is `<name>-id`, an AWS ARN
is `arn:aws:mock:::<type>/<name>`, made-up secrets contain `mock`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.naming import RULES
from components.replication import BLOB_DATA_CONTRIBUTOR, rate_expression
from optimizer.replication import interval_minutes, mechanism
from tools.plan.engine import SECRET, Capture, Registration, run_program

PROGRAM = """
import pulumi
from pulumi_aws import Provider as AwsProvider
from pulumi_azure_native import Provider as AzureProvider
from pulumi_gcp import Provider as GcpProvider

from components.replication import DatasetReplication

CASE = {case!r}
providers = {{}}
for loc in [CASE["primary"], *(t["region"] for t in CASE["targets"])]:
    cloud, region = loc.split("/")
    if cloud == "aws":
        providers[loc] = AwsProvider(f"aws-{{region}}", region=region)
    elif cloud == "azure":
        providers[loc] = AzureProvider(f"azure-{{region}}", location=region)
    else:
        providers[loc] = GcpProvider(f"gcp-{{region}}", project="tc-proj", region=region)
data = DatasetReplication(
    "data",
    {{
        "primary": CASE["primary"],
        "targets": CASE["targets"],
        "mode": CASE["mode"],
        "interval_minutes": CASE["interval"],
        "name_prefix": "tc-prod",
        "tags": TAGS,
        "providers": providers,
        **CASE["extra"],
    }},
)
pulumi.export("buckets", data.buckets)
pulumi.export("mechanisms", data.mechanisms)
"""
TAGS = {"team": "ml", "cost-center": "cc-42", "stack": "prod", "managed-by": "tricloud"}

# primary, targets, maxStalenessMinutes: together the five directions, each from every source.
DIRECTIONS = {
    "aws": (
        "aws/us-east-1",
        ["aws/eu-west-1", "aws/us-west-2", "gcp/europe-west4", "azure/westeurope"],
        90,
    ),
    "azure": ("azure/westeurope", ["azure/eastus", "gcp/us-central1", "aws/us-east-1"], 60),
    "gcp": ("gcp/europe-west4", ["gcp/us-central1", "aws/us-east-1", "azure/westeurope"], 150),
}
CASES = [f"{src}-{mode}" for src in DIRECTIONS for mode in ("incremental", "mirror")]
_captures: dict[str, tuple[dict, Capture]] = {}


def _case(primary: str, targets: list[str], mode: str, interval: int, **extra: Any) -> dict:
    src = primary.split("/")[0]
    return {
        "primary": primary,
        "targets": [{"region": t, "mechanism": mechanism(src, t.split("/")[0])} for t in targets],
        "mode": mode,
        "interval": interval,
        "extra": {"gcp_project": "tc-proj", **extra},
    }


def _run(tmp: Path, case: dict) -> Capture:
    program = tmp / "__main__.py"
    program.write_text(PROGRAM.format(case=case).replace("TAGS", repr(TAGS)))
    return run_program(program, project="repl", stack="test", config={})


def scenario(name: str, tmp_path_factory) -> tuple[dict, Capture]:
    """The case and its capture (run once per session)."""
    if name not in _captures:
        if name == "short-interval":
            primary, targets, _ = DIRECTIONS["gcp"]
            case = _case(primary, targets, "incremental", 15)
        else:
            src, mode = name.split("-")
            primary, targets, staleness = DIRECTIONS[src]
            mechs = [mechanism(src, t.split("/")[0]) for t in targets]
            case = _case(primary, targets, mode, interval_minutes(staleness, mechs))
            case["staleness"] = staleness
        _captures[name] = case, _run(tmp_path_factory.mktemp(name), case)
    return _captures[name]


@pytest.fixture(params=CASES)
def run(request, tmp_path_factory):
    return scenario(request.param, tmp_path_factory)


# --- helpers ------------------------------------------------------------------------------


def of(cap: Capture, type_: str) -> list[Registration]:
    return cap.of_type(type_)


def one(regs: list[Registration]) -> Registration:
    assert len(regs) == 1, [r.name for r in regs]
    return regs[0]


def key(location: str) -> str:
    """Resource name part of a location: `aws/us-east-1` -> `data-aws-us-east-1`."""
    return "data-" + location.replace("/", "-")


def store(cap: Capture, location: str) -> Registration:
    """The bucket (or storage account) of a location."""
    cloud = location.split("/")[0]
    type_ = {
        "aws": "aws:s3/bucket:Bucket",
        "azure": "azure-native:storage:StorageAccount",
        "gcp": "gcp:storage/bucket:Bucket",
    }[cloud]
    return one([r for r in of(cap, type_) if r.name == key(location)])


def physical(cap: Capture, location: str) -> str:
    r = store(cap, location)
    return r.inputs.get("bucket") or r.inputs.get("accountName") or r.inputs["name"]


def arn(reg: Registration) -> str:
    return f"arn:aws:mock:::{reg.type.split(':')[-1].lower()}/{reg.name}"


def targets_of(case: dict, mech: str) -> list[str]:
    return [t["region"] for t in case["targets"] if t["mechanism"] == mech]


def named(cap: Capture, type_: str, prefix: str) -> list[Registration]:
    return [r for r in of(cap, type_) if r.name.startswith(prefix)]


def walk(value: Any, path: str = ""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, f"{path}[{i}]")
    else:
        yield path, value


# --- storage: every bucket/account/container is versioned, encrypted, private, protected ---


def test_storage_is_versioned_encrypted_private_protected(run):
    case, cap = run
    locations = [case["primary"], *(t["region"] for t in case["targets"])]
    for loc in locations:
        cloud = loc.split("/")[0]
        s = store(cap, loc)
        assert s.protect, loc
        if cloud == "aws":
            assert s.inputs["tags"] == TAGS
            bucket = f"{s.name}-id"

            def on_bucket(type_: str, b: str = bucket) -> dict:
                return one([r for r in of(cap, type_) if r.inputs["bucket"] == b]).inputs

            v = on_bucket("aws:s3/bucketVersioning:BucketVersioning")
            assert v["versioningConfiguration"] == {"status": "Enabled"}
            enc = on_bucket(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
            )
            algo = enc["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
            assert algo in ("AES256", "aws:kms")
            block = on_bucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
            for flag in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            ):
                assert block[flag] is True
            own = on_bucket("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
            assert own["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        elif cloud == "azure":
            a = s.inputs
            assert a["kind"] == "StorageV2" and a["enableHttpsTrafficOnly"] is True
            assert a["minimumTlsVersion"] == "TLS1_2" and a["allowBlobPublicAccess"] is False
            assert a["encryption"]["requireInfrastructureEncryption"] is True
            assert a["encryption"]["services"]["blob"]["enabled"] is True
            assert a["tags"] == TAGS
            name = a["accountName"]
            props = one(
                [
                    r
                    for r in of(cap, "azure-native:storage:BlobServiceProperties")
                    if r.inputs["accountName"] == name
                ]
            )
            assert props.inputs["isVersioningEnabled"] is True
            container = one(
                [
                    r
                    for r in of(cap, "azure-native:storage:BlobContainer")
                    if r.inputs["accountName"] == name
                ]
            )
            assert container.protect and container.inputs["publicAccess"] == "None"
            group = one(
                [
                    r
                    for r in of(cap, "azure-native:resources:ResourceGroup")
                    if r.inputs["resourceGroupName"] == a["resourceGroupName"]
                ]
            )
            assert group.protect  # deleting it would delete the account
        else:
            b = s.inputs
            assert b["versioning"] == {"enabled": True}
            assert b["uniformBucketLevelAccess"] is True
            assert b["publicAccessPrevention"] == "enforced"
            assert b["location"] == loc.split("/")[1].upper()
            assert b["labels"] == TAGS
            # GCS encrypts every object at rest with Google-managed keys; nothing to declare.
    # No storage beyond the primary and the replicas.
    count = sum(
        len(of(cap, t))
        for t in (
            "aws:s3/bucket:Bucket",
            "azure-native:storage:StorageAccount",
            "gcp:storage/bucket:Bucket",
        )
    )
    assert count == len(locations)


def test_outputs_name_every_bucket_and_mechanism(run):
    case, cap = run
    buckets = cap.outputs["buckets"]
    assert set(buckets) == {case["primary"], *(t["region"] for t in case["targets"])}
    for loc, url in buckets.items():
        name = physical(cap, loc)
        expected = {
            "aws": f"s3://{name}",
            "azure": f"https://{name}.blob.core.windows.net/datasets",
            "gcp": f"gs://{name}",
        }[loc.split("/")[0]]
        assert url == expected
    assert cap.outputs["mechanisms"] == {t["region"]: t["mechanism"] for t in case["targets"]}


NAME_FIELDS = {
    "aws:s3/bucket:Bucket": ("bucket", "s3-bucket"),
    "gcp:storage/bucket:Bucket": ("name", "gcs-bucket"),
    "azure-native:storage:StorageAccount": ("accountName", "storage-account"),
    "azure-native:storage:BlobContainer": ("containerName", "blob-container"),
    "azure-native:resources:ResourceGroup": ("resourceGroupName", "azure-resource-group"),
    "aws:iam/role:Role": ("name", "iam-role"),
    "aws:iam/user:User": ("name", "iam-user"),
    "aws:datasync/task:Task": ("name", "datasync-task"),
    "gcp:storage/transferJob:TransferJob": ("name", "sts-job"),
    "gcp:serviceaccount/account:Account": ("accountId", "gcp-service-account"),
    "azure-native:datafactory:Factory": ("factoryName", "adf-factory"),
    "azure-native:datafactory:LinkedService": ("linkedServiceName", "adf-entity"),
    "azure-native:datafactory:Dataset": ("datasetName", "adf-entity"),
    "azure-native:datafactory:Pipeline": ("pipelineName", "adf-entity"),
    "azure-native:datafactory:Trigger": ("triggerName", "adf-entity"),
}


def test_names_satisfy_the_naming_rules(run):
    _, cap = run
    seen = 0
    for type_, (field, rule) in NAME_FIELDS.items():
        for r in of(cap, type_):
            assert RULES[rule].check(r.inputs[field]) is None, (r.name, r.inputs[field])
            seen += 1
    assert seen >= 8
    # Globally unique names differ between regions and carry the stable hash.
    globals_ = [r.inputs["bucket"] for r in of(cap, "aws:s3/bucket:Bucket")] + [
        r.inputs["accountName"] for r in of(cap, "azure-native:storage:StorageAccount")
    ]
    assert len(set(globals_)) == len(globals_)


def test_every_child_has_its_regions_provider(run):
    """Resources named after a location use that location's provider; the rest (credentials
    and roles that read the primary) use the primary's."""
    case, cap = run
    locations = [case["primary"], *(t["region"] for t in case["targets"])]
    for r in cap.resources:
        if not r.custom or r.type.startswith("pulumi:providers:"):
            continue
        if r.type == "command:local:Command":
            # runs on the deploying machine: the component's own command provider
            assert r.provider.endswith("$pulumi:providers:command::data-command"), r.provider
            continue
        assert r.provider, f"{r.name} has no explicit provider"
        owner = next((loc for loc in locations if r.name.startswith(key(loc))), case["primary"])
        assert r.provider.endswith("::" + owner.replace("/", "-")), (r.type, r.name, r.provider)


def test_credentials_are_secrets(run):
    _, cap = run
    credentials = 0
    for r in cap.resources:
        for path, value in walk(r.inputs):
            leaf = path.rsplit(".", 1)[-1]
            if leaf in ("secretKey", "sasToken") or path.endswith("secretAccessKey.value"):
                assert value == SECRET, (r.name, path)
                credentials += 1
            if isinstance(value, str):
                for plain in ("mock-secret-access-key", "mock-hmac", "sv=mock"):
                    assert plain not in value, (r.name, path)
    assert credentials >= 1
    # No long-lived AWS keys except Data Factory's S3 reader (it supports nothing else).
    keys = of(cap, "aws:iam/accessKey:AccessKey")
    assert all(k.name == "data-adf-reader" for k in keys)


# --- aws -> aws --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["incremental", "mirror"])
def test_s3_replication(mode, tmp_path_factory):
    case, cap = scenario(f"aws-{mode}", tmp_path_factory)
    dests = targets_of(case, "s3-replication")
    assert len(dests) == 2
    primary = store(cap, case["primary"])
    config = one(of(cap, "aws:s3/bucketReplicationConfig:BucketReplicationConfig"))
    assert config.inputs["bucket"] == f"{primary.name}-id"
    role = one([r for r in of(cap, "aws:iam/role:Role") if r.name == "data-s3-replication"])
    assert config.inputs["role"] == arn(role)
    assume = json.loads(role.inputs["assumeRolePolicy"])
    assert assume["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    rules = config.inputs["rules"]
    assert sorted(r["destination"]["bucket"] for r in rules) == sorted(
        arn(store(cap, d)) for d in dests
    )
    status = "Enabled" if mode == "mirror" else "Disabled"
    for r in rules:
        assert r["filter"] == {} and r["status"] == "Enabled"
        assert r["deleteMarkerReplication"] == {"status": status}
    assert len({r["priority"] for r in rules}) == len(rules)
    # Versioning on both sides exists before the configuration.
    versionings = {
        r.urn
        for r in of(cap, "aws:s3/bucketVersioning:BucketVersioning")
        if "-versioning" in r.name
    }
    assert versionings <= set(config.depends_on)
    # The role reads the primary and writes only the replicas; deletes only in mirror.
    policy = json.loads(
        one(
            [r for r in of(cap, "aws:iam/rolePolicy:RolePolicy") if r.name == "data-s3-replication"]
        ).inputs["policy"]
    )
    resources = {res for s in policy["Statement"] for res in s["Resource"]}
    allowed = {arn(primary), f"{arn(primary)}/*", *(f"{arn(store(cap, d))}/*" for d in dests)}
    assert resources == allowed
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert ("s3:ReplicateDelete" in actions) == (mode == "mirror")


# --- azure -> azure ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["incremental", "mirror"])
def test_azure_object_replication(mode, tmp_path_factory):
    case, cap = scenario(f"azure-{mode}", tmp_path_factory)
    (dest,) = targets_of(case, "azure-object-replication")
    src_acct, dst_acct = store(cap, case["primary"]), store(cap, dest)
    policies = of(cap, "azure-native:storage:ObjectReplicationPolicy")
    on_dest = one(
        [p for p in policies if p.inputs["accountName"] == dst_acct.inputs["accountName"]]
    )
    on_src = one([p for p in policies if p.inputs["accountName"] == src_acct.inputs["accountName"]])
    for p in (on_dest, on_src):
        assert p.inputs["sourceAccount"] == f"{src_acct.name}-id"
        assert p.inputs["destinationAccount"] == f"{dst_acct.name}-id"
        (rule,) = p.inputs["rules"]
        assert rule["sourceContainer"] == rule["destinationContainer"] == "datasets"
    assert on_dest.inputs["objectReplicationPolicyId"] == "default"
    # The source carries the id (and rule id) Azure assigned to the destination's policy.
    assert on_src.inputs["objectReplicationPolicyId"] not in ("", "default", None)
    assert on_src.inputs["rules"][0]["ruleId"]
    # Change feed on the source; versioning on both (checked for every account above).
    props = {
        r.inputs["accountName"]: r.inputs
        for r in of(cap, "azure-native:storage:BlobServiceProperties")
    }
    assert props[src_acct.inputs["accountName"]]["changeFeed"] == {"enabled": True}
    assert "changeFeed" not in props[dst_acct.inputs["accountName"]]
    # Object replication always replicates deletes: incremental says it cannot avoid them.
    warned = [w for w in cap.warnings if dest in w and "azure-object-replication" in w]
    if mode == "incremental":
        assert warned and "propagates deletes" in warned[0]
    else:
        assert not warned


# --- any -> gcp --------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_storage_transfer_to_gcs(name, tmp_path_factory):
    case, cap = scenario(name, tmp_path_factory)
    src_cloud = case["primary"].split("/")[0]
    mirror = case["mode"] == "mirror"
    dests = targets_of(case, "gcp-storage-transfer")
    jobs = of(cap, "gcp:storage/transferJob:TransferJob")
    assert len(jobs) == len(dests) == 1
    job = jobs[0].inputs
    spec = job["transferSpec"]
    assert spec["gcsDataSink"] == {"bucketName": physical(cap, dests[0])}
    sources = {k for k in spec if k.endswith("DataSource")}
    assert len(sources) == 1
    agent = "serviceAccount:project-"
    if src_cloud == "aws":
        s3src = spec["awsS3DataSource"]
        assert s3src["bucketName"] == physical(cap, case["primary"])
        assert "awsAccessKey" not in s3src  # no long-lived key: a role assumed via Google OIDC
        role = one([r for r in of(cap, "aws:iam/role:Role") if r.name == "data-storage-transfer"])
        assert s3src["roleArn"] == arn(role)
        (stmt,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert stmt["Principal"] == {"Federated": "accounts.google.com"}
        assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert stmt["Condition"]["StringEquals"]["accounts.google.com:sub"].isdigit()
        policy = json.loads(
            one(named(cap, "aws:iam/rolePolicy:RolePolicy", "data-storage-transfer")).inputs[
                "policy"
            ]
        )
        actions = {a for s in policy["Statement"] for a in s["Action"]}
        assert actions == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject"}
    elif src_cloud == "azure":
        az = spec["azureBlobStorageDataSource"]
        assert az["storageAccount"] == physical(cap, case["primary"])
        assert az["container"] == "datasets"
        assert az["azureCredentials"]["sasToken"] == SECRET
        # The SAS is signed with the account key: only this account allows shared keys.
        for acct in of(cap, "azure-native:storage:StorageAccount"):
            assert acct.inputs["allowSharedKeyAccess"] == (acct.name == key(case["primary"]))
    else:
        assert spec["gcsDataSource"] == {"bucketName": physical(cap, case["primary"])}
        grants = {
            r.inputs["role"]
            for r in of(cap, "gcp:storage/bucketIAMMember:BucketIAMMember")
            if r.inputs["bucket"] == physical(cap, case["primary"])
            and r.inputs["member"].startswith(agent)
        }
        assert grants == {"roles/storage.objectViewer", "roles/storage.legacyBucketReader"}
    sink_grant = one(
        [
            r
            for r in of(cap, "gcp:storage/bucketIAMMember:BucketIAMMember")
            if r.inputs["bucket"] == physical(cap, dests[0])
        ]
    )
    assert sink_grant.inputs["member"].startswith(agent)
    assert sink_grant.inputs["role"] == "roles/storage.legacyBucketWriter"
    assert spec["transferOptions"]["deleteObjectsUniqueInSink"] is mirror
    assert "objectConditions" not in spec  # time conditions are refused with deletes in sink
    seconds = int(job["schedule"]["repeatInterval"].removesuffix("s"))
    assert seconds == case["interval"] * 60 <= case["staleness"] * 60
    assert seconds >= 3600
    assert job["schedule"]["scheduleStartDate"] == {"year": 2026, "month": 12, "day": 1}


# --- gcp/azure -> aws ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["incremental", "mirror"])
def test_datasync_from_gcs(mode, tmp_path_factory):
    case, cap = scenario(f"gcp-{mode}", tmp_path_factory)
    (dest,) = targets_of(case, "aws-datasync")
    replica = store(cap, dest)
    target = one(of(cap, "aws:datasync/s3Location:S3Location"))
    assert target.inputs["s3BucketArn"] == arn(replica)
    role = one([r for r in of(cap, "aws:iam/role:Role") if r.name == f"{key(dest)}-datasync"])
    assert target.inputs["s3Config"] == {"bucketAccessRoleArn": arn(role)}
    assume = json.loads(role.inputs["assumeRolePolicy"])
    assert assume["Statement"][0]["Principal"] == {"Service": "datasync.amazonaws.com"}
    policy = json.loads(
        one(named(cap, "aws:iam/rolePolicy:RolePolicy", f"{key(dest)}-datasync")).inputs["policy"]
    )
    assert {res for s in policy["Statement"] for res in s["Resource"]} == {
        arn(replica),
        f"{arn(replica)}/*",
    }
    source = one(of(cap, "aws:datasync/locationObjectStorage:LocationObjectStorage"))
    src = source.inputs
    assert src["serverHostname"] == "storage.googleapis.com"
    assert (src["serverProtocol"], src["serverPort"]) == ("HTTPS", 443)
    assert src["bucketName"] == physical(cap, case["primary"])
    assert src["accessKey"].startswith("GOOG") and src["secretKey"] == SECRET
    assert "agentArns" not in src  # Enhanced mode reads other clouds without an agent
    # The HMAC key belongs to a service account that can only view the primary bucket.
    account = one(named(cap, "gcp:serviceaccount/account:Account", "data-datasync"))
    grants = [
        r
        for r in of(cap, "gcp:storage/bucketIAMMember:BucketIAMMember")
        if r.inputs["member"]
        == f"serviceAccount:{account.inputs['accountId']}@mock.iam.gserviceaccount.com"
    ]
    assert [(g.inputs["bucket"], g.inputs["role"]) for g in grants] == [
        (physical(cap, case["primary"]), "roles/storage.objectViewer")
    ]
    task = one(of(cap, "aws:datasync/task:Task")).inputs
    assert task["sourceLocationArn"] == arn(source)
    assert task["destinationLocationArn"] == arn(target)
    assert task["taskMode"] == "ENHANCED"
    opts = task["options"]
    assert opts["preserveDeletedFiles"] == ("REMOVE" if mode == "mirror" else "PRESERVE")
    assert opts["transferMode"] == "CHANGED"
    assert opts["verifyMode"] == "ONLY_FILES_TRANSFERRED"
    assert task["schedule"]["scheduleExpression"] == rate_expression(case["interval"])
    assert 60 <= case["interval"] <= case["staleness"]


@pytest.mark.parametrize("mode", ["incremental", "mirror"])
def test_datasync_from_azure_warns_instead_of_pretending(mode, tmp_path_factory):
    case, cap = scenario(f"azure-{mode}", tmp_path_factory)
    (dest,) = targets_of(case, "aws-datasync")
    # The replica side exists; there is no agent, hence no Azure location and no task.
    assert one(of(cap, "aws:datasync/s3Location:S3Location")).inputs["s3BucketArn"] == arn(
        store(cap, dest)
    )
    assert not of(cap, "aws:datasync/locationAzureBlob:LocationAzureBlob")
    assert not of(cap, "aws:datasync/task:Task")
    (warning,) = [w for w in cap.warnings if dest in w and "aws-datasync" in w]
    assert "agent" in warning and "no task" in warning


# --- aws/gcp -> azure ----------------------------------------------------------------------


@pytest.mark.parametrize("name", [c for c in CASES if not c.startswith("azure")])
def test_data_factory_to_azure(name, tmp_path_factory):
    case, cap = scenario(name, tmp_path_factory)
    src_cloud = case["primary"].split("/")[0]
    (dest,) = targets_of(case, "azure-data-factory")
    replica = store(cap, dest)
    factory = one(of(cap, "azure-native:datafactory:Factory"))
    assert factory.inputs["identity"] == {"type": "SystemAssigned"}
    assert factory.inputs["tags"] == TAGS
    grant = one(of(cap, "azure-native:authorization:RoleAssignment")).inputs
    assert grant["scope"] == f"{replica.name}-id"
    assert grant["roleDefinitionId"].endswith(BLOB_DATA_CONTRIBUTOR)
    assert grant["principalId"] and grant["principalType"] == "ServicePrincipal"

    services = {
        r.inputs["linkedServiceName"]: r.inputs["properties"]
        for r in of(cap, "azure-native:datafactory:LinkedService")
    }
    sink = services["replica"]
    assert sink == {
        "type": "AzureBlobStorage",
        "serviceEndpoint": f"https://{physical(cap, dest)}.blob.core.windows.net/",
        "accountKind": "StorageV2",
    }  # no key: the factory's managed identity writes
    source = services["primary"]
    assert source["secretAccessKey"] == {"type": "SecureString", "value": SECRET}
    if src_cloud == "aws":
        assert source["type"] == "AmazonS3"
        user_policy = json.loads(one(of(cap, "aws:iam/userPolicy:UserPolicy")).inputs["policy"])
        primary_arn = arn(store(cap, case["primary"]))
        assert {res for s in user_policy["Statement"] for res in s["Resource"]} == {
            primary_arn,
            f"{primary_arn}/*",
        }
        actions = {a for s in user_policy["Statement"] for a in s["Action"]}
        assert all(a.startswith(("s3:Get", "s3:List")) for a in actions)
        location_type, read_type = "AmazonS3Location", "AmazonS3ReadSettings"
    else:
        assert source["type"] == "GoogleCloudStorage"
        assert source["serviceUrl"] == "https://storage.googleapis.com"
        location_type, read_type = "GoogleCloudStorageLocation", "GoogleCloudStorageReadSettings"

    datasets = {
        r.inputs["datasetName"]: r.inputs["properties"]
        for r in of(cap, "azure-native:datafactory:Dataset")
    }
    assert datasets["primary"]["location"] == {
        "type": location_type,
        "bucketName": physical(cap, case["primary"]),
    }
    assert datasets["primary"]["linkedServiceName"]["referenceName"] == "primary"
    assert datasets["replica"]["location"] == {
        "type": "AzureBlobStorageLocation",
        "container": "datasets",
    }
    pipeline = one(of(cap, "azure-native:datafactory:Pipeline")).inputs
    (copy,) = pipeline["activities"]
    assert copy["type"] == "Copy"
    assert [i["referenceName"] for i in copy["inputs"]] == ["primary"]
    assert [o["referenceName"] for o in copy["outputs"]] == ["replica"]
    read = copy["source"]["storeSettings"]
    assert read["type"] == read_type and read["recursive"] is True
    assert read["modifiedDatetimeStart"]["value"] == "@pipeline().parameters.windowStart"
    assert read["modifiedDatetimeEnd"]["value"] == "@pipeline().parameters.windowEnd"
    trigger = one(of(cap, "azure-native:datafactory:Trigger")).inputs["properties"]
    assert trigger["type"] == "TumblingWindowTrigger"
    assert (trigger["frequency"], trigger["interval"]) == ("Minute", case["interval"])
    assert case["interval"] <= case["staleness"]
    assert trigger["pipeline"]["pipelineReference"]["referenceName"] == pipeline["pipelineName"]
    assert trigger["pipeline"]["parameters"] == {
        "windowStart": "@trigger().outputs.windowStartTime",
        "windowEnd": "@trigger().outputs.windowEndTime",
    }
    # Copy never deletes in the sink: mirror says so, naming the target.
    warned = [w for w in cap.warnings if dest in w and "azure-data-factory" in w]
    assert bool(warned) == (case["mode"] == "mirror")


# --- schedule, and input mistakes --------------------------------------------------------


def test_interval_below_a_service_minimum_is_raised_with_a_warning(tmp_path_factory):
    _, cap = scenario("short-interval", tmp_path_factory)
    job = one(of(cap, "gcp:storage/transferJob:TransferJob")).inputs
    assert job["schedule"]["repeatInterval"] == "3600s"
    task = one(of(cap, "aws:datasync/task:Task")).inputs
    assert task["schedule"]["scheduleExpression"] == "rate(1 hour)"
    trigger = one(of(cap, "azure-native:datafactory:Trigger")).inputs["properties"]
    assert trigger["interval"] == 15  # Data Factory runs as often as asked
    stale = [w for w in cap.warnings if "staler than asked" in w]
    assert len(stale) == 2
    assert any("gcp/us-central1" in w for w in stale) and any("aws/us-east-1" in w for w in stale)


@pytest.mark.parametrize(
    ("minutes", "expression"),
    [(60, "rate(1 hour)"), (120, "rate(2 hours)"), (90, "rate(90 minutes)"), (1, "rate(1 minute)")],
)
def test_rate_expression(minutes, expression):
    assert rate_expression(minutes) == expression


@pytest.mark.parametrize(
    ("case", "message"),
    [
        pytest.param(
            {
                **_case("aws/us-east-1", ["gcp/europe-west4"], "incremental", 60),
                "targets": [{"region": "gcp/europe-west4", "mechanism": "aws-datasync"}],
            },
            "expected 'gcp-storage-transfer'",
            id="wrong-mechanism",
        ),
        pytest.param(
            _case("aws/us-east-1", ["aws/us-west-2"], "sync", 60),
            "mode: 'sync' is not allowed; allowed: incremental, mirror",
            id="bad-mode",
        ),
        pytest.param(
            {**_case("aws/us-east-1", ["gcp/europe-west4"], "mirror", 60), "extra": {}},
            "gcp_project is required",
            id="no-gcp-project",
        ),
    ],
)
def test_caller_mistakes_fail_before_any_resource(case, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        _run(tmp_path, case)
