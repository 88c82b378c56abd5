"""The catalog snapshot (optimizer/data/README.md): the shipped files load, and every corruption
of a copy is reported as `file:row: reason`, all of them at once, as one `InputError`."""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from optimizer import catalog as catalog_mod
from optimizer.cli import main
from optimizer.errors import InputError

DATA = Path(catalog_mod.__file__).parent / "data"
FILES = ("offerings.csv", "regions.csv", "egress.csv", "clusters.csv")


# --- the shipped snapshot ----------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> catalog_mod.Catalog:
    return catalog_mod.load()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_shipped_catalog_counts(shipped):
    assert len(shipped.offerings) == 1022
    assert len(shipped.regions) == 113
    assert len({(o.cloud, o.region) for o in shipped.offerings}) == 102
    by_cloud = {c: sum(o.cloud == c for o in shipped.offerings) for c in catalog_mod.CLOUDS}
    assert by_cloud == {"aws": 202, "azure": 563, "gcp": 257}
    assert set(shipped.clusters) == {"aws", "azure", "gcp"}
    assert len(shipped.egress) == 9


def test_shipped_catalog_matches_files(shipped):
    """Every CSV row is one offering with its prices; nothing invented, nothing dropped."""
    rows = _rows(DATA / "offerings.csv")
    by_key = {(o.cloud, o.region, o.instance_type): o for o in shipped.offerings}
    assert len(by_key) == len(rows)
    for row in rows:
        o = by_key[(row["cloud"], row["region"], row["instance_type"])]
        assert o.accelerator == row["accelerator"]
        assert o.accelerator_count == int(row["accelerator_count"])
        assert o.price_on_demand == float(row["price_on_demand_usd_hr"])
        spot = row["price_spot_usd_hr"].strip()
        assert o.price_spot == (float(spot) if spot else None)


def test_shipped_catalog_invariants(shipped):
    for o in shipped.offerings:
        assert o.price_on_demand > 0
        assert o.price_spot is None or 0 < o.price_spot <= o.price_on_demand
        assert o.accelerator in catalog_mod.ACCELERATOR_MEMORY_GB
        assert o.region_key in shipped.regions
    assert list(shipped.regions) == sorted(shipped.regions)


def test_shipped_catalog_is_deterministic(shipped):
    again = catalog_mod.load(DATA)
    assert again.sha256 == shipped.sha256
    assert re.fullmatch(r"[0-9a-f]{64}", shipped.sha256)
    assert again.offerings == shipped.offerings


def test_shipped_snapshot_is_dated(shipped):
    """The files are a *dated* snapshot with their sources in
    optimizer/data/README.md, and the plan's catalog.snapshot is that date."""
    readme = DATA / "README.md"
    assert readme.exists(), "optimizer/data/README.md (sources and snapshot date) is missing"
    match = re.search(r"^Snapshot date:\s*(\d{4}-\d{2}-\d{2})", readme.read_text(), re.M)
    assert match, "README.md has no 'Snapshot date: YYYY-MM-DD' line"
    assert shipped.snapshot == match.group(1)


# --- copies ------------------------------------------------------------------------------


@pytest.fixture
def copy_dir(tmp_path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(DATA, target)
    return target


def test_copy_loads_and_hash_follows_content(copy_dir, shipped):
    assert catalog_mod.load(copy_dir).sha256 == shipped.sha256
    path = copy_dir / "offerings.csv"
    path.write_text(path.read_text().replace("5.281,2.3818", "5.281,2.3817", 1))
    assert catalog_mod.load(copy_dir).sha256 != shipped.sha256


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Prices\n\nSnapshot date: 2025-11-01\n", "2025-11-01"),
        ("Sources...\nSnapshot date:   2024-02-29 (approximate)\n", "2024-02-29"),
        ("# Prices\n\nNo date here.\n", "undated"),
    ],
    ids=["dated", "dated-with-note", "no-date-line"],
)
def test_snapshot_date_from_readme(copy_dir, text, expected):
    (copy_dir / "README.md").write_text(text)
    assert catalog_mod.load(copy_dir).snapshot == expected


def test_snapshot_without_readme_is_undated(copy_dir):
    (copy_dir / "README.md").unlink(missing_ok=True)
    assert catalog_mod.load(copy_dir).snapshot == "undated"


# --- corruptions: one defect each ------------------------------------------------------

Edit = Callable[[Path], None]


def set_cell(file: str, row: int, column: str, value: str) -> Edit:
    """Row numbers as the loader reports them: the header is row 1."""

    def edit(root: Path) -> None:
        path = root / file
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        rows[row - 1][rows[0].index(column)] = value
        with path.open("w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)

    return edit


def append_copy_of(file: str, row: int) -> Edit:
    def edit(root: Path) -> None:
        path = root / file
        lines = path.read_text().splitlines()
        path.write_text("\n".join([*lines, lines[row - 1]]) + "\n")

    return edit


def delete_row(file: str, row: int) -> Edit:
    def edit(root: Path) -> None:
        path = root / file
        lines = path.read_text().splitlines()
        del lines[row - 1]
        path.write_text("\n".join(lines) + "\n")

    return edit


def rename_header(file: str, old: str, new: str) -> Edit:
    def edit(root: Path) -> None:
        path = root / file
        lines = path.read_text().splitlines()
        lines[0] = lines[0].replace(old, new)
        path.write_text("\n".join(lines) + "\n")

    return edit


def remove_file(file: str) -> Edit:
    return lambda root: (root / file).unlink()


def _line_count(file: str) -> int:
    return len((DATA / file).read_text().splitlines())


def _row_of(file: str, **match: str) -> int:
    for i, row in enumerate(_rows(DATA / file), start=2):
        if all(row[k] == v for k, v in match.items()):
            return i
    raise LookupError(match)


OFF = "offerings.csv"
OFF_ROWS = _line_count(OFF)  # header + 176
REG_ROWS = _line_count("regions.csv")
GCP_CLUSTER_ROW = _row_of("clusters.csv", cloud="gcp")
GCP_INTERNET_ROW = _row_of("egress.csv", cloud="gcp", kind="internet")

CORRUPTIONS = [
    pytest.param(
        set_cell(OFF, 5, "price_spot_usd_hr", "999"),
        "offerings.csv:5",
        ["spot price", "exceeds on-demand"],
        id="spot-above-on-demand",
    ),
    pytest.param(
        set_cell(OFF, 5, "price_on_demand_usd_hr", "-1.5"),
        "offerings.csv:5",
        ["price_on_demand_usd_hr", "-1.5", "> 0"],
        id="negative-on-demand-price",
    ),
    pytest.param(
        set_cell(OFF, 7, "price_on_demand_usd_hr", "0"),
        "offerings.csv:7",
        ["price_on_demand_usd_hr", "> 0"],
        id="zero-on-demand-price",
    ),
    pytest.param(
        set_cell(OFF, 7, "price_spot_usd_hr", "0"),
        "offerings.csv:7",
        ["price_spot_usd_hr", "> 0"],
        id="zero-spot-price",
    ),
    pytest.param(
        set_cell(OFF, 9, "price_on_demand_usd_hr", "cheap"),
        "offerings.csv:9",
        ["price_on_demand_usd_hr", "cheap", "not a number"],
        id="price-not-a-number",
    ),
    pytest.param(
        set_cell(OFF, 9, "price_on_demand_usd_hr", "inf"),
        "offerings.csv:9",
        ["price_on_demand_usd_hr", "inf"],
        id="price-infinite",
    ),
    pytest.param(
        set_cell(OFF, 11, "accelerator", "H1000"),
        "offerings.csv:11",
        ["unknown accelerator", "H1000"],
        id="unknown-accelerator",
    ),
    pytest.param(
        set_cell(OFF, 11, "accelerator_count", "1.5"),
        "offerings.csv:11",
        ["accelerator_count", "1.5", "integer"],
        id="fractional-accelerator-count",
    ),
    pytest.param(
        set_cell(OFF, 13, "region", "us-east-9"),
        "offerings.csv:13",
        ["us-east-9", "not in regions.csv"],
        id="region-not-in-regions-csv",
    ),
    pytest.param(
        set_cell(OFF, 13, "cloud", "ibm"),
        "offerings.csv:13",
        ["unknown cloud", "ibm"],
        id="unknown-cloud",
    ),
    pytest.param(
        append_copy_of(OFF, 4),
        f"offerings.csv:{OFF_ROWS + 1}",
        ["duplicate offering"],
        id="duplicate-offering",
    ),
    pytest.param(
        append_copy_of("regions.csv", 3),
        f"regions.csv:{REG_ROWS + 1}",
        ["duplicate region"],
        id="duplicate-region",
    ),
    pytest.param(
        set_cell("regions.csv", 4, "latitude", "95"),
        "regions.csv:4",
        ["out of range"],
        id="latitude-out-of-range",
    ),
    pytest.param(
        set_cell("regions.csv", 4, "longitude", "east"),
        "regions.csv:4",
        ["east", "not a number"],
        id="longitude-not-a-number",
    ),
    pytest.param(
        rename_header(OFF, "price_spot_usd_hr", "spot"),
        "offerings.csv:1",
        ["header", "price_spot_usd_hr"],
        id="bad-header-offerings",
    ),
    pytest.param(
        rename_header("regions.csv", "latitude", "lat"),
        "regions.csv:1",
        ["header", "latitude"],
        id="bad-header-regions",
    ),
    pytest.param(
        remove_file(OFF),
        "offerings.csv",
        ["missing"],
        id="missing-offerings",
    ),
    pytest.param(
        remove_file("regions.csv"),
        "regions.csv",
        ["missing"],
        id="missing-regions",
    ),
    pytest.param(
        remove_file("egress.csv"),
        "egress.csv",
        ["missing"],
        id="missing-egress",
    ),
    pytest.param(
        remove_file("clusters.csv"),
        "clusters.csv",
        ["missing"],
        id="missing-clusters",
    ),
    pytest.param(
        set_cell("egress.csv", 2, "kind", "intercontinental"),
        "egress.csv:2",
        ["intercontinental", "inter_region_intercontinental"],
        id="unknown-egress-kind",
    ),
    pytest.param(
        set_cell("egress.csv", 3, "usd_per_gb", "-0.02"),
        "egress.csv:3",
        ["usd_per_gb", "-0.02", ">= 0"],
        id="negative-egress-price",
    ),
    pytest.param(
        append_copy_of("egress.csv", 2),
        f"egress.csv:{_line_count('egress.csv') + 1}",
        ["duplicate"],
        id="duplicate-egress-price",
    ),
    pytest.param(
        set_cell("clusters.csv", 2, "control_plane_usd_hr", "-0.1"),
        "clusters.csv:2",
        ["control_plane_usd_hr", "-0.1"],
        id="negative-cluster-fee",
    ),
    pytest.param(
        delete_row("clusters.csv", GCP_CLUSTER_ROW),
        "clusters.csv",
        ["no cluster fees", "gcp"],
        id="missing-cluster-fees-for-used-cloud",
    ),
    pytest.param(
        delete_row("egress.csv", GCP_INTERNET_ROW),
        "egress.csv",
        ["internet", "gcp"],
        id="missing-egress-price-for-used-cloud",
    ),
]


def load_error(root: Path) -> InputError:
    with pytest.raises(InputError) as info:
        catalog_mod.load(root)
    return info.value


def assert_named(error: InputError, where: str, needles: list[str]) -> None:
    lines = error.lines()
    hits = [line for line in lines if line.startswith(f"{where}: ")]
    assert hits, f"no problem at {where!r}: {lines}"
    assert any(all(n in line for n in needles) for line in hits), (
        f"no {where!r} line mentions all of {needles}: {hits}"
    )


@pytest.mark.parametrize(("edit", "where", "needles"), CORRUPTIONS)
def test_corrupted_copy_is_rejected(copy_dir, edit, where, needles):
    edit(copy_dir)
    assert_named(load_error(copy_dir), where, needles)


@pytest.mark.parametrize(
    "edit",
    [
        set_cell("regions.csv", 4, "latitude", "95"),
        set_cell("regions.csv", 4, "longitude", "east"),
        rename_header("regions.csv", "latitude", "lat"),
    ],
    ids=["latitude-out-of-range", "longitude-not-a-number", "bad-header-regions"],
)
def test_bad_region_row_is_one_problem(copy_dir, edit):
    """One defect in regions.csv is one line: the offerings in a region that *is* listed
    (only badly) must not each be reported as "not in regions.csv" too (the header case
    buries its one real line under 176 follow-on ones)."""
    edit(copy_dir)
    lines = load_error(copy_dir).lines()
    follow_on = [line for line in lines if "is not in regions.csv" in line]
    assert not follow_on, f"{len(follow_on)} follow-on lines, e.g. {follow_on[:2]}"
    assert len(lines) == 1, lines


def test_three_defects_reported_at_once(copy_dir):
    set_cell(OFF, 3, "price_spot_usd_hr", "999")(copy_dir)
    append_copy_of("regions.csv", 2)(copy_dir)
    set_cell("clusters.csv", GCP_CLUSTER_ROW, "load_balancer_usd_hr", "x")(copy_dir)
    error = load_error(copy_dir)
    assert_named(error, "offerings.csv:3", ["spot price"])
    assert_named(error, f"regions.csv:{REG_ROWS + 1}", ["duplicate region"])
    assert_named(error, f"clusters.csv:{GCP_CLUSTER_ROW}", ["load_balancer_usd_hr", "x"])


def test_missing_folder_is_named(tmp_path):
    error = load_error(tmp_path / "nowhere")
    assert_named(error, str(tmp_path / "nowhere"), ["does not exist"])


def test_row_numbers_count_blank_lines(copy_dir):
    """A row number must find the row in an editor: a blank line still takes a line."""
    path = copy_dir / OFF
    lines = path.read_text().splitlines()
    lines.insert(1, "")  # a blank line right after the header: data now starts on line 3
    path.write_text("\n".join(lines) + "\n")
    set_cell(OFF, 6, "price_on_demand_usd_hr", "-1")(copy_dir)  # line 6 of the file
    assert path.read_text().splitlines()[5].split(",")[8] == "-1"
    assert_named(load_error(copy_dir), "offerings.csv:6", ["price_on_demand_usd_hr"])


def test_short_row_is_an_input_error(copy_dir):
    """A truncated row is a bad catalog, never a crash."""
    path = copy_dir / OFF
    lines = path.read_text().splitlines()
    lines[4] = "aws,us-east-1"
    path.write_text("\n".join(lines) + "\n")
    lines = load_error(copy_dir).lines()
    assert lines and all(line.startswith("offerings.csv:5: ") for line in lines), lines


def test_latency_matrix_is_validated(copy_dir):
    (copy_dir / "latency.csv").write_text(
        "geo,cloud,region,rtt_ms\nus-east,aws,us-east-1,7\nmars,aws,us-east-1,7\n"
        "us-east,aws,us-east-9,7\nus-east,gcp,us-east4,-3\n"
    )
    error = load_error(copy_dir)
    assert_named(error, "latency.csv:3", ["mars"])
    assert_named(error, "latency.csv:4", ["not in regions.csv"])
    assert_named(error, "latency.csv:5", ["rtt_ms"])
    assert len(error.problems) == 3


def test_latency_matrix_overrides_model(copy_dir):
    (copy_dir / "latency.csv").write_text("geo,cloud,region,rtt_ms\nus-east,aws,us-east-1,7.5\n")
    cat = catalog_mod.load(copy_dir)
    assert cat.latency == {("us-east", "aws/us-east-1"): 7.5}


def test_cli_reports_corrupted_catalog(copy_dir, tmp_path, capsys):
    """The CLI turns a bad --catalog into exit 2 with file:row lines, no traceback."""
    set_cell(OFF, 5, "price_spot_usd_hr", "999")(copy_dir)
    set_cell("regions.csv", 4, "latitude", "95")(copy_dir)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "services": [
                    {
                        "name": "embed",
                        "image": "x:1",
                        "replicaGpuMemoryGb": 16,
                        "throughputRps": {"L4": 60},
                        "demandRps": {"us-east": 100},
                        "latencySloMs": 40,
                    }
                ]
            }
        )
    )
    code = main(["solve", "--scenario", str(scenario), "--catalog", str(copy_dir)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert "  offerings.csv:5: spot price" in err
    assert "  regions.csv:4: " in err


# --- egress by source continent -----------------------------------------------------------


def test_egress_depends_on_the_source_continent(shipped):
    rate = shipped.egress_usd_per_gb
    # AWS: from a US region 0.02 to any AWS region; from Tokyo 0.09; internet 0.09 vs 0.114
    assert rate("aws/us-east-1", "aws/ap-northeast-1") == 0.02
    assert rate("aws/ap-northeast-1", "aws/us-east-1") == 0.09
    assert rate("aws/ap-northeast-1", "aws/ap-southeast-1") == 0.09
    assert rate("aws/us-east-1", "gcp/us-central1") == 0.09
    assert rate("aws/ap-northeast-1", "gcp/us-central1") == 0.114
    assert rate("aws/sa-east-1", "aws/us-east-1") == 0.138
    # Azure zone 3 and GCP within Asia
    assert rate("azure/brazilsouth", "gcp/us-central1") == 0.181
    assert rate("azure/eastus", "gcp/us-central1") == 0.087
    assert rate("gcp/asia-east1", "gcp/asia-northeast1") == 0.05
    assert rate("gcp/us-central1", "gcp/us-east4") == 0.02
    # the model's group rate is the same function of (cloud, continent)
    assert shipped.egress_from("aws", "Asia", "aws/us-east-1") == 0.09
    assert ("aws", "Asia", "internet") in shipped.egress_by_source


def test_egress_by_source_is_optional_and_in_the_hash(copy_dir, shipped):
    (copy_dir / "egress_by_source.csv").unlink()
    flat = catalog_mod.load(copy_dir)
    assert flat.egress_by_source == {} and flat.sha256 != shipped.sha256
    assert flat.egress_usd_per_gb("aws/ap-northeast-1", "aws/us-east-1") == 0.02


def test_egress_by_source_problems_all_at_once(copy_dir):
    (copy_dir / "egress_by_source.csv").write_text(
        "cloud,source_continent,kind,usd_per_gb\n"
        "aws,Asia,internet,0.114\n"
        "aws,Asia,internet,0.12\n"
        "aws,Atlantis,internet,0.1\n"
        "ibm,Asia,internet,0.1\n"
        "gcp,Asia,inter_region_same_continent,abc\n"
    )
    with pytest.raises(InputError) as e:
        catalog_mod.load(copy_dir)
    text = "\n".join(e.value.lines())
    assert "egress_by_source.csv:3: duplicate egress price aws/Asia/internet" in text
    assert (
        "egress_by_source.csv:4: source_continent 'Atlantis' is no continent of regions.csv" in text
    )
    assert "egress_by_source.csv:5: unknown cloud/kind ibm/internet" in text
    assert "egress_by_source.csv:6:" in text
