"""``python -m finmodel``: the same CLI as the ``finmodel`` command."""

from finmodel.console import main

main()
