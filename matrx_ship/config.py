"""Rules every deployable's settings share: placeholder secrets, PostgreSQL URLs."""

from __future__ import annotations

PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "admin", "token", "xxx", "test"}


def is_placeholder(value: str) -> bool:
    return value.strip().lower() in PLACEHOLDERS or len(value.strip()) < 16


def normalize_pg_url(url: str) -> str:
    """Make a libpq-style URL use the psycopg 3 driver in SQLAlchemy."""
    for prefix in ("postgresql+psycopg://", "postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
