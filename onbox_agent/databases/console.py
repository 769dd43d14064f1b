"""The read-only query console: one statement, as the read-only role, in a READ ONLY
transaction with a statement timeout and a row limit."""

from __future__ import annotations

import time
from typing import Any

from onbox_agent.databases.access import Access
from onbox_agent.databases.sql import READONLY_ROLE, limited, readonly_statement


class Console(Access):
    """Reads a service's database on behalf of a person."""

    def query(self, service: str, sql: str, limit: int, timeout_s: float) -> dict[str, Any]:
        """Run one read-only statement as the read-only role in a READ ONLY transaction."""
        statement, keyword = readonly_statement(sql)
        info, container = self.running_db(service)
        ms = max(1, int(timeout_s * 1000))
        env = {"PGOPTIONS": f"-c default_transaction_read_only=on -c statement_timeout={ms}"}
        started = time.monotonic()
        rows, cut = self.psql(
            container,
            [
                "BEGIN READ ONLY",
                f"SET LOCAL statement_timeout = {ms}",
                limited(statement, keyword, limit),
                "ROLLBACK",
            ],
            info.db,
            READONLY_ROLE,
            env,
        )
        columns, data = (rows[0], rows[1:]) if rows else ([], [])
        return {
            "service": service,
            "database": info.db,
            "columns": columns,
            "rows": data[:limit],
            "row_count": min(len(data), limit),
            "truncated": cut or len(data) > limit,
            "seconds": round(time.monotonic() - started, 3),
        }
