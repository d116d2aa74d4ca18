"""Nested settings from the environment: DATABASE__HOSTNAME, SECURITY__ALLOWED_HOSTS='["..."]', ..."""

from functools import lru_cache

from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine.url import URL


class Security(BaseModel):
    jwt_issuer: str = "async-app"
    jwt_secret_key: SecretStr = SecretStr("change-me-async-app-secret-key-0123456789")
    jwt_access_token_expire_secs: int = 24 * 3600
    allowed_hosts: list[str] = ["localhost", "127.0.0.1"]


class Database(BaseModel):
    hostname: str = "localhost"
    username: str = "postgres"
    password: SecretStr = SecretStr("")
    port: int = 5432
    db: str = "async_app"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_nested_delimiter="__", extra="ignore")

    security: Security = Security()
    database: Database = Database()

    @property
    def sqlalchemy_database_uri(self) -> URL:
        return URL.create(
            drivername="postgresql+asyncpg",
            username=self.database.username,
            password=self.database.password.get_secret_value() or None,
            host=self.database.hostname,
            port=self.database.port,
            database=self.database.db,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
