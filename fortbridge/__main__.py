"""``python -m fortbridge`` is the ``fortbridge`` command."""

from fortbridge.cli import main

main()
