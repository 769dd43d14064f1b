"""A service's logs."""

from __future__ import annotations

from matrx_ship.api.base import Reply


class LogLine(Reply):
    ts: str
    stream: str
    text: str
    container: str | None = None


class Logs(Reply):
    """The last lines that match, oldest first; each names its container."""

    service: str
    container: str | None
    lines: list[LogLine]
