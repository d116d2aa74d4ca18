"""One typed settings object, read once per session: command line > environment > ini > default.

Every setting has one name, from which its ini key (``xaio_<name>``), its command-line option
(``--xaio-<name>``) and its environment variable (``XAIO_<NAME>``) are derived, so the three can
never disagree. The table :data:`OPTIONS` is also what the docs' configuration reference is built
from.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

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

Kind = Literal["str", "bool", "int", "float", "choice", "lines", "path"]


@dataclass(frozen=True)
class Option:
    """A setting's definition: the single source for CLI, env, ini and the docs' reference."""

    name: str
    section: str
    help: str
    kind: Kind = "str"
    default: Any = None
    choices: tuple[str, ...] = ()
    cli: bool = True
    env: bool = True

    @property
    def ini_name(self) -> str:
        return f"xaio_{self.name}"

    @property
    def cli_flag(self) -> str:
        return "--xaio-" + self.name.replace("_", "-")

    @property
    def env_name(self) -> str:
        return f"XAIO_{self.name.upper()}"

    @property
    def dest(self) -> str:
        return f"xaio_{self.name}"


#: The per-test isolation modes, declared once (the setting, the xaio_db marker, database_fixture).
ISOLATIONS = ("transaction", "truncate", "clone")

OPTIONS: tuple[Option, ...] = (
    # --- postgres -------------------------------------------------------------------------------
    Option(
        "postgres",
        "postgres",
        "Postgres provider: auto, embedded, url, container, local or none.",
        "choice",
        "auto",
        choices=("auto", "embedded", "url", "container", "local", "none"),
    ),
    Option("postgres_url", "postgres", "Use this PostgreSQL server (the plugin creates its own databases there)."),
    Option("allow_remote", "postgres", "Allow a Postgres/Redis URL whose host is not this machine.", "bool", False),
    Option("postgres_version", "postgres", "Image tag for the container provider (e.g. 17).", default="17"),
    Option(
        "migrations", "postgres", "Alembic ini file or folder of V001__name.sql migrations to build the schema.", "path"
    ),
    Option("schema_sql", "postgres", "A plain SQL schema file applied to the template database.", "path"),
    Option(
        "isolation",
        "postgres",
        "Per-test isolation: transaction (rollback), truncate or clone.",
        "choice",
        "transaction",
        choices=ISOLATIONS,
    ),
    Option("keep_tables", "postgres", "Tables the truncate isolation never empties (seed data).", "lines", ()),
    Option(
        "reuse_db",
        "postgres",
        "In transaction isolation, keep the worker database for the next run when it is verified "
        "unchanged (locked while in use; recreated when the migrations change or a write was committed).",
        "bool",
        True,
    ),
    Option(
        "db_dependency",
        "postgres",
        "The app's DB session dependency (module:get_db), overridden to join the test's database.",
    ),
    Option(
        "env",
        "postgres",
        "Lines NAME=VALUE exported before the app is imported; {url} {host} {port} {user} {password} "
        "{dbname} {redis_url} are filled in.",
        "lines",
        (),
    ),
    Option(
        "allow_databases",
        "postgres",
        "Databases the connection guard lets tests reach besides the plugin's own: lines of names or URLs.",
        "lines",
        (),
    ),
    Option(
        "db_session_class",
        "postgres",
        "Session class the xaio_db_dependency override yields (module:Class; default: detected from the dependency).",
    ),
    Option("project", "postgres", "Name used in the databases the plugin creates (default: the rootdir's name)."),
    Option("cache_dir", "postgres", "Where the embedded cluster and other caches live.", "path"),
    # --- redis ----------------------------------------------------------------------------------
    Option(
        "redis",
        "redis",
        "Redis provider: auto, url, binary, container or none.",
        "choice",
        "auto",
        choices=("auto", "url", "binary", "container", "none"),
    ),
    Option("redis_url", "redis", "Use this Redis server (the plugin only flushes logical DBs it owns)."),
    # --- app ------------------------------------------------------------------------------------
    Option("app", "app", "The FastAPI app under test: package.module:app or package.module:create_app()."),
    Option(
        "base_url",
        "app",
        "Base URL of the test clients (default http://testserver, or an allowed host of TrustedHostMiddleware).",
    ),
    # --- auth -----------------------------------------------------------------------------------
    Option("jwt_secret", "auth", "Secret used to sign HS* test tokens."),
    Option("jwt_secret_from", "auth", "Read the JWT secret from the app, e.g. app.core.config:settings.SECRET_KEY."),
    Option("jwt_algorithm", "auth", "JWT algorithm: HS256 (default), HS384, HS512, RS256, ES256.", default="HS256"),
    Option(
        "jwt_claims", "auth", "Extra claims as lines name=value; values may use {user.id}-style templates.", "lines", ()
    ),
    Option("jwt_lifetime", "auth", "Lifetime of minted tokens in seconds.", "int", 900),
    Option("jwt_audience", "auth", "aud claim of minted tokens."),
    Option("jwt_issuer", "auth", "iss claim of minted tokens."),
    Option("jwt_subject", "auth", "sub claim template (default {user.id}, or 'xaio-test-user' with no user row)."),
    Option(
        "jwt_private_key",
        "auth",
        "PEM private key file to sign RS*/ES* tokens (default: a key pair made per session).",
        "path",
    ),
    Option(
        "jwt_public_key_env",
        "auth",
        "Export the RS*/ES* public key (PEM) in this env var before the app is imported, e.g. JWT_PUBLIC_KEY.",
    ),
    # --- matrix ---------------------------------------------------------------------------------
    Option(
        "auth_dependencies",
        "matrix",
        "Extra dependencies (module:callable) that mean a route requires auth.",
        "lines",
        (),
    ),
    Option("public_routes", "matrix", "Routes that need no auth: lines like 'GET /health' or '/docs*'.", "lines", ()),
    Option(
        "validation_status", "matrix", "Status the app answers for invalid input (FastAPI default 422).", "int", 422
    ),
    Option("expected_status", "matrix", "Override expected statuses per case kind: lines kind=status.", "lines", ()),
    Option(
        "admin_dependencies",
        "matrix",
        "Dependencies (module:callable) that mean a route is for admins only (-403-not-admin cases).",
        "lines",
        (),
    ),
    Option(
        "admin_attrs",
        "matrix",
        "Attributes of the admin user the matrix makes with xaio_user_factory: lines like is_superuser = true.",
        "lines",
        (),
    ),
    Option("matrix_examples", "matrix", "Hypothesis-drawn requests per route (the -examples case); 0: none.", "int", 0),
    Option("matrix_report", "matrix", "Write the matrix's route x case-kind table to this JSON file.", "path"),
    # --- externals ------------------------------------------------------------------------------
    Option(
        "mock_externals",
        "externals",
        "Answer Stripe, Brevo and GitHub with in-process fakes; block other hosts.",
        "bool",
        False,
    ),
    Option("allow_hosts", "externals", "Hosts outbound HTTP may reach while externals are mocked.", "lines", ()),
    Option("stripe_webhook_secret", "externals", "Webhook signing secret the app checks (whsec_...)."),
    Option("stripe_webhook_secret_from", "externals", "Read the Stripe webhook secret from the app (module:attr)."),
    Option("github_webhook_secret", "externals", "Secret for X-Hub-Signature-256 on GitHub webhooks."),
    # --- db toolkit -----------------------------------------------------------------------------
    Option(
        "migration_checks",
        "db",
        "Generate migration check test items (single head, up from empty, round trips, Alembic models match).",
        "bool",
        False,
    ),
    # --- coverage -------------------------------------------------------------------------------
    Option("cov_threshold", "coverage", "List files under this coverage percent at the end of the run.", "float", 80.0),
    Option("cov_fail_under_file", "coverage", "Fail the run when any measured file is under this percent.", "float"),
)


@dataclass(frozen=True)
class PostgresSettings:
    postgres: str = "auto"
    postgres_url: str | None = None
    allow_remote: bool = False
    postgres_version: str = "17"
    migrations: str | None = None
    schema_sql: str | None = None
    isolation: str = "transaction"
    keep_tables: tuple[str, ...] = ()
    reuse_db: bool = True
    db_dependency: str | None = None
    env: tuple[str, ...] = ()
    allow_databases: tuple[str, ...] = ()
    db_session_class: str | None = None
    project: str | None = None
    cache_dir: str | None = None


@dataclass(frozen=True)
class RedisSettings:
    redis: str = "auto"
    redis_url: str | None = None


@dataclass(frozen=True)
class AppSettings:
    app: str | None = None
    base_url: str | None = None


@dataclass(frozen=True)
class AuthSettings:
    jwt_secret: str | None = None
    jwt_secret_from: str | None = None
    jwt_algorithm: str = "HS256"
    jwt_claims: tuple[str, ...] = ()
    jwt_lifetime: int = 900
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_subject: str | None = None
    jwt_private_key: str | None = None
    jwt_public_key_env: str | None = None


@dataclass(frozen=True)
class MatrixSettings:
    auth_dependencies: tuple[str, ...] = ()
    public_routes: tuple[str, ...] = ()
    validation_status: int = 422
    expected_status: tuple[str, ...] = ()
    admin_dependencies: tuple[str, ...] = ()
    admin_attrs: tuple[str, ...] = ()
    matrix_examples: int = 0
    matrix_report: str | None = None


@dataclass(frozen=True)
class ExternalsSettings:
    mock_externals: bool = False
    allow_hosts: tuple[str, ...] = ()
    stripe_webhook_secret: str | None = None
    stripe_webhook_secret_from: str | None = None
    github_webhook_secret: str | None = None


@dataclass(frozen=True)
class DbSettings:
    migration_checks: bool = False


@dataclass(frozen=True)
class CoverageSettings:
    cov_threshold: float = 80.0
    cov_fail_under_file: float | None = None


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
            value = _read(config, opt, env, options)
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


def _pytest_has_typed_numbers() -> bool:
    """pytest 8.4 added the ``int`` and ``float`` ini types (pytest 9's ``[tool.pytest]`` table needs them)."""
    major, minor = (int(part) for part in pytest.__version__.split(".")[:2])
    return (major, minor) >= (8, 4)


_INI_TYPES = {"bool": "bool", "lines": "linelist", "int": "int", "float": "float"}


def ini_type(opt: Option) -> str:
    """The ini type an option is registered with: typed wherever the running pytest supports it."""
    kind = _INI_TYPES.get(opt.kind, "string")
    if kind in ("int", "float") and not _pytest_has_typed_numbers():
        return "string"
    return kind


def configured_names(config: pytest.Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """The settings this run gives explicitly (command line, environment or ini), by option name."""
    env = os.environ if environ is None else environ
    return [opt.name for opt in OPTIONS if _read(config, opt, env) is not None]


def _read(config: pytest.Config, opt: Option, env: Mapping[str, str], options: Any = None) -> Any:
    """Option > env > ini; an explicit empty or zero on the command line still wins."""
    if opt.cli:
        cli_value = (
            getattr(options, opt.dest, None) if options is not None else config.getoption(opt.dest, default=None)
        )
        if cli_value is not None:
            return _coerce(opt, cli_value, f"{opt.cli_flag}")
    if opt.env and opt.env_name in env:
        return _coerce(opt, env[opt.env_name], f"${opt.env_name}")
    ini_value = config.getini(opt.ini_name)
    if ini_value is None or ini_value == [] or ini_value == "":
        return None
    return _coerce(opt, ini_value, f"ini {opt.ini_name}")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(opt: Option, raw: Any, where: str) -> Any:
    if opt.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise pytest.UsageError(f"pytest-xaio: {where} must be true or false, not {raw!r}")
    if opt.kind in ("int", "float"):
        try:
            return int(raw) if opt.kind == "int" else float(raw)
        except (TypeError, ValueError):
            raise pytest.UsageError(f"pytest-xaio: {where} must be a number, not {raw!r}") from None
    if opt.kind == "lines":
        return _as_lines(raw)
    text = str(raw).strip()
    if opt.kind == "choice" and text not in opt.choices:
        raise pytest.UsageError(f"pytest-xaio: {where} must be one of {', '.join(opt.choices)}; got {text!r}")
    return text


def _as_lines(raw: Any) -> tuple[str, ...]:
    """ini linelists arrive as lists; CLI and env values as one string separated by newlines or commas."""
    if isinstance(raw, str):
        parts: Sequence[str] = raw.splitlines() if "\n" in raw else raw.split(",")
    else:
        parts = list(raw)
    return tuple(p.strip() for p in parts if p and p.strip())


def get_settings(config: pytest.Config) -> XaioSettings:
    """The session's settings; built in ``pytest_configure``."""
    try:
        return config.stash[settings_key]
    except KeyError:
        settings = XaioSettings.from_pytest(config)
        config.stash[settings_key] = settings
        return settings
