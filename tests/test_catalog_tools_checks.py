"""tools.catalog validate, diff and import-skypilot, offline, on copies of the shipped snapshot
and small SkyPilot-layout CSVs (tests/fixtures/catalog/skypilot)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from optimizer import catalog as catalog_mod
from tools.catalog.cli import main
from tools.catalog.families import KNOWN, family_gpus

DATA = Path(catalog_mod.__file__).parent / "data"
# The first 176-row snapshot, frozen: the seeded-defect, diff and import tests name its rows.
SMALL = Path(__file__).parent / "fixtures" / "catalog" / "snapshot_2026-11-30"
SKY = Path(__file__).parent / "fixtures" / "catalog" / "skypilot"


def read(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


@pytest.fixture
def copy(tmp_path) -> Path:
    dst = tmp_path / "cat"
    shutil.copytree(SMALL, dst)
    return dst


def line_of(rows, cloud, region, itype) -> int:
    """1-based file line (header = 1) of an offering."""
    return next(i for i, r in enumerate(rows, 1) if r[:3] == [cloud, region, itype])


# --- family facts --------------------------------------------------------------------------


def test_known_shapes_equal_the_shipped_snapshot():
    rows = read(DATA / "offerings.csv")[1:]
    seen = {(r[0], r[2]) for r in rows}
    assert seen == set(KNOWN)
    for r in rows:
        s = KNOWN[(r[0], r[2])]
        assert (s.accelerator, s.count, s.vcpus, s.memory_gb) == (
            r[3],
            int(r[4]),
            int(r[6]),
            float(r[7]),
        )
        assert family_gpus(r[0], r[2]) is not None and s.count in family_gpus(r[0], r[2])[1]


def test_family_rules():
    assert family_gpus("aws", "g5.48xlarge") == ("A10G", (8,))
    assert family_gpus("azure", "Standard_ND96isr_H100_v5") == ("H100", (8,))
    assert family_gpus("gcp", "a2-highgpu-2g") == ("A100-40GB", (2,))
    assert family_gpus("gcp", "g2-standard-24") == ("L4", (2,))
    assert family_gpus("gcp", "n1-standard-16") == ("T4", (1, 2, 4))
    assert family_gpus("aws", "m5.large") is None


# --- validate ------------------------------------------------------------------------------


# Azure sizes in regions with availability zones whose zones no public source lists (`?`).
UNKNOWN_ZONE_ROWS = sum(r[3] == "?" for r in read(SMALL / "zones.csv")[1:])
# The small snapshot's a3-highgpu-8g rows at GCP's second, lower H100 price level.
LOW_TIER_ROWS = 4


def test_validate_strict_passes_on_the_shipped_snapshot(capsys):
    assert main(["validate", "--strict", str(DATA)]) == 0
    out = capsys.readouterr().out
    unknown = sum(r[3] == "?" for r in read(DATA / "zones.csv")[1:])
    assert unknown == 526
    assert out.splitlines()[0] == (
        f"{DATA}: 0 errors, 0 warnings, {unknown + 6} excepted (--strict: warnings count as errors)"
    )
    assert f"  {unknown} warnings by validate_exceptions.csv:2: zones-unknown azure/*/*: " in out
    assert out.count(" warnings by validate_exceptions.csv:") == 7
    assert main(["validate", "--list-excepted", str(DATA)]) == 0
    listed = [w for w in capsys.readouterr().out.splitlines() if "(excepted: " in w]
    assert len(listed) == unknown + 6
    assert sum("zones of azure/" in w for w in listed) == unknown


def test_validate_reports_each_seeded_defect(copy, capsys):
    rows = read(copy / "offerings.csv")
    defects = {}

    def seed(key, col, value):
        n = line_of(rows, *key)
        rows[n - 1][col] = value
        return n

    # data-quality errors: GPU count and accelerator contradicting the family
    defects["count"] = seed(("azure", "eastus", "Standard_ND96isr_H100_v5"), 4, "12")
    defects["acc"] = seed(("aws", "us-east-1", "g6.xlarge"), 3, "A10G")
    # loader errors: spot above on-demand, unknown region
    defects["spot_above"] = seed(("gcp", "us-east1", "g2-standard-4"), 9, "0.9")
    defects["region"] = seed(("aws", "us-west-2", "g5.xlarge"), 1, "us-west-1")
    # warnings: spot equal to on-demand, price > 3x the type's median across regions
    defects["spot_eq"] = seed(("aws", "eu-west-1", "g4dn.xlarge"), 9, "0.587")
    defects["outlier"] = seed(("azure", "westus3", "Standard_NC4as_T4_v3"), 8, "2.104")
    write(copy / "offerings.csv", rows)

    assert main(["validate", str(copy)]) == 1
    out = capsys.readouterr().out
    errors = out.split("\nerrors:\n")[1].split("\nwarnings:\n")[0]
    warnings = out.split("\nwarnings:\n")[1]
    assert out.splitlines()[0].endswith(
        f": 4 errors, {2 + UNKNOWN_ZONE_ROWS + LOW_TIER_ROWS} warnings"
    )
    assert (
        f"offerings.csv:{defects['count']}: accelerator_count 12 contradicts Standard_ND96isr_H100_v5, which has 8 x H100"
        in errors
    )
    assert (
        f"offerings.csv:{defects['acc']}: accelerator A10G contradicts g6.xlarge, which has L4"
        in errors
    )
    assert (
        f"offerings.csv:{defects['spot_above']}: spot price 0.9 exceeds on-demand price 0.70683"
        in errors
    )
    assert (
        f"offerings.csv:{defects['region']}: region aws/us-west-1 is not in regions.csv" in errors
    )
    assert (
        f"offerings.csv:{defects['spot_eq']}: spot price 0.587 equals the on-demand price"
        in warnings
    )
    assert (
        f"offerings.csv:{defects['outlier']}: on-demand price 2.104 is 3.8x the median 0.56 of azure Standard_NC4as_T4_v3 across 8 regions"
        in warnings
    )


def test_validate_warnings_only_exit_0(copy, capsys):
    rows = read(copy / "offerings.csv")
    n = line_of(rows, "aws", "eu-west-1", "g4dn.xlarge")
    rows[n - 1][9] = rows[n - 1][8]
    write(copy / "offerings.csv", rows)
    assert main(["validate", str(copy)]) == 0
    out = capsys.readouterr().out
    assert f": 0 errors, {1 + UNKNOWN_ZONE_ROWS + LOW_TIER_ROWS} warnings" in out
    assert "errors:" not in out


def test_validate_reports_loader_file_problems(copy, capsys):
    (copy / "clusters.csv").unlink()
    (copy / "egress.csv").write_text("cloud,kind\naws,internet\n")
    assert main(["validate", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "clusters.csv: file is missing" in out
    assert "egress.csv:1: header is cloud,kind; expected cloud,kind,usd_per_gb" in out


def test_validate_missing_folder_exits_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {tmp_path / 'nope'}: catalog folder does not exist"


# --- diff ----------------------------------------------------------------------------------


def test_diff_changes_added_removed(copy, capsys):
    rows = read(copy / "offerings.csv")
    rows[line_of(rows, "aws", "us-east-1", "p5.48xlarge") - 1][8] = "44.032"  # -20 %
    rows[line_of(rows, "aws", "us-east-1", "g5.xlarge") - 1][8] = "1.03"  # +2.4 %: below 5 %
    rows[line_of(rows, "aws", "us-west-2", "g6.xlarge") - 1][9] = ""  # spot removed
    gone = line_of(rows, "gcp", "us-west1", "n1-standard-8")
    del rows[gone - 1]
    rows.append(
        ["azure", "westus", "Standard_NC40ads_H100_v5", "H100", "1", "80", "40", "320", "8.1", ""]
    )
    write(copy / "offerings.csv", rows)
    zones = read(copy / "zones.csv")
    zones = [z for z in zones if z[:3] != ["gcp", "us-west1", "n1-standard-8"]]
    write(copy / "zones.csv", [*zones, ["azure", "westus", "Standard_NC40ads_H100_v5", "-"]])
    assert main(["diff", str(SMALL), str(copy)]) == 0
    out = capsys.readouterr().out
    assert "prices changed by more than 5%: 2" in out
    lines = out.splitlines()
    p5 = next(x for x in lines if x.startswith("aws/us-east-1/p5.48xlarge"))
    assert p5.split() == ["aws/us-east-1/p5.48xlarge", "on-demand", "55.04", "44.032", "-20.0%"]
    g6 = next(x for x in lines if x.startswith("aws/us-west-2/g6.xlarge"))
    assert g6.split()[-2:] == ["spot", "removed"]
    assert not any(x.startswith("aws/us-east-1/g5.xlarge") for x in lines)
    assert "offerings added: 1" in out and "azure/westus/Standard_NC40ads_H100_v5" in out
    assert "offerings removed: 1" in out and "gcp/us-west1/n1-standard-8" in out
    assert main(["diff", str(SMALL), str(copy), "--threshold", "1"]) == 0
    assert "prices changed by more than 1%: 3" in capsys.readouterr().out


def test_diff_bad_input_exits_2(tmp_path, copy, capsys):
    (copy / "offerings.csv").write_text("cloud,region\n")
    assert main(["diff", str(tmp_path / "missing"), str(copy)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert f"error: {tmp_path / 'missing'}: catalog folder does not exist" in err
    assert any("offerings.csv:1: header is cloud,region" in e for e in err)


# --- import-skypilot -----------------------------------------------------------------------


def test_import_skypilot_all_three_layouts(tmp_path, capsys):
    out = tmp_path / "cat"
    assert main(["import-skypilot", str(SKY), "--out", str(out), "--base", str(SMALL)]) == 0
    err = capsys.readouterr().err
    rows = read(out / "offerings.csv")
    shipped = {tuple(r[:3]): r for r in read(SMALL / "offerings.csv")[1:]}
    expected_from_snapshot = [
        ("aws", "us-east-1", "g5.xlarge"),  # spot: median of 3 zones; = OD, no-spot, Local Zone out
        ("aws", "us-east-1", "p4d.24xlarge"),  # SkyPilot "A100" is the 40 GB part
        ("aws", "us-east-1", "p5.48xlarge"),
        ("azure", "centralus", "Standard_NC4as_T4_v3"),
        ("azure", "eastus", "Standard_NC4as_T4_v3"),
        (
            "azure",
            "eastus",
            "Standard_ND96isr_H100_v5",
        ),  # 12 GPUs corrected to 8; spot = OD -> empty
        ("gcp", "europe-west4", "a2-highgpu-1g"),  # host + A100 x1 row
        ("gcp", "us-central1", "g2-standard-4"),  # host + L4 x1 row, two zones
        ("gcp", "us-central1", "n1-standard-8"),  # host + T4 x1 row
    ]
    got = {tuple(r[:3]): r for r in rows[1:]}
    for key in expected_from_snapshot:
        assert got[key] == shipped[key], key
    # A type the snapshot lacks, converted by the same rule (host + A100 x2 row):
    assert got[("gcp", "europe-west4", "a2-highgpu-2g")] == [
        "gcp", "europe-west4", "a2-highgpu-2g", "A100-40GB", "2", "40", "24", "170", "4.85543", "2.97468",
    ]  # fmt: skip
    assert (
        len(got) == 10
    )  # no m5/D2s (no GPU), no Radeon/A10, no TPU, no a3 (GPU row in another zone)
    assert (
        "azure: Standard_ND96isr_H100_v5 listed with 12 GPUs; its family has 8, so 8 is used" in err
    )
    assert "aws: GPU offerings in 1 regions not in regions.csv left out (sa-east-1)" in err
    assert "gcp/vms.csv: 16 rows read, 4 offerings" in err
    assert catalog_mod.load(out).snapshot != "undated"
    assert main(["validate", str(out)]) == 0


def test_import_skypilot_one_cloud(tmp_path):
    src = tmp_path / "src"
    (src / "gcp").mkdir(parents=True)
    shutil.copy(SKY / "gcp" / "vms.csv", src / "gcp" / "vms.csv")
    assert main(["import-skypilot", str(src), "--out", str(tmp_path / "out")]) == 0
    assert {r[0] for r in read(tmp_path / "out" / "offerings.csv")[1:]} == {"gcp"}


def test_import_skypilot_bad_input_exits_2(tmp_path, capsys):
    assert main(["import-skypilot", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope'}: folder does not exist"

    assert main(["import-skypilot", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "has none of aws/vms.csv, azure/vms.csv, gcp/vms.csv" in capsys.readouterr().err

    (tmp_path / "aws").mkdir()
    (tmp_path / "aws" / "vms.csv").write_text("InstanceType,Price\ng5.xlarge,1\n")
    (tmp_path / "azure").mkdir()
    shutil.copy(SKY / "azure" / "vms.csv", tmp_path / "azure" / "vms.csv")
    with (tmp_path / "azure" / "vms.csv").open("a") as f:
        f.write("Standard_NC4as_T4_v3,T4,1,4.0,28,T4,cheap,,westus,V2\n")
    assert main(["import-skypilot", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(
        "error: aws/vms.csv:1: missing columns AcceleratorName, AcceleratorCount"
    )
    assert err[1] == "error: azure/vms.csv:8: Price 'cheap' is not a number"
    assert len(err) == 2 and not (tmp_path / "o").exists()


def test_validate_flags_the_half_price_gpu_tier(capsys):
    """The small snapshot's GCP H100 rows at the second price level are outside the band."""
    assert main(["validate", str(SMALL)]) == 0
    out = capsys.readouterr().out
    band = [w for w in out.splitlines() if w.endswith("[price-band]")]
    assert len(band) == LOW_TIER_ROWS
    assert all(" of gcp a3-highgpu-8g across 7 regions (less than 0.6x" in w for w in band)
    rows = read(SMALL / "offerings.csv")
    n = line_of(rows, "gcp", "us-central1", "a3-highgpu-8g")
    assert (
        f"  offerings.csv:{n}: on-demand price 43.0662 is 0.47x the upper quartile 92.2724" in out
    )


def test_validate_per_gpu_and_family_memory(copy, capsys):
    rows = read(copy / "offerings.csv")
    # a2-highgpu-1g/2g/8g have the same host per GPU: 2g at 3x the per-GPU price is flagged
    n1 = line_of(rows, "gcp", "europe-west4", "a2-highgpu-1g")
    rows.append(["gcp", "europe-west4", "a2-highgpu-2g", "A100-40GB", "2", "40", "24", "170",
                 str(round(float(rows[n1 - 1][8]) * 6, 4)), ""])  # fmt: skip
    # p4d has A100-40GB: 80 GB per GPU disagrees with the family
    n2 = line_of(rows, "aws", "us-east-1", "p4d.24xlarge")
    rows[n2 - 1][5] = "80"
    write(copy / "offerings.csv", rows)
    zones = read(copy / "zones.csv")
    write(copy / "zones.csv", [*zones, ["gcp", "europe-west4", "a2-highgpu-2g", "europe-west4-a"]])
    assert main(["validate", str(copy)]) == 0
    out = capsys.readouterr().out
    per_gpu = [w for w in out.splitlines() if w.endswith("[per-gpu]")]
    assert per_gpu == [
        f"  offerings.csv:{len(rows)}: a2-highgpu-2g costs 7.283 $/h per A100-40GB (on-demand "
        "14.5663), 3.00x the median 2.428 of a2-highgpu sizes with the same host per GPU in "
        "europe-west4 (a2-highgpu-1g, a2-highgpu-8g) [per-gpu]"
    ]
    assert (
        f"  offerings.csv:{n2}: accelerator_memory_gb 80 is not A100-40GB's 40 GB [family-memory]"
        in out
    )


def test_validate_strict_and_exceptions(copy, capsys):
    assert main(["validate", "--strict", str(copy)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith(
        f": {UNKNOWN_ZONE_ROWS + LOW_TIER_ROWS} errors, 0 warnings "
        "(--strict: warnings count as errors)"
    )
    assert "[price-band] (--strict)" in out
    (copy / "validate_exceptions.csv").write_text(
        "check,cloud,region,instance_type,reason\n"
        "zones-unknown,azure,*,*,no public source lists Azure zones per size\n"
        "price-band,gcp,*,a3-highgpu-8g,reviewed: GCP's second H100 price level\n"
        "spot-not-below,aws,us-east-1,g5.xlarge,matches nothing\n"
    )
    assert main(["validate", "--strict", str(copy)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith(
        f": 1 errors, 0 warnings, {UNKNOWN_ZONE_ROWS + LOW_TIER_ROWS} excepted "
        "(--strict: warnings count as errors)"
    )
    assert (
        "validate_exceptions.csv:4: exception spot-not-below aws/us-east-1/g5.xlarge matches "
        "no warning; remove it [stale-exception] (--strict)" in out
    )
    assert (
        f"  {LOW_TIER_ROWS} warnings by validate_exceptions.csv:3: price-band gcp/*/a3-highgpu-8g"
        in out
    )
    lines = (copy / "validate_exceptions.csv").read_text().splitlines()
    (copy / "validate_exceptions.csv").write_text("\n".join(lines[:3]) + "\n")
    assert main(["validate", "--strict", str(copy)]) == 0
    (copy / "validate_exceptions.csv").write_text(
        "check,cloud,region,instance_type,reason\nno-such-check,gcp,*,*,x\nprice-band,gcp,*,*,\n"
    )
    assert main(["validate", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "validate_exceptions.csv:2: unknown check 'no-such-check'" in out
    assert "validate_exceptions.csv:3: an exception needs its reviewed reason" in out


def test_validate_flags_a_spot_price_far_below_the_types_median(copy, capsys):
    rows = read(copy / "offerings.csv")
    n = line_of(rows, "aws", "us-east-1", "g4dn.xlarge")
    rows[n - 1][9] = "0.0526"  # 10 % of on-demand
    write(copy / "offerings.csv", rows)
    assert main(["validate", str(copy)]) == 0
    out = capsys.readouterr().out
    (flag,) = [w for w in out.splitlines() if w.startswith(f"  offerings.csv:{n}:")]
    assert flag.startswith(f"  offerings.csv:{n}: spot price 0.0526 is 0.")
    assert "of aws g4dn.xlarge's spot prices across 8 regions (less than 0.4x" in flag
