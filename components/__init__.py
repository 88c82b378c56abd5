"""tricloud Pulumi components (design section 8): the public API of the component library.

```python
from components import GcpGpuCluster, GcpGpuClusterArgs, InferenceService
```

Every component takes `(name, args, opts)`; `args` is the `TypedDict` exported next to it, each
field documented. Components read no stack config: everything comes through their args (the
program's `components.settings` is the only config reader). `Platform` composes all of them from
an optimizer `Plan`; the building blocks work without it (see `examples/`).

Names are resolved lazily: `import components.settings` stays cheap, and the cloud SDKs load
only when a component is first used.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

# public name -> submodule that defines it
_EXPORTS = {
    "AwsGpuCluster": "aws",
    "AzureGpuCluster": "azure",
    "GcpGpuCluster": "gcp",
    "GcpGpuClusterArgs": "gcp",
    "GpuClusterArgs": "cluster",
    "GpuPoolArgs": "cluster",
    "InferenceService": "serving",
    "InferenceServiceArgs": "serving",
    "WorkloadPoolArgs": "serving",
    "GlobalLoadBalancer": "traffic",
    "GlobalLoadBalancerArgs": "traffic",
    "EndpointArgs": "traffic",
    "DnsRegion": "traffic",
    "DatasetReplication": "replication",
    "DatasetReplicationArgs": "replication",
    "ReplicationTargetArgs": "replication",
    "Platform": "platform",
    "ALIASES": "aliases",
    "renamed": "aliases",
}

__all__ = [
    "ALIASES",
    "AwsGpuCluster",
    "AzureGpuCluster",
    "DatasetReplication",
    "DatasetReplicationArgs",
    "DnsRegion",
    "EndpointArgs",
    "GcpGpuCluster",
    "GcpGpuClusterArgs",
    "GlobalLoadBalancer",
    "GlobalLoadBalancerArgs",
    "GpuClusterArgs",
    "GpuPoolArgs",
    "InferenceService",
    "InferenceServiceArgs",
    "Platform",
    "ReplicationTargetArgs",
    "WorkloadPoolArgs",
    "renamed",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .aliases import ALIASES, renamed
    from .aws import AwsGpuCluster
    from .azure import AzureGpuCluster
    from .cluster import GpuClusterArgs, GpuPoolArgs
    from .gcp import GcpGpuCluster, GcpGpuClusterArgs
    from .platform import Platform
    from .replication import DatasetReplication, DatasetReplicationArgs, ReplicationTargetArgs
    from .serving import InferenceService, InferenceServiceArgs, WorkloadPoolArgs
    from .traffic import DnsRegion, EndpointArgs, GlobalLoadBalancer, GlobalLoadBalancerArgs


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'components' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
