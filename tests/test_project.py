"""Pulumi.yaml and the shipped stacks: schema-valid, loadable, and as different as issue 3 asks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from components import settings
from optimizer import catalog as catalog_mod
from optimizer import kubernetes

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = Path(__file__).resolve().parent / "fixtures" / "schemas"
PROJECT_FILE = ROOT / "Pulumi.yaml"
STACKS_DIR = ROOT / "stacks"
STACKS = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def catalog():
    return catalog_mod.load()


@pytest.fixture(scope="module")
def project():
    return yaml.safe_load(PROJECT_FILE.read_text())


def stack_config(stack: str) -> settings.StackConfig:
    return settings.config_from_stack_file(STACKS_DIR / f"Pulumi.{stack}.yaml")


def load_stack(stack: str, catalog) -> settings.Settings:
    cfg = settings.config_from_stack_file(
        STACKS_DIR / f"Pulumi.{stack}.yaml", project_file=PROJECT_FILE
    )
    return settings.parse(cfg.values, stack=stack, stacks_dir=STACKS_DIR, catalog=catalog)


def test_project_file_validates_against_pulumis_schema(project):
    """Against Pulumi's own schema, vendored with its source and licence (never skipped)."""
    import jsonschema

    schema_path = SCHEMAS / "pulumi-project.schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(project, schema)
    # the check has teeth: a config type the schema does not allow is rejected
    bad = {**project, "config": {"tricloud:owner": {"type": "object"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_the_vendored_schema_names_its_source_and_licence():
    readme = (SCHEMAS / "README.md").read_text()
    assert "sdk/go/common/workspace/project.json" in readme
    assert "0498be116be896fa28b5af4746ad197666167d85" in readme
    assert "Apache License 2.0" in readme
    assert "Apache License" in (SCHEMAS / "LICENSE.pulumi").read_text()


def test_project_basics(project):
    assert project["name"] == settings.PROJECT
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "uv", "virtualenv": ".venv"},
    }
    assert project["stackConfigDir"] == "stacks"
    declared = project["config"]
    # the default is the newest version in standard support on all three clouds
    assert declared["tricloud:kubernetesVersion"]["default"] == kubernetes.default_version(
        ["aws", "azure", "gcp"], kubernetes.snapshot_day(catalog_mod.load().snapshot)
    )
    assert declared["tricloud:apiAllowedCidrs"]["default"] == []
    for key, decl in declared.items():
        assert key.startswith("tricloud:") and key.split(":", 1)[1] in settings.KEYS
        assert decl["description"]


def test_every_declared_default_is_accepted_and_means_what_the_loader_assumes(catalog):
    """The engine fills declared defaults in; the loader must accept each of them and, with
    the key left out, reach the same settings as with the default filled in. (On prod: it
    has the provider settings of all three clouds, which the clouds default needs.)"""
    defaults = settings.project_defaults(PROJECT_FILE)
    assert set(defaults) == set(yaml.safe_load(PROJECT_FILE.read_text())["config"])
    values = stack_config("prod").values
    for key, default in defaults.items():
        without = {k: v for k, v in values.items() if k != key}
        a = settings.parse(
            {**without, key: default}, stack="prod", stacks_dir=STACKS_DIR, catalog=catalog
        )
        b = settings.parse(without, stack="prod", stacks_dir=STACKS_DIR, catalog=catalog)
        assert (a.scenario, a.kubernetes, a.providers) == (b.scenario, b.kubernetes, b.providers)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_disables_default_providers(stack):
    values = stack_config(stack).values
    assert json.loads(values["pulumi:disable-default-providers"]) == ["*"]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_parses_without_problems(stack, catalog):
    s = load_stack(stack, catalog)
    assert s.project == "tricloud" and s.stack == stack
    assert s.lock_path == f"stacks/placement.{stack}.json"
    assert s.cost_tags() == {
        "team": s.owner.team,
        "cost-center": s.owner.cost_center,
        "stack": stack,
        "managed-by": "tricloud",
    }
    assert list(s.cost_tags()) == ["team", "cost-center", "stack", "managed-by"]
    # the provider settings a real run needs
    assert (s.providers.gcp_project is not None) == ("gcp" in s.scenario.clouds)
    assert (s.providers.azure_subscription_id is not None) == ("azure" in s.scenario.clouds)
    assert len(s.providers.aws_allowed_account_ids) == 1
    assert settings.DNS_CLOUD[s.traffic.dns] in s.scenario.clouds
    # in standard support on every cloud of the stack: no extended-support fee, no refusal
    assert set(s.kubernetes.support.values()) == {"standard"}
    assert s.kubernetes.api_allowed_cidrs  # every shipped stack restricts, none is empty
    assert s.scenario.replication.datasets


def test_stacks_differ_as_issue_3_asks(catalog):
    dev, staging, prod = (load_stack(s, catalog).scenario for s in STACKS)

    assert dev.placement.survive == "none"
    assert dev.placement.max_spot_fraction > 0
    assert 1 <= len(dev.clouds) <= 2
    assert len(dev.services) == 1
    assert dev.placement.monthly_budget_usd is not None
    assert dev.placement.monthly_budget_usd < staging.placement.monthly_budget_usd

    assert len(staging.clouds) == 2
    assert staging.placement.survive == "region"
    assert len(staging.services) == 2

    assert prod.clouds == ("aws", "azure", "gcp")
    assert prod.placement.survive == "region"
    assert prod.placement.min_clouds >= 2
    assert prod.placement.quotas_gpu
    assert prod.placement.monthly_budget_usd is not None
    eu_only = [
        s
        for s in prod.services
        if s.allowed_regions
        and all(catalog.regions[r].continent == "Europe" for r in s.allowed_regions)
    ]
    assert eu_only, "prod needs a service restricted to EU regions"
