"""The component provider: serves the building blocks to TypeScript, Go, YAML, ... programs.

`pulumi package add <repo>/provider` starts this through `provider/PulumiPlugin.yaml`, asks it
for its schema (inferred by `pulumi.provider.experimental` from the components' `TypedDict`
args and annotated outputs) and generates an SDK in the consumer's language; at `pulumi up`
the engine calls it to construct each component, in Python, with the consumer's providers.

`Platform` is not served: it takes an optimizer `Plan` and the program's `Settings` (Python
objects read from stack config), which a package schema cannot express. Other languages
compose the building blocks themselves, as `examples/` does in Python.
"""

from importlib.metadata import PackageNotFoundError, version

import pulumi

PACKAGE = "tricloud"


def components() -> list[type[pulumi.ComponentResource]]:
    """The served components, in schema order; each registers `tricloud:index:<Class>`."""
    from components import (
        AwsGpuCluster,
        AzureGpuCluster,
        DatasetReplication,
        GcpGpuCluster,
        GlobalLoadBalancer,
        InferenceService,
    )

    return [
        AwsGpuCluster,
        AzureGpuCluster,
        GcpGpuCluster,
        InferenceService,
        GlobalLoadBalancer,
        DatasetReplication,
    ]


def package_version() -> str:
    """The package version is the Python project's (pyproject.toml), so SDKs match releases."""
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


def provider():
    """The provider object (what the host serves); tests ask it for its schema in-process."""
    from pulumi.provider.experimental.component import ComponentProvider

    return ComponentProvider(components(), PACKAGE, version=package_version())


def main() -> None:
    """Serve the components over gRPC (prints the port, as Pulumi plugins do)."""
    from pulumi.provider.experimental import component_provider_host

    component_provider_host(components(), name=PACKAGE, version=package_version())


if __name__ == "__main__":
    main()
