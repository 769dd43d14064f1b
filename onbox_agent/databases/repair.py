"""Repairing a service's database: recreate what is missing (data kept), put the app on the
database network, and recreate the app (through the health gate) when its DATABASE_URL is
not the current one.

Observe the database (``DbObserved``) and the app (``AppObserved``), plan with
``plan_repair`` (pure), then apply the steps; the app's recreation runs after the
service's lock is let go, because the ServiceManager takes that lock itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matrx_ship.errors import Conflict
from matrx_ship.models import ServiceSpec
from onbox_agent import engine
from onbox_agent.databases.access import engine_errors, env_of, on_network
from onbox_agent.databases.checks import Checks
from onbox_agent.databases.provisioning import (
    Actions,
    DbObserved,
    Provisioning,
    plan_provision,
    run_steps,
)
from onbox_agent.databases.records import DbInfo
from onbox_agent.steps import Step, check_handled


@dataclass(frozen=True)
class AppObserved:
    """What the app's live container looks like to its database."""

    service: str
    container: str | None = None  # its name; None: the service has no container
    url_current: bool = False  # its DATABASE_URL is the database's current one
    on_network: bool = False  # it is attached to the database network


def plan_repair(db: DbObserved, app: AppObserved) -> list[Step]:
    """The database's provisioning steps, then what the app needs: a recreation with the
    current URL (and a join of the fresh container), or only a join of the network."""
    steps = plan_provision(db)
    if app.container is None or not app.url_current:
        return [*steps, Step("recreate_app", app.service), Step("join_app", app.service)]
    if not app.on_network:
        steps.append(Step("join_app", app.service))
    return steps


def split_at(steps: list[Step], action: str) -> tuple[list[Step], list[Step]]:
    """(the steps before the first ``action``, that step and the ones after it)."""
    at = next((i for i, s in enumerate(steps) if s.action == action), len(steps))
    return steps[:at], steps[at:]


class Repair(Provisioning, Checks):
    """Observe, plan and apply a repair."""

    def repair(self, service: str, actor: str) -> dict[str, Any]:
        """Recreate what is missing: network, volume, container (data kept), the app's network,
        and the app itself (through the health gate) when its DATABASE_URL is stale."""
        spec = self._declared(service)
        with self.locks.hold(service, actor, "repair database"):
            info = self.ensure_record(spec)
            handlers = self.repair_handlers(spec, info, actor)
            with engine_errors():
                steps = plan_repair(self.observe(info), self.observe_app(info))
                check_handled(steps, handlers)
                now, later = split_at(steps, "recreate_app")
                actions = run_steps(now, handlers)
        with engine_errors():
            actions += run_steps(later, handlers)
        return {"service": service, "actions": actions, "check": self.check(spec)}

    def _declared(self, service: str) -> ServiceSpec:
        spec = self.specs.get(service)
        if spec.database is None:
            raise Conflict(
                f"The service '{service}' declares no database.",
                hint="Add 'database' to its spec with PUT /v1/services/{name}.",
                code="no_database",
            )
        return spec

    def observe_app(self, info: DbInfo) -> AppObserved:
        """The app's live container as its database sees it."""
        app = self.app_container(info.service)
        if app is None:
            return AppObserved(info.service)
        current = env_of(app).get("DATABASE_URL") == info.url
        return AppObserved(info.service, str(app.name), current, on_network(app, info.network))

    def repair_handlers(self, spec: ServiceSpec, info: DbInfo, actor: str) -> dict[str, Actions]:
        """The provisioning handlers, and the app's: recreate it, join it to the network."""
        return {
            **self.provision_handlers(spec, info),
            "recreate_app": lambda service: self._recreate(service, actor),
            "join_app": lambda service: self._join(info),
        }

    def _recreate(self, service: str, actor: str) -> str:
        outcome = self.services.recreate(service, actor)
        if outcome.health is not None and not outcome.health.healthy:
            raise engine.health_failure(service, outcome.health)
        return f"recreated the app as {outcome.container} with the current DATABASE_URL"

    def _join(self, info: DbInfo) -> str | None:
        app = self.app_container(info.service)
        if app is None or on_network(app, info.network):
            return None
        self.docker.networks.get(info.network).connect(app)
        return f"connected {app.name} to {info.network}"
