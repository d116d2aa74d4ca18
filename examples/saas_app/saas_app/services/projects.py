"""Projects: creation within the plan's limit, lookup by owner, publishing."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from saas_app.cache import get_redis, project_key
from saas_app.models import Deployment, Project, ProjectEvent, ProjectMember, User
from saas_app.services.slug import MAX_LENGTH, slugify
from saas_app.settings import PLAN_PROJECT_LIMITS, settings

__all__ = [
    "ProjectLimitReached",
    "create_project",
    "get_owned_project",
    "list_projects",
    "publish_project",
    "record_event",
    "unique_slug",
]

_BIGINT_MAX = 2**63 - 1


class ProjectLimitReached(Exception):
    def __init__(self, plan: str, limit: int) -> None:
        self.plan = plan
        self.limit = limit
        super().__init__(f"the {plan} plan allows {limit} projects; upgrade to create more")


def project_limit(user: User) -> int | None:
    return PLAN_PROJECT_LIMITS.get(user.plan, PLAN_PROJECT_LIMITS["free"])


def count_projects(db: Session, owner_id: int) -> int:
    return db.scalar(select(func.count()).select_from(Project).where(Project.owner_id == owner_id)) or 0


def unique_slug(db: Session, owner_id: int, name: str) -> str:
    """The slug of ``name``, with ``-2``, ``-3``... appended when the owner already uses it."""
    base = slugify(name)
    taken = set(db.scalars(select(Project.slug).where(Project.owner_id == owner_id)))
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = base[: MAX_LENGTH - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
        n += 1


def record_event(db: Session, project_id: int, kind: str, user_id: int | None = None, **payload: Any) -> ProjectEvent:
    event = ProjectEvent(project_id=project_id, user_id=user_id, kind=kind, payload=payload)
    db.add(event)
    return event


def create_project(db: Session, owner: User, name: str, pipeline_type: str, description: str | None = None) -> Project:
    limit = project_limit(owner)
    # Lock the owner's row so two concurrent requests cannot both take the last free slot.
    db.execute(select(User.id).where(User.id == owner.id).with_for_update())
    if limit is not None and count_projects(db, owner.id) >= limit:
        raise ProjectLimitReached(owner.plan, limit)
    project = Project(
        owner_id=owner.id,
        name=name,
        slug=unique_slug(db, owner.id, name),
        pipeline_type=pipeline_type,
        description=description,
    )
    db.add(project)
    db.flush()
    db.add(ProjectMember(project_id=project.id, user_id=owner.id, role="owner"))
    record_event(db, project.id, "created", owner.id, name=name)
    db.commit()
    db.refresh(project)
    return project


def list_projects(db: Session, owner: User) -> list[Project]:
    return list(db.scalars(select(Project).where(Project.owner_id == owner.id).order_by(Project.id)))


def get_owned_project(db: Session, owner: User, project_id: int) -> Project | None:
    """The project if it exists and ``owner`` owns it; None otherwise (callers answer 404 either way)."""
    if not 0 < project_id <= _BIGINT_MAX:
        return None
    project = db.get(Project, project_id)
    if project is None or project.owner_id != owner.id:
        return None
    return project


def publish_project(db: Session, project: Project, user: User) -> Deployment:
    """Queue a deployment, mark the project published, and tell the edge router (Redis) about it."""
    now = datetime.now(timezone.utc)
    url = f"{settings.public_url}/p/{project.owner_id}/{project.slug}"
    deployment = Deployment(project_id=project.id, status="live", triggered_by=user.id, url=url, finished_at=now)
    db.add(deployment)
    project.published = True
    project.published_at = now
    db.flush()
    record_event(db, project.id, "published", user.id, deployment_id=deployment.id)
    db.commit()
    db.refresh(project)
    redis = get_redis()
    if redis is not None:
        redis.set(project_key(project.id, "status"), "published")
        redis.hset(
            project_key(project.id, "route"),
            mapping={"slug": project.slug, "url": url, "deployment_id": str(deployment.id)},
        )
    return deployment
