"""The state store: SQLite (embedded default) or PostgreSQL (Supabase), one schema."""

from matrx_ship.store.store import AuditQuery, Store

__all__ = ["AuditQuery", "Store"]
