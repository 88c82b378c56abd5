"""Every Kubernetes object of every shipped stack validates against the OpenAPI schemas of the
Kubernetes minor version the stack runs, strictly (an unknown field is an error).

The schemas are the JSON-schema form of Kubernetes' OpenAPI documents that the
`kubernetes-validate` package ships for each minor version; nothing is fetched.
"""

from __future__ import annotations

import copy
import socket

import kubernetes_validate
import pytest

from tests.conftest import SHIPPED_STACKS, stack_capture

KUBERNETES = "1.35"  # every shipped stack's tricloud:kubernetesVersion (checked below)


def objects(stack: str):
    """The stack's Kubernetes objects as manifests: registered inputs are the object (a Helm
    release is not an object: the chart's own objects are rendered by Helm at deploy)."""
    return [
        r
        for r in stack_capture(stack).resources
        if r.type.startswith("kubernetes:") and not r.type.startswith("kubernetes:helm.sh/")
    ]


def validate(manifest: dict) -> str:
    return kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Validation must never reach out (schemas and their $refs are local files)."""

    def refuse(*args, **kwargs):
        raise AssertionError("kubernetes-validate tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_the_package_has_the_schemas_of_the_stacks_version():
    assert KUBERNETES in {v.rsplit(".", 1)[0] for v in kubernetes_validate.utils.all_versions()}
    for stack in SHIPPED_STACKS:
        eks = stack_capture(stack).of_type("aws:eks/cluster:Cluster")
        assert {r.inputs["version"] for r in eks} <= {KUBERNETES}, stack


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_kubernetes_object_validates_strictly(stack):
    found = objects(stack)
    assert found, stack
    problems = []
    for r in found:
        group_version, kind = r.type.removeprefix("kubernetes:").rsplit(":", 1)
        manifest = r.inputs
        api_version = group_version.removeprefix("core/")
        assert (manifest["apiVersion"], manifest["kind"]) == (api_version, kind), r.urn
        try:
            assert validate(manifest) == KUBERNETES  # the stack's schemas, not a fallback
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            problems.append(f"{r.urn}: {path}: {e.message}")
    assert not problems, "\n".join(problems)


def test_every_kind_the_program_declares_is_covered():
    kinds = {r.inputs["kind"] for s in SHIPPED_STACKS for r in objects(s)}
    assert kinds >= {
        "Namespace",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "DaemonSet",
    }


def _deployment() -> dict:
    (d, *_) = [r for r in objects("prod") if r.inputs["kind"] == "Deployment"]
    return copy.deepcopy(d.inputs)


def _container(manifest: dict) -> dict:
    return manifest["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize(
    "break_it",
    [
        pytest.param(lambda m: _container(m).update(gpus=1), id="unknown-field"),
        pytest.param(lambda m: m["spec"].update(replicas="two"), id="wrong-type"),
        pytest.param(lambda m: _container(m).pop("name"), id="required-field-missing"),
        pytest.param(
            lambda m: m["spec"]["template"]["spec"]["tolerations"][0].update(tolerationSeconds="x"),
            id="nested-wrong-type",
        ),
    ],
)
def test_the_check_is_strict(break_it):
    manifest = _deployment()
    assert validate(manifest) == KUBERNETES
    break_it(manifest)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(manifest)
