"""The ``databases`` table: one dedicated Postgres per service (migration 0004)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from matrx_ship.store.tables import Base


class DatabaseRow(Base):
    """What the agent made for a service's database; the password only encrypted."""

    __tablename__ = "databases"

    service: Mapped[str] = mapped_column(String(40), primary_key=True)
    container: Mapped[str] = mapped_column(String(120))
    volume: Mapped[str] = mapped_column(String(120))
    network: Mapped[str] = mapped_column(String(120))
    image: Mapped[str] = mapped_column(String(300))
    db: Mapped[str] = mapped_column(String(63))
    user: Mapped[str] = mapped_column(String(63))
    password_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
