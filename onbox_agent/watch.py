"""The watch after a deploy: a release that degrades inside its window is rolled back.

Passing the health gate at cutover is not enough (a release may fail a minute later). After
a deploy goes live, a thread samples the new container every ``interval_s`` for
``window_s`` (the spec's ``watch``): its state, exit code, restart count, OOM kill and health
(the engine's check and the agent's own probe). ``verdict`` (pure) says whether the samples
show a degraded release and why. Then the release that was live before is deployed again
through the normal path (health gate, the kept standby), the deployment is recorded as
``rolled_back`` with the evidence, and one audit event is written. The rolled-back release
is never redeployed by the agent itself: the live release is the newest *succeeded*
deployment's, and the watch's own rollback is that one. A newer deploy of the service ends
the watch (it is not the live release any more).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from docker.errors import APIError
from docker.errors import NotFound as DockerNotFound

from matrx_ship.errors import MatrxError, ServiceBusy
from matrx_ship.models import AuditEvent, DeployWatch, ServiceSpec
from onbox_agent import engine
from onbox_agent.locks import service_key

log = logging.getLogger(__name__)
ACTOR = "deploy-watch"


@dataclass(frozen=True)
class Sample:
    """One look at the new container."""

    state: str
    health: str | None = None  # the engine's health status, when the image has a check
    probe_ok: bool | None = None  # the agent's own probe (None: not run)
    restarts: int = 0
    oom: bool = False
    exit_code: int | None = None


def verdict(samples: list[Sample], watch: DeployWatch, restarts_at_start: int = 0) -> str | None:
    """Why the release is degraded, from the samples so far (oldest first); None: it is not."""
    if not samples:
        return None
    last = samples[-1]
    if last.oom:
        return "the container was killed for lack of memory (OOM)"
    if last.state in ("exited", "dead"):
        return f"the container exited with code {last.exit_code}"
    restarts = last.restarts - restarts_at_start
    if restarts > watch.max_restarts:
        return f"the container restarted {restarts} time(s) (at most {watch.max_restarts})"
    streak = 0
    for sample in reversed(samples):
        if sample.health != "unhealthy" and sample.probe_ok is not False:
            break
        streak += 1
    if streak >= watch.unhealthy_checks:
        return f"it failed its health check {streak} times in a row"
    return None


def sample(container: Any, spec: ServiceSpec) -> Sample:
    """Look at the container now (its state, and the agent's probe while it runs)."""
    container.reload()  # NotFound: it was removed (a recreate, a delete): not a degradation
    state = container.attrs.get("State", {})
    running = state.get("Status") == "running" and not state.get("Restarting")
    probe_ok = engine.probe(container, spec)[0] if running and spec.health else None
    return Sample(
        state="restarting" if state.get("Restarting") else str(state.get("Status")),
        health=(state.get("Health") or {}).get("Status"),
        probe_ok=probe_ok,
        restarts=int(container.attrs.get("RestartCount") or 0),
        oom=bool(state.get("OOMKilled")),
        exit_code=state.get("ExitCode"),
    )


class Watch:
    """Watches one deployment for its window; rolls it back when it degrades."""

    def __init__(self, rt: Any, spec: ServiceSpec, deployment: dict[str, Any]) -> None:
        self.rt, self.spec, self.dep = rt, spec, deployment
        self.samples: list[Sample] = []

    def start(self) -> None:
        name = f"watch-{self.spec.name}"
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        try:
            self.run()
        except Exception:  # a watch must never take the agent down
            log.exception("the deploy watch of %s failed", self.spec.name)

    def run(self) -> str:
        """Sample until the window ends; 'promoted', 'rolled_back' or 'superseded'."""
        watch, container = self.spec.watch, self._container()
        if container is None:
            return "superseded"
        began = time.monotonic()
        self.samples.append(sample(container, self.spec))
        baseline = self.samples[0].restarts
        waited = 0.0
        while waited < watch.window_s and not self.rt.stopping.wait(watch.interval_s):
            waited += watch.interval_s
            if self._superseded(began):
                return "superseded"
            try:
                self.samples.append(sample(container, self.spec))
            except DockerNotFound:
                return "superseded"
            if self._superseded(began):  # a change between the two looks (a person's stop)
                return "superseded"
            why = verdict(self.samples, watch, baseline)
            if why is not None:
                self.roll_back(why, container)
                return "rolled_back"
        self._record({"promoted": True, "window_s": watch.window_s, **self._summary()})
        return "promoted"

    def _container(self) -> Any:
        running = engine.running_names_and_labels(self.rt.docker, self.spec.name)
        for name, labels in running:
            if labels.get(engine.DEPLOYMENT) == self.dep["id"]:
                return self.rt.docker.containers.get(name)
        return None

    def _superseded(self, began: float) -> bool:
        """A person (or the agent) changed the service since the watch began: a stop, a
        restart, a recreate, an update, another deploy or a restore is not a degradation."""
        return self.rt.locks.taken_since(service_key(self.spec.name), began)

    def _summary(self) -> dict[str, Any]:
        return {"samples": len(self.samples), "last": asdict(self.samples[-1])}

    def _record(self, watch: dict[str, Any], **values: Any) -> None:
        evidence = dict(self.dep.get("evidence") or {}) | {"watch": watch}
        self.rt.records.update_deployment(self.dep["id"], evidence=evidence, **values)

    def roll_back(self, why: str, container: Any) -> None:
        """Deploy the release that was live before, through the normal path; record why."""
        from onbox_agent import deploys  # deploys starts watches: imported when one is needed

        previous = self.dep.get("from_release")
        logs = engine.tail_text(container, 20)
        watch = {"rolled_back": True, "reason": why, "logs": logs, **self._summary()}
        self._record(watch, outcome="rolled_back")
        job: dict[str, Any] | None = None
        error: str | None = None
        if previous:
            try:
                release = deploys.ready_release(self.rt, self.spec, previous)
                job = deploys.start(self.rt, self.spec, release, ACTOR, "rollback", None)
            except (MatrxError, APIError) as exc:
                error = exc.message if isinstance(exc, MatrxError) else str(exc)
                if isinstance(exc, ServiceBusy):
                    error = f"the service was busy: {error}"
        else:
            error = "there is no earlier release to roll back to"
        log.warning(
            "deploy watch: %s %s degraded (%s); rollback %s",
            self.spec.name,
            self.dep["to_release"],
            why,
            job["id"] if job else error,
        )
        self.rt.audit(
            AuditEvent(
                at=datetime.now(UTC),
                actor=ACTOR,
                action="deploy.watch.rollback",
                target=self.spec.name,
                outcome="allowed" if job else "failed",
                status=202 if job else 409,
                detail={
                    "deployment": self.dep["id"],
                    "release": self.dep["to_release"],
                    "back_to": previous,
                    "reason": why,
                    "job": job["id"] if job else None,
                    "error": error,
                },
            )
        )
