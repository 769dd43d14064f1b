"""Service specs and their containers: register, update, delete, lifecycle.

One change at a time per service (``ServiceLocks``); each change is a plan from
``plans`` applied by ``Executor``, which undoes what it started when the health
gate fails, so a failed change leaves the old container serving.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import docker
from docker.errors import APIError, DockerException
from docker.errors import NotFound as DockerNotFound
from docker.models.containers import Container

from matrx_ship.crypto import SecretBox
from matrx_ship.errors import MatrxError, NotFound, ServiceBusy
from matrx_ship.models import ServiceSpec
from matrx_ship.store import Store
from onbox_agent import engine, plans
from onbox_agent.engine import HealthResult


class SpecRepo:
    """Service specs in the state store, env values encrypted at rest."""

    def __init__(self, store: Store, box: SecretBox) -> None:
        self.store, self.box = store, box

    def _sealed(self, spec: ServiceSpec) -> dict[str, Any]:
        data = spec.model_dump(mode="json")
        data["env"] = {k: self.box.encrypt(v) for k, v in spec.env.items()}
        return data

    def _opened(self, data: dict[str, Any]) -> ServiceSpec:
        data = dict(data)
        data["env"] = {k: self.box.decrypt(v) for k, v in data.get("env", {}).items()}
        return ServiceSpec.model_validate(data)

    def create(self, spec: ServiceSpec) -> None:
        self.store.create_service(spec.name, spec.kind, self._sealed(spec))

    def update(self, spec: ServiceSpec) -> int:
        return self.store.update_service(spec.name, spec.kind, self._sealed(spec))

    def get(self, name: str) -> ServiceSpec:
        return self._opened(self.store.get_service(name))

    def list(self) -> list[ServiceSpec]:
        return [self._opened(d) for d in self.store.list_services()]

    def delete(self, name: str) -> None:
        self.store.delete_service(name)


@dataclass
class Holder:
    actor: str
    action: str
    since: datetime


class ServiceLocks:
    """At most one change per service; a second one is refused at once with who holds it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: dict[str, Holder] = {}

    @contextmanager
    def hold(self, name: str, actor: str, action: str) -> Iterator[None]:
        with self._guard:
            holder = self._held.get(name)
            if holder is not None:
                raise ServiceBusy(
                    f"The service '{name}' is busy: {holder.actor} started '{holder.action}' "
                    f"at {holder.since:%H:%M:%S} UTC.",
                    detail={
                        "held_by": holder.actor,
                        "action": holder.action,
                        "since": holder.since.isoformat(),
                    },
                )
            self._held[name] = Holder(actor, action, datetime.now(UTC))
        try:
            yield
        finally:
            with self._guard:
                self._held.pop(name, None)

    def holders(self) -> dict[str, Holder]:
        with self._guard:
            return dict(self._held)


@dataclass
class Outcome:
    ok: bool
    steps: list[dict[str, Any]] = field(default_factory=list)
    health: HealthResult | None = None
    container: str | None = None


class Executor:
    """Applies a plan's steps with docker-py and records each one."""

    def __init__(
        self,
        client: docker.DockerClient,
        spec: ServiceSpec,
        generation: int,
        deadline_s: float,
        grace_s: int = 10,
        pull: bool = True,
    ) -> None:
        self.client, self.spec, self.generation = client, spec, generation
        self.pull = pull
        self.deadline_s, self.grace_s = deadline_s, grace_s
        self.named: dict[str, Container] = {
            str(c.name): c for c in engine.service_containers(client, spec.name)
        }
        self.stopped: list[Container] = []
        self.outcome = Outcome(ok=True)

    def run(self, steps: list[plans.Step]) -> Outcome:
        """Apply the steps in order; on a failed health gate undo and stop."""
        for step in steps:
            started = time.monotonic()
            ok = getattr(self, f"_{step.action}")(step.target)
            self.outcome.steps.append(
                {
                    "action": step.action,
                    "target": self._label(step.target),
                    "seconds": round(time.monotonic() - started, 3),
                    "ok": ok,
                }
            )
            if not ok:
                self._undo()
                self.outcome.ok = False
                break
        return self.outcome

    def _label(self, target: str) -> str:
        c = self.named.get(target)
        return str(c.name) if c is not None else target

    def _ensure_image(self, _: str) -> bool:
        engine.ensure_image(self.client, self.spec.image, self.pull)
        return True

    def _create(self, _: str) -> bool:
        self.named["candidate"] = engine.create_container(self.client, self.spec, self.generation)
        self.outcome.container = self.named["candidate"].name
        return True

    def _start(self, target: str) -> bool:
        self.named[target].start()
        self.outcome.container = self.named[target].name
        return True

    def _wait_healthy(self, target: str) -> bool:
        result = engine.wait_healthy(self.named[target], self.spec, self.deadline_s)
        self.outcome.health = result
        return result.healthy

    def _detach(self, target: str) -> bool:
        c = self.named[target]
        for net in (c.attrs.get("NetworkSettings") or {}).get("Networks") or {}:
            with contextlib.suppress(APIError, DockerNotFound):
                self.client.networks.get(net).disconnect(c)
        time.sleep(0.5)  # let connections to the old address drain
        return True

    def _stop(self, target: str) -> bool:
        self.named[target].stop(timeout=self.grace_s)
        self.stopped.append(self.named[target])
        return True

    def _remove(self, target: str) -> bool:
        engine.remove_quietly(self.named[target], self.grace_s)
        return True

    def _restart(self, target: str) -> bool:
        self.named[target].restart(timeout=self.grace_s)
        return True

    def _undo(self) -> None:
        candidate = self.named.get("candidate")
        if candidate is not None:
            engine.remove_quietly(candidate, 1)
        for c in self.stopped:
            with contextlib.suppress(APIError, DockerNotFound):
                c.start()


def _ref(c: Container) -> plans.ContainerRef:
    return plans.ContainerRef(name=str(c.name), running=c.status == "running")


class ServiceManager:
    """Registers specs and changes their containers, one change per service at a time."""

    def __init__(
        self,
        client: docker.DockerClient,
        repo: SpecRepo,
        locks: ServiceLocks,
        deadline_s: float,
        pull: bool = True,
    ) -> None:
        self.client, self.repo, self.locks, self.deadline_s = client, repo, locks, deadline_s
        self.pull = pull

    def _apply(
        self,
        spec: ServiceSpec,
        steps: list[plans.Step],
        deadline: float | None,
        generation: int = 0,
        grace_s: int = 10,
    ) -> Outcome:
        ex = Executor(
            self.client, spec, generation, deadline or self.deadline_s, grace_s, self.pull
        )
        try:
            return ex.run(steps)
        except MatrxError:
            ex._undo()
            raise
        except DockerException as exc:
            ex._undo()
            raise engine.engine_error(exc) from exc

    def create(self, spec: ServiceSpec, actor: str, deadline: float | None = None) -> Outcome:
        """Register a new service and start its container through the health gate."""
        with self.locks.hold(spec.name, actor, "create"):
            self._check_image(spec)
            self.repo.create(spec)
            try:
                outcome = self._replace(spec, deadline, 1)
            except MatrxError:
                self.repo.delete(spec.name)
                raise
            if not outcome.ok:
                self.repo.delete(spec.name)
            return outcome

    def update(self, spec: ServiceSpec, actor: str, deadline: float | None = None) -> Outcome:
        """Replace a spec; the new container must get healthy or the old spec and container stay."""
        with self.locks.hold(spec.name, actor, "update"):
            old = self.repo.get(spec.name)
            self._check_image(spec)
            generation = self.repo.update(spec)
            outcome = self._replace(spec, deadline, generation)
            if not outcome.ok:
                self.repo.update(old)
            return outcome

    def delete(self, name: str, actor: str) -> list[str]:
        """Stop and remove the service's containers and forget its spec (volumes are kept)."""
        with self.locks.hold(name, actor, "delete"):
            self.repo.get(name)
            removed = []
            for c in engine.service_containers(self.client, name):
                engine.remove_quietly(c, 10)
                removed.append(str(c.name))
            self.repo.delete(name)
            return removed

    def recreate(self, name: str, actor: str, deadline: float | None = None) -> Outcome:
        """Force-recreate from the stored spec through the health gate."""
        with self.locks.hold(name, actor, "recreate"):
            spec = self.repo.get(name)
            return self._replace(spec, deadline, self._generation(name) + 1)

    def start(self, name: str, actor: str, deadline: float | None = None) -> Outcome:
        with self.locks.hold(name, actor, "start"):
            spec = self.repo.get(name)
            current = self._current(name)
            steps = plans.plan_start(_ref(current) if current else None)
            return self._apply(spec, steps, deadline, self._generation(name) + 1)

    def stop(self, name: str, actor: str, grace_s: int = 10) -> Outcome:
        with self.locks.hold(name, actor, "stop"):
            spec = self.repo.get(name)
            current = self._current(name)
            steps = plans.plan_stop(_ref(current) if current else None)
            return self._apply(spec, steps, None, grace_s=grace_s)

    def restart(self, name: str, actor: str, deadline: float | None = None) -> Outcome:
        with self.locks.hold(name, actor, "restart"):
            spec = self.repo.get(name)
            current = self._current(name)
            if current is None:
                raise NotFound(
                    f"The service '{name}' has no container to restart.",
                    hint=f"Create one with POST /v1/services/{name}/recreate.",
                    code="no_container",
                )
            return self._apply(spec, plans.plan_restart(_ref(current)), deadline)

    def _replace(self, spec: ServiceSpec, deadline: float | None, generation: int) -> Outcome:
        current = engine.service_containers(self.client, spec.name)
        steps = plans.plan_replace([_ref(c) for c in current], _host_ports(spec))
        return self._apply(spec, steps, deadline, generation)

    def _current(self, name: str) -> Container | None:
        found = engine.service_containers(self.client, name)
        running = [c for c in found if c.status == "running"]
        return (running or found)[0] if found else None

    def _generation(self, name: str) -> int:
        found = engine.service_containers(self.client, name)
        gens = [int(c.labels.get(engine.GENERATION, "0") or 0) for c in found]
        return max(gens, default=0)

    def _check_image(self, spec: ServiceSpec) -> None:
        try:
            engine.ensure_image(self.client, spec.image, self.pull)
        except DockerException as exc:
            raise engine.engine_error(exc) from exc


def _host_ports(spec: ServiceSpec) -> bool:
    return any(p.host for p in spec.ports)
