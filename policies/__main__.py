"""Entry point the Pulumi engine runs for `--policy-pack policies`.

Constructing `PolicyPack` starts the analyzer's gRPC server and blocks, so it happens only when
this file is run as the program, never on import.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    # The pack imports `optimizer` (pricing) and `policies` from the project root.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from pulumi_policy import PolicyPack

    from policies.pack import DEFAULT_LEVEL, PACK_NAME, POLICIES

    PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=DEFAULT_LEVEL)
