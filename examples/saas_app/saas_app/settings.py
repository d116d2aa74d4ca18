"""Settings from the environment, read once at import (the way most small FastAPI apps do it)."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["PLAN_PROJECT_LIMITS", "Settings", "settings"]

# Projects a user may own per plan; None means unlimited.
PLAN_PROJECT_LIMITS: dict[str, int | None] = {"free": 3, "pro": 20, "team": None}


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def database_url(raw: str) -> str:
    """SQLAlchemy needs the driver in the URL; platforms hand out plain ``postgresql://`` URLs."""
    scheme, sep, rest = raw.partition("://")
    if sep and scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return raw


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    secret_key: str
    jwt_algorithm: str = "HS256"
    access_token_minutes: int = 60
    stripe_api_key: str = ""
    stripe_webhook_secret: str = ""
    brevo_api_key: str = ""
    brevo_sender_email: str = "hello@saas-app.example"
    brevo_welcome_template_id: int = 1
    github_client_id: str = ""
    github_client_secret: str = ""
    github_webhook_secret: str = ""
    public_url: str = "http://localhost:8000"

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=database_url(_env("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/saas_app")),
            redis_url=_env("REDIS_URL"),
            secret_key=_env("SECRET_KEY", "dev-secret-change-me"),
            access_token_minutes=int(_env("ACCESS_TOKEN_MINUTES", "60")),
            stripe_api_key=_env("STRIPE_API_KEY"),
            stripe_webhook_secret=_env("STRIPE_WEBHOOK_SECRET"),
            brevo_api_key=_env("BREVO_API_KEY"),
            brevo_sender_email=_env("BREVO_SENDER_EMAIL", "hello@saas-app.example"),
            brevo_welcome_template_id=int(_env("BREVO_WELCOME_TEMPLATE_ID", "1")),
            github_client_id=_env("GITHUB_CLIENT_ID"),
            github_client_secret=_env("GITHUB_CLIENT_SECRET"),
            github_webhook_secret=_env("GITHUB_WEBHOOK_SECRET"),
            public_url=_env("PUBLIC_URL", "http://localhost:8000").rstrip("/"),
        )


settings = Settings.from_env()
