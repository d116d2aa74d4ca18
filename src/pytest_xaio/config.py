"""One typed settings object, read once per session: command line > environment > ini > default.

Every setting has one name, from which its ini key (``xaio_<name>``), its command-line option
(``--xaio-<name>``) and its environment variable (``XAIO_<NAME>``) are derived, so the three can
never disagree. The table :data:`OPTIONS` is also what the docs' configuration reference is built
from.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_xaio.options import Option, ini_type, option_of_field, read_option, setting

__all__ = [
    "ISOLATIONS",
    "OPTIONS",
    "AppSettings",
    "AuthSettings",
    "CoverageSettings",
    "DbSettings",
    "ExternalsSettings",
    "MatrixSettings",
    "Option",
    "PostgresSettings",
    "RedisSettings",
    "XaioSettings",
    "configured_names",
    "get_settings",
    "ini_type",
    "settings_key",
    "worker_id",
]

#: The per-test isolation modes, declared once (the setting, the xaio_db marker, database_fixture).
ISOLATIONS = ("transaction", "truncate", "clone")


@dataclass(frozen=True)
class PostgresSettings:
    """PostgreSQL: the server, the databases, migrations and per-test isolation."""

    postgres: str = setting(
        "Postgres provider: auto, embedded, url, container, local or none.",
        default="auto",
        choices=("auto", "embedded", "url", "container", "local", "none"),
    )
    postgres_url: str | None = setting("Use this PostgreSQL server (the plugin creates its own databases there).")
    allow_remote: bool = setting("Allow a Postgres/Redis URL whose host is not this machine.", default=False)
    postgres_version: str = setting("Image tag for the container provider (e.g. 17).", default="17")
    migrations: str | None = setting(
        "Alembic ini file or folder of V001__name.sql migrations to build the schema.", kind="path"
    )
    schema_sql: str | None = setting("A plain SQL schema file applied to the template database.", kind="path")
    isolation: str = setting(
        "Per-test isolation: transaction (rollback), truncate or clone.", default="transaction", choices=ISOLATIONS
    )
    keep_tables: tuple[str, ...] = setting("Tables the truncate isolation never empties (seed data).", default=())
    reuse_db: bool = setting(
        "In transaction isolation, keep the worker database for the next run when it is verified "
        "unchanged (locked while in use; recreated when the migrations change or a write was committed).",
        default=True,
    )
    db_dependency: str | None = setting(
        "The app's DB session dependency (module:get_db), overridden to join the test's database."
    )
    env: tuple[str, ...] = setting(
        "Lines NAME=VALUE exported before the app is imported; {url} {host} {port} {user} {password} "
        "{dbname} {redis_url} are filled in.",
        default=(),
    )
    allow_databases: tuple[str, ...] = setting(
        "Databases the connection guard lets tests reach besides the plugin's own: lines of names or URLs.", default=()
    )
    db_session_class: str | None = setting(
        "Session class the xaio_db_dependency override yields (module:Class; default: detected from the dependency)."
    )
    project: str | None = setting("Name used in the databases the plugin creates (default: the rootdir's name).")
    cache_dir: str | None = setting("Where the embedded cluster and other caches live.", kind="path")


@dataclass(frozen=True)
class RedisSettings:
    """Redis: the provider and the server."""

    redis: str = setting(
        "Redis provider: auto, url, binary, container or none.",
        default="auto",
        choices=("auto", "url", "binary", "container", "none"),
    )
    redis_url: str | None = setting("Use this Redis server (the plugin only flushes logical DBs it owns).")


@dataclass(frozen=True)
class AppSettings:
    """The app under test."""

    app: str | None = setting("The FastAPI app under test: package.module:app or package.module:create_app().")
    base_url: str | None = setting(
        "Base URL of the test clients (default http://testserver, or an allowed host of TrustedHostMiddleware)."
    )
    gc_freeze: bool = setting(
        "Move the objects made while the session starts (plugins, conftests, the app, test modules) out of "
        "the reach of Python's cyclic garbage collector, so that its full collections scan only what comes after.",
        default=True,
    )


@dataclass(frozen=True)
class AuthSettings:
    """Test tokens: how they are signed and what they claim."""

    jwt_secret: str | None = setting("Secret used to sign HS* test tokens.")
    jwt_secret_from: str | None = setting("Read the JWT secret from the app, e.g. app.core.config:settings.SECRET_KEY.")
    jwt_algorithm: str = setting("JWT algorithm: HS256 (default), HS384, HS512, RS256, ES256.", default="HS256")
    jwt_claims: tuple[str, ...] = setting(
        "Extra claims as lines name=value; values may use {user.id}-style templates.", default=()
    )
    jwt_lifetime: int = setting("Lifetime of minted tokens in seconds.", default=900)
    jwt_audience: str | None = setting("aud claim of minted tokens.")
    jwt_issuer: str | None = setting("iss claim of minted tokens.")
    jwt_subject: str | None = setting("sub claim template (default {user.id}, or 'xaio-test-user' with no user row).")
    jwt_private_key: str | None = setting(
        "PEM private key file to sign RS*/ES* tokens (default: a key pair made per session).", kind="path"
    )
    jwt_public_key_env: str | None = setting(
        "Export the RS*/ES* public key (PEM) in this env var before the app is imported, e.g. JWT_PUBLIC_KEY."
    )


@dataclass(frozen=True)
class MatrixSettings:
    """The endpoint matrix."""

    auth_dependencies: tuple[str, ...] = setting(
        "Extra dependencies (module:callable) that mean a route requires auth.", default=()
    )
    public_routes: tuple[str, ...] = setting(
        "Routes that need no auth: lines like 'GET /health' or '/docs*'.", default=()
    )
    validation_status: int = setting("Status the app answers for invalid input (FastAPI default 422).", default=422)
    expected_status: tuple[str, ...] = setting(
        "Override expected statuses per case kind: lines kind=status.", default=()
    )
    admin_dependencies: tuple[str, ...] = setting(
        "Dependencies (module:callable) that mean a route is for admins only (-403-not-admin cases).", default=()
    )
    admin_attrs: tuple[str, ...] = setting(
        "Attributes of the admin user the matrix makes with xaio_user_factory: lines like is_superuser = true.",
        default=(),
    )
    matrix_examples: int = setting("Hypothesis-drawn requests per route (the -examples case); 0: none.", default=0)
    matrix_report: str | None = setting("Write the matrix's route x case-kind table to this JSON file.", kind="path")


@dataclass(frozen=True)
class ExternalsSettings:
    """Outbound HTTP: the fakes and the network guard."""

    mock_externals: bool = setting(
        "Answer Stripe, Brevo and GitHub with in-process fakes; block other hosts.", default=False
    )
    allow_hosts: tuple[str, ...] = setting("Hosts outbound HTTP may reach while externals are mocked.", default=())
    stripe_webhook_secret: str | None = setting("Webhook signing secret the app checks (whsec_...).")
    stripe_webhook_secret_from: str | None = setting("Read the Stripe webhook secret from the app (module:attr).")
    github_webhook_secret: str | None = setting("Secret for X-Hub-Signature-256 on GitHub webhooks.")


@dataclass(frozen=True)
class DbSettings:
    """The database toolkit."""

    migration_checks: bool = setting(
        "Generate migration check test items (single head, up from empty, round trips, Alembic models match).",
        default=False,
    )


@dataclass(frozen=True)
class CoverageSettings:
    """The coverage gaps report."""

    cov_threshold: float = setting("List files under this coverage percent at the end of the run.", default=80.0)
    cov_fail_under_file: float | None = setting(
        "Fail the run when any measured file is under this percent.", kind="float"
    )


_SECTIONS: dict[str, type[Any]] = {
    "postgres": PostgresSettings,
    "redis": RedisSettings,
    "app": AppSettings,
    "auth": AuthSettings,
    "matrix": MatrixSettings,
    "externals": ExternalsSettings,
    "db": DbSettings,
    "coverage": CoverageSettings,
}


def _options() -> tuple[Option, ...]:
    """The option table, read off the section dataclasses' fields (section by section, in order)."""
    options = []
    for section, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            options.append(option_of_field(f, section))
    return tuple(options)


#: Every setting, in the order the docs' reference lists them; derived from the section dataclasses.
OPTIONS: tuple[Option, ...] = _options()


@dataclass(frozen=True)
class XaioSettings:
    """Everything the plugin was configured with, resolved once per session."""

    rootdir: str = "."
    worker: str = "main"
    postgres: PostgresSettings = field(default_factory=PostgresSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    app: AppSettings = field(default_factory=AppSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    matrix: MatrixSettings = field(default_factory=MatrixSettings)
    externals: ExternalsSettings = field(default_factory=ExternalsSettings)
    db: DbSettings = field(default_factory=DbSettings)
    coverage: CoverageSettings = field(default_factory=CoverageSettings)

    @property
    def project(self) -> str:
        return self.postgres.project or os.path.basename(os.path.abspath(self.rootdir)) or "project"

    def resolve_path(self, value: str) -> str:
        """Paths in settings are relative to the rootdir, as pytest's own ini paths are."""
        return value if os.path.isabs(value) else os.path.normpath(os.path.join(self.rootdir, value))

    @classmethod
    def from_values(
        cls,
        values: Mapping[str, Any],
        *,
        rootdir: str = ".",
        worker: str = "main",
    ) -> XaioSettings:
        """Build settings from already-typed values keyed by option name (unknown names are an error)."""
        by_section: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
        known = {opt.name: opt for opt in OPTIONS}
        for name, value in values.items():
            if name not in known:
                raise pytest.UsageError(f"pytest-xaio: unknown setting {name!r}")
            by_section[known[name].section][name] = value
        sections = {name: _SECTIONS[name](**vals) for name, vals in by_section.items()}
        return cls(rootdir=rootdir, worker=worker, **sections)

    @classmethod
    def from_pytest(
        cls, config: pytest.Config, environ: Mapping[str, str] | None = None, options: Any = None
    ) -> XaioSettings:
        """``options``: the early argparse namespace, before ``config.option`` is filled in
        (``pytest_load_initial_conftests`` runs then)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for opt in OPTIONS:
            value = read_option(config, opt, env, options)
            if value is not None:
                values[opt.name] = value
        return cls.from_values(values, rootdir=str(config.rootpath), worker=worker_id(config))

    def replace(self, section: str, **changes: Any) -> XaioSettings:
        """A copy with some fields of one section changed (for fixture factories and tests)."""
        current = getattr(self, section)
        return dataclasses.replace(self, **{section: dataclasses.replace(current, **changes)})


settings_key = pytest.StashKey[XaioSettings]()


def worker_id(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    if isinstance(workerinput, dict) and "workerid" in workerinput:
        return str(workerinput["workerid"])
    return os.environ.get("PYTEST_XDIST_WORKER", "main") or "main"


def configured_names(config: pytest.Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """The settings this run gives explicitly (command line, environment or ini), by option name."""
    env = os.environ if environ is None else environ
    return [opt.name for opt in OPTIONS if read_option(config, opt, env) is not None]


def get_settings(config: pytest.Config) -> XaioSettings:
    """The session's settings; built in ``pytest_configure``."""
    try:
        return config.stash[settings_key]
    except KeyError:
        settings = XaioSettings.from_pytest(config)
        config.stash[settings_key] = settings
        return settings
