"""Bad input through `python -m optimizer solve` (design 3, "Bad input contract").

Every row starts from one small valid scenario, breaks one thing, runs the CLI in-process
and checks the contract: exit 2, nothing on stdout, no traceback, one line per problem on
stderr, and a line whose key path (the part before the first ": ") is the expected one and
that names the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from optimizer import catalog as catalog_mod
from optimizer.cli import main
from optimizer.scenario import parse
from optimizer.solve import solve

REPO = Path(__file__).resolve().parents[1]

# Small and fast: one service, one geo (solves in a few hundredths of a second).
BASE: dict = {
    "clouds": ["aws", "azure", "gcp"],
    "services": [
        {
            "name": "embed",
            "image": "ghcr.io/acme/text-embed:2.1.0",
            "replicaGpuMemoryGb": 16,
            "throughputRps": {"L4": 60, "T4": 25},
            "demandRps": {"us-east": 300},
            "latencySloMs": 40,
            "minReplicas": 2,
            "modelSizeGb": 2,
            "port": 8000,
        }
    ],
    "placement": {
        "survive": "none",
        "maxSpotFraction": 0.5,
        "stability": {"minSavingsPercent": 10, "migrationCostUsdPerNode": 0},
    },
    "replication": {
        "primary": "auto",
        "mode": "incremental",
        "maxStalenessMinutes": 60,
        "datasets": [{"name": "eval-sets", "sizeGb": 10, "dailyChangeGb": 1}],
    },
}

DELETE = object()

# GCP regions that sell L4 nodes (for the quota row): every one at 0 but us-east4 at 1 GPU.
_GCP_L4_REGIONS = sorted(
    {o.region for o in catalog_mod.load().offerings if o.cloud == "gcp" and o.accelerator == "L4"}
)
_TIGHT_QUOTAS = {f"gcp/{r}/L4": (1 if r == "us-east4" else 0) for r in _GCP_L4_REGIONS}


def edited(*edits: tuple[tuple, object]) -> dict:
    """A deep copy of BASE with (path, value) edits applied; value DELETE removes the key."""
    raw = copy.deepcopy(BASE)
    for path, value in edits:
        node = raw
        for part in path[:-1]:
            node = node[part]
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = copy.deepcopy(value)
    return raw


S0 = ("services", 0)
PL = ("placement",)
RE = ("replication",)


def svc(key: str, value) -> tuple[tuple, object]:
    return ((*S0, key), value)


def pl(key: str, value) -> tuple[tuple, object]:
    return ((*PL, key), value)


def rep(key: str, value) -> tuple[tuple, object]:
    return ((*RE, key), value)


def case(id_: str, raw, key: str, *needles: str, count: int | None = 1):
    """One row: `key` must be the key path of a problem line holding every needle.

    `count` is the exact number of problem lines expected (None: at least one), so that one
    mistake is not reported as a cascade of unrelated ones.
    """
    return pytest.param(raw, key, needles, count, id=id_)


def _second_service(**changes) -> dict:
    s = copy.deepcopy(BASE["services"][0])
    s.update(changes)
    return s


CASES = [
    # --- names that must exist in the catalog / geo list -------------------------------
    case(
        "unknown-accelerator",
        edited(svc("throughputRps", {"H10": 40})),
        "services[0].throughputRps",
        "H10",
        "A10G",
    ),
    case(
        "unknown-geo",
        edited(svc("demandRps", {"mars": 10})),
        "services[0].demandRps",
        "mars",
        "us-east",
    ),
    case(
        "unknown-region-in-placement-allowedRegions",
        edited(pl("allowedRegions", ["aws/us-east-9"])),
        "placement.allowedRegions[0]",
        "us-east-9",
        "us-east-1",
    ),
    case(
        "unknown-region-in-service-allowedRegions",
        edited(svc("allowedRegions", ["gcp/europe-west99"])),
        "services[0].allowedRegions[0]",
        "europe-west99",
        "europe-west4",
    ),
    case(
        "unknown-cloud-in-clouds",
        edited((("clouds",), ["aws", "ibm"])),
        "clouds",
        "ibm",
        "azure",
    ),
    case(
        "unknown-cloud-in-allowedRegions",
        edited(pl("allowedRegions", ["ibm/us-south"])),
        "placement.allowedRegions[0]",
        "ibm",
        "aws",
    ),
    case(
        "allowedRegions-cloud-not-in-clouds",
        edited((("clouds",), ["aws", "azure"]), pl("allowedRegions", ["gcp/us-east4"])),
        "placement.allowedRegions[0]",
        "gcp",
    ),
    case(
        "allowedRegions-entry-without-slash",
        edited(svc("allowedRegions", ["us-east-1"])),
        "services[0].allowedRegions[0]",
        "us-east-1",
        "cloud/region",
    ),
    case("duplicate-cloud", edited((("clouds",), ["aws", "aws"])), "clouds", "aws"),
    case("empty-clouds", edited((("clouds",), [])), "clouds", "aws"),
    # --- numbers out of range -----------------------------------------------------------
    case(
        "negative-demand",
        edited(svc("demandRps", {"us-east": -5})),
        "services[0].demandRps.us-east",
        "-5",
        "> 0",
    ),
    case(
        "zero-demand",
        edited(svc("demandRps", {"us-east": 0})),
        "services[0].demandRps.us-east",
        "0",
        "> 0",
    ),
    case(
        "zero-throughput",
        edited(svc("throughputRps", {"L4": 0})),
        "services[0].throughputRps.L4",
        "0",
        "> 0",
    ),
    case(
        "replica-fits-no-node",
        edited(svc("replicaGpuMemoryGb", 10_000)),
        "services[0].replicaGpuMemoryGb",
        "10000",
        "L4",
    ),
    case(
        "port-out-of-range",
        edited(svc("port", 70_000)),
        "services[0].port",
        "70000",
        "65535",
    ),
    case(
        "minReplicas-zero",
        edited(svc("minReplicas", 0)),
        "services[0].minReplicas",
        "0",
        ">= 1",
    ),
    case(
        "failoverLatencySlo-below-latencySlo",
        edited(svc("failoverLatencySloMs", 30)),
        "services[0].failoverLatencySloMs",
        "30",
        "below latencySloMs (40)",
        ">= the service's latencySloMs",
    ),
    case(
        "failoverLatencySlo-not-a-number",
        edited(svc("failoverLatencySloMs", "fast")),
        "services[0].failoverLatencySloMs",
        "'fast'",
        "milliseconds",
    ),
    case(
        "latencySlo-not-finite",
        edited(svc("latencySloMs", float("nan"))),
        "services[0].latencySloMs",
        "nan",
    ),
    case(
        "maxSpotFraction-above-1",
        edited(pl("maxSpotFraction", 1.5)),
        "placement.maxSpotFraction",
        "1.5",
        "0..1",
    ),
    case(
        "spotSurvivalFactor-negative",
        edited(pl("spotSurvivalFactor", -0.1)),
        "placement.spotSurvivalFactor",
        "-0.1",
        "0..1",
    ),
    case(
        "minClouds-above-number-of-clouds",
        edited((("clouds",), ["aws", "gcp"]), pl("minClouds", 3)),
        "placement.minClouds",
        "3",
        "1..2",
    ),
    case(
        "maxClusters-zero",
        edited(pl("maxClusters", 0)),
        "placement.maxClusters",
        "0",
        ">= 1",
    ),
    case(
        "budget-zero",
        edited(pl("monthlyBudgetUsd", 0)),
        "placement.monthlyBudgetUsd",
        "0",
        "> 0",
    ),
    case(
        "latencyWeight-negative",
        edited(pl("latencyWeightUsdPerMs", -1)),
        "placement.latencyWeightUsdPerMs",
        "-1",
        ">= 0",
    ),
    case(
        "minSavingsPercent-above-100",
        edited(pl("stability", {"minSavingsPercent": 150})),
        "placement.stability.minSavingsPercent",
        "150",
        "0..100",
    ),
    # --- unknown keys (typos must not be silently ignored) --------------------------------
    case(
        "unknown-top-level-key",
        edited((("placment",), {"survive": "region"})),
        "placment",
        "placement",
    ),
    case(
        "unknown-service-key",
        edited(svc("latencySlo", 40)),
        "services[0].latencySlo",
        "latencySloMs",
    ),
    case(
        "unknown-placement-key",
        edited(pl("minCloud", 2)),
        "placement.minCloud",
        "minClouds",
    ),
    case(
        "unknown-stability-key",
        edited(pl("stability", {"minSavingPercent": 5})),
        "placement.stability.minSavingPercent",
        "minSavingsPercent",
    ),
    case(
        "unknown-replication-key",
        edited(rep("primaryRegion", "aws/us-east-1")),
        "replication.primaryRegion",
        "primary",
    ),
    case(
        "unknown-dataset-key",
        edited(rep("datasets", [{"name": "d", "sizeGb": 1, "dailyChange": 1}])),
        "replication.datasets[0].dailyChange",
        "dailyChangeGb",
    ),
    # --- wrong types --------------------------------------------------------------------
    case(
        "string-for-number",
        edited(svc("latencySloMs", "40ms")),
        "services[0].latencySloMs",
        "40ms",
        "milliseconds",
    ),
    case(
        "bool-for-number",
        edited(svc("minReplicas", True)),
        "services[0].minReplicas",
        "True",
        "integer",
    ),
    case(
        "float-for-integer",
        edited(svc("minReplicas", 2.5)),
        "services[0].minReplicas",
        "2.5",
        "integer",
    ),
    case(
        "list-for-mapping-throughput",
        edited(svc("throughputRps", ["L4"])),
        "services[0].throughputRps",
        "L4",
        "mapping",
    ),
    case(
        "list-for-mapping-placement",
        edited((("placement",), ["survive", "region"])),
        "placement",
        "mapping",
    ),
    case(
        "mapping-for-list-services",
        edited((("services",), BASE["services"][0])),
        "services",
        "list",
    ),
    case(
        "mapping-for-list-allowedRegions",
        edited(pl("allowedRegions", {"aws": "us-east-1"})),
        "placement.allowedRegions",
        "list",
    ),
    case(
        "string-for-service",
        edited((("services",), ["embed"])),
        "services[0]",
        "embed",
        "mapping",
    ),
    case(
        "scenario-not-a-mapping",
        ["services", "placement"],
        "scenario",
        "mapping",
    ),
    # --- services -------------------------------------------------------------------------
    case("services-missing", edited((("services",), DELETE)), "services", "list"),
    case("services-empty", edited((("services",), [])), "services", "list"),
    case(
        "missing-required-image",
        edited(svc("image", DELETE)),
        "services[0].image",
        "required",
    ),
    case(
        "missing-required-throughput",
        edited(svc("throughputRps", DELETE)),
        "services[0].throughputRps",
        "required",
    ),
    case(
        "empty-demand",
        edited(svc("demandRps", {})),
        "services[0].demandRps",
        "empty",
    ),
    case(
        "duplicate-service-name",
        edited((("services",), [BASE["services"][0], _second_service()])),
        "services[1].name",
        "embed",
        "duplicate",
    ),
    case(
        "name-not-a-dns-label",
        edited(svc("name", "Embed_Small")),
        "services[0].name",
        "Embed_Small",
        "DNS label",
    ),
    case(
        "name-longer-than-63",
        edited(svc("name", "a" * 64)),
        "services[0].name",
        "DNS label",
    ),
    case(
        "name-ends-with-dash",
        edited(svc("name", "embed-")),
        "services[0].name",
        "embed-",
        "DNS label",
    ),
    # --- placement ----------------------------------------------------------------------
    case(
        "survive-cloud-with-one-cloud",
        edited((("clouds",), ["aws"]), pl("survive", "cloud")),
        "placement.survive",
        "cloud",
        "aws",
    ),
    case(
        "survive-value-not-allowed",
        edited(pl("survive", "zone")),
        "placement.survive",
        "zone",
        "none, region, cloud",
    ),
    case(
        "quota-key-format",
        edited(pl("quotasGpu", {"aws-us-east-1-L4": 8})),
        "placement.quotasGpu",
        "aws-us-east-1-L4",
        "cloud/region/ACCELERATOR",
    ),
    case(
        "quota-unknown-accelerator",
        edited(pl("quotasGpu", {"aws/us-east-1/H1000": 8})),
        "placement.quotasGpu",
        "H1000",
        "H100",
    ),
    case(
        "quota-unknown-region",
        edited(pl("quotasGpu", {"aws/us-east-9/L4": 8})),
        "placement.quotasGpu",
        "us-east-9",
    ),
    case(
        "quota-negative-count",
        edited(pl("quotasGpu", {"aws/us-east-1/L4": -1})),
        "placement.quotasGpu.aws/us-east-1/L4",
        "-1",
        ">= 0",
    ),
    # --- replication --------------------------------------------------------------------
    case(
        "replication-primary-unknown",
        edited(rep("primary", "aws/mars-1")),
        "replication.primary",
        "aws/mars-1",
        "auto",
    ),
    case(
        "replication-primary-cloud-not-in-clouds",
        edited((("clouds",), ["aws", "gcp"]), rep("primary", "azure/eastus")),
        "replication.primary",
        "azure/eastus",
    ),
    case(
        "replication-mode-invalid",
        edited(rep("mode", "sync")),
        "replication.mode",
        "sync",
        "incremental, mirror",
    ),
    case(
        "replication-datasets-not-a-list",
        edited(rep("datasets", {"name": "d", "sizeGb": 1})),
        "replication.datasets",
        "list",
    ),
    case(
        "dataset-missing-size",
        edited(rep("datasets", [{"name": "d"}])),
        "replication.datasets[0].sizeGb",
        "is required",
    ),
    case(
        "dataset-duplicate-name",
        edited(
            rep(
                "datasets",
                [{"name": "d", "sizeGb": 1}, {"name": "d", "sizeGb": 2}],
            )
        ),
        "replication.datasets[1].name",
        "duplicate",
    ),
    # --- valid values, but no plan exists (design 6.6): explained, not a solver status -----
    case(
        "infeasible-latency-slo",
        edited(svc("latencySloMs", 1)),
        "services[0].latencySloMs",
        "us-east",
        "1 ms",
        count=None,
    ),
    case(
        "infeasible-budget-below-minimum",
        edited(pl("monthlyBudgetUsd", 100)),
        "placement.monthlyBudgetUsd",
        "100.00",
        "minimum achievable cost",
        count=None,
    ),
    case(
        "infeasible-quota",
        edited(
            (("clouds",), ["gcp"]),
            svc("throughputRps", {"L4": 60}),
            svc("latencySloMs", 200),
            pl("quotasGpu", _TIGHT_QUOTAS),
        ),
        "placement.quotasGpu",
        count=None,
    ),
    case(
        "infeasible-residency-service",
        edited(svc("throughputRps", {"L4": 60}), svc("allowedRegions", ["azure/*"])),
        "services[0].allowedRegions",
        count=None,
    ),
    case(
        "infeasible-residency-placement",
        edited(svc("throughputRps", {"L4": 60}), pl("allowedRegions", ["azure/*"])),
        "placement.allowedRegions",
        count=None,
    ),
    case(
        "infeasible-maxClusters-with-survive-region",
        edited(pl("survive", "region"), pl("maxClusters", 1)),
        "placement.maxClusters",
        count=None,
    ),
]


def run_cli(tmp_path: Path, raw, capsys) -> tuple[int, str, str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    code = main(["solve", "--scenario", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def problem_lines(err: str) -> list[tuple[str, str]]:
    """(key path, message) for each problem line of the CLI's stderr (after its heading)."""
    lines = err.splitlines()
    assert lines, "nothing on stderr"
    assert lines[0].startswith("error:"), lines[0]
    out = []
    for line in lines[1:]:
        assert line.startswith("  ") and ": " in line, f"not a problem line: {line!r}"
        where, message = line.strip().split(": ", 1)
        out.append((where, message))
    return out


def assert_reported(err: str, key: str, needles=(), count: int | None = None) -> None:
    problems = problem_lines(err)
    assert problems, err
    if count is not None:
        assert len(problems) == count, f"expected {count} problem line(s):\n{err}"
    matching = [m for where, m in problems if key in where.split(", ")]
    assert matching, f"no problem names {key!r}:\n{err}"
    assert any(all(n in m for n in needles) for m in matching), (
        f"no {key!r} line mentions all of {needles}:\n{err}"
    )


def test_base_scenario_is_valid(tmp_path, capsys):
    """The rows below fail because of their edit, not because the base is broken."""
    code, out, err = run_cli(tmp_path, BASE, capsys)
    assert code == 0, err
    assert "embed" in out
    assert err == ""


@pytest.mark.parametrize(("raw", "key", "needles", "count"), CASES)
def test_bad_scenario_is_reported(tmp_path, capsys, raw, key, needles, count):
    code, out, err = run_cli(tmp_path, raw, capsys)
    assert code == 2, f"exit {code}\nstdout:\n{out}\nstderr:\n{err}"
    assert "Traceback" not in err
    assert out == ""
    assert_reported(err, key, needles, count)


def test_table_has_enough_rows():
    assert len(CASES) >= 30


@pytest.mark.parametrize(
    "spot",
    [pl("maxSpotFraction", 0.5), pl("maxSpotFraction", DELETE)],
    ids=["spot-capped-at-half", "spot-not-configured"],
)
def test_budget_below_minimum_names_the_minimum(tmp_path, capsys, spot):
    """The message gives the minimum achievable cost, and that figure is right: it is the
    billed cost of the unconstrained optimum, and a budget just above it is feasible.

    At half the minimum, dropping the spot cap (which the user may not even have set) would
    also make a plan possible; the budget is still the constraint to name."""
    cat = catalog_mod.load()
    raw = edited(spot)
    cost = solve(parse(raw, cat), cat).to_json()["cost"]["monthlyUsd"]
    minimum = cost["compute"] + cost["clusters"] + cost["egress"]

    code, out, err = run_cli(tmp_path, edited(spot, pl("monthlyBudgetUsd", minimum / 2)), capsys)
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    assert_reported(err, "placement.monthlyBudgetUsd", ["minimum achievable cost"])
    line = next(line for line in err.splitlines() if "placement.monthlyBudgetUsd" in line)
    assert f"{minimum:,.2f}" in line, f"minimum {minimum:,.2f} not in {line!r}"

    code, _, err = run_cli(tmp_path, edited(spot, pl("monthlyBudgetUsd", minimum + 1)), capsys)
    assert code == 0, err


def test_three_problems_reported_at_once(tmp_path, capsys):
    raw = edited(
        svc("throughputRps", {"H10": 40}),
        pl("survive", "zone"),
        rep("mode", "sync"),
    )
    code, _, err = run_cli(tmp_path, raw, capsys)
    assert code == 2
    assert "Traceback" not in err
    wheres = [w for w, _ in problem_lines(err)]
    assert sorted(wheres) == [
        "placement.survive",
        "replication.mode",
        "services[0].throughputRps",
    ], err


def test_problems_in_two_services_reported_at_once(tmp_path, capsys):
    raw = edited(
        (("services",), [BASE["services"][0], _second_service(name="chat")]),
        (("services", 0, "demandRps"), {"mars": 1}),
        (("services", 1, "latencySloMs"), "fast"),
    )
    code, _, err = run_cli(tmp_path, raw, capsys)
    assert code == 2
    wheres = sorted(w for w, _ in problem_lines(err))
    assert wheres == ["services[0].demandRps", "services[1].latencySloMs"], err


def test_invalid_yaml_names_the_file(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("services:\n  - name: embed\n    demandRps: {us-east: 300\n")
    code = main(["solve", "--scenario", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    (where, message), *_ = problem_lines(err)
    assert where.startswith(str(path)), err
    assert "YAML" in message


def test_missing_scenario_file_names_the_file(tmp_path, capsys):
    path = tmp_path / "nope.yaml"
    code = main(["solve", "--scenario", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert problem_lines(err) == [(str(path), "file not found")]


def test_empty_scenario_file(tmp_path, capsys):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    code = main(["solve", "--scenario", str(path)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in err
    assert problem_lines(err)


def test_missing_catalog_folder(tmp_path, capsys):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(BASE))
    missing = tmp_path / "no-catalog"
    code = main(["solve", "--scenario", str(path), "--catalog", str(missing)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in err
    assert_reported(err, str(missing), ["does not exist"])


def test_missing_incumbent_file(tmp_path, capsys):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(BASE))
    missing = tmp_path / "placement.json"
    code = main(["solve", "--scenario", str(path), "--incumbent", str(missing)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in err
    assert_reported(err, str(missing), ["not found"])


def test_incumbent_not_json(tmp_path, capsys):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(BASE))
    bad = tmp_path / "placement.json"
    bad.write_text("{not json")
    code = main(["solve", "--scenario", str(path), "--incumbent", str(bad)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in err
    (where, message), *_ = problem_lines(err)
    assert where.startswith(str(bad)) and "JSON" in message, err


def test_duplicate_yaml_key_is_reported(tmp_path, capsys):
    """A key written twice is as much a typo as an unknown key (the second silently wins).
    Pulumi's own YAML reader rejects duplicate keys in stack config."""
    path = tmp_path / "dup.yaml"
    path.write_text(
        "services:\n"
        "  - name: embed\n"
        "    image: x:1\n"
        "    replicaGpuMemoryGb: 16\n"
        "    throughputRps: {L4: 60}\n"
        "    demandRps: {us-east: 300}\n"
        "    latencySloMs: 40\n"
        "    latencySloMs: 400\n"
    )
    code = main(["solve", "--scenario", str(path)])
    _, err = capsys.readouterr()
    assert code == 2, "duplicate key accepted"
    assert "latencySloMs" in err


# --- the real command, as a user runs it -----------------------------------------------


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_subprocess_bad_input_exit_2_without_traceback(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(
        yaml.safe_dump(edited(svc("throughputRps", {"H10": 40}), pl("survive", "zone")))
    )
    proc = _run("solve", "--scenario", str(path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    wheres = sorted(w for w, _ in problem_lines(proc.stderr))
    assert wheres == ["placement.survive", "services[0].throughputRps"], proc.stderr


def test_subprocess_infeasible_exit_2_without_traceback(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(edited(pl("monthlyBudgetUsd", 100))))
    proc = _run("solve", "--scenario", str(path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert_reported(proc.stderr, "placement.monthlyBudgetUsd", ["minimum achievable cost"])


def test_subprocess_valid_scenario_prints_table(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(BASE))
    out_json = tmp_path / "plan.json"
    proc = _run("solve", "--scenario", str(path), "--json", str(out_json))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "CLUSTER" in proc.stdout and "embed" in proc.stdout
    assert out_json.exists()
