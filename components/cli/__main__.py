"""`python -m inferstack.components.cli`: the `inferstack` command."""

from inferstack.components.cli.app import main

main()
