"""Request and response bodies."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

__all__ = [
    "CheckoutIn",
    "CheckoutOut",
    "Email",
    "GithubConnectIn",
    "GithubConnectionOut",
    "LoginIn",
    "PipelineType",
    "Plan",
    "ProjectIn",
    "ProjectOut",
    "RegisterIn",
    "Text",
    "TokenOut",
    "UserOut",
    "WaitlistIn",
    "WaitlistOut",
]


def _storable(value: str) -> str:
    # PostgreSQL text holds neither NUL nor lone surrogates (JSON can carry both): bad input, not a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]

Email = Annotated[
    Text,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$",
    ),
]


class PipelineType(str, enum.Enum):
    static = "static"
    docker = "docker"
    python = "python"


class Plan(str, enum.Enum):
    pro = "pro"
    team = "team"


class RegisterIn(BaseModel):
    email: Email
    password: Annotated[Text, Field(min_length=8, max_length=128)]
    name: Annotated[Text | None, Field(max_length=100)] = None


class LoginIn(BaseModel):
    email: Email
    password: Annotated[Text, Field(min_length=1, max_length=128)]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str | None
    plan: str
    is_superuser: bool
    subscription_status: str
    created_at: datetime


class ProjectIn(BaseModel):
    name: Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    pipeline_type: PipelineType = PipelineType.static
    description: Annotated[Text | None, Field(max_length=2000)] = None


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: int
    name: str
    slug: str
    description: str | None
    pipeline_type: PipelineType
    published: bool
    published_at: datetime | None
    created_at: datetime


class WaitlistIn(BaseModel):
    email: Email
    name: Annotated[Text | None, Field(max_length=100)] = None


class WaitlistOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str | None
    status: str
    created_at: datetime


class CheckoutIn(BaseModel):
    plan: Plan = Plan.pro


class CheckoutOut(BaseModel):
    session_id: str
    url: str | None


class GithubConnectIn(BaseModel):
    code: Annotated[Text, Field(min_length=1, max_length=200)]
    repo: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9_.-]+$", max_length=140)]
    project_id: Annotated[int | None, Field(gt=0, lt=2**63)] = None

    @field_validator("repo")
    @classmethod
    def _not_dot_segment(cls, value: str) -> str:
        # "owner/.." would be a path segment, not a repository, once it is put into an API URL.
        if value.split("/", 1)[1] in (".", ".."):
            raise ValueError("not a repository name")
        return value


class GithubConnectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    repo_full_name: str
    project_id: int | None
    default_branch: str
    webhook_id: int | None
