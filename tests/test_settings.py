"""The stack config loader: the bad-input contract of design 3 on the prod stack's config.

Every row of the table is one mutation of the shipped prod stack, in the wire form the
Pulumi engine hands a program; it must be reported under the exact key path(s), with the
bad value in the message, and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from components import settings
from optimizer import catalog as catalog_mod
from optimizer.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
PROD_FILE = ROOT / "stacks" / "Pulumi.prod.yaml"
PROD = settings.config_from_stack_file(PROD_FILE).values
T = "tricloud:"


@pytest.fixture(scope="module")
def catalog():
    return catalog_mod.load()


@pytest.fixture
def stacks_dir(tmp_path):
    d = tmp_path / "stacks"
    d.mkdir()
    return d


def problems_of(config, stacks_dir, catalog, stack="prod"):
    with pytest.raises(InputError) as info:
        settings.parse(config, stack=stack, stacks_dir=stacks_dir, catalog=catalog)
    assert info.value.heading == f"invalid stack config for {stack}"
    return info.value.problems


# --- mutations ---------------------------------------------------------------------------

Config = dict[str, str]


def drop(key: str) -> Callable[[Config], None]:
    def f(c: Config) -> None:
        del c[key]

    return f


def put(key: str, text: str) -> Callable[[Config], None]:
    """Set a key's wire text as is (the engine's string)."""

    def f(c: Config) -> None:
        c[key] = text

    return f


def edit(key: str, fn: Callable[[object], object | None]) -> Callable[[Config], None]:
    """Decode a JSON key, change it in place (or return a replacement), encode it again."""

    def f(c: Config) -> None:
        value = json.loads(c[key])
        out = fn(value)
        c[key] = json.dumps(value if out is None else out)

    return f


def setitem(path: tuple, value) -> Callable[[object], None]:
    def f(doc) -> None:
        for p in path[:-1]:
            doc = doc[p]
        doc[path[-1]] = value

    return f


def delitem(path: tuple) -> Callable[[object], None]:
    def f(doc) -> None:
        for p in path[:-1]:
            doc = doc[p]
        del doc[path[-1]]

    return f


def without_gcp(c: Config) -> None:
    """prod on aws and azure only, with every gcp reference removed (valid by itself)."""
    c[f"{T}clouds"] = json.dumps(["aws", "azure"])
    placement = json.loads(c[f"{T}placement"])
    placement["allowedRegions"] = [r for r in placement["allowedRegions"] if "gcp/" not in r]
    placement["quotasGpu"] = {k: v for k, v in placement["quotasGpu"].items() if "gcp/" not in k}
    c[f"{T}placement"] = json.dumps(placement)
    services = json.loads(c[f"{T}services"])
    for s in services:
        s["allowedRegions"] = [r for r in s.get("allowedRegions", []) if "gcp/" not in r]
    c[f"{T}services"] = json.dumps(services)


def both(*fs: Callable[[Config], None]) -> Callable[[Config], None]:
    def f(c: Config) -> None:
        for g in fs:
            g(c)

    return f


def lock(text: str) -> dict[str, str]:
    return {"placement.prod.json": text}


# id, mutation, expected key paths (exactly these), text the message(s) must contain,
# files to write into the stacks folder
CASES = [
    ("owner-missing", drop(f"{T}owner"), [f"{T}owner"], "required", {}),
    (
        "owner-team-not-a-label",
        edit(f"{T}owner", setitem(("team",), "ML Platform")),
        [f"{T}owner.team"],
        "'ML Platform'",
        {},
    ),
    (
        "owner-cost-center-uppercase",
        edit(f"{T}owner", setitem(("costCenter",), "CC-4711")),
        [f"{T}owner.costCenter"],
        "'CC-4711'",
        {},
    ),
    (
        "owner-unknown-subkey",
        edit(f"{T}owner", setitem(("email",), "ml@example.com")),
        [f"{T}owner.email"],
        "allowed: team, costCenter",
        {},
    ),
    ("owner-not-a-mapping", put(f"{T}owner", '"ml-platform"'), [f"{T}owner"], "'ml-platform'", {}),
    (
        "unknown-tricloud-key",
        put(f"{T}regions", '["us-east-1"]'),
        [f"{T}regions"],
        "tricloud:placement",
        {},
    ),
    (
        "services-bad-json",
        put(f"{T}services", "[{name: chat-70b"),
        [f"{T}services"],
        "not valid JSON",
        {},
    ),
    ("traffic-bad-json", put(f"{T}traffic", "{dns: route53}"), [f"{T}traffic"], "JSON", {}),
    (
        "placement-typo",
        edit(f"{T}placement", setitem(("surviv",), "region")),
        [f"{T}placement.surviv"],
        "unknown key",
        {},
    ),
    (
        "service-typo",
        edit(f"{T}services", setitem((0, "latencySlo"), 80)),
        [f"{T}services[0].latencySlo"],
        "unknown key",
        {},
    ),
    (
        "clouds-unknown",
        put(f"{T}clouds", '["aws", "oracle"]'),
        [f"{T}clouds"],
        "'oracle'",
        {},
    ),
    (
        "traffic-dns-not-among-clouds",
        both(without_gcp, edit(f"{T}traffic", setitem(("dns",), "cloud-dns"))),
        [f"{T}traffic.dns"],
        "'cloud-dns' runs on gcp",
        {},
    ),
    (
        "traffic-dns-unknown",
        edit(f"{T}traffic", setitem(("dns",), "cloudflare")),
        [f"{T}traffic.dns"],
        "'cloudflare'",
        {},
    ),
    (
        "traffic-policy-unknown",
        edit(f"{T}traffic", setitem(("policy",), "nearest")),
        [f"{T}traffic.policy"],
        "'nearest'",
        {},
    ),
    (
        "traffic-hostname-bad",
        edit(f"{T}traffic", setitem(("hostname",), "API_v1")),
        [f"{T}traffic.hostname"],
        "'API_v1'",
        {},
    ),
    (
        "traffic-zone-single-label",
        edit(f"{T}traffic", setitem(("zone",), "localhost")),
        [f"{T}traffic.zone"],
        "'localhost'",
        {},
    ),
    (
        "traffic-zone-missing",
        edit(f"{T}traffic", delitem(("zone",))),
        [f"{T}traffic.zone"],
        "required",
        {},
    ),
    (
        "traffic-algorithm-unknown",
        edit(f"{T}traffic", setitem(("regionalAlgorithm",), "random")),
        [f"{T}traffic.regionalAlgorithm"],
        "'random'",
        {},
    ),
    ("traffic-missing", drop(f"{T}traffic"), [f"{T}traffic"], "required", {}),
    (
        "cidr-whole-internet",
        put(f"{T}apiAllowedCidrs", '["198.51.100.0/24", "0.0.0.0/0"]'),
        [f"{T}apiAllowedCidrs[1]"],
        "'0.0.0.0/0' covers the whole internet",
        {},
    ),
    (
        "cidr-host-bits",
        put(f"{T}apiAllowedCidrs", '["10.0.0.1/8"]'),
        [f"{T}apiAllowedCidrs[0]"],
        "'10.0.0.1/8'",
        {},
    ),
    (
        "cidr-private-rfc1918",
        put(f"{T}apiAllowedCidrs", '["198.51.100.0/24", "10.0.0.0/8"]'),
        [f"{T}apiAllowedCidrs[1]"],
        "'10.0.0.0/8' is a private range (RFC 1918)",
        {},
    ),
    (
        "cidr-private-inside-rfc1918",
        put(f"{T}apiAllowedCidrs", '["172.20.0.0/16"]'),
        [f"{T}apiAllowedCidrs[0]"],
        "'172.20.0.0/16' is a private range (RFC 1918)",
        {},
    ),
    (
        "cidr-covers-a-private-range",
        put(f"{T}apiAllowedCidrs", '["192.0.0.0/2"]'),
        [f"{T}apiAllowedCidrs[0]"],
        "'192.0.0.0/2' is a private range (RFC 1918)",
        {},
    ),
    (
        "cidr-carrier-grade-nat",
        put(f"{T}apiAllowedCidrs", '["100.64.0.0/16"]'),
        [f"{T}apiAllowedCidrs[0]"],
        "carrier-grade NAT",
        {},
    ),
    (
        "cidr-garbage",
        put(f"{T}apiAllowedCidrs", '["office"]'),
        [f"{T}apiAllowedCidrs[0]"],
        "'office'",
        {},
    ),
    (
        "cidr-ipv6",
        put(f"{T}apiAllowedCidrs", '["2001:db8::/32"]'),
        [f"{T}apiAllowedCidrs[0]"],
        "'2001:db8::/32' is IPv6",
        {},
    ),
    (
        "cidrs-not-a-list",
        put(f"{T}apiAllowedCidrs", '"10.0.0.0/8"'),
        [f"{T}apiAllowedCidrs"],
        "'10.0.0.0/8'",
        {},
    ),
    (
        "kubernetes-version-unsupported",
        put(f"{T}kubernetesVersion", "1.29"),
        [f"{T}kubernetesVersion"],
        "'1.29'",
        {},
    ),
    (
        "kubernetes-version-past-standard-support-on-azure-and-gcp",
        put(f"{T}kubernetesVersion", "1.33"),
        [f"{T}kubernetesVersion"],
        "'1.33' is not offered by azure, gcp",
        {},
    ),
    (
        "kubernetes-version-not-yet-on-gcp",
        put(f"{T}kubernetesVersion", "1.37"),
        [f"{T}kubernetesVersion"],
        "'1.37' is not offered by aws, gcp",
        {},
    ),
    (
        "azure-cluster-admins-not-guids",
        put(f"{T}azureClusterAdmins", '["alice@example.com"]'),
        [f"{T}azureClusterAdmins[0]"],
        "not an Entra ID object id",
        {},
    ),
    (
        "azure-cluster-admins-not-a-list",
        put(f"{T}azureClusterAdmins", '"3d8e5b7a-91c4-4f2e-b6a0-7c9d1e2f4a68"'),
        [f"{T}azureClusterAdmins"],
        "not a list of Entra ID object ids",
        {},
    ),
    (
        "aws-cluster-admins-sts-session",
        put(
            f"{T}awsClusterAdmins",
            '["arn:aws:sts::111122223333:assumed-role/platform/alice"]',
        ),
        [f"{T}awsClusterAdmins[0]"],
        "is an STS session; EKS access entries take the role's ARN",
        {},
    ),
    (
        "aws-cluster-admins-not-arns",
        put(f"{T}awsClusterAdmins", '["platform-admins", 12]'),
        [f"{T}awsClusterAdmins[0]", f"{T}awsClusterAdmins[1]"],
        "is not an IAM role or user ARN",
        {},
    ),
    (
        "aws-cluster-admins-twice",
        put(
            f"{T}awsClusterAdmins",
            '["arn:aws:iam::111122223333:role/platform", "arn:aws:iam::111122223333:role/platform"]',
        ),
        [f"{T}awsClusterAdmins[1]"],
        "is listed twice",
        {},
    ),
    (
        "kubernetes-version-unquoted-yaml",
        put(f"{T}kubernetesVersion", "1.3"),
        [f"{T}kubernetesVersion"],
        "quote it",
        {},
    ),
    ("gcp-project-missing", drop("gcp:project"), ["gcp:project"], "gcp is in tricloud:clouds", {}),
    ("gcp-project-bad", put("gcp:project", "Acme_Prod"), ["gcp:project"], "'Acme_Prod'", {}),
    (
        "azure-subscription-missing",
        drop("azure-native:subscriptionId"),
        ["azure-native:subscriptionId"],
        "azure is in tricloud:clouds",
        {},
    ),
    (
        "azure-subscription-not-a-uuid",
        put("azure-native:subscriptionId", "3d8e5b7a-91c4-4f2e-b6a0"),
        ["azure-native:subscriptionId"],
        "'3d8e5b7a-91c4-4f2e-b6a0'",
        {},
    ),
    (
        "aws-account-id-short",
        put("aws:allowedAccountIds", '["77778888999"]'),
        ["aws:allowedAccountIds[0]"],
        "'77778888999'",
        {},
    ),
    (
        "aws-account-id-unquoted",
        put("aws:allowedAccountIds", "[777788889999]"),
        ["aws:allowedAccountIds[0]"],
        "777788889999 is not",
        {},
    ),
    (
        "throughput-unknown-accelerator",
        edit(f"{T}services", setitem((0, "throughputRps"), {"H10": 40})),
        [f"{T}services[0].throughputRps"],
        "'H10'",
        {},
    ),
    (
        "demand-unknown-geo",
        edit(f"{T}services", setitem((2, "demandRps", "mars"), 5)),
        [f"{T}services[2].demandRps"],
        "'mars'",
        {},
    ),
    (
        "min-replicas-negative",
        edit(f"{T}services", setitem((0, "minReplicas"), -1)),
        [f"{T}services[0].minReplicas"],
        "-1",
        {},
    ),
    (
        "survive-unknown",
        edit(f"{T}placement", setitem(("survive",), "zone")),
        [f"{T}placement.survive"],
        "'zone'",
        {},
    ),
    (
        "allowed-regions-glob",
        edit(f"{T}services", setitem((1, "allowedRegions"), ["aws/eu-*"])),
        [f"{T}services[1].allowedRegions[0]"],
        "'aws/eu-*'",
        {},
    ),
    (
        "quota-unknown-accelerator",
        edit(f"{T}placement", setitem(("quotasGpu",), {"aws/us-east-1/H1000": 8})),
        [f"{T}placement.quotasGpu"],
        "'H1000'",
        {},
    ),
    (
        "budget-negative",
        edit(f"{T}placement", setitem(("monthlyBudgetUsd",), -5)),
        [f"{T}placement.monthlyBudgetUsd"],
        "-5",
        {},
    ),
    (
        "replication-mode-unknown",
        edit(f"{T}replication", setitem(("mode",), "sync")),
        [f"{T}replication.mode"],
        "'sync'",
        {},
    ),
    (
        "dataset-size-missing",
        edit(f"{T}replication", delitem(("datasets", 0, "sizeGb"))),
        [f"{T}replication.datasets[0].sizeGb"],
        "required",
        {},
    ),
    (
        "catalog-folder-missing",
        put(f"{T}catalog", "no/such/catalog"),
        [f"{T}catalog"],
        "no/such/catalog",
        {},
    ),
    (
        "lock-not-json",
        lambda c: None,
        ["stacks/placement.prod.json:1"],
        "not valid JSON",
        lock("{clusters: []"),
    ),
    (
        "lock-not-a-plan",
        lambda c: None,
        ["stacks/placement.prod.json"],
        "no clusters list",
        lock('{"version": 1}'),
    ),
]


@pytest.mark.parametrize(
    ("mutate", "wheres", "text", "files"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_invalid_config_is_reported_at_its_key(mutate, wheres, text, files, stacks_dir, catalog):
    config = dict(PROD)
    mutate(config)
    for name, content in files.items():
        (stacks_dir / name).write_text(content)
    problems = problems_of(config, stacks_dir, catalog)
    assert sorted(p.where for p in problems) == sorted(wheres), problems
    assert all(text in p.message for p in problems), problems


def test_table_is_big_enough():
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)


def test_every_problem_is_reported_at_once(stacks_dir, catalog):
    config = dict(PROD)
    for mutate in (
        drop(f"{T}owner"),
        put(f"{T}servics", "[]"),
        edit(f"{T}services", setitem((0, "throughputRps"), {"H10": 40})),
        edit(f"{T}placement", setitem(("survive",), "zone")),
        edit(f"{T}traffic", setitem(("policy",), "nearest")),
        put(f"{T}apiAllowedCidrs", '["0.0.0.0/0"]'),
        put(f"{T}kubernetesVersion", "1.29"),
        put("azure-native:subscriptionId", "x"),
        put(f"{T}replication", "{"),
    ):
        mutate(config)
    (stacks_dir / "placement.prod.json").write_text("[]")
    problems = problems_of(config, stacks_dir, catalog)
    assert sorted(p.where for p in problems) == sorted(
        [
            f"{T}owner",
            f"{T}servics",
            f"{T}services[0].throughputRps",
            f"{T}placement.survive",
            f"{T}traffic.policy",
            f"{T}apiAllowedCidrs[0]",
            f"{T}kubernetesVersion",
            "azure-native:subscriptionId",
            f"{T}replication",
            "stacks/placement.prod.json",
        ]
    )


def test_prod_parses_with_lock_and_decoded_values(stacks_dir, catalog):
    plan = {"version": 1, "clusters": []}
    (stacks_dir / "placement.prod.json").write_text(json.dumps(plan))
    s = settings.parse(PROD, stack="prod", stacks_dir=stacks_dir, catalog=catalog)
    assert s.lock == plan and s.lock_path == "stacks/placement.prod.json"
    assert s.traffic == settings.Traffic("route53", "example.com", "api", "latency", "round-robin")
    assert s.kubernetes == settings.Kubernetes(
        "1.35", ("198.51.100.0/24",), {"aws": "standard", "azure": "standard", "gcp": "standard"}
    )
    assert s.providers == settings.Providers(
        "acme-tricloud-prod", "3d8e5b7a-91c4-4f2e-b6a0-7c9d1e2f4a68", ("777788889999",)
    )
    # already-decoded values are accepted too (callers holding Python values)
    decoded = {
        k: json.loads(v) if k.startswith(T) and k != f"{T}kubernetesVersion" else v
        for k, v in PROD.items()
    }
    assert settings.parse(decoded, stack="prod", stacks_dir=stacks_dir, catalog=catalog) == s


def test_defaults_when_optional_keys_are_left_out(stacks_dir, catalog):
    config = {
        k: v
        for k, v in PROD.items()
        if k not in (f"{T}kubernetesVersion", f"{T}apiAllowedCidrs", "aws:allowedAccountIds")
    }
    config[f"{T}traffic"] = json.dumps({"dns": "route53", "zone": "example.com"})
    s = settings.parse(config, stack="prod", stacks_dir=stacks_dir, catalog=catalog)
    assert s.kubernetes.version == "1.35"  # the newest in standard support on all three clouds
    assert s.kubernetes.api_allowed_cidrs == ()
    assert s.traffic == settings.Traffic("route53", "example.com", "api", "latency", "round-robin")
    assert s.providers.aws_allowed_account_ids == ()
    assert s.lock is None


def test_other_namespaces_and_provider_keys_are_left_alone(stacks_dir, catalog):
    config = {
        **PROD,
        "aws:region": "us-east-1",
        "gcp:zone": "us-central1-a",
        "kubernetes:enableServerSideApply": "true",
        "acme:anything": "x",
        "tricloud:config:kubernetesVersion": "1.35",  # older engines' key form
    }
    del config[f"{T}kubernetesVersion"]
    s = settings.parse(config, stack="prod", stacks_dir=stacks_dir, catalog=catalog)
    assert s.kubernetes.version == "1.35"


# --- stack files --------------------------------------------------------------------------


def test_stack_file_wire_form(tmp_path):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(
        "config:\n"
        "  kubernetesVersion: '1.35'\n"
        "  tricloud:owner: {team: a, costCenter: b}\n"
        "  pulumi:disable-default-providers: ['*']\n"
        "  acme:count: 3\n"
        "  acme:flag: true\n"
        "  acme:ratio: 0.5\n"
        "  acme:token:\n"
        "    secure: v1:abc==\n"
    )
    cfg = settings.config_from_stack_file(path)
    assert cfg.values == {
        "tricloud:kubernetesVersion": "1.35",
        "tricloud:owner": '{"team": "a", "costCenter": "b"}',
        "pulumi:disable-default-providers": '["*"]',
        "acme:count": "3",
        "acme:flag": "true",
        "acme:ratio": "0.5",
        "acme:token": "v1:abc==",
    }
    assert cfg.secret_keys == {"acme:token"}


def test_stack_file_with_project_defaults(tmp_path):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  tricloud:clouds: [aws]\n")
    cfg = settings.config_from_stack_file(path, project_file=ROOT / "Pulumi.yaml")
    assert cfg.values["tricloud:clouds"] == '["aws"]'  # the stack wins over the default
    assert cfg.values["tricloud:kubernetesVersion"] == "1.35"
    assert cfg.values["tricloud:apiAllowedCidrs"] == "[]"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        pytest.param(
            "config:\n  tricloud:clouds: [aws]\n  tricloud:clouds: [gcp]\n",
            ":3",
            "duplicate key",
            id="duplicate-key",
        ),
        pytest.param("config: [a, b\n", ":2", "not valid YAML", id="bad-yaml"),
        pytest.param("config: [a, b]\n", ": config", "not a mapping", id="config-not-a-mapping"),
        pytest.param("- a\n", "", "not a Pulumi stack file", id="not-a-mapping"),
    ],
)
def test_stack_file_problems(tmp_path, text, where, message):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        settings.config_from_stack_file(path)
    [problem] = info.value.problems
    assert problem.where == f"{path}{where}"
    assert message in problem.message


def test_stack_file_missing(tmp_path):
    with pytest.raises(InputError) as info:
        settings.config_from_stack_file(tmp_path / "Pulumi.nope.yaml")
    assert info.value.lines() == [f"{tmp_path / 'Pulumi.nope.yaml'}: file not found"]


# --- load() under the Pulumi runtime ------------------------------------------------------


@pytest.fixture
def pulumi_runtime(monkeypatch):
    """A minimal Pulumi runtime: project, stack and config as the engine would set them."""
    import pulumi.runtime
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime import settings as runtime_settings

    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    old = (runtime_settings.get_project(), runtime_settings.get_stack())
    old_config = dict(runtime_config.CONFIG.get())
    runtime_settings._set_project("tricloud")
    runtime_settings._set_stack("prod")
    yield pulumi.runtime.set_all_config
    runtime_settings._set_project(old[0])
    runtime_settings._set_stack(old[1])
    runtime_config.set_all_config(old_config)


def test_load_reads_the_runtime_config(pulumi_runtime, stacks_dir):
    pulumi_runtime(dict(PROD))
    s = settings.load(stacks_dir)
    assert s.stack == "prod" and s.project == "tricloud"
    assert s.owner == settings.Owner("ml-platform", "cc-4711")


def test_load_prints_one_line_per_problem_and_exits_2(pulumi_runtime, stacks_dir, capsys):
    config = dict(PROD)
    del config[f"{T}owner"]
    config[f"{T}kubernetesVersion"] = "1.29"
    pulumi_runtime(config)
    with pytest.raises(SystemExit) as info:
        settings.load(stacks_dir)
    assert info.value.code == 2
    assert info.value.__cause__ is None and info.value.__suppress_context__
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "error: invalid stack config for prod:",
        f"  {T}owner: is required: {{team: ..., costCenter: ...}} (cost-allocation labels)",
        f"  {T}kubernetesVersion: '1.29' is not offered by aws, azure, gcp on 2026-12-02 (the "
        "catalog's snapshot date); offered: aws: 1.32, 1.33, 1.34, 1.35; azure: 1.35, 1.36, "
        "1.37; gcp: 1.35; in standard support everywhere: 1.35 "
        '(quote it in YAML: "1.35")',
    ]
    assert "Traceback" not in err
