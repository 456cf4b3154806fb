"""``python -m theta`` runs the ``theta`` command."""

from theta.cli import main

raise SystemExit(main())
