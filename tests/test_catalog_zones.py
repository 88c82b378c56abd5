"""Zones per offering (`optimizer/data/zones.csv`, `Offering.zones`): the loader's rules, the
shipped snapshot, the zone APIs behind `tools.catalog refresh` (recorded answers in each API's
documented format, tests/fixtures/catalog/zones, served on 127.0.0.1) and `import-skypilot`."""

from __future__ import annotations

import csv
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from optimizer import catalog as catalog_mod
from optimizer.errors import InputError
from tests.test_catalog_tools_sources import (
    FIX,
    Server,
    aws_route,
    azure_route,
    fast_http,
    gcp_route,
)
from tools.catalog import zones
from tools.catalog.cli import main

DATA = Path(catalog_mod.__file__).parent / "data"
# The first 176-row snapshot, frozen: the tests below name its rows.
SMALL = Path(__file__).parent / "fixtures" / "catalog" / "snapshot_2026-11-30"
ZFIX = FIX / "zones"
SKY = FIX / "skypilot"


def read(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


@pytest.fixture
def serve():
    servers: list[Server] = []

    def start(route):
        servers.append(Server(route))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def copy(tmp_path) -> Path:
    dst = tmp_path / "cat"
    shutil.copytree(SMALL, dst)
    return dst


def zones_line(rows, cloud, region, itype) -> int:
    return next(i for i, r in enumerate(rows, 1) if r[:3] == [cloud, region, itype])


def load_lines(root: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        catalog_mod.load(root)
    return info.value.lines()


# --- the shipped snapshot ------------------------------------------------------------------


def test_every_shipped_offering_has_exactly_one_zones_row():
    offers = {tuple(r[:3]) for r in read(DATA / "offerings.csv")[1:]}
    rows = [tuple(r[:3]) for r in read(DATA / "zones.csv")[1:]]
    assert len(rows) == len(set(rows)) == len(offers) == 1022
    assert set(rows) == offers


def test_shipped_zones_on_the_offerings():
    cat = catalog_mod.load(SMALL)
    by_key = {(o.cloud, o.region, o.instance_type): o for o in cat.offerings}
    # From SkyPilot's AvailabilityZone column (AZ IDs): us-east-1's constrained use1-az3 has no
    # g5, but it has p5; Local Zones (use1-atl2-az1) are not zones of the region.
    assert by_key[("aws", "us-east-1", "g5.xlarge")].zones == (
        "use1-az1", "use1-az2", "use1-az4", "use1-az5", "use1-az6",
    )  # fmt: skip
    assert by_key[("aws", "us-east-1", "p5.48xlarge")].zones == tuple(
        f"use1-az{n}" for n in range(1, 7)
    )
    assert by_key[("gcp", "us-central1", "a3-highgpu-8g")].zones == (
        "us-central1-a", "us-central1-b", "us-central1-c",
    )  # fmt: skip
    # N1 + T4: the zones of the T4 rows.
    assert by_key[("gcp", "us-west1", "n1-standard-8")].zones == ("us-west1-a", "us-west1-b")
    # Azure: West US has no availability zones; elsewhere no public source lists them.
    westus = by_key[("azure", "westus", "Standard_NC4as_T4_v3")]
    assert westus.zones == () and westus.zones_known
    eastus = by_key[("azure", "eastus", "Standard_NC4as_T4_v3")]
    assert eastus.zones == () and not eastus.zones_known
    for o in cat.offerings:
        assert list(o.zones) == sorted(o.zones)
        assert all(catalog_mod.zone_problem(o.cloud, o.region, z) is None for z in o.zones)
        assert o.zones_known == (o.cloud != "azure" or o.region in ("westus", "northcentralus"))
        if o.cloud != "azure":
            assert o.zones, o


def test_zones_of_the_current_snapshot():
    cat = catalog_mod.load()
    by_key = {(o.cloud, o.region, o.instance_type): o for o in cat.offerings}
    assert by_key[("gcp", "us-east4", "a3-highgpu-8g")].zones == (
        "us-east4-a", "us-east4-b", "us-east4-c",
    )  # fmt: skip
    no_az = ("westus", "northcentralus", "westcentralus")
    assert by_key[("azure", "westcentralus", "Standard_ND96isr_H100_v5")].zones_known
    for o in cat.offerings:
        assert list(o.zones) == sorted(o.zones)
        assert all(catalog_mod.zone_problem(o.cloud, o.region, z) is None for z in o.zones)
        assert o.zones_known == (o.cloud != "azure" or o.region in no_az)
        assert bool(o.zones) == (o.cloud != "azure"), o


def test_zones_do_not_change_the_plan_hash(copy):
    """Plans and locks record the sha256 of what prices a plan; zones pin pools, not plans."""
    before = catalog_mod.load(copy).sha256
    rows = read(copy / "zones.csv")
    n = zones_line(rows, "aws", "us-east-1", "g5.xlarge")
    rows[n - 1][3] = "use1-az1"
    write(copy / "zones.csv", rows)
    assert catalog_mod.load(copy).sha256 == before


# --- the loader's rules --------------------------------------------------------------------


def edit_zones(root: Path, key: tuple[str, str, str], value: str | None) -> int:
    """Set (or, with None, delete) the zones of `key`; returns the row's line number."""
    rows = read(root / "zones.csv")
    n = zones_line(rows, *key)
    if value is None:
        del rows[n - 1]
    else:
        rows[n - 1][3] = value
    write(root / "zones.csv", rows)
    return n


G5 = ("aws", "us-east-1", "g5.xlarge")
A3 = ("gcp", "us-central1", "a3-highgpu-8g")
NC = ("azure", "eastus", "Standard_NC4as_T4_v3")

BAD_VALUES = [
    pytest.param(G5, "use1-az1 usw2-az1", ["'usw2-az1' is not a zone of aws/us-east-1", "use1-az1"], id="aws-other-region"),
    pytest.param(G5, "us-east-1a", ["'us-east-1a' is not a zone of aws/us-east-1", "AZ ID"], id="aws-zone-name"),
    pytest.param(G5, "use1-atl2-az1", ["'use1-atl2-az1'", "Local Zones"], id="aws-local-zone"),
    pytest.param(A3, "us-central1-a us-east1-b", ["'us-east1-b' is not a zone of gcp/us-central1"], id="gcp-other-region"),
    pytest.param(A3, "us-central1", ["'us-central1' is not a zone of gcp/us-central1"], id="gcp-region-only"),
    pytest.param(NC, "1 4", ["'4' is not a zone of azure/eastus", "1, 2 or 3"], id="azure-zone-4"),
    pytest.param(G5, "use1-az2 use1-az1", ["not sorted", "'use1-az1 use1-az2'"], id="unsorted"),
    pytest.param(A3, "us-central1-a us-central1-a", ["lists a zone twice"], id="duplicate-zone"),
    pytest.param(G5, "-", ["'-' (no zones) is for Azure sizes only"], id="dash-not-azure"),
    pytest.param(NC, "", ["zones is empty", "'-' for none (Azure)", "'?'"], id="empty"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "value", "fragments"), BAD_VALUES)
def test_bad_zone_value_named_by_line(copy, key, value, fragments):
    n = edit_zones(copy, key, value)
    lines = load_lines(copy)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"zones.csv:{n}: "), lines
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_row_names_the_offering_and_its_line(copy):
    edit_zones(copy, G5, None)
    off_line = zones_line(read(copy / "offerings.csv"), "aws", "us-east-1", "g5.xlarge")
    assert load_lines(copy) == [
        f"zones.csv: no row for offering aws/us-east-1/g5.xlarge (offerings.csv:{off_line}); "
        "every offering needs its zones"
    ]


def test_extra_and_duplicate_rows(copy):
    rows = read(copy / "zones.csv")
    rows.append(["aws", "ap-southeast-1", "g5.xlarge", "apse1-az1"])  # not offered there
    rows.append(rows[1])
    write(copy / "zones.csv", rows)
    lines = load_lines(copy)
    assert lines == [
        f"zones.csv:{len(rows) - 1}: aws/ap-southeast-1/g5.xlarge is not an offering in offerings.csv",
        f"zones.csv:{len(rows)}: duplicate zones row for {'/'.join(rows[1][:3])}",
    ]


def test_every_problem_at_once(copy):
    rows = read(copy / "zones.csv")
    bad = zones_line(rows, *A3)
    rows[bad - 1][3] = "us-east4-a"
    gone = zones_line(rows, *G5)
    del rows[gone - 1]
    write(copy / "zones.csv", rows)
    lines = load_lines(copy)
    assert len(lines) == 2
    assert lines[0].startswith(f"zones.csv:{bad - 1}: zone 'us-east4-a'")
    assert lines[1].startswith("zones.csv: no row for offering aws/us-east-1/g5.xlarge")


def test_bad_header_and_broken_offerings_are_reported_once(copy):
    rows = read(copy / "zones.csv")
    rows[0] = ["cloud", "region", "type", "zones"]
    write(copy / "zones.csv", rows)
    assert load_lines(copy) == [
        "zones.csv:1: header is cloud,region,type,zones; expected cloud,region,instance_type,zones"
    ]
    shutil.copyfile(SMALL / "zones.csv", copy / "zones.csv")
    offers = read(copy / "offerings.csv")
    offers[zones_line(offers, *G5) - 1][1] = "us-east-9"  # the offering's row is broken
    write(copy / "offerings.csv", offers)
    lines = load_lines(copy)
    assert len(lines) == 1 and lines[0].startswith("offerings.csv:"), lines


def test_folder_without_zones_csv_loads_unpinned_and_validate_flags_it(copy, capsys):
    (copy / "zones.csv").unlink()
    cat = catalog_mod.load(copy)
    assert all(o.zones == () and not o.zones_known for o in cat.offerings)
    assert main(["validate", str(copy)]) == 1
    assert "zones.csv: file is missing" in capsys.readouterr().out


def test_unknown_zones_marker_for_any_cloud(copy, capsys):
    edit_zones(copy, G5, "?")
    cat = catalog_mod.load(copy)
    g5 = next(o for o in cat.offerings if (o.cloud, o.region, o.instance_type) == G5)
    assert g5.zones == () and not g5.zones_known
    assert main(["validate", str(copy)]) == 0
    assert "zones of aws/us-east-1/g5.xlarge not known (?)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("region", "prefix"),
    [
        ("us-east-1", "use1"),
        ("ap-northeast-1", "apne1"),
        ("ap-southeast-2", "apse2"),
        ("eu-central-1", "euc1"),
        ("ca-central-1", "cac1"),
        ("us-gov-west-1", "usgw1"),
        ("mars", None),
        ("eu-middle-1", None),
    ],
)
def test_aws_zone_id_prefix(region, prefix):
    assert catalog_mod.aws_zone_id_prefix(region) == prefix


# --- the zone APIs -------------------------------------------------------------------------

CREDS = ("AKIDEXAMPLE", "secret", None)
NOW = datetime(2025, 12, 1, tzinfo=UTC)


def zone_route(path, query):
    """EC2 (DescribeInstanceTypeOfferings; an empty spot history), GCP Compute, Azure ARM."""
    if path == "/ec2/us-east-1":
        if query.get("Action") == "DescribeSpotPriceHistory":
            ns = "http://ec2.amazonaws.com/doc/2016-11-15/"
            return (
                200,
                f'<DescribeSpotPriceHistoryResponse xmlns="{ns}"><spotPriceHistorySet/></DescribeSpotPriceHistoryResponse>',
                {},
            )
        page = "page2" if query.get("NextToken") == "page2" else "page1"
        return 200, (ZFIX / f"aws_us-east-1_{page}.xml").read_text(), {}
    if path == "/compute/v1/projects/tricloud-test/aggregated/machineTypes":
        page = "page2" if query.get("pageToken") == "page2" else "page1"
        return 200, (ZFIX / f"gcp_machineTypes_{page}.json").read_text(), {}
    if path == "/compute/v1/projects/tricloud-test/aggregated/acceleratorTypes":
        return 200, (ZFIX / "gcp_acceleratorTypes.json").read_text(), {}
    if path.endswith("/providers/Microsoft.Compute/skus"):
        page = "page2" if query.get("$skiptoken") == "page2" else "page1"
        return 200, (ZFIX / f"azure_skus_eastus_{page}.json").read_text(), {}
    return 404, "not found", {}


def test_aws_instance_type_offerings_signed_paged_az_ids(serve):
    server = serve(zone_route)
    found = zones.fetch_aws(
        fast_http(),
        "us-east-1",
        ["p5.48xlarge", "g5.xlarge"],
        CREDS,
        server.url + "/ec2/{region}",
        NOW,
    )
    assert found == {
        ("us-east-1", "g5.xlarge"): ("use1-az1", "use1-az2", "use1-az4", "use1-az5", "use1-az6"),
        ("us-east-1", "p5.48xlarge"): tuple(f"use1-az{n}" for n in range(1, 7)),
    }  # the Local Zones (use1-bos1-az1, use1-atl2-az1) are left out
    calls = [(q, h) for p, q, h in server.log]
    assert len(calls) == 2 and calls[1][0]["NextToken"] == "page2"
    query, headers = calls[0]
    assert query["Action"] == "DescribeInstanceTypeOfferings"
    assert query["LocationType"] == "availability-zone-id"
    assert (query["Filter.1.Name"], query["Filter.1.Value.1"], query["Filter.1.Value.2"]) == (
        "instance-type", "g5.xlarge", "p5.48xlarge",
    )  # fmt: skip
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251201/us-east-1/ec2/"
    )


def test_gcp_aggregated_lists_with_token_and_attached_gpu_zones(serve):
    server = serve(zone_route)
    creds = zones.Credentials(("tricloud-test", "ya29.token"), "test")
    types = ["a3-highgpu-8g", "g2-standard-4", "n1-standard-8", "a2-highgpu-1g"]
    found = zones.fetch_gcp(fast_http(), creds, ["us-central1"], types, server.url)
    shipped = {
        (r[1], r[2]): tuple(r[3].split()) for r in read(SMALL / "zones.csv")[1:] if r[0] == "gcp"
    }
    assert found == {("us-central1", t): shipped[("us-central1", t)] for t in types}
    machine_calls = [q for p, q, h in server.log if p.endswith("/machineTypes")]
    assert [q.get("pageToken") for q in machine_calls] == [None, "page2"]
    assert re.fullmatch(r"name eq \(.*\)", machine_calls[0]["filter"])
    assert all(h["Authorization"] == "Bearer ya29.token" for _, _, h in server.log)
    # N1 has its GPU attached: a zone without the T4 is no zone of n1-standard-8.
    doc = (ZFIX / "gcp_acceleratorTypes.json").read_text().replace("nvidia-tesla-t4", "nvidia-none")
    orig = zone_route

    def no_t4(path, query):
        if path.endswith("/acceleratorTypes"):
            return 200, doc, {}
        return orig(path, query)

    server2 = serve(no_t4)
    found2 = zones.fetch_gcp(fast_http(), creds, ["us-central1"], types, server2.url)
    assert ("us-central1", "n1-standard-8") not in found2
    assert found2[("us-central1", "a3-highgpu-8g")] == shipped[("us-central1", "a3-highgpu-8g")]


def test_azure_resource_skus_location_zones_paged(serve):
    base = [""]

    def route(path, query):
        status, body, headers = zone_route(path, query)
        return status, body.replace("{BASE}", base[0]) if isinstance(body, str) else body, headers

    server = serve(route)
    base[0] = server.url
    creds = zones.Credentials(("00000000-0000-0000-0000-000000000000", "eyJ0"), "test")
    sizes = ["Standard_NC4as_T4_v3", "Standard_ND96isr_H100_v5", "Standard_NC24ads_A100_v4"]
    found = zones.fetch_azure(fast_http(), creds, "eastus", sizes, server.url)
    # Sorted; offered in no zone -> (); listed only for another region -> absent.
    assert found == {
        ("eastus", "Standard_NC4as_T4_v3"): ("1", "2", "3"),
        ("eastus", "Standard_ND96isr_H100_v5"): (),
    }
    first = server.log[0]
    assert first[1] == {"api-version": "2021-07-01", "$filter": "location eq 'eastus'"}
    assert first[2]["Authorization"] == "Bearer eyJ0" and len(server.log) == 2


def test_zone_api_not_xml_or_json_is_a_fetch_error(serve):
    from tools.catalog.http import FetchError

    server = serve(lambda p, q: (200, "<html>maintenance", {}))
    with pytest.raises(FetchError, match="not XML"):
        zones.fetch_aws(
            fast_http(), "us-east-1", ["g5.xlarge"], CREDS, server.url + "/{region}", NOW
        )
    server2 = serve(lambda p, q: (200, {"kind": "compute#error"}, {}))
    with pytest.raises(FetchError, match="no items map"):
        zones.fetch_gcp(
            fast_http(),
            zones.Credentials(("p", "t"), "t"),
            ["us-central1"],
            ["g2-standard-4"],
            server2.url,
        )


# --- refresh end to end --------------------------------------------------------------------


def refresh_env(monkeypatch, urls, creds: bool):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GOOGLE_API_KEY",
                "TRICLOUD_GCP_PROJECT", "TRICLOUD_GCP_ACCESS_TOKEN", "AZURE_SUBSCRIPTION_ID",
                "TRICLOUD_AZURE_ACCESS_TOKEN"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    for var, value in urls.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("TRICLOUD_GCP_API_KEY", "test-key")
    if creds:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
        monkeypatch.setenv("TRICLOUD_GCP_PROJECT", "tricloud-test")
        monkeypatch.setenv("TRICLOUD_GCP_ACCESS_TOKEN", "ya29.token")
        monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000000")
        monkeypatch.setenv("TRICLOUD_AZURE_ACCESS_TOKEN", "eyJ0")


def start_sources(serve):
    base = [""]
    az = serve(azure_route(base))
    base[0] = az.url + "/api/retail/prices"
    zbase = [""]

    def zroute(path, query):
        status, body, headers = zone_route(path, query)
        return status, body.replace("{BASE}", zbase[0]) if isinstance(body, str) else body, headers

    z = serve(zroute)
    zbase[0] = z.url
    return {
        "TRICLOUD_AZURE_PRICES_URL": base[0],
        "TRICLOUD_AWS_PRICING_URL": serve(aws_route).url,
        "TRICLOUD_GCP_BILLING_URL": serve(gcp_route).url,
        "TRICLOUD_AWS_EC2_URL": z.url + "/ec2/{region}",
        "TRICLOUD_GCP_COMPUTE_URL": z.url,
        "TRICLOUD_AZURE_ARM_URL": z.url,
    }


REGIONS = "aws/us-east-1,azure/eastus,gcp/us-central1"


def test_refresh_reads_zones_from_the_apis(serve, tmp_path, monkeypatch, capsys):
    refresh_env(monkeypatch, start_sources(serve), creds=True)
    out = tmp_path / "cat"
    assert (
        main(
            [
                "refresh",
                "--base",
                str(SMALL),
                "--out",
                str(out),
                "--regions",
                REGIONS,
                "--retries",
                "0",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    got = {tuple(r[:3]): r[3] for r in read(out / "zones.csv")[1:]}
    shipped = {tuple(r[:3]): r[3] for r in read(SMALL / "zones.csv")[1:]}
    assert (
        got[G5] == shipped[G5]
        and got[("aws", "us-east-1", "p5.48xlarge")] == shipped[("aws", "us-east-1", "p5.48xlarge")]
    )
    assert got[A3] == shipped[A3]
    assert got[NC] == "1 2 3"  # was ? in the snapshot
    assert got[("azure", "eastus", "Standard_ND96isr_H100_v5")] == "-"
    # Priced, but the subscription's SKU list has it in eastus2 only: left out, and said so.
    assert ("azure", "eastus", "Standard_NC24ads_A100_v4") not in got
    assert "azure: 1 priced offerings left out: the zone API lists no zone" in err
    # Regions not refreshed keep the snapshot's zones.
    assert (
        got[("aws", "ap-northeast-1", "p5.48xlarge")]
        == shipped[("aws", "ap-northeast-1", "p5.48xlarge")]
    )
    readme = (out / "README.md").read_text()
    assert "zones: EC2 DescribeInstanceTypeOfferings" in readme
    assert "zones: Azure Resource SKUs locationInfo zones" in readme
    assert "ya29.token" not in readme + err and "eyJ0" not in readme + err
    cat = catalog_mod.load(out)
    assert set(got) == {(o.cloud, o.region, o.instance_type) for o in cat.offerings}


def test_refresh_without_zone_credentials_keeps_zones_and_says_so(
    serve, tmp_path, monkeypatch, capsys
):
    refresh_env(monkeypatch, start_sources(serve), creds=False)
    out = tmp_path / "cat"
    assert (
        main(
            [
                "refresh",
                "--base",
                str(SMALL),
                "--out",
                str(out),
                "--regions",
                REGIONS,
                "--retries",
                "0",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    got = {tuple(r[:3]): r[3] for r in read(out / "zones.csv")[1:]}
    shipped = {tuple(r[:3]): r[3] for r in read(SMALL / "zones.csv")[1:]}
    assert all(got[k] == shipped[k] for k in got if k in shipped)
    assert "kept: aws zones: no credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)" in err
    assert (
        "kept: azure zones: no credentials (AZURE_SUBSCRIPTION_ID and TRICLOUD_AZURE_ACCESS_TOKEN)"
        in err
    )
    assert "previous snapshot's zones are kept for 2 of 2 refreshed rows" in err
    assert "gcp zones: no credentials" in (out / "README.md").read_text()


# --- import-skypilot -----------------------------------------------------------------------


def test_import_skypilot_writes_zones_from_the_zone_column(tmp_path):
    out = tmp_path / "cat"
    assert main(["import-skypilot", str(SKY), "--out", str(out), "--base", str(SMALL)]) == 0
    got = {tuple(r[:3]): r[3] for r in read(out / "zones.csv")[1:]}
    # All five zone rows of the fixture (no-spot and equal-to-on-demand ones too); the
    # Boston Local Zone is left out.
    assert got[G5] == "use1-az1 use1-az2 use1-az4 use1-az5 use1-az6"
    assert got[("gcp", "us-central1", "g2-standard-4")] == "us-central1-a us-central1-b"
    assert got[("azure", "eastus", "Standard_NC4as_T4_v3")] == "?"  # no zone column in the file
    assert len(catalog_mod.load(out).offerings) == len(got)
