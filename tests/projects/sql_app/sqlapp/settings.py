import os


class Settings:
    database_url: str = os.environ.get("SQLALCHEMY_DATABASE_URI", "postgresql://localhost/sqlapp")
    jwt_secret: str = os.environ["JWT_SECRET"]
    debug: bool = os.getenv("DEBUG", "0") == "1"


settings = Settings()
