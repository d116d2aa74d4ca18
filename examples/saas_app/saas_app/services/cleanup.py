"""Deleting a project: everything that hangs off it, in the database, in Redis and on GitHub.

The six steps:

1. its deployments,
2. its members,
3. its environment variables,
4. its event history,
5. its Redis keys (``project:{id}:*``, what the edge router reads),
6. the push webhook on its connected GitHub repository (and the connection row).

The external call (6) runs first: if GitHub fails, nothing is deleted and the user can retry. The
Redis keys (5) go last, after the database commit, so a failed commit leaves a published project
still served.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from saas_app.cache import delete_pattern, project_key
from saas_app.models import (
    Deployment,
    GithubConnection,
    Project,
    ProjectEnvVar,
    ProjectEvent,
    ProjectMember,
)
from saas_app.services import github

__all__ = ["CleanupReport", "delete_project"]

log = logging.getLogger(__name__)


@dataclass
class CleanupReport:
    project_id: int
    deployments: int = 0
    members: int = 0
    env_vars: int = 0
    events: int = 0
    redis_keys: int = 0
    webhooks: int = 0
    github_connections: int = 0


def _delete_rows(db: Session, model: type, project_id: int) -> int:
    result = db.execute(delete(model).where(model.project_id == project_id))  # type: ignore[attr-defined]
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_project(db: Session, project: Project) -> CleanupReport:
    """Remove ``project`` and everything attached to it; raises ``github.GithubError`` before deleting."""
    report = CleanupReport(project_id=project.id)

    # 6. the GitHub webhook, while we can still stop before deleting anything
    connections = list(db.scalars(select(GithubConnection).where(GithubConnection.project_id == project.id)))
    for connection in connections:
        hook = connection.webhook_id
        if hook is not None and github.delete_webhook(connection.access_token, connection.repo_full_name, hook):
            report.webhooks += 1

    # 1-4. the rows that reference the project
    report.deployments = _delete_rows(db, Deployment, project.id)
    report.members = _delete_rows(db, ProjectMember, project.id)
    report.env_vars = _delete_rows(db, ProjectEnvVar, project.id)
    report.events = _delete_rows(db, ProjectEvent, project.id)
    report.github_connections = _delete_rows(db, GithubConnection, project.id)
    db.delete(project)
    db.commit()

    # 5. the edge router's keys
    report.redis_keys = delete_pattern(project_key(report.project_id, "*"))
    log.info("deleted project %s: %s", report.project_id, report)
    return report
