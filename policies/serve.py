"""Serve the pack to the Pulumi engine (what `--policy-pack` runs).

Constructing `PolicyPack` starts the analyzer's gRPC server and blocks, so it happens only when
`main()` is called: by `policies/__main__.py` in this repository, and by the `__main__.py` of a
pack folder written by `python -m policies.location` for an installed distribution.
"""

from __future__ import annotations


def main() -> None:
    from pulumi_policy import PolicyPack

    from .pack import DEFAULT_LEVEL, PACK_NAME, POLICIES

    PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=DEFAULT_LEVEL)
