"""Kubernetes versions: the dated per-cloud support table, what it refuses, and what extended
support costs (EKS bills $0.60/h instead of $0.10/h once standard support ends)."""

from __future__ import annotations

import shutil
from datetime import date

import pytest

from components import settings
from optimizer import catalog as catalog_mod
from optimizer import cost, kubernetes
from optimizer.catalog import HOURS_PER_MONTH
from optimizer.errors import InputError
from tools.plan.cli import REPO_ROOT, capture_for

SNAPSHOT = date(2026, 11, 30)
DEV = settings.config_from_stack_file(REPO_ROOT / "stacks" / "Pulumi.dev.yaml").values


def aws_only(version: str) -> dict[str, str]:
    config = {k: v for k, v in DEV.items() if k != "gcp:project"}
    config["tricloud:clouds"] = '["aws"]'
    config["tricloud:kubernetesVersion"] = version
    return config


@pytest.mark.parametrize(
    ("cloud", "version", "on", "status"),
    [
        ("aws", "1.35", SNAPSHOT, "standard"),
        ("aws", "1.33", SNAPSHOT, "extended"),  # standard support ended 2026-07-29
        ("aws", "1.34", date(2026, 12, 1), "standard"),
        ("aws", "1.34", date(2026, 12, 2), "extended"),  # the day standard support ends
        ("aws", "1.31", SNAPSHOT, "unsupported"),  # extended support ended 2026-11-26
        ("azure", "1.34", SNAPSHOT, "unsupported"),  # end of life November 2026
        ("azure", "1.37", SNAPSHOT, "standard"),
        ("gcp", "1.34", SNAPSHOT, "unsupported"),  # Regular channel: standard only
        ("gcp", "1.36", SNAPSHOT, "unsupported"),  # not in the table: never assumed
    ],
)
def test_status_on_a_date(cloud, version, on, status):
    assert kubernetes.support(cloud, version, on).status == status


def test_the_default_is_the_newest_version_in_standard_support_everywhere():
    assert kubernetes.default_version(["aws", "azure", "gcp"], SNAPSHOT) == "1.35"
    assert kubernetes.default_version(["azure"], SNAPSHOT) == "1.37"


def test_a_bad_table_row_is_reported_with_file_and_line(tmp_path):
    path = tmp_path / "kubernetes.csv"
    shutil.copy(kubernetes.TABLE, path)
    path.write_text(
        path.read_text()
        + "aws,1.36,2026-07-01,2026-06-01,2027-09-01,0.60\n"
        + "gcp,1.36,2026-07-01,2027-09-01,,0.50\n"
        + "aws,1.35,2026-01-27,2027-03-27,2028-03-27,0.60\n"
    )
    with pytest.raises(InputError) as info:
        kubernetes.calendars(path)
    lines = info.value.lines()
    n = len(path.read_text().splitlines())
    assert lines == [
        f"kubernetes.csv:{n - 2}: dates must increase: available < end_of_standard < end_of_extended",
        f"kubernetes.csv:{n - 1}: end_of_extended and its control-plane price go together",
        f"kubernetes.csv:{n}: aws 1.35 is listed twice",
    ]


def test_an_aws_stack_in_extended_support_is_priced_at_the_extended_fee(tmp_path):
    cat = catalog_mod.load()
    (tmp_path / "stacks").mkdir()
    extended = settings.parse(
        aws_only("1.33"), stack="dev", stacks_dir=tmp_path / "stacks", catalog=cat
    )
    standard = settings.parse(
        aws_only("1.35"), stack="dev", stacks_dir=tmp_path / "stacks", catalog=cat
    )
    assert extended.kubernetes.support == {"aws": "extended"}
    assert standard.kubernetes.support == {"aws": "standard"}
    # the optimizer's cluster fee: what EKS bills
    assert extended.catalog.clusters["aws"].control_plane_usd_hr == 0.60
    assert (
        standard.catalog.clusters["aws"].control_plane_usd_hr
        == cat.clusters["aws"].control_plane_usd_hr
    )


def test_the_program_and_the_policy_estimate_price_extended_support(tmp_path):
    project = tmp_path
    shutil.copy(REPO_ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copy(REPO_ROOT / "__main__.py", project / "__main__.py")
    (project / "stacks").mkdir()
    costs, estimates = {}, {}
    for version in ("1.33", "1.35"):
        stack_file = (REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
        stack_file = stack_file.replace("tricloud:clouds: [aws, gcp]", "tricloud:clouds: [aws]")
        stack_file = stack_file.replace(
            'kubernetesVersion: "1.35"', f'kubernetesVersion: "{version}"'
        )
        stack_file = stack_file.replace("  gcp:project: acme-tricloud-dev\n", "")
        (project / "stacks" / "Pulumi.dev.yaml").write_text(stack_file)
        cap = capture_for("dev", project)
        eks = cap.of_type("aws:eks/cluster:Cluster")
        assert eks and all(
            r.inputs["upgradePolicy"]["supportType"]
            == ("EXTENDED" if version == "1.33" else "STANDARD")
            for r in eks
        )
        costs[version] = cap.outputs["placement"]["cost"]["monthlyUsd"]["clusters"]
        estimates[version] = sum(
            item.monthly_usd
            for r in eks
            if (
                item := cost.price_cluster(
                    cost.Resource(r.urn, r.type, r.inputs, region="us-east-2"), catalog_mod.load()
                )
            )
        )
    extra = (0.60 - 0.10) * HOURS_PER_MONTH * len(eks)
    assert costs["1.33"] - costs["1.35"] == pytest.approx(extra, abs=0.02)
    assert estimates["1.33"] - estimates["1.35"] == pytest.approx(extra, abs=0.02)
