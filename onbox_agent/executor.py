"""Applying a lifecycle plan's steps with docker-py: what a new container runs (``Target``),
what came of it (``Outcome``), and the undo that puts the old container back when the
health gate fails."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.errors import APIError
from docker.errors import NotFound as DockerNotFound
from docker.models.containers import Container

from matrx_ship.models import ServiceSpec
from onbox_agent import engine
from onbox_agent.engine import HealthResult
from onbox_agent.steps import Step, check_handled, dispatch


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
