from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from saas_app.auth import CurrentUser
from saas_app.db import get_db
from saas_app.models import GithubConnection
from saas_app.schemas import GithubConnectIn, GithubConnectionOut
from saas_app.services import github
from saas_app.services.projects import get_owned_project, record_event
from saas_app.settings import settings

router = APIRouter(prefix="/api/github", tags=["github"])
DB = Annotated[Session, Depends(get_db)]


@router.post("/connect", status_code=status.HTTP_201_CREATED, response_model=GithubConnectionOut)
def connect_repo(body: GithubConnectIn, user: CurrentUser, db: DB) -> GithubConnection:
    """Finish the OAuth flow and connect a repository, optionally to one of the user's projects."""
    project = None
    if body.project_id is not None:
        project = get_owned_project(db, user, body.project_id)
        if project is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Project not found")
        taken = db.scalar(select(GithubConnection.id).where(GithubConnection.project_id == project.id))
        if taken is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail="This project already has a repository")
    try:
        token = github.exchange_code(body.code)
        repo = github.get_repo(token, body.repo)
        webhook_id = None
        if project is not None:
            # Pushes go to the build service (not this API), which deploys the connected project.
            webhook_id = github.create_webhook(token, body.repo, f"{settings.public_url}/build/hooks/github")
    except github.RepoNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc))
    except github.BadOAuthCode as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc))
    except (github.GithubError, httpx.HTTPError) as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=f"GitHub error: {exc}")
    connection = GithubConnection(
        user_id=user.id,
        project_id=project.id if project is not None else None,
        repo_full_name=str(repo.get("full_name") or body.repo),
        repo_id=repo.get("id"),
        default_branch=str(repo.get("default_branch") or "main"),
        access_token=token,
        webhook_id=webhook_id,
    )
    db.add(connection)
    if project is not None:
        record_event(db, project.id, "github_connected", user.id, repo=connection.repo_full_name)
    db.commit()
    db.refresh(connection)
    return connection
