"""The pieces ``xaio ci github|gitlab --shards N`` adds to a workflow: one job per shard.

pytest-split picks each shard's tests from the durations of the last run (``--splits N --group k``,
slowest first: ``least_duration``), so the shards take about as long as each other. Every shard
records the durations of the tests it ran (``--store-durations --clean-durations``: only those, so
a deleted test drops out), hands them on as an artifact, and a last job merges them into one file
and stores it in the CI cache for the next run. A shard is a job of its own, so it gets its own
Postgres and Redis services.

With one shard (the default) every piece is empty and the workflow is the unsharded one.
"""

from __future__ import annotations

__all__ = ["ACTIONS", "DURATIONS", "github_pieces", "gitlab_pieces"]

#: The current major version of each action the workflow uses (one place to bump them).
ACTIONS = {
    "checkout": "actions/checkout@v6",
    "setup-python": "actions/setup-python@v6",
    "upload-artifact": "actions/upload-artifact@v7",
    "download-artifact": "actions/download-artifact@v8",
    "cache-restore": "actions/cache/restore@v5",
    "cache-save": "actions/cache/save@v5",
}


#: The durations file the shards read and write (not hidden: upload-artifact skips dot files).
DURATIONS = "test-durations.json"

_MERGE = (
    'python -c "import glob, json; merged = {}; '
    "[merged.update(json.load(open(p))) for p in sorted(glob.glob('durations/**/*.json', recursive=True))]; "
    f"json.dump(merged, open('{DURATIONS}', 'w'), indent=2, sort_keys=True); "
    "print(len(merged), 'test durations')\""
)


def _split_args(shards: int, group: str) -> str:
    # least_duration hands out the slowest tests first, so no shard is left empty; the default
    # (duration_based_chunks) can give a late group nothing when a few tests dominate the durations.
    return (
        f" --splits {shards} --group {group} --splitting-algorithm least_duration"
        f" --store-durations --clean-durations --durations-path {DURATIONS}"
    )


def github_pieces(shards: int) -> dict[str, str]:
    """Fragments for the GitHub workflow: matrix line, steps before and after the test, the merge job."""
    if shards == 1:
        return {"matrix": "", "restore": "", "test_args": "", "suffix": "", "upload": "", "jobs": ""}
    groups = ", ".join(str(k) for k in range(1, shards + 1))
    return {
        "matrix": f"\n        shard: [{groups}]",
        "restore": f"""
      - name: Restore test durations (pytest-split balances the shards with them)
        uses: {ACTIONS["cache-restore"]}
        with:
          path: {DURATIONS}
          key: test-durations-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}
          restore-keys: test-durations-""",
        "test_args": _split_args(shards, "${{ matrix.shard }}"),
        "suffix": "-${{ matrix.shard }}",
        "upload": f"""      - name: Upload this shard's test durations
        if: always()
        uses: {ACTIONS["upload-artifact"]}
        with:
          name: test-durations-${{{{ matrix.python-version }}}}-${{{{ matrix.shard }}}}
          path: {DURATIONS}
          if-no-files-found: ignore
""",
        "jobs": f"""
  durations:
    # Merges the shards' durations and caches them for the next run's split.
    needs: test
    if: ${{{{ !cancelled() }}}}
    runs-on: ubuntu-latest
    steps:
      - uses: {ACTIONS["download-artifact"]}
        with:
          pattern: test-durations-*
          path: durations
      - name: Merge test durations
        run: {_MERGE}
      - uses: {ACTIONS["cache-save"]}
        with:
          path: {DURATIONS}
          key: test-durations-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}
""",
    }


def gitlab_pieces(shards: int, python: str) -> dict[str, str]:
    """Fragments for the GitLab pipeline: the SHARD matrix variable, caches, artifacts, the merge job."""
    if shards == 1:
        return {"stage": "", "matrix": "", "cache": "", "test_args": "", "after": "", "paths": "", "jobs": ""}
    groups = ", ".join(f'"{k}"' for k in range(1, shards + 1))
    return {
        "stage": "\n  - durations",
        "matrix": f"\n        SHARD: [{groups}]",
        "cache": f"""
    - key: test-durations
      paths:
        - {DURATIONS}
      policy: pull""",
        "test_args": _split_args(shards, "$SHARD"),
        "after": f"""
  after_script:
    - mkdir -p durations && cp {DURATIONS} "durations/$PYTHON_VERSION-$SHARD.json" || true""",
        "paths": "\n      - durations/",
        "jobs": f"""
durations:
  # Merges the shards' durations and caches them for the next run's split.
  stage: durations
  image: python:{python}
  when: always
  needs:
    - job: test
      artifacts: true
  cache:
    - key: test-durations
      paths:
        - {DURATIONS}
      policy: push
  script:
    - {_MERGE}
""",
    }
