"""Reads and writes of the state store; every method is one short transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from matrx_ship.errors import Conflict, NotFound
from matrx_ship.models import AuditEvent, Scope, TokenInfo
from matrx_ship.paging import DEFAULT_LIMIT, clamp_limit, next_before_id
from matrx_ship.store.tables import AuditRow, ServiceRow, TokenRow

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


def unreachable(exc: BaseException) -> bool:
    """Whether a failure means the store is away (retry later), not that it refused the data."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    return isinstance(exc, ConnectionError | TimeoutError)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite drops the zone; every time in the system is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass
class AuditQuery:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = DEFAULT_LIMIT


class AuditPage(TypedDict):
    """The answer of `GET /v1/audit`: one page, newest first, and the next page's cursor."""

    events: list[AuditEvent]
    next_before_id: int | None


class Store:
    """The state store behind one SQLAlchemy engine."""

    def __init__(self, url: str, connect_args: dict[str, Any] | None = None) -> None:
        """``connect_args`` replace the driver defaults (e.g. for pg8000 in a Lambda)."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            db_path = url.removeprefix("sqlite:///")
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                url, connect_args={"timeout": 30, "check_same_thread": False}
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=5,
                connect_args=connect_args if connect_args is not None else {"connect_timeout": 5},
            )
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Apply every migration the schema does not have yet."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def ping(self) -> None:
        """Raise when the store cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._session.begin() as s:
            yield s

    # --- services -------------------------------------------------------------------------

    def create_service(self, name: str, kind: str, spec: dict[str, Any]) -> None:
        """Record a new service spec; Conflict when the name is taken."""
        now = utcnow()
        try:
            with self.session() as s:
                s.add(ServiceRow(name=name, kind=kind, spec=spec, created_at=now, updated_at=now))
        except IntegrityError as exc:
            raise Conflict(
                f"A service named '{name}' already exists.",
                hint="Update it with PUT /v1/services/{name}, or choose another name.",
                code="already_exists",
            ) from exc

    def update_service(self, name: str, kind: str, spec: dict[str, Any]) -> int:
        """Replace a service's spec; returns its new generation."""
        with self.session() as s:
            row = self._service_row(s, name)
            row.kind, row.spec, row.updated_at = kind, spec, utcnow()
            row.generation += 1
            return row.generation

    def get_service(self, name: str) -> dict[str, Any]:
        """A service's stored spec (secret values still encrypted)."""
        with self.session() as s:
            return dict(self._service_row(s, name).spec)

    def list_services(self) -> list[dict[str, Any]]:
        """Every stored spec, by name."""
        with self.session() as s:
            return [dict(r.spec) for r in s.scalars(select(ServiceRow).order_by(ServiceRow.name))]

    def delete_service(self, name: str) -> None:
        with self.session() as s:
            s.delete(self._service_row(s, name))

    @staticmethod
    def _service_row(s: Session, name: str) -> ServiceRow:
        row = s.get(ServiceRow, name)
        if row is None:
            raise NotFound(f"There is no service named '{name}'.")
        return row

    # --- tokens ---------------------------------------------------------------------------

    def add_token(
        self,
        name: str,
        token_hash: str,
        scope: Scope,
        created_by: str | None,
        expires_at: datetime | None = None,
    ) -> TokenInfo:
        """Store a token's hash; Conflict when the name is taken."""
        row = TokenRow(
            name=name,
            token_hash=token_hash,
            scope=scope.value,
            created_at=utcnow(),
            created_by=created_by,
            expires_at=expires_at,
        )
        try:
            with self.session() as s:
                s.add(row)
        except IntegrityError as exc:
            raise Conflict(
                f"A token named '{name}' already exists.",
                hint="Choose another name, or revoke the old token first.",
                code="already_exists",
            ) from exc
        return _token_info(row)

    def ensure_bootstrap_token(self, token_hash: str) -> None:
        """Make the environment's admin token valid under the name 'bootstrap-admin'."""
        with self.session() as s:
            row = s.get(TokenRow, "bootstrap-admin")
            if row is None:
                s.add(
                    TokenRow(
                        name="bootstrap-admin",
                        token_hash=token_hash,
                        scope=Scope.admin.value,
                        created_at=utcnow(),
                        created_by="environment",
                    )
                )
            else:
                row.token_hash, row.scope, row.revoked_at = token_hash, Scope.admin.value, None

    def find_token(self, token_hash: str) -> TokenInfo | None:
        """The live token with this hash, or None (unknown, revoked or expired)."""
        with self.session() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.token_hash == token_hash))
            if row is None or row.revoked_at is not None:
                return None
            expires = _aware(row.expires_at)
            if expires is not None and expires <= utcnow():
                return None
            return _token_info(row)

    def touch_token(self, name: str) -> None:
        with self.session() as s:
            row = s.get(TokenRow, name)
            if row is not None:
                row.last_used_at = utcnow()

    def list_tokens(self) -> list[TokenInfo]:
        with self.session() as s:
            return [_token_info(r) for r in s.scalars(select(TokenRow).order_by(TokenRow.name))]

    def revoke_token(self, name: str) -> TokenInfo:
        """Revoke a token by name; NotFound when there is none."""
        with self.session() as s:
            row = s.get(TokenRow, name)
            if row is None:
                raise NotFound(
                    f"There is no token named '{name}'.", hint="List tokens with GET /v1/tokens."
                )
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            return _token_info(row)

    # --- audit ----------------------------------------------------------------------------

    def append_audit(self, ev: AuditEvent, event_key: str | None = None) -> int:
        """Write one audit event; a repeated event_key is written only once."""
        key = event_key or uuid.uuid4().hex
        row = AuditRow(
            at=ev.at,
            actor=ev.actor,
            action=ev.action,
            target=ev.target[:200],
            outcome=ev.outcome,
            status=ev.status,
            detail=ev.detail,
            event_key=key,
        )
        try:
            with self.session() as s:
                s.add(row)
        except IntegrityError:
            with self.session() as s:
                return int(s.scalar(select(AuditRow.id).where(AuditRow.event_key == key)) or 0)
        return row.id

    def list_audit(self, q: AuditQuery) -> list[AuditEvent]:
        """Audit events, newest first, filtered and paged by id."""
        stmt = select(AuditRow).order_by(AuditRow.id.desc()).limit(clamp_limit(q.limit))
        for column, value in (
            (AuditRow.actor, q.actor),
            (AuditRow.action, q.action),
            (AuditRow.target, q.target),
            (AuditRow.outcome, q.outcome),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if q.since is not None:
            stmt = stmt.where(AuditRow.at >= q.since)
        if q.until is not None:
            stmt = stmt.where(AuditRow.at < q.until)
        if q.before_id is not None:
            stmt = stmt.where(AuditRow.id < q.before_id)
        with self.session() as s:
            return [_audit_event(r) for r in s.scalars(stmt)]

    def audit_page(self, q: AuditQuery) -> AuditPage:
        """One page of `list_audit` and the cursor of the next older one (`matrx_ship.paging`)."""
        events = self.list_audit(q)
        return {"events": events, "next_before_id": next_before_id([e.id for e in events], q.limit)}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _token_info(row: TokenRow) -> TokenInfo:
    return TokenInfo(
        name=row.name,
        scope=Scope(row.scope),
        created_at=_aware(row.created_at) or utcnow(),
        created_by=row.created_by,
        expires_at=_aware(row.expires_at),
        revoked_at=_aware(row.revoked_at),
        last_used_at=_aware(row.last_used_at),
    )


def _audit_event(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=_aware(row.at) or utcnow(),
        actor=row.actor,
        action=row.action,
        target=row.target,
        outcome=row.outcome,  # type: ignore[arg-type]
        status=row.status,
        detail=row.detail or {},
    )
