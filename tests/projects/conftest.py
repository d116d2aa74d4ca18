"""The projects' own suites run in pytester sessions of their own, never as part of this suite."""

collect_ignore_glob = ["*_app/tests", "*_app/app", "async_app/alembic"]
