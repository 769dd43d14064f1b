"""The pure plans of backups: a backup's parts, a restore's steps, retention, the schedule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from matrx_ship.models import ServiceSpec
from onbox_agent.steps import Step

# --- plans (pure): on the agent's one ``steps.Step`` -----------------------------------


@dataclass(frozen=True)
class PartRef:
    """What a restore plan needs to know of a backup's part."""

    kind: str
    name: str
    target: str = ""


@dataclass(frozen=True)
class BackupRef:
    """What retention needs to know of a backup: when, and whether it can be restored."""

    id: str
    created_at: datetime
    good: bool = True


def plan_backup(spec: ServiceSpec) -> list[Step]:
    """The parts of a service backup, in order; the manifest is written last."""
    steps = [Step("spec", "spec")]
    if spec.database is not None:
        steps.append(Step("database", spec.database.db))
    steps += [Step("volume", v.source) for v in spec.volumes]
    return [*steps, Step("manifest", "manifest")]


def plan_restore(
    parts: list[PartRef], targets: list[str], has_database: bool, keep_old: bool = False
) -> list[Step]:
    """Stage, check, swap, then clean up; nothing when the backup holds nothing to restore.

    ``targets`` are the mount paths of the service's volumes now: a volume part is
    restored into the volume mounted at the same path (its name may have changed).
    """
    db = next((p for p in parts if p.kind == "database"), None) if has_database else None
    vols = [p.target for p in parts if p.kind == "volume" and p.target in targets]
    if db is None and not vols:
        return []
    steps: list[Step] = []
    if db is not None:
        steps += [Step("restore_database", db.name), Step("check_counts", db.name)]
    steps += [Step("restore_volume", t) for t in vols]
    if db is not None:
        steps.append(Step("swap_database", db.name))
    steps.append(Step("recreate", "service") if vols else Step("restart", "service"))
    if keep_old:
        return steps
    if db is not None:
        steps.append(Step("drop_old_database", db.name))
    return steps + [Step("remove_old_volume", t) for t in vols]


def plan_prune(
    backups: list[BackupRef], now: datetime, last: int, daily: int, weekly: int
) -> list[str]:
    """Ids of backups to delete: keep the newest ``last``, the newest of each of the last
    ``daily`` days and ``weekly`` ISO weeks (counted back from ``now``), and always the
    newest good backup. Backups that are not good are deleted once a good one is kept."""
    good = sorted((b for b in backups if b.good), key=lambda b: b.created_at, reverse=True)
    keep = {b.id for b in good[: max(last, 1)]}
    today = now.astimezone(UTC).date()
    days = {today - timedelta(days=i) for i in range(daily)}
    weeks = {_week(today - timedelta(weeks=i)) for i in range(weekly)}
    keep |= _newest_per(good, lambda d: d if d in days else None)
    keep |= _newest_per(good, lambda d: _week(d) if _week(d) in weeks else None)
    doomed = [b for b in backups if b.id not in keep]
    if not good:  # nothing restorable: keep what there is
        doomed = []
    return [b.id for b in sorted(doomed, key=lambda b: b.created_at)]


def _week(d: date) -> tuple[int, int]:
    iso = d.isocalendar()
    return iso[0], iso[1]


def _newest_per(good: list[BackupRef], bucket: Callable[[date], Any]) -> set[str]:
    """The newest backup in each bucket (``good`` is newest first; None is no bucket)."""
    seen: dict[Any, str] = {}
    for b in good:
        key = bucket(b.created_at.astimezone(UTC).date())
        if key is not None and key not in seen:
            seen[key] = b.id
    return set(seen.values())


def is_due(
    now: datetime,
    last_good: datetime | None,
    last_attempt: datetime | None,
    since: datetime,
    interval_h: float,
    retry_h: float,
) -> bool:
    """A scheduled backup is due ``interval_h`` after the last good one (or after ``since``,
    when the service was registered), and a failed attempt is retried after ``retry_h``."""
    if interval_h <= 0:
        return False
    base = last_good or since
    if now - base < timedelta(hours=interval_h):
        return False
    return last_attempt is None or now - last_attempt >= timedelta(hours=min(retry_h, interval_h))
