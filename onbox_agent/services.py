"""Service specs and their containers: register, update, delete, lifecycle.

One change at a time per service (``ServiceLocks``); each change is a plan from
``plans`` applied by ``executor.Executor``, which undoes what it started when the health
gate fails, so a failed change leaves the old container serving. The specs themselves are
kept by ``specrepo.SpecRepo``.
"""

from __future__ import annotations

from collections.abc import Callable

import docker
from docker.errors import DockerException
from docker.models.containers import Container

from matrx_ship.errors import MatrxError, NotFound
from matrx_ship.models import ServiceSpec
from onbox_agent import engine, plans
from onbox_agent.executor import Executor, Outcome, Retire, StepHook, Target
from onbox_agent.locks import ServiceLocks
from onbox_agent.specrepo import SpecRepo
from onbox_agent.steps import Step

__all__ = ["Outcome", "ServiceManager", "SpecRepo", "Target"]


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
