"""``python -m pytest_xaio.cli`` runs the ``xaio`` command."""

from pytest_xaio.cli import main

raise SystemExit(main())
