"""The project's migrations: finding them (``source``), splitting SQL files (``sqlsplit``), running
them up and down in a scratch database (``migrator``) and the opt-in migration checks (``checks``).

This package depends on the database layer only through the owner that creates scratch databases
(:class:`~pytest_xaio.postgres.databases.DatabaseOwner`); nothing here starts a server.
"""
