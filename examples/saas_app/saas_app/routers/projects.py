from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, HTTPException, Response, status
from sqlalchemy.orm import Session

from saas_app.auth import CurrentUser
from saas_app.db import get_db
from saas_app.models import Project
from saas_app.schemas import ProjectIn, ProjectOut
from saas_app.services import projects as service
from saas_app.services.cleanup import delete_project
from saas_app.services.github import GithubError

router = APIRouter(prefix="/api/projects", tags=["projects"])
DB = Annotated[Session, Depends(get_db)]


def _owned(db: Session, user: CurrentUser, project_id: int) -> Project:
    project = service.get_owned_project(db, user, project_id)
    if project is None:
        # Someone else's project is "not found" too: its existence is not ours to reveal.
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Project not found")
    return project


@router.get("", response_model=list[ProjectOut])
def list_projects(user: CurrentUser, db: DB) -> list[Project]:
    return service.list_projects(db, user)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectOut)
def create_project(body: ProjectIn, user: CurrentUser, db: DB) -> Project:
    try:
        return service.create_project(db, user, body.name, body.pipeline_type.value, body.description)
    except service.ProjectLimitReached as exc:
        raise HTTPException(status.HTTP_402_PAYMENT_REQUIRED, detail=str(exc))


@router.get("/{project_id}", response_model=ProjectOut)
def get_project(project_id: int, user: CurrentUser, db: DB) -> Project:
    return _owned(db, user, project_id)


@router.post("/{project_id}/publish", response_model=ProjectOut)
def publish_project(project_id: int, user: CurrentUser, db: DB) -> Project:
    project = _owned(db, user, project_id)
    service.publish_project(db, project, user)
    return project


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_project(project_id: int, user: CurrentUser, db: DB) -> Response:
    project = _owned(db, user, project_id)
    try:
        delete_project(db, project)
    except (GithubError, httpx.HTTPError) as exc:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, detail=f"Could not remove the GitHub webhook, nothing was deleted: {exc}"
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
