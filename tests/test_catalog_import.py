"""`tools.catalog import-skypilot` on real rows in the real formats
(tests/fixtures/catalog/skypilot_real: rows copied verbatim from SkyPilot's AWS catalog v8,
commit 00148f2, and from the SkyPilot-format GCP and Azure catalogs of anycloud-sh/catalog,
2026-05-20): what is kept, what is skipped and why (one line per family), the no-spot marker,
per-offering GPU memory and the accelerator names that tell different hardware apart."""

from __future__ import annotations

import csv
import io
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from optimizer import catalog as catalog_mod
from tools.catalog.cli import main
from tools.catalog.skypilot import marked, spot_of

REAL = Path(__file__).parent / "fixtures" / "catalog" / "skypilot_real"
SMALL = Path(__file__).parent / "fixtures" / "catalog" / "snapshot_2026-11-30"


def read(path: Path) -> dict[tuple[str, str, str], list[str]]:
    with path.open(newline="") as f:
        return {tuple(r[:3]): r for r in list(csv.reader(f))[1:]}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("imp") / "cat"
    err = io.StringIO()
    with redirect_stderr(err):
        rc = main(["import-skypilot", str(REAL), "--out", str(out), "--base", str(SMALL)])
    return rc, out, err.getvalue()


def test_import_exits_0_and_loads(imported):
    rc, out, _ = imported
    assert rc == 0
    assert len(catalog_mod.load(out).offerings) == 15


def test_kept_rows_with_their_prices(imported):
    _, out, _ = imported
    rows = read(out / "offerings.csv")
    # p5.48xlarge us-east-1: the median of the 4 zones with a spot price (19.2531, 21.1543,
    # 25.7522, 17.6289); use1-az1 and az4 carry the marker 55.040000; the Atlanta Local Zone is
    # another metro.
    assert rows[("aws", "us-east-1", "p5.48xlarge")][8:] == ["55.04", "20.2037"]
    # B200 and V100 32 GB are kept now.
    assert rows[("aws", "us-east-2", "p6-b200.48xlarge")][3:6] == ["B200", "8", "180"]
    assert rows[("aws", "us-east-1", "p3dn.24xlarge")][3:6] == ["V100-32GB", "8", "32"]
    # GCP A3 Mega: the host row plus the H100-MEGA x8 GPU row of the same zone.
    mega = rows[("gcp", "us-central1", "a3-megagpu-8g")]
    assert mega[3:6] == ["H100", "8", "80"]
    assert mega[8:] == ["92.21427", "37.66478"]  # 9.46006 + 82.75421; 3.86318 + 33.8016
    # A GPU row whose spot exceeds its price (A100-80GB x1, 1.964 > 1.8462): the total counts.
    assert rows[("gcp", "us-central1", "a2-ultragpu-1g")][8:] == ["2.94582", "2.51378"]


def test_rounding_marker_is_no_spot(imported):
    _, out, _ = imported
    rows = read(out / "offerings.csv")
    # p4d.24xlarge ap-northeast-1: apne1-az1 has 30.097800 = round(30.09784, 4), below the
    # on-demand price, so it used to count as a spot price (median 18.809); it is the marker.
    assert rows[("aws", "ap-northeast-1", "p4d.24xlarge")][8:] == ["30.09784", "7.5205"]
    # g5.12xlarge apne1-az4: 8.226100 = round(8.22609, 4) rounds up; az1 has a real price.
    assert rows[("aws", "ap-northeast-1", "g5.12xlarge")][9] == "2.4678"
    assert marked(30.09784, 30.0978) is None and marked(30.09784, 7.5205) == 7.5205
    assert spot_of(122.96, 122.96) is None  # Azure writes spot = on-demand for "none"


def test_accelerator_names_tell_hardware_apart(imported):
    _, out, _ = imported
    rows = read(out / "offerings.csv")
    # Azure NC40ads_H100_v5 is the 94 GB H100 NVL although SkyPilot calls it H100.
    assert rows[("azure", "eastus", "Standard_NC40ads_H100_v5")][3:6] == ["H100-NVL", "1", "94"]
    assert rows[("azure", "eastus", "Standard_ND96asr_v4")][3:6] == ["A100-40GB", "8", "40"]
    assert rows[("azure", "eastus", "Standard_NV36ads_A10_v5")][3:6] == ["A10", "1", "24"]
    cat = catalog_mod.load(out)
    nvl = next(o for o in cat.offerings if o.instance_type == "Standard_NC40ads_H100_v5")
    assert nvl.accelerator_memory_gb == 94.0
    assert catalog_mod.ACCELERATOR_MEMORY_GB["H100"] == 80


def test_one_line_per_skipped_family_with_why(imported):
    _, _, err = imported
    notes = [line[len("note: ") :] for line in err.splitlines() if line.startswith("note: ")]
    expected = {
        "aws: f1": "Virtex UltraScale (VU9P) is not an accelerator tricloud knows",
        "aws: g4ad": "Radeon Pro V520 is not an accelerator tricloud knows",
        "aws: g5g": "T4g on arm64 hosts: tricloud's GPU nodes run x86_64 images",
        "aws: g6f": "fractional GPUs (0.25 L4 per VM)",
        "aws: g7e": "RTX PRO Server 6000 is not an accelerator tricloud knows",
        "aws: p5e": "no on-demand price",
        "azure: Standard_NVads_A10_v5": "fractional GPUs (0.167 A10 per VM)",
        "azure: Standard_NVs_v3": "M60 is not an accelerator tricloud knows",
        "gcp: a3-ultragpu": "a variant of a listed machine type (same GPUs, no local SSD)",
        "gcp: a4-highgpu": "no on-demand price",
        "gcp: n1 + attached GPUs": "only n1-standard-8 + 1 T4 is represented",
    }
    for family, why in expected.items():
        hits = [n for n in notes if n.startswith(family + " left out")]
        assert len(hits) == 1 and why in hits[0], (family, notes)
    # The A10 v5 line says that the whole-GPU sizes of the family are kept.
    assert "(other sizes of the family are kept)" in next(
        n for n in notes if n.startswith("azure: Standard_NVads_A10_v5")
    )
    assert "azure: GPU offerings in 3 regions not in regions.csv left out" in err
    assert "TPU" not in err and "tpu" not in err  # TPU rows are not GPU rows


LOWTIER = Path(__file__).parent / "fixtures" / "catalog" / "skypilot_lowtier"


def test_gcp_low_gpu_tier_left_out_with_a_note(tmp_path):
    err = io.StringIO()
    with redirect_stderr(err):
        assert main(["import-skypilot", str(LOWTIER), "--out", str(tmp_path / "a")]) == 0
    got = read(tmp_path / "a" / "offerings.csv")
    assert sorted(r for _, r, _ in got) == ["europe-west1", "us-east4", "us-east5"]
    # host + GPU row: 9.46006 + 78.37241
    assert got[("gcp", "us-east4", "a3-highgpu-8g")][8:] == ["87.83247", "26.80106"]
    assert (
        "gcp: H100 x8 GPU rows left out in 1 regions (us-central1 4.20 $/GPU-h): below 0.6 x the "
        "upper quartile 11.03 of its regions: a second, cheaper SKU (commitment or flex-start "
        "tier?) mixed into the list prices"
    ) in err.getvalue()
    with redirect_stderr(io.StringIO()):
        rc = main(
            ["import-skypilot", str(LOWTIER), "--out", str(tmp_path / "b"), "--keep-low-gpu-tier"]
        )
    assert rc == 0
    kept = read(tmp_path / "b" / "offerings.csv")
    assert kept[("gcp", "us-central1", "a3-highgpu-8g")][8] == "43.06615"
