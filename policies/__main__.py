"""Entry point the Pulumi engine runs for `--policy-pack policies` (in this repository).

The pack imports `optimizer` (pricing) and `policies` from the project root; serving starts
the analyzer's gRPC server and blocks, so it happens only when this file is run.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from policies.serve import main

    main()
