"""A restore beside the live service: stage, check, swap, clean up; any failure undone."""

from __future__ import annotations

import copy
import json
import logging
import posixpath
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from docker.errors import APIError, DockerException
from docker.errors import NotFound as DockerNotFound

from matrx_ship.errors import Conflict, InvalidInput, MatrxError, Unavailable
from matrx_ship.models import ServiceSpec
from onbox_agent import databases, engine
from onbox_agent.archive import gunzip_chunks
from onbox_agent.backups.plans import PartRef, Step, plan_restore
from onbox_agent.backups.streams import checked_read, corrupt
from onbox_agent.backups.take import _as_error, helper
from onbox_agent.jobs import JobContext
from onbox_agent.locks import HeldLocks
from onbox_agent.runtime import Runtime
from onbox_agent.services import ServiceManager
from onbox_agent.steps import check_handled, dispatch

log = logging.getLogger(__name__)

# --- restore ------------------------------------------------------------------------------


def under_held_lock(rt: Runtime) -> ServiceManager:
    """The service manager, for a caller that holds the service's lock for its whole job."""
    manager = copy.copy(rt.services)
    manager.locks = HeldLocks()
    return manager


def renamed_volume(source: str) -> str:
    """A fresh volume name for a restore: ``<base>-r<6 hex>`` (earlier suffixes dropped)."""
    base = re.sub(r"-r[0-9a-f]{6}$", "", source)[:56]
    return f"{base}-r{secrets.token_hex(3)}"


def drop_database(rt: Runtime, service: str, name: str) -> None:
    """Drop a database beside the live one (a staged or a swapped-out one), never the live."""
    info = rt.databases.load(service)
    if info is None or name == info.db:
        raise InvalidInput(f"'{name}' is the live database of '{service}' or there is none.")
    maintenance = "template1" if info.db == "postgres" else "postgres"
    sql = f"DROP DATABASE IF EXISTS {databases.ident(name)} WITH (FORCE)"
    rt.databases.psql(rt.databases.db_container(service), sql, maintenance, info.user)


@dataclass
class Staged:
    """What a restore made beside the live service, and what it swapped."""

    fresh_db: str | None = None
    old_db: str | None = None
    volumes: dict[str, str] = field(default_factory=dict)  # target -> new volume
    old_volumes: dict[str, str] = field(default_factory=dict)  # target -> old volume
    spec_swapped: bool = False
    cleaned: list[str] = field(default_factory=list)


class Restore:
    """Applies a restore plan; on any failure puts the service back as it was."""

    def __init__(
        self,
        rt: Runtime,
        ctx: JobContext,
        spec: ServiceSpec,
        backup: dict[str, Any],
        actor: str,
        deadline: float | None,
    ) -> None:
        self.rt, self.ctx, self.spec, self.backup = rt, ctx, spec, backup
        self.actor, self.deadline = actor, deadline
        self.manager = under_held_lock(rt)
        self.staged = Staged()
        self.records: list[dict[str, Any]] = []

    def plan(self, keep_old: bool) -> list[Step]:
        refs = [
            PartRef(p["kind"], p["name"], p["detail"].get("target", ""))
            for p in self.backup["parts"]
        ]
        targets = [v.target for v in self.spec.volumes]
        return plan_restore(refs, targets, self.spec.database is not None, keep_old)

    def handlers(self) -> dict[str, Callable[[str], object]]:
        """What each restore step does, given its target."""
        return {
            "restore_database": self._restore_database,
            "check_counts": self._check_counts,
            "restore_volume": self._restore_volume,
            "swap_database": self._swap_database,
            "recreate": self._recreate,
            "restart": self._restart,
            "drop_old_database": self._drop_old_database,
            "remove_old_volume": self._remove_old_volume,
        }

    def run(self, keep_old: bool) -> dict[str, Any]:
        steps = self.plan(keep_old)
        handlers = self.handlers()
        check_handled(steps, handlers)
        if not steps:
            self.ctx.log("the backup holds no database or volume this service has")
        started = time.monotonic()
        for i, step in enumerate(steps):
            self.ctx.step(f"{step.action} {step.target}", int(95 * i / len(steps)))
            t0 = time.monotonic()
            try:
                dispatch(step, handlers)
            except Exception as exc:
                err = exc if isinstance(exc, MatrxError) else _as_error(exc, "restore")
                self._record(step, t0, False, err.message)
                self.ctx.log(f"failed at {step.action} {step.target}: {err.message}")
                self.undo()
                if err is exc:
                    raise
                raise err from exc
            self._record(step, t0, True)
        return {
            "backup_id": self.backup["id"],
            "steps": self.records,
            "volumes": self.staged.volumes,
            "kept": {
                "database": self.staged.old_db if keep_old else None,
                "volumes": self.staged.old_volumes if keep_old else {},
            },
            "cleaned": self.staged.cleaned,
            "seconds": round(time.monotonic() - started, 2),
        }

    def _record(self, step: Step, t0: float, ok: bool, error: str | None = None) -> None:
        rec = {"action": step.action, "target": step.target, "ok": ok}
        rec["seconds"] = round(time.monotonic() - t0, 3)
        if error:
            rec["error"] = error[:500]
        self.records.append(rec)

    def part(self, kind: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        return next(p for p in self.backup["parts"] if p["kind"] == kind and match(p))

    # --- stage ----------------------------------------------------------------------------

    def _restore_database(self, name: str) -> None:
        part = self.part("database", lambda p: p["name"] == name)
        fresh = f"{name[:40]}_restore_{secrets.token_hex(3)}"
        self.staged.fresh_db = fresh
        try:
            with checked_read(self.rt, part) as reader:
                self.rt.databases.restore_into(self.spec.name, fresh, reader.chunks())
        except MatrxError:
            raise
        except Exception as exc:
            raise corrupt(part, exc) from exc
        self.ctx.log(f"restored {part['key']} into the fresh database {fresh}")

    def _check_counts(self, name: str) -> None:
        want = self.part("database", lambda p: p["name"] == name)["detail"].get("tables", {})
        got = self.rt.databases.table_counts(self.spec.name, self.staged.fresh_db)
        if got != want:
            diff = {
                t: [want.get(t), got.get(t)]
                for t in sorted(set(want) | set(got))
                if want.get(t) != got.get(t)
            }
            raise Conflict(
                f"The restored database does not match the backup: {json.dumps(diff)[:400]} "
                "(table: [at backup, restored]).",
                code="restore_check_failed",
                hint="Nothing was swapped; verify the backup (POST /v1/backups/{id}/verify).",
            )
        self.ctx.log(f"row counts match the backup's: {len(got)} tables")

    def _restore_volume(self, target: str) -> None:
        part = self.part("volume", lambda p: p["detail"].get("target") == target)
        old = next(v.source for v in self.spec.volumes if v.target == target)
        new = renamed_volume(old)
        self.rt.docker.volumes.create(new, labels={"matrx.restored_from": self.backup["id"]})
        self.staged.volumes[target] = new
        self.staged.old_volumes[target] = old
        parent = posixpath.dirname(target.rstrip("/")) or "/"
        try:
            with (
                checked_read(self.rt, part) as reader,
                helper(self.rt, self.spec, {new: {"bind": target, "mode": "rw"}}, "restore") as box,
            ):
                if not box.put_archive(parent, gunzip_chunks(reader)):  # type: ignore[arg-type]
                    raise Unavailable(f"The engine refused the archive for {target}.")
        except MatrxError:
            raise
        except Exception as exc:
            raise corrupt(part, exc) from exc
        self.ctx.log(f"restored {part['key']} into the new volume {new}")

    # --- swap -----------------------------------------------------------------------------

    def _swap_database(self, _name: str) -> None:
        assert self.staged.fresh_db is not None
        self.staged.old_db = self.rt.databases.swap_database(self.spec.name, self.staged.fresh_db)
        self.ctx.log(f"swapped: the previous data is kept as {self.staged.old_db}")

    def _recreate(self, _target: str) -> None:
        volumes = [
            v.model_copy(update={"source": self.staged.volumes.get(v.target, v.source)})
            for v in self.spec.volumes
        ]
        new_spec = self.spec.model_copy(update={"volumes": volumes})
        outcome = self.manager.update(new_spec, self.actor, self.deadline)
        if not outcome.ok:
            assert outcome.health is not None
            raise engine.health_failure(self.spec.name, outcome.health)
        self.staged.spec_swapped = True

    def _restart(self, _target: str) -> None:
        outcome = self.manager.restart(self.spec.name, self.actor, self.deadline)
        if not outcome.ok or (outcome.health is not None and not outcome.health.healthy):
            assert outcome.health is not None
            raise engine.health_failure(self.spec.name, outcome.health)

    # --- clean up -------------------------------------------------------------------------

    def _drop_old_database(self, _name: str) -> None:
        old = self.staged.old_db
        if not old:
            return
        self.staged.old_db = None  # the restore stands: nothing to swap back any more
        try:
            drop_database(self.rt, self.spec.name, old)
            self.staged.cleaned.append(f"database {old}")
        except (MatrxError, DockerException) as exc:
            self.ctx.log(f"kept the old database {old}: {exc}")

    def _remove_old_volume(self, target: str) -> None:
        old = self.staged.old_volumes[target]
        try:
            self.rt.docker.volumes.get(old).remove()
            self.staged.cleaned.append(f"volume {old}")
        except (APIError, DockerNotFound) as exc:  # another service may still use it
            self.ctx.log(f"kept the old volume {old}: {exc}")

    def undo(self) -> None:
        """Put the service back: the old database and volumes, a healthy container."""
        s = self.staged
        if s.old_db is not None:
            self._quietly("swap the database back", self._swap_back)
            if not s.spec_swapped:
                self._quietly("restart on the old database", lambda: self._restart("service"))
        if s.spec_swapped:  # only when a later step failed: put the old volumes back
            self._quietly("recreate on the old volumes", self._recreate_old)
        if s.fresh_db is not None:
            fresh = s.fresh_db
            self._quietly(
                f"drop the staged database {fresh}",
                lambda: drop_database(self.rt, self.spec.name, fresh),
            )
        for new in s.volumes.values():
            self._quietly(f"remove the staged volume {new}", self._volume_remover(new))

    def _swap_back(self) -> None:
        assert self.staged.old_db is not None
        # the restored data goes aside under a new name, which the undo then drops
        self.staged.fresh_db = self.rt.databases.swap_database(self.spec.name, self.staged.old_db)
        self.staged.old_db = None

    def _recreate_old(self) -> None:
        if not self.manager.update(self.spec, self.actor, self.deadline).ok:
            raise Unavailable("the service did not get healthy on its old volumes")

    def _volume_remover(self, name: str) -> Callable[[], None]:
        return lambda: self.rt.docker.volumes.get(name).remove(force=True)

    def _quietly(self, what: str, action: Callable[[], object]) -> None:
        try:
            action()
            self.ctx.log(f"undo: {what}")
        except Exception as exc:
            log.exception("restore undo failed: %s", what)
            self.ctx.log(f"undo could not {what}: {type(exc).__name__}: {exc}")
