"""How numbers and times read to a person: bytes, durations, moments."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(value: str | datetime | None) -> datetime | None:
    """A UTC datetime from an ISO string (nanoseconds and 'Z' allowed), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.strip().replace("Z", "+00:00")
    date, sep, rest = text.partition(".")
    if sep:  # Docker gives nanoseconds; Python keeps microseconds
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{date}.{digits[:6]}{zone}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def when(value: str | datetime | None) -> str:
    """A moment as 'YYYY-MM-DD HH:MM:SS UTC', or an em dash."""
    moment = parse_time(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def duration(seconds: float | None) -> str:
    """'3 d 4 h', '2 h 5 min', '4 min 10 s', '12 s'."""
    if seconds is None:
        return "—"
    s = max(int(seconds), 0)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {s} s"
    return f"{s} s"


def ago(value: str | datetime | None, now: datetime | None = None) -> str:
    """'5 min 3 s ago', or an em dash."""
    moment = parse_time(value)
    if moment is None:
        return "—"
    return duration(((now or datetime.now(UTC)) - moment).total_seconds()) + " ago"


def size(n: float | None) -> str:
    """Bytes in binary units: '512 B', '1.5 KiB', '2.0 GiB'."""
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.0f} {unit}" if abs(value) >= 100 else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # unreachable; keeps mypy sure of the return


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"
