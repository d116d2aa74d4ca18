"""The pytest entry point: options, ini keys, markers and hook wiring. The work is done elsewhere."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from pytest_xaio import hooks, markers, reporting
from pytest_xaio.config import OPTIONS, XaioSettings, get_settings, ini_type, settings_key
from pytest_xaio.runtime import XaioRuntime, freeze_start_up_objects, get_runtime, runtime_key

# Each concern's fixtures and hooks are a plugin of their own (fixtures and the hooks it needs); listing them here means
# `-p no:xaio` turns every one of them off. Their modules import nothing heavy at load time.
pytest_plugins = [
    "pytest_xaio.postgres.fixtures",
    "pytest_xaio.redis_fixtures",
    "pytest_xaio.client",
    "pytest_xaio.matrix.plugin",
    "pytest_xaio.externals.plugin",
    "pytest_xaio.db.plugin",
    "pytest_xaio.coverage",
]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    hooks.register_hookspecs(pluginmanager)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xaio", "pytest-xaio: FastAPI backends against real PostgreSQL and Redis")
    for opt in OPTIONS:
        help_text = f"{opt.help} [env {opt.env_name}, ini {opt.ini_name}]" if opt.env else opt.help
        if opt.cli:
            if opt.kind == "bool":
                group.addoption(
                    opt.cli_flag, action="store_const", const=True, default=None, dest=opt.dest, help=help_text
                )
            else:
                group.addoption(
                    opt.cli_flag,
                    action="store",
                    default=None,
                    dest=opt.dest,
                    choices=list(opt.choices) or None,
                    help=help_text,
                )
        kind = ini_type(opt)
        parser.addini(
            opt.ini_name,
            opt.help,
            type=kind,  # type: ignore[arg-type]
            default=None if kind != "linelist" else [],
        )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    """Export the test environment before any conftest.py (and the app it may import) is loaded.

    Only for a run that tests an app (xaio_app, xaio_db_dependency or xaio_env), in each xdist worker
    rather than the controller, and never for --help, --version or --collect-only.
    """
    options = early_config.known_args_namespace
    if any(getattr(options, name, False) for name in ("help", "version", "collectonly")):
        return
    if not os.environ.get("PYTEST_XDIST_WORKER") and (
        getattr(options, "numprocesses", None) or getattr(options, "dist", "no") not in ("no", None)
    ):
        return  # the xdist controller runs no tests; its workers export their own databases
    from pytest_xaio.postgres.guard_policy import guard_wanted

    settings = XaioSettings.from_pytest(early_config, options=options)
    freeze_start_up_objects(early_config, settings)  # pytest and the plugins: before the conftests' imports
    if not guard_wanted(settings):
        return
    from pytest_xaio.app import prepare_env

    _start_runtime(early_config, settings)
    try:
        prepare_env(early_config)
    except pytest.UsageError:
        if not os.environ.get("PYTEST_XDIST_WORKER"):
            raise
        # In an xdist worker the same error comes back when the session starts, where it is relayed
        # to the controller and reported once (an error while the worker boots would read as a crash).


def _start_runtime(config: pytest.Config, settings: XaioSettings) -> XaioRuntime:
    config.stash[settings_key] = settings
    runtime = XaioRuntime(config, settings)
    config.stash[runtime_key] = runtime
    config.add_cleanup(runtime.close)
    return runtime


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    markers.register_markers(config)
    if runtime_key not in config.stash:  # not started early by pytest_load_initial_conftests
        _start_runtime(config, get_settings(config))
    freeze_start_up_objects(config, get_runtime(config).settings)  # the conftests and the app they import
    from pytest_xaio.errors import ConfigErrorRelay

    config.pluginmanager.register(ConfigErrorRelay(config), "xaio-config-error-relay")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A refused connection fails the test even when the app caught the error and answered 500."""
    from pytest_xaio.postgres.session import postgres_session

    guard = postgres_session(item.config).guard
    before = len(guard.refused) if guard is not None else 0
    yield
    if guard is not None and len(guard.refused) > before:
        pytest.fail(guard.refused[before], pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Generator[None, None, None]:
    # Before every other module's collection hook: they read the marker names validate_item keeps.
    for item in items:
        markers.validate_item(item)
    return (yield)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once the tests are collected, freeze what their modules made out of the garbage collector's
    full collections, as pytest_configure did for the conftests (runtime.freeze_start_up_objects)."""
    freeze_start_up_objects(session.config, get_runtime(session.config).settings)


def pytest_report_header(config: pytest.Config) -> str | None:
    return reporting.header(config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    reporting.send_to_controller(session.config, get_runtime(session.config).summary_lines())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """pytest-xdist: keep what each worker started, so the controller's summary reports it."""
    reporting.receive_from_worker(node)


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> Generator[None, None, None]:
    yield
    for line in reporting.summary(config, get_runtime(config).summary_lines()):
        terminalreporter.write_line(line)
