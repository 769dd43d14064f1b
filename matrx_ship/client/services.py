"""Health, services and their lifecycle, logs, releases, deploys and jobs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from matrx_ship.api.releases import Pending, RoutesReport
from matrx_ship.client.base import AgentError, Terminal, Transport, _drop


class ServicesApi(Transport):
    """Health, services, lifecycle, logs, releases, deploys, jobs, routes."""

    # --- health -------------------------------------------------------------------------

    def healthz(self) -> dict[str, Any]:
        return self.request("GET", "/healthz")

    def readyz(self) -> dict[str, Any]:
        try:
            return self.request("GET", "/readyz")
        except AgentError as exc:
            if exc.status == 503 and "checks" in exc.detail:
                return exc.detail
            raise

    def metrics(self) -> str:
        return self.request("GET", "/metrics")

    # --- services -----------------------------------------------------------------------

    def services(self) -> dict[str, Any]:
        return self.request("GET", "/v1/services")

    def service(self, name: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/services/{name}")

    def create_service(self, spec: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        return self.request("POST", "/v1/services", json=spec, params=_drop(timeout=timeout))

    def update_service(self, spec: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        return self.request(
            "PUT",
            f"/v1/services/{spec['name']}",
            json=spec,
            params=_drop(timeout=timeout),
        )

    def delete_service(self, name: str) -> dict[str, Any]:
        return self.request("DELETE", f"/v1/services/{name}")

    def lifecycle(self, name: str, action: str, **params: Any) -> dict[str, Any]:
        """start, stop, restart or recreate; returns once healthy (or raises why not)."""
        return self.request("POST", f"/v1/services/{name}/{action}", params=_drop(**params))

    def logs(self, name: str, **params: Any) -> dict[str, Any]:
        return self.request("GET", f"/v1/services/{name}/logs", params=_drop(**params))

    def follow_logs(self, name: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Yield live log lines (dicts) until the container stops or the caller stops."""
        with self.websocket(f"/v1/services/{name}/logs/follow", **params) as ws:
            for message in ws:
                item = json.loads(message)
                yield item
                if item.get("type") == "end":
                    return

    @contextmanager
    def terminal(
        self, name: str, shell: str = "/bin/sh", cols: int = 80, rows: int = 24
    ) -> Iterator[Terminal]:
        """An interactive terminal in the service's container."""
        with self.websocket(f"/v1/services/{name}/exec", shell=shell, cols=cols, rows=rows) as conn:
            yield Terminal(conn)

    # --- releases, deploys, jobs -----------------------------------------------------------

    def build(self, name: str, ref: str | None = None) -> dict[str, Any]:
        """Start a build of the service's git source (branch head, or ``ref``); returns the job."""
        return self.request("POST", f"/v1/services/{name}/builds", json=_drop(ref=ref))

    def register_image(self, name: str, image: str) -> dict[str, Any]:
        """Record an image already on the host as a release; returns the job."""
        return self.request("POST", f"/v1/services/{name}/releases", json={"image": image})

    def releases(self, name: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/v1/services/{name}/releases")

    def release(self, release_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/releases/{release_id}")

    def build_log(self, release_id: str) -> str:
        return self.request("GET", f"/v1/releases/{release_id}/log")

    def pending(self, name: str) -> Pending:
        """Commits between the running release and the head of the source branch."""
        return self.fetch(Pending, "GET", f"/v1/services/{name}/pending")

    def deploy(self, name: str, release_id: str) -> dict[str, Any]:
        """Start a health-gated deploy of a release; returns the job."""
        return self.request("POST", f"/v1/services/{name}/deploy", json={"release_id": release_id})

    def rollback(self, name: str, release_id: str | None = None) -> dict[str, Any]:
        """Deploy the previous (or the given) kept release; returns the job."""
        return self.request(
            "POST", f"/v1/services/{name}/rollback", json=_drop(release_id=release_id)
        )

    def deployments(self, **filters: Any) -> list[dict[str, Any]]:
        return self.request("GET", "/v1/deployments", params=_drop(**filters))

    def jobs(self, **filters: Any) -> list[dict[str, Any]]:
        return self.request("GET", "/v1/jobs", params=_drop(**filters))

    def job(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/jobs/{job_id}")

    def job_events(self, job_id: str) -> Iterator[dict[str, Any]]:
        """Every event of a job from its start, live, until its 'end' event."""
        with self.websocket(f"/v1/jobs/{job_id}/events") as ws:
            for message in ws:
                item = json.loads(message)
                yield item
                if item.get("kind") == "end":
                    return

    def wait_job(self, job_id: str, timeout: float = 300.0) -> dict[str, Any]:
        """Block until the job ends; returns it (check its ``status``)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] not in ("queued", "running"):
                return job
            if time.monotonic() > deadline:
                raise AgentError(
                    0,
                    "timeout",
                    f"The job {job_id} is still {job['status']}.",
                    "Follow it with GET /v1/jobs/{id} or its events.",
                )
            time.sleep(0.2)

    def routes(self) -> RoutesReport:
        """Routes from the specs, what Traefik loaded, and a real request through each one."""
        return self.fetch(RoutesReport, "GET", "/v1/routes")
