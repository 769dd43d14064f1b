"""Service specs and their containers: register, update, delete, lifecycle.

One change at a time per service (``ServiceLocks``); each change is a plan from
``plans`` applied by ``Executor``, which undoes what it started when the health
gate fails, so a failed change leaves the old container serving.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.errors import APIError, DockerException
from docker.errors import NotFound as DockerNotFound
from docker.models.containers import Container
from sqlalchemy.exc import SQLAlchemyError

from matrx_ship.crypto import SecretBox
from matrx_ship.errors import MatrxError, NotFound
from matrx_ship.models import ServiceSpec
from matrx_ship.store import Store
from onbox_agent import engine, plans
from onbox_agent.engine import HealthResult
from onbox_agent.locks import ServiceLocks
from onbox_agent.steps import Step, check_handled, dispatch


class SpecRepo:
    """Service specs in the state store, env values encrypted at rest."""

    def __init__(self, store: Store, box: SecretBox) -> None:
        self.store, self.box = store, box
        # the last specs read: lifecycle and status keep working while the store is away
        self._cache: dict[str, ServiceSpec] = {}

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
        try:
            spec = self._opened(self.store.get_service(name))
        except SQLAlchemyError:
            if name not in self._cache:
                raise
            return self._cache[name]
        self._cache[name] = spec
        return spec

    def list(self) -> list[ServiceSpec]:
        try:
            specs = [self._opened(d) for d in self.store.list_services()]
        except SQLAlchemyError:
            if not self._cache:
                raise
            return sorted(self._cache.values(), key=lambda s: s.name)
        self._cache = {s.name: s for s in specs}
        return specs

    def delete(self, name: str) -> None:
        self.store.delete_service(name)
        self._cache.pop(name, None)


@dataclass
class Outcome:
    ok: bool
    steps: list[dict[str, Any]] = field(default_factory=list)
    health: HealthResult | None = None
    container: str | None = None


@dataclass(frozen=True)
class Target:
    """What a new container runs: the spec's image, or a release's image."""

    image: str | None = None
    release: str = ""
    deployment: str = ""


Retire = Callable[[Container], None]
StepHook = Callable[[dict[str, Any]], None]


class Executor:
    """Applies a plan's steps with docker-py and records each one."""

    def __init__(
        self,
        client: docker.DockerClient,
        spec: ServiceSpec,
        generation: int,
        deadline_s: float,
        *,
        grace_s: int = 10,
        pull: bool = True,
        target: Target = Target(),
        retire: Retire | None = None,
        on_step: StepHook | None = None,
        containers: list[Container] | None = None,
        extra_env: Callable[[ServiceSpec], dict[str, str]] | None = None,
    ) -> None:
        self.client, self.spec, self.generation = client, spec, generation
        self.extra_env = extra_env or (lambda _spec: {})
        self.deadline_s, self.grace_s, self.pull, self.target = deadline_s, grace_s, pull, target
        self.retire_fn = retire or (lambda c: engine.remove_quietly(c, grace_s))
        self.on_step = on_step
        if containers is None:
            containers = engine.service_containers(client, spec.name)
        self.named: dict[str, Container] = {str(c.name): c for c in containers}
        self.stopped: list[Container] = []
        self.detached: list[Container] = []
        self.reused = False
        self.outcome = Outcome(ok=True)

    def handlers(self) -> dict[str, Callable[[str], bool]]:
        """What each plan action does; each returns whether the plan may go on."""
        return {
            "ensure_image": self._ensure_image,
            "create": self._create,
            "reuse": self._reuse,
            "start": self._start,
            "wait_healthy": self._wait_healthy,
            "attach": self._attach,
            "detach": self._detach,
            "stop": self._stop,
            "remove": self._remove,
            "retire": self._remove,
            "restart": self._restart,
        }

    def run(self, steps: list[Step]) -> Outcome:
        """Apply the steps in order; on a failed health gate undo and stop."""
        handlers = self.handlers()
        check_handled(steps, handlers)
        for step in steps:
            started = time.monotonic()
            ok = bool(dispatch(step, handlers))
            record = {
                "action": step.action,
                "target": self._label(step.target),
                "seconds": round(time.monotonic() - started, 3),
                "ok": ok,
            }
            self.outcome.steps.append(record)
            if self.on_step is not None:
                self.on_step(record)
            if not ok:
                self.undo()
                self.outcome.ok = False
                break
        return self.outcome

    def _label(self, target: str) -> str:
        c = self.named.get(target)
        return str(c.name) if c is not None else target

    def _ensure_image(self, _: str) -> bool:
        engine.ensure_image(self.client, self.target.image or self.spec.image, self.pull)
        return True

    def _create(self, _: str) -> bool:
        spec = self.spec
        extra = self.extra_env(spec)
        if extra:  # injected values (DATABASE_URL) are never stored in the spec
            spec = spec.model_copy(update={"env": {**spec.env, **extra}})
        self.named["candidate"] = engine.create_container(
            self.client,
            spec,
            self.generation,
            self.target.release,
            self.target.image,
            self.target.deployment,
        )
        self.outcome.container = self.named["candidate"].name
        return True

    def _reuse(self, target: str) -> bool:
        self.named["candidate"] = self.named[target]
        self.reused = True
        return True

    def _start(self, target: str) -> bool:
        self.named[target].start()
        self.outcome.container = self.named[target].name
        return True

    def _wait_healthy(self, target: str) -> bool:
        result = engine.wait_healthy(self.named[target], self.spec, self.deadline_s)
        self.outcome.health = result
        return result.healthy

    def _attach(self, target: str) -> bool:
        engine.attach(self.client, self.named[target], self.spec)
        return True

    def _detach(self, target: str) -> bool:
        engine.detach(self.client, self.named[target])
        self.detached.append(self.named[target])
        time.sleep(0.5)  # let connections to the old address drain
        return True

    def _stop(self, target: str) -> bool:
        self.named[target].stop(timeout=self.grace_s)
        self.stopped.append(self.named[target])
        return True

    def _remove(self, target: str) -> bool:
        self.retire_fn(self.named[target])
        return True


    def _restart(self, target: str) -> bool:
        self.named[target].restart(timeout=self.grace_s)
        return True

    def undo(self) -> None:
        """Put back what this change took away: the old container serves again."""
        candidate = self.named.get("candidate")
        if candidate is not None:
            with contextlib.suppress(APIError, DockerNotFound):
                if self.reused:
                    engine.detach(self.client, candidate)
                    candidate.stop(timeout=1)
                else:
                    self.retire_fn(candidate)
        for c in self.stopped:
            with contextlib.suppress(APIError, DockerNotFound):
                c.start()
        for c in self.detached + self.stopped:
            with contextlib.suppress(APIError, DockerNotFound):
                engine.attach(self.client, c, self.spec)


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
        retire: Retire | None = None,
        live_target: Callable[[str], Target] | None = None,
        on_routes: Callable[[ServiceSpec], object] | None = None,
        on_routes_removed: Callable[[str], object] | None = None,
        prepare: Callable[[ServiceSpec], dict[str, str]] | None = None,
    ) -> None:
        self.client, self.repo, self.locks, self.deadline_s = client, repo, locks, deadline_s
        self.pull, self.retire = pull, retire
        self.live_target = live_target or (lambda _name: Target())
        self.on_routes = on_routes or (lambda _spec: None)
        # returns env to inject into new containers, after making their dependencies exist
        self.prepare = prepare or (lambda _spec: {})
        self.on_routes_removed = on_routes_removed or (lambda _name: None)

    def _apply(
        self,
        spec: ServiceSpec,
        steps: list[Step],
        deadline: float | None,
        generation: int = 0,
        grace_s: int = 10,
        target: Target = Target(),
        on_step: StepHook | None = None,
        containers: list[Container] | None = None,
    ) -> Outcome:
        ex = Executor(
            self.client,
            spec,
            generation,
            deadline or self.deadline_s,
            grace_s=grace_s,
            pull=self.pull,
            target=target,
            retire=self.retire,
            on_step=on_step,
            containers=containers,
            extra_env=self.prepare,
        )
        try:
            return ex.run(steps)
        except MatrxError:
            ex.undo()
            raise
        except DockerException as exc:
            ex.undo()
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
            else:
                self.on_routes(spec)
            return outcome

    def update(self, spec: ServiceSpec, actor: str, deadline: float | None = None) -> Outcome:
        """Replace a spec; the new container must get healthy or the old spec and container stay."""
        with self.locks.hold(spec.name, actor, "update"):
            old = self.repo.get(spec.name)
            self._check_image(spec)
            generation = self.repo.update(spec)
            # a new image in the spec wins over the live release; otherwise the release stays
            target = Target() if old.image != spec.image else None
            outcome = self._replace(spec, deadline, generation, target)
            if not outcome.ok:
                self.repo.update(old)
            else:
                self.on_routes(spec)
            return outcome

    def delete(self, name: str, actor: str) -> list[str]:
        """Stop and remove the service's containers (logs archived) and forget its spec."""
        with self.locks.hold(name, actor, "delete"):
            self.repo.get(name)
            removed = []
            for c in engine.service_containers(self.client, name):
                (self.retire or (lambda x: engine.remove_quietly(x, 10)))(c)
                removed.append(str(c.name))
            self.repo.delete(name)
            self.on_routes_removed(name)
            return removed

    def recreate(self, name: str, actor: str, deadline: float | None = None) -> Outcome:
        """Force-recreate from the stored spec (and the live release) through the health gate."""
        with self.locks.hold(name, actor, "recreate"):
            spec = self.repo.get(name)
            return self._routed(spec, self._replace(spec, deadline, self._generation(name) + 1))

    def start(self, name: str, actor: str, deadline: float | None = None) -> Outcome:
        with self.locks.hold(name, actor, "start"):
            spec = self.repo.get(name)
            current = self._current(name)
            steps = plans.plan_start(_ref(current) if current else None)
            outcome = self._apply(
                spec, steps, deadline, self._generation(name) + 1, target=self.live_target(name)
            )
            return self._routed(spec, outcome)

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
            outcome = self._apply(spec, plans.plan_restart(_ref(current)), deadline)
            return self._routed(spec, outcome)

    def deploy(
        self,
        spec: ServiceSpec,
        target: Target,
        deadline: float | None,
        on_step: StepHook | None = None,
    ) -> Outcome:
        """Put a release live (the caller holds the service's lock); old container kept stopped."""
        current = engine.service_containers(self.client, spec.name)
        standby = next(
            (
                str(c.name)
                for c in current
                if c.status != "running" and c.labels.get(engine.RELEASE) == target.release
            ),
            None,
        )
        steps = plans.plan_deploy([_ref(c) for c in current], standby, _host_ports(spec))
        generation = max(
            (int(c.labels.get(engine.GENERATION, "0") or 0) for c in current), default=0
        )
        outcome = self._apply(
            spec,
            steps,
            deadline,
            generation + 1,
            target=target,
            on_step=on_step,
            containers=current,
        )
        return self._routed(spec, outcome)

    def _replace(
        self,
        spec: ServiceSpec,
        deadline: float | None,
        generation: int,
        target: Target | None = None,
    ) -> Outcome:
        current = engine.service_containers(self.client, spec.name)
        steps = plans.plan_replace([_ref(c) for c in current], _host_ports(spec))
        target = target if target is not None else self.live_target(spec.name)
        return self._apply(spec, steps, deadline, generation, target=target)

    def _routed(self, spec: ServiceSpec, outcome: Outcome) -> Outcome:
        """Route files are derived state: written again after every change that went well."""
        if outcome.ok:
            self.on_routes(spec)
        return outcome

    def _current(self, name: str) -> Container | None:
        return engine.serving(engine.service_containers(self.client, name))

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
