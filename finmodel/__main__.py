"""``python -m finmodel``: the same CLI as the ``finmodel`` command."""

from finmodel.cli import main

main()
