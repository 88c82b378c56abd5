"""Entry point of the tricloud component provider plugin (`PulumiPlugin.yaml` next to it).

The Python language host runs `python <this folder> <engine address>`; the components come from
the `components` package of this repository, installed in the repository's virtualenv.
"""

from components.provider import main

main()
