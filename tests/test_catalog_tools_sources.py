"""tools.catalog refresh sources, offline: recorded responses in each API's documented format
(tests/fixtures/catalog, prices from the shipped snapshot) served by a local HTTP server on
127.0.0.1; paging, retries, the request timeout, SigV4 and the `refresh` command end to end."""

from __future__ import annotations

import csv
import functools
import io
import json
import threading
import time
import urllib.parse
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from optimizer import catalog as catalog_mod
from tools.catalog import aws, azure, cli, gcp
from tools.catalog.cli import main
from tools.catalog.http import FetchError, Http, redact
from tools.catalog.rows import as_row
from tools.catalog.sigv4 import sign_get

FIX = Path(__file__).parent / "fixtures" / "catalog"
# The first 176-row snapshot, frozen: the fixture pages price its rows.
SMALL = Path(__file__).parent / "fixtures" / "catalog" / "snapshot_2026-11-30"
SHIPPED = SMALL / "offerings.csv"


def shipped_rows() -> dict[tuple[str, str, str], list[str]]:
    with SHIPPED.open(newline="") as f:
        return {(r[0], r[1], r[2]): r for r in list(csv.reader(f))[1:]}


class Server:
    """A local HTTP server; `routes(path, query, handler)` returns (status, body, headers)."""

    def __init__(self, route):
        self.route = route
        self.log: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                outer.log.append((parts.path, query, dict(self.headers)))
                status, body, headers = outer.route(parts.path, query)
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                elif isinstance(body, str):
                    body = body.encode()
                try:
                    self.send_response(status)
                    for k, v in {"Content-Length": str(len(body)), **headers}.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(route):
        servers.append(Server(route))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def fixture_json(path: str, base: str = "") -> dict:
    return json.loads((FIX / path).read_text().replace("{BASE}", base))


def azure_route(base_holder):
    def route(path, query):
        if path != "/api/retail/prices":
            return 404, "not found", {}
        skip = int(query.get("$skip", "0"))
        return 200, fixture_json(f"azure/page{skip // 100 + 1}.json", base_holder[0]), {}

    return route


def aws_route(path, query):
    if path == aws.INDEX_PATH:
        return 200, fixture_json("aws/region_index.json"), {}
    for region in ("us-east-1", "eu-west-2"):
        if path == f"/offers/v1.0/aws/AmazonEC2/20251201000000/{region}/index.json":
            return 200, fixture_json(f"aws/{region}.json"), {}
    return 404, "not found", {}


def gcp_route(path, query):
    if path != f"/v1/{gcp.SERVICE}/skus":
        return 404, "not found", {}
    if query.get("key") != "test-key":
        return 400, {"error": {"code": 400, "message": "API key not valid."}}, {}
    page = {"": 1, "page2": 2, "page3": 3}[query.get("pageToken", "")]
    return 200, fixture_json(f"gcp/page{page}.json"), {}


def fast_http(**kw) -> Http:
    return Http(**{"timeout": 5, "retries": 2, "backoff": 0.001, **kw})


def csv_rows(offerings) -> list[list[str]]:
    return sorted(as_row(o) for o in offerings)


# --- Azure ---------------------------------------------------------------------------------


def test_azure_pages_parse_to_snapshot_rows(serve):
    base = [""]
    server = serve(azure_route(base))
    base[0] = server.url + "/api/retail/prices"
    regions = ["eastus", "westus", "westus2"]
    result = azure.fetch(fast_http(), regions, base[0])
    assert (result.pages, result.items) == (3, 17)
    assert len(server.log) == 3  # followed NextPageLink twice
    first = server.log[0][1]["$filter"]
    assert "armSkuName eq 'Standard_NC4as_T4_v3'" in first and "armRegionName eq 'westus2'" in first
    snap = shipped_rows()
    expected = sorted(
        snap[k]
        for k in [
            ("azure", "eastus", "Standard_NC24ads_A100_v4"),
            ("azure", "eastus", "Standard_NC4as_T4_v3"),
            ("azure", "westus2", "Standard_NC4as_T4_v3"),
            ("azure", "eastus", "Standard_ND96isr_H100_v5"),
            ("azure", "westus", "Standard_ND96isr_H100_v5"),
        ]
    )
    # Windows, Low Priority, DevTest, an older effective price, westeurope and a non-GPU SKU
    # are all in the pages and all left out; westus H100 spot equals on-demand -> empty.
    assert csv_rows(result.offerings) == expected


# --- AWS -----------------------------------------------------------------------------------


def test_aws_offer_files_parse_to_snapshot_prices(serve):
    server = serve(aws_route)
    result = aws.fetch(fast_http(), ["us-east-1", "eu-west-2", "us-east-2"], server.url)
    assert (result.files, result.products, result.spot_source) == (2, 10, "none")
    assert result.notes == ["aws: region us-east-2 is not in the price list index; no rows for it"]
    snap = shipped_rows()
    got = {(o.region, o.instance_type): o.price_on_demand for o in result.offerings}
    assert got == {
        (r, t): float(snap[("aws", r, t)][8])
        for r in ("us-east-1", "eu-west-2")
        for t in ("g5.xlarge", "p5.48xlarge")
    }
    assert all(o.price_spot is None for o in result.offerings)  # no credentials: no spot read


EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


def spot_xml(items, token=None):
    body = "".join(
        f"<item><instanceType>{t}</instanceType><productDescription>Linux/UNIX</productDescription>"
        f"<spotPrice>{p}</spotPrice><timestamp>{ts}</timestamp><availabilityZone>{z}</availabilityZone></item>"
        for t, z, p, ts in items
    )
    tok = f"<nextToken>{token}</nextToken>" if token else "<nextToken/>"
    return (
        f'<DescribeSpotPriceHistoryResponse xmlns="{EC2_NS}"><requestId>r</requestId>'
        f"<spotPriceHistorySet>{body}</spotPriceHistorySet>{tok}</DescribeSpotPriceHistoryResponse>"
    )


def test_aws_spot_with_credentials_signed_paged_median_of_standard_zones(serve):
    def route(path, query):
        if path.startswith("/ec2/"):
            if "NextToken" not in query:
                return (
                    200,
                    spot_xml(
                        [
                            ("g5.xlarge", "us-east-1a", "0.400000", "2025-12-01T00:00:00.000Z"),
                            (
                                "g5.xlarge",
                                "us-east-1a",
                                "0.900000",
                                "2025-11-01T00:00:00.000Z",
                            ),  # older
                            ("g5.xlarge", "us-east-1b", "0.436000", "2025-12-01T00:00:00.000Z"),
                            (
                                "g5.xlarge",
                                "us-east-1-bos-1a",
                                "0.100000",
                                "2025-12-01T00:00:00.000Z",
                            ),
                        ],
                        token="more",
                    ),
                    {},
                )
            return (
                200,
                spot_xml(
                    [
                        ("g5.xlarge", "us-east-1c", "0.500000", "2025-12-01T00:00:00.000Z"),
                        ("g5.xlarge", "us-east-1d", "1.006000", "2025-12-01T00:00:00.000Z"),  # = OD
                        ("p5.48xlarge", "us-east-1a", "20.203700", "2025-12-01T00:00:00.000Z"),
                    ]
                ),
                {},
            )
        return aws_route(path, query)

    server = serve(route)
    creds = ("AKIDEXAMPLE", "secret", "token")
    now = datetime(2025, 12, 1, tzinfo=UTC)
    result = aws.fetch(
        fast_http(), ["us-east-1"], server.url, server.url + "/ec2/{region}", creds, now
    )
    assert result.spot_source == "ec2"
    spot = {o.instance_type: o.price_spot for o in result.offerings}
    assert spot == {"g5.xlarge": 0.436, "p5.48xlarge": 20.2037}  # snapshot's values
    ec2 = [(q, h) for p, q, h in server.log if p.startswith("/ec2/")]
    assert len(ec2) == 2 and ec2[1][0]["NextToken"] == "more"
    query, headers = ec2[0]
    assert query["Action"] == "DescribeSpotPriceHistory" and query["InstanceType.1"] == "g5.xlarge"
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251201/us-east-1/ec2/aws4_request"
    )
    assert headers["X-Amz-Security-Token"] == "token"


def test_sigv4_matches_aws_documented_examples():
    # IAM ListUsers example of the AWS SigV4 documentation.
    h = sign_get(
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        "us-east-1",
        "iam",
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        datetime(2015, 8, 30, 12, 36),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert h["Authorization"].endswith(
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )
    # S3 GET Object example (header-based auth) of the S3 SigV4 documentation.
    h = sign_get(
        "https://examplebucket.s3.amazonaws.com/test.txt",
        "us-east-1",
        "s3",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        datetime(2013, 5, 24),
        headers={
            "Range": "bytes=0-9",
            "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        },
    )
    assert h["Authorization"].endswith(
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


# --- GCP -----------------------------------------------------------------------------------


def test_gcp_skus_pages_host_plus_gpu(serve):
    server = serve(gcp_route)
    regions = ["us-central1", "us-east1", "us-west1", "asia-northeast1"]
    result = gcp.fetch(fast_http(), "test-key", regions, server.url)
    # 30 SKUs: 24 components (6 each: G2, N1 Americas, N1 Japan, A3) and 6 that must not count
    assert (result.pages, result.skus, result.used) == (3, 30, 24)
    assert [q.get("pageToken") for _, q, _ in server.log] == [None, "page2", "page3"]
    snap = shipped_rows()
    got = {(o.region, o.instance_type): as_row(o) for o in result.offerings}
    same_as_snapshot = [
        ("us-central1", "g2-standard-4"),
        ("us-east1", "g2-standard-4"),
        ("us-central1", "n1-standard-8"),
        ("us-east1", "n1-standard-8"),
        ("us-west1", "n1-standard-8"),
        ("asia-northeast1", "n1-standard-8"),
        ("us-central1", "a3-highgpu-8g"),
        ("us-west1", "a3-highgpu-8g"),
    ]
    for key in same_as_snapshot:
        assert got[key] == snap[("gcp", *key)], key
    # g2-standard-48's on-demand price is the snapshot's too; its spot follows the fixture SKUs.
    g48 = got[("us-central1", "g2-standard-48")]
    assert g48[8:] == ["4.00166", "1.60736"]
    # a3 is priced in us-east1 (the SKU lists it); parse keeps it, refresh filters it.
    assert ("us-east1", "a3-highgpu-8g") in got
    # The same component SKUs price every a3/g2 size of families.KNOWN (a3-highgpu-1g ...
    # a3-edgegpu-8g, g2-standard-8 ...): 38 (type, region) pairs.
    assert len(got) == 38


def test_gcp_bad_key_fails_without_retry_and_redacts_key(serve):
    server = serve(gcp_route)
    with pytest.raises(FetchError) as e:
        gcp.fetch(fast_http(), "wrong-secret", ["us-central1"], server.url)
    assert "HTTP 400" in str(e.value) and "API key not valid" in str(e.value)
    assert "wrong-secret" not in str(e.value) and "key=REDACTED" in str(e.value)
    assert len(server.log) == 1
    assert redact("https://x/y?a=1&key=abc&b=2") == "https://x/y?a=1&key=REDACTED&b=2"


# --- retries and timeout -------------------------------------------------------------------


def test_retry_on_503_then_200_with_backoff(serve):
    calls = []

    def route(path, query):
        calls.append(path)
        return (503, "busy", {}) if len(calls) == 1 else (200, {"ok": True}, {})

    server = serve(route)
    slept: list[float] = []
    log = io.StringIO()
    http = Http(timeout=5, retries=3, backoff=0.25, sleep=slept.append, log=log)
    assert http.get_json(server.url + "/x") == {"ok": True}
    assert len(calls) == 2 and slept == [0.25]
    assert "HTTP 503; retry 1/3 in 0.25 s" in log.getvalue()


def test_retry_429_honours_retry_after_and_gives_up(serve):
    server = serve(lambda p, q: (429, "slow down", {"Retry-After": "7"}))
    slept: list[float] = []
    http = Http(timeout=5, retries=2, backoff=0.5, sleep=slept.append, log=io.StringIO())
    with pytest.raises(FetchError, match="HTTP 429; gave up after 3 attempts"):
        http.get(server.url + "/x")
    assert slept == [7.0, 7.0] and len(server.log) == 3


def test_404_is_not_retried(serve):
    server = serve(lambda p, q: (404, "nope", {}))
    with pytest.raises(FetchError, match="HTTP 404"):
        fast_http().get(server.url + "/x")
    assert len(server.log) == 1


def test_timeout_when_server_sleeps_past_it(serve):
    def route(path, query):
        time.sleep(1.0)
        return 200, "late", {}

    server = serve(route)
    slept: list[float] = []
    http = Http(timeout=0.2, retries=1, backoff=0.01, sleep=slept.append, log=io.StringIO())
    start = time.monotonic()
    with pytest.raises(FetchError, match=r"no answer within 0\.2 s; gave up after 2 attempts"):
        http.get(server.url + "/slow")
    assert time.monotonic() - start < 0.9
    assert slept == [0.01]


def test_connection_refused_is_retried_then_reported():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    slept: list[float] = []
    http = Http(timeout=1, retries=2, backoff=0.1, sleep=slept.append, log=io.StringIO())
    with pytest.raises(FetchError, match="connection failed"):
        http.get(f"http://127.0.0.1:{port}/")
    assert slept == [0.1, 0.2]  # exponential


# --- refresh end to end --------------------------------------------------------------------


def test_refresh_command_all_clouds(serve, tmp_path, monkeypatch, capsys):
    base = [""]
    az = serve(azure_route(base))
    base[0] = az.url + "/api/retail/prices"
    aws_server = serve(aws_route)
    gcp_server = serve(gcp_route)
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "GOOGLE_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TRICLOUD_AZURE_PRICES_URL", base[0])
    monkeypatch.setenv("TRICLOUD_AWS_PRICING_URL", aws_server.url)
    monkeypatch.setenv("TRICLOUD_GCP_BILLING_URL", gcp_server.url)
    monkeypatch.setenv("TRICLOUD_GCP_API_KEY", "test-key")
    out = tmp_path / "cat"
    argv = [
        "refresh",
        "--base",
        str(SMALL),
        "--out",
        str(out),
        "--date",
        "2025-12-01",
        "--retries",
        "0",
    ]
    argv += ["--regions", "us-east-1,eu-west-2,eastus,westus,westus2,us-central1,us-east1,us-west1"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "kept: AWS spot prices: no AWS credentials" in err
    # 28: the fixture's A3/G2/N1 component SKUs also price the other a3/g2 sizes of
    # families.KNOWN, which the base snapshot has not in these regions.
    assert "gcp: 28 priced (type, region) pairs absent from the previous snapshot left out" in err
    cat = catalog_mod.load(out)  # the loader accepts what refresh wrote
    assert cat.snapshot == "2025-12-01"
    readme = (out / "README.md").read_text()
    assert "Snapshot date: 2025-12-01" in readme
    assert "previous snapshot's spot prices are kept for 4 of 4 AWS rows" in readme
    assert "Azure Retail Prices API" in readme and "key from TRICLOUD_GCP_API_KEY" in readme
    assert "test-key" not in readme + err
    for name in ("regions.csv", "egress.csv", "clusters.csv"):
        assert (out / name).read_bytes() == (SHIPPED.parent / name).read_bytes()
    snap = shipped_rows()
    rows = {(r[0], r[1], r[2]): r for r in list(csv.reader((out / "offerings.csv").open()))[1:]}
    # Refreshed AWS rows carry the fixture's on-demand and the kept spot: both the snapshot's.
    for r in ("us-east-1", "eu-west-2"):
        for t in ("g5.xlarge", "p5.48xlarge"):
            assert rows[("aws", r, t)] == snap[("aws", r, t)]
    # Regions outside --regions are copied from the snapshot, e.g. AWS Tokyo, Azure centralus.
    assert (
        rows[("aws", "ap-northeast-1", "p5.48xlarge")]
        == snap[("aws", "ap-northeast-1", "p5.48xlarge")]
    )
    assert (
        rows[("azure", "centralus", "Standard_NC4as_T4_v3")]
        == snap[("azure", "centralus", "Standard_NC4as_T4_v3")]
    )
    # In refreshed regions, what the source does not list is gone (e.g. AWS g4dn in us-east-1).
    assert ("aws", "us-east-1", "g4dn.xlarge") not in rows
    assert ("gcp", "us-east1", "a3-highgpu-8g") not in rows  # priced, but not known to exist
    by_cloud = {c: sum(k[0] == c for k in rows) for c in ("aws", "azure", "gcp")}
    # 75 - 21 + 4, 50 - 21 + 5, 51 - 19 + 9: replaced in the refreshed regions, the rest kept.
    assert by_cloud == {"aws": 58, "azure": 34, "gcp": 41}


def test_refresh_without_gcp_key_keeps_gcp_and_says_so(serve, tmp_path, monkeypatch, capsys):
    server = serve(aws_route)
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "GOOGLE_API_KEY",
        "TRICLOUD_GCP_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TRICLOUD_AWS_PRICING_URL", server.url)
    out = tmp_path / "cat"
    rc = main(
        [
            "refresh",
            "--base",
            str(SMALL),
            "--clouds",
            "aws,gcp",
            "--regions",
            "aws/us-east-1,gcp/us-central1",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    err = capsys.readouterr().err
    assert "gcp: not refreshed: no API key in TRICLOUD_GCP_API_KEY or GOOGLE_API_KEY" in err
    assert "azure: not selected (--clouds); its 50 offerings are the previous snapshot's." in err
    readme = (out / "README.md").read_text()
    assert "gcp: not refreshed" in readme and "azure: not selected" in readme


def test_refresh_source_down_exits_3_and_writes_nothing(serve, tmp_path, monkeypatch, capsys):
    server = serve(lambda p, q: (500, "down", {}))
    monkeypatch.setattr(cli, "Http", functools.partial(Http, backoff=0.001))
    monkeypatch.setenv("TRICLOUD_AZURE_PRICES_URL", server.url + "/api/retail/prices")
    out = tmp_path / "cat"
    rc = main(
        [
            "refresh",
            "--base",
            str(SMALL),
            "--clouds",
            "azure",
            "--out",
            str(out),
            "--retries",
            "1",
            "--timeout",
            "2",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 3 and "HTTP 500; gave up after 2 attempts" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--clouds", "oracle"], "--clouds: unknown cloud 'oracle'"),
        (["--regions", "mars-1"], "--regions: 'mars-1' is not a region of the selected clouds"),
        (["--date", "yesterday"], "--date: 'yesterday' is not YYYY-MM-DD"),
        (["--base", "/nonexistent"], "/nonexistent: catalog folder does not exist"),
    ],
)
def test_refresh_bad_input_exits_2(tmp_path, capsys, argv, message):
    assert main(["refresh", "--base", str(SMALL), "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_refresh_cloud_without_selected_region_is_kept(serve, tmp_path, monkeypatch, capsys):
    server = serve(aws_route)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.setenv("TRICLOUD_AWS_PRICING_URL", server.url)
    out = tmp_path / "cat"
    assert (
        main(
            [
                "refresh",
                "--base",
                str(SMALL),
                "--clouds",
                "aws,azure",
                "--regions",
                "us-east-1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "kept: azure: no region of it selected (--regions)" in err
    assert sum(o.cloud == "azure" for o in catalog_mod.load(out).offerings) == 50


def test_tools_catalog_does_not_import_pulumi():
    import subprocess
    import sys

    code = "import sys, tools.catalog.cli; sys.exit(any(m.split('.')[0] == 'pulumi' for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_progress_bar_live_and_plain():
    from tools.catalog.http import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    live = Tty()
    bar = Progress("aws: offer file us-east-1", total=20_000_000, unit="MB", stream=live)
    for _ in range(2):
        bar._last = 0.0  # draw every step
        bar.advance(10_000_000)
    bar.finish()
    assert "\raws: offer file us-east-1 [############............] 10.0/20.0 MB" in live.getvalue()
    assert live.getvalue().endswith("\raws: offer file us-east-1: 20.0/20.0 MB\x1b[K\n")
    plain = io.StringIO()  # not a terminal: one final line only
    bar = Progress("gcp: billing catalog pages", unit=" pages", stream=plain)
    bar.advance()
    bar.advance()
    bar.finish("(30 SKUs)")
    assert plain.getvalue() == "gcp: billing catalog pages: 2 pages (30 SKUs)\n"
