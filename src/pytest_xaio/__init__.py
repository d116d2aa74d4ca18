"""pytest-xaio: test a FastAPI backend against a real PostgreSQL and Redis."""

__version__ = "0.1.0"

__all__ = ["__version__"]
