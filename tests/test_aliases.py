"""Renames keep URNs: a component class renamed (ALIASES) or an instance renamed or moved
(`renamed()`) registers the URN it had before as an alias, and so do its children.

Each case runs two versions of a tiny program under the mock engine: the old one, and the
new one with the alias; every URN of the old run must be among the aliases of the resource
that replaces it in the new run (so `pulumi up` updates in place instead of replacing).
"""

from pathlib import Path

import pulumi

from components import aliases
from tools.plan.engine import Capture, run_program

SERVICE = """
import pulumi
from components import InferenceService, renamed

ARGS = {
    "service": "chat",
    "image": "ghcr.io/acme/chat:1.0",
    "port": 8000,
    "cloud": "gcp",
    "pools": [{
        "pool": "g2-standard-24-od", "accelerator": "L4", "pricing": "on-demand",
        "gpus_per_replica": 1, "replicas": 2, "max_replicas": 4, "cpu": "8", "memory": "32Gi",
    }],
    "labels": {"team": "ml"},
}
"""

# Version 1 of a component class, before it was renamed to InferenceService: same children.
OLD_CLASS = (
    SERVICE
    + """
from pulumi_kubernetes.core.v1 import Namespace

class GpuService(pulumi.ComponentResource):
    def __init__(self, name, args, opts=None):
        super().__init__("tricloud:index:GpuService", name, {}, opts)
        Namespace(f"{name}-ns", metadata={"name": "chat"}, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})

GpuService("chat", ARGS)
"""
)
NEW_CLASS = SERVICE + 'InferenceService("chat", ARGS)\n'


def run(tmp_path: Path, source: str, tag: str) -> Capture:
    program = tmp_path / tag / "__main__.py"
    program.parent.mkdir()
    program.write_text(source)
    return run_program(program, project="aliases", stack="dev", config={})


def engine_urn(urn: str) -> str:
    """The URN the engine gives a resource. The SDK's mock monitor puts the stack's type in
    front of a top-level resource's type (`pulumi:pulumi:Stack$tricloud:index:...`); the engine
    does not, and the SDK computes alias URNs the engine's way."""
    return urn.replace("::pulumi:pulumi:Stack$", "::")


def test_a_renamed_component_class_keeps_its_urn_and_its_childrens(tmp_path, monkeypatch):
    old = run(tmp_path, OLD_CLASS, "v1")
    monkeypatch.setitem(
        aliases.ALIASES,
        "tricloud:index:InferenceService",
        (pulumi.Alias(type_="tricloud:index:GpuService"),),
    )
    new = run(tmp_path, NEW_CLASS, "v2")

    old_component = old.of_type("tricloud:index:GpuService")[0]
    new_component = new.of_type("tricloud:index:InferenceService")[0]
    assert old_component.urn != new_component.urn
    assert engine_urn(old_component.urn) in new_component.aliases

    old_ns = old.of_type("kubernetes:core/v1:Namespace")[0]
    new_ns = new.of_type("kubernetes:core/v1:Namespace")[0]
    assert old_ns.name == new_ns.name == "chat-ns"
    assert old_ns.urn != new_ns.urn  # the parent's type is part of a child's URN
    assert engine_urn(old_ns.urn) in new_ns.aliases  # inherited from the parent's alias


def test_without_an_alias_the_class_rename_would_replace(tmp_path):
    old = run(tmp_path, OLD_CLASS, "v1")
    new = run(tmp_path, NEW_CLASS, "v2")
    old_urns = {engine_urn(r.urn) for r in old.resources}
    assert not old_urns & {a for r in new.resources for a in r.aliases}


def test_a_renamed_instance_keeps_its_urn(tmp_path):
    old = run(tmp_path, SERVICE + 'InferenceService("chat-70b", ARGS)\n', "v1")
    new = run(tmp_path, SERVICE + 'InferenceService("chat", ARGS, renamed("chat-70b"))\n', "v2")
    old_component = old.of_type("tricloud:index:InferenceService")[0]
    new_component = new.of_type("tricloud:index:InferenceService")[0]
    assert (old_component.name, new_component.name) == ("chat-70b", "chat")
    assert engine_urn(old_component.urn) in new_component.aliases
    # Children named after their parent (`{name}-pdb`) follow the rename too.
    old_pdb = old.of_type("kubernetes:policy/v1:PodDisruptionBudget")[0]
    new_pdb = new.of_type("kubernetes:policy/v1:PodDisruptionBudget")[0]
    assert (old_pdb.name, new_pdb.name) == ("chat-70b-pdb", "chat-pdb")
    assert engine_urn(old_pdb.urn) in new_pdb.aliases


def test_a_component_moved_under_a_parent_keeps_its_urn(tmp_path):
    old = run(tmp_path, SERVICE + 'InferenceService("chat", ARGS)\n', "v1")
    moved = (
        SERVICE
        + """
class Team(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("acme:index:Team", name, {}, None)

team = Team("ml")
InferenceService(
    "chat",
    ARGS,
    renamed(old_parent=pulumi.ROOT_STACK_RESOURCE, opts=pulumi.ResourceOptions(parent=team)),
)
"""
    )
    new = run(tmp_path, moved, "v2")
    old_component = old.of_type("tricloud:index:InferenceService")[0]
    new_component = new.of_type("tricloud:index:InferenceService")[0]
    assert "acme:index:Team$" in new_component.urn
    assert engine_urn(old_component.urn) in new_component.aliases
    old_ns = old.of_type("kubernetes:core/v1:Namespace")[0]
    new_ns = new.of_type("kubernetes:core/v1:Namespace")[0]
    assert engine_urn(old_ns.urn) in new_ns.aliases


def test_no_component_declares_aliases_today():
    """ALIASES is empty until a component is renamed; the shipped stacks' URNs are the same."""
    assert aliases.ALIASES == {}
    assert aliases.component_opts("tricloud:index:Platform", None) is None


def test_renamed_needs_something_that_changed():
    import pytest

    with pytest.raises(ValueError, match="say what changed"):
        aliases.renamed()
