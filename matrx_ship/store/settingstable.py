"""The ``settings`` table: one value a key, kept in the store (migration 0006).

A rebuilt host reads its settings back from here instead of from anyone's memory; the
master-key canary (``matrx_ship.store.canary``) is one of its rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from matrx_ship.store.store import Store, utcnow
from matrx_ship.store.tables import Base


class SettingRow(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


def get_setting(store: Store, key: str) -> str | None:
    """The stored value of ``key`` (None: not set)."""
    with store.session() as s:
        return s.scalar(select(SettingRow.value).where(SettingRow.key == key))


def add_setting(store: Store, key: str, value: str) -> bool:
    """Store ``key`` only when it is not set yet; whether this call wrote it."""
    try:
        with store.session() as s:
            if s.get(SettingRow, key) is not None:
                return False
            s.add(SettingRow(key=key, value=value, updated_at=utcnow()))
    except IntegrityError:  # another agent wrote it between the read and the insert
        return False
    return True


def put_setting(store: Store, key: str, value: str) -> bool:
    """Store ``key`` (insert or replace); whether the stored value changed."""
    with store.session() as s:
        row = s.get(SettingRow, key)
        if row is None:
            s.add(SettingRow(key=key, value=value, updated_at=utcnow()))
            return True
        if row.value == value:
            return False
        row.value, row.updated_at = value, utcnow()
        return True
