"""Containers from specs: labels, creation, the health gate and lifecycle actions.

Every container the agent creates carries ``matrx.managed=true`` and the service's
name; containers without that label are never touched, only listed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound
from docker.errors import NotFound as DockerNotFound
from docker.models.containers import Container

from matrx_ship.errors import Conflict, InvalidInput, NotFound, Unavailable, Unhealthy
from matrx_ship.models import HealthCheck, ServiceSpec

MANAGED = "matrx.managed"
SERVICE = "matrx.service"
KIND = "matrx.kind"
GENERATION = "matrx.generation"
SPEC_HASH = "matrx.spec_hash"
RELEASE = "matrx.release"
DEPLOYMENT = "matrx.deployment"
DATABASE_OF = "matrx.database_of"
NS = 1_000_000_000


def spec_hash(spec: ServiceSpec) -> str:
    """A short fingerprint of the spec (secret values excluded)."""
    return hashlib.sha256(json.dumps(spec.masked(), sort_keys=True).encode()).hexdigest()[:12]


def container_name(spec: ServiceSpec, generation: int, release: str = "") -> str:
    """The versioned name: ``<service>--<release>-<rand>``, or ``--g<generation>-<rand>``."""
    version = release.removeprefix("rel_")[:12] if release else f"g{generation}"
    return f"{spec.name}--{version}-{secrets.token_hex(2)}"


def labels_for(
    spec: ServiceSpec, generation: int, release: str = "", deployment: str = ""
) -> dict[str, str]:
    """The user's labels plus the agent's own."""
    return {
        DEPLOYMENT: deployment,
        **spec.labels,
        MANAGED: "true",
        SERVICE: spec.name,
        KIND: spec.kind,
        GENERATION: str(generation),
        SPEC_HASH: spec_hash(spec),
        RELEASE: release,
    }


def _healthcheck(h: HealthCheck) -> dict[str, Any]:
    return {
        "test": h.docker_test(),
        "interval": int(h.interval_s * NS),
        "timeout": int(h.timeout_s * NS),
        "retries": h.retries,
        "start_period": int(h.start_period_s * NS),
    }


def create_kwargs(
    client: docker.DockerClient,
    spec: ServiceSpec,
    generation: int,
    release: str = "",
    image: str | None = None,
    deployment: str = "",
) -> dict[str, Any]:
    """The docker-py ``containers.create`` arguments for a spec (plain env values).

    The container joins its networks without the service alias: it gets the alias
    (and so traffic) only once healthy, in the ``attach`` step.
    """
    kw: dict[str, Any] = {
        "image": image or spec.image,
        "command": spec.command,
        "name": container_name(spec, generation, release),
        "labels": labels_for(spec, generation, release, deployment),
        "environment": dict(spec.env),
        "init": True,
        "detach": True,
        "restart_policy": {"Name": spec.restart_policy}
        | ({"MaximumRetryCount": 5} if spec.restart_policy == "on-failure" else {}),
        "ports": {f"{p.container}/{p.protocol}": (p.host_ip, p.host) for p in spec.ports if p.host},
        "volumes": {
            v.source: {"bind": v.target, "mode": "ro" if v.read_only else "rw"}
            for v in spec.volumes
        },
    }
    if spec.cpus:
        kw["nano_cpus"] = int(spec.cpus * NS)
    if spec.memory_mb:
        kw["mem_limit"] = f"{spec.memory_mb}m"
    if spec.health:
        kw["healthcheck"] = _healthcheck(spec.health)
    if spec.networks:
        kw["network"] = spec.networks[0]
    return kw


def ensure_image(client: docker.DockerClient, image: str, pull: bool = True) -> None:
    """Make sure the image is present, pulling it once; InvalidInput when it cannot be had."""
    try:
        client.images.get(image)
        return
    except ImageNotFound:
        if not pull:
            raise InvalidInput(
                f"The image '{image}' is not on this host (pulling is off).",
                hint="Build or load the image first, or set MATRX_PULL_IMAGES=true.",
                code="image_not_found",
            ) from None
    try:
        client.images.pull(image)
    except (APIError, ImageNotFound) as exc:
        raise InvalidInput(
            f"The image '{image}' is not on this host and could not be pulled.",
            hint="Build or load the image first, or fix the image name and tag.",
            code="image_not_found",
        ) from exc


def ensure_networks(client: docker.DockerClient, names: list[str]) -> None:
    """Create the spec's bridge networks that do not exist yet."""
    for name in names:
        if not client.networks.list(names=[name]):
            client.networks.create(name, driver="bridge", labels={MANAGED: "true"})


def create_container(
    client: docker.DockerClient,
    spec: ServiceSpec,
    generation: int,
    release: str = "",
    image: str | None = None,
    deployment: str = "",
) -> Container:
    """Create (not start) the container for a spec, on all its networks but without the alias."""
    ensure_networks(client, spec.networks)
    kwargs = create_kwargs(client, spec, generation, release, image, deployment)
    container = client.containers.create(**kwargs)
    for extra in spec.networks[1:]:
        client.networks.get(extra).connect(container)
    if spec.database is not None:  # the private network shared only with its database
        with contextlib.suppress(DockerNotFound):
            client.networks.get(f"{spec.name}-db-net").connect(container)
    return container


def attach(client: docker.DockerClient, container: Container, spec: ServiceSpec) -> None:
    """Give the container the service's alias on each of its networks: it now gets traffic."""
    container.reload()
    joined = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    for net in spec.networks:
        if spec.name in ((joined.get(net) or {}).get("Aliases") or []):
            continue
        network = client.networks.get(net)
        if net in joined:
            with contextlib.suppress(APIError, DockerNotFound):
                network.disconnect(container)
        network.connect(container, aliases=[spec.name])


def detach(client: docker.DockerClient, container: Container) -> None:
    """Take the container off every network: it gets no new traffic."""
    container.reload()
    for net in (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}:
        with contextlib.suppress(APIError, DockerNotFound):
            client.networks.get(net).disconnect(container)


def service_containers(client: docker.DockerClient, name: str) -> list[Container]:
    """Every managed container of a service, newest first."""
    found = client.containers.list(
        all=True, filters={"label": [f"{MANAGED}=true", f"{SERVICE}={name}"]}
    )
    return sorted(found, key=lambda c: c.attrs.get("Created", ""), reverse=True)


def running_names_and_labels(
    client: docker.DockerClient, name: str
) -> list[tuple[str, dict[str, str]]]:
    """(name, labels) of the service's running containers, from one cheap list call."""
    found = client.containers.list(
        sparse=True, filters={"label": [f"{MANAGED}=true", f"{SERVICE}={name}"]}
    )
    return [(c.attrs["Names"][0].lstrip("/"), c.attrs.get("Labels") or {}) for c in found]


def serving(found: list[Container]) -> Container | None:
    """The one of ``found`` that serves: the first running one, else the first (newest).

    Every "which container is the service's (or the database's)" question goes through
    this one rule, so the console, backups and checks never disagree.
    """
    running = [c for c in found if c.status == "running"]
    ranked = running or found
    return ranked[0] if ranked else None


def current_container(client: docker.DockerClient, name: str) -> Container:
    """The container that serves the service (running first, else newest)."""
    found = serving(service_containers(client, name))
    if found is None:
        raise NotFound(
            f"The service '{name}' has no container.",
            hint=f"Create it with POST /v1/services/{name}/recreate.",
            code="no_container",
        )
    return found


@dataclass
class HealthResult:
    healthy: bool
    reason: str
    seconds: float
    evidence: dict[str, Any]


def probe(container: Container, spec: ServiceSpec) -> tuple[bool, str]:
    """The agent's own probe: the spec's health test run inside the container now."""
    if spec.health is None:
        container.reload()
        return container.status == "running", f"state {container.status}"
    test = spec.health.docker_test()
    cmd = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
    try:
        code, out = container.exec_run(cmd, demux=False)
    except APIError as exc:
        return False, f"probe could not run: {exc.explanation or exc}"
    text = out.decode(errors="replace").strip()[-300:] if isinstance(out, bytes) else ""
    return code == 0, text or f"exit code {code}"


def wait_healthy(
    container: Container,
    spec: ServiceSpec,
    deadline_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> HealthResult:
    """Wait until the container passes its health check, exits, or the deadline passes."""
    start = time.monotonic()
    settle = 1.0 if spec.health is None else 0.0
    reason = "not checked yet"
    while True:
        elapsed = time.monotonic() - start
        container.reload()
        state = container.attrs["State"]
        if state.get("Status") in ("exited", "dead") or state.get("Restarting"):
            reason = f"the container exited with code {state.get('ExitCode')}"
            return HealthResult(False, reason, elapsed, _evidence(container))
        docker_health = (state.get("Health") or {}).get("Status")
        if docker_health == "healthy" or (elapsed >= settle and state.get("Running")):
            ok, reason = probe(container, spec) if docker_health != "healthy" else (True, "docker")
            if ok:
                return HealthResult(True, reason, elapsed, _evidence(container))
        if elapsed > deadline_s:
            msg = f"not healthy after {deadline_s:.0f} s (last check: {reason})"
            return HealthResult(False, msg, elapsed, _evidence(container))
        sleep(0.05 if elapsed < 3 else 0.25)  # most services are up within seconds


def _evidence(container: Container) -> dict[str, Any]:
    state = container.attrs.get("State", {})
    health = state.get("Health") or {}
    last = (health.get("Log") or [{}])[-1]
    return {
        "container": container.name,
        "state": state.get("Status"),
        "docker_health": health.get("Status"),
        "last_check": {
            "exit_code": last.get("ExitCode"),
            "output": (last.get("Output") or "")[-300:],
        },
        "logs": tail_text(container, 20),
    }


def tail_text(container: Container, lines: int) -> list[str]:
    """The container's last log lines as text (for errors and evidence)."""
    try:
        raw = container.logs(tail=lines, stdout=True, stderr=True)
    except APIError:
        return []
    return raw.decode(errors="replace").splitlines()[-lines:]


def remove_quietly(container: Container, grace_s: int = 10) -> None:
    """Stop and remove a container, ignoring one that is already gone."""
    try:
        container.stop(timeout=grace_s)
        container.remove(force=True)
    except DockerNotFound:
        pass


def require_running(container: Container) -> None:
    """Conflict unless the container runs (exec, follow)."""
    container.reload()
    if container.status != "running":
        raise Conflict(
            f"The container {container.name} is {container.status}, not running.",
            hint="Start the service first: POST /v1/services/{name}/start.",
            code="not_running",
        )


def health_failure(name: str, result: HealthResult) -> Unhealthy:
    """The error a person sees when a container missed its health gate."""
    return Unhealthy(
        f"The service '{name}' did not become healthy: {result.reason}.",
        detail={"evidence": result.evidence, "seconds": round(result.seconds, 2)},
    )


def engine_error(exc: Exception) -> Unavailable:
    """The error a person sees when the Docker engine fails or cannot be reached."""
    return Unavailable(
        f"The Docker engine did not answer as expected: {exc}",
        hint="Check that dockerd runs (systemctl status docker) and GET /readyz.",
        code="docker_unavailable",
    )
