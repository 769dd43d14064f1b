"""Builds the agent's FastAPI app: runtime, middlewares, error handlers, routers."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from matrx_ship import __version__
from onbox_agent import deploys, errors, routing
from onbox_agent.backups import start_scheduler, stop_scheduler
from onbox_agent.logship import start_shipper, stop_shipper
from onbox_agent.middleware import AuditMiddleware, InputGuardMiddleware, MetricsMiddleware
from onbox_agent.routes import (
    audit,
    backups,
    databases,
    env,
    exec,
    health,
    host,
    jobs,
    lifecycle,
    localstate,
    logs,
    releases,
    services,
    system,
    tokens,
)
from onbox_agent.runtime import Runtime, build_runtime
from onbox_agent.settings import AgentSettings

log = logging.getLogger(__name__)


class ContainerCollector(Collector):
    """Managed containers by service and state, read at scrape time."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "matrx_containers",
            "Managed containers by service and state",
            labels=["service", "state"],
        )
        counts: dict[tuple[str, str], int] = {}
        for c in self.rt.docker.containers.list(
            all=True, sparse=True, filters={"label": "matrx.managed=true"}
        ):
            key = (
                (c.attrs.get("Labels") or {}).get("matrx.service", "?"),
                c.attrs.get("State", "?"),
            )
            counts[key] = counts.get(key, 0) + 1
        for (service, state), n in sorted(counts.items()):
            gauge.add_metric([service, state], n)
        yield gauge


def _flush_outbox(rt: Runtime, stop: threading.Event) -> None:
    """Hand outbox records to the store whenever it is reachable again."""
    while not stop.wait(1.0):
        if len(rt.outbox):
            sent = rt.flush_outbox()
            if sent:
                log.info("outbox: %d record(s) written to the state store", sent)


def _rewrite_routes(rt: Runtime) -> None:
    """Route files are derived state: every service's is written again at start."""
    try:
        specs = rt.specs.list()
    except Exception as exc:  # the store is away: the files stay as they are
        log.warning("route files not rewritten at start: %s", type(exc).__name__)
        return
    changed = routing.rewrite_all(rt.settings, specs)
    if changed:
        log.info("route files rewritten at start: %s", ", ".join(changed))


def create_app(settings: AgentSettings, runtime: Runtime | None = None) -> FastAPI:
    """The agent app; ``runtime`` may be given by tests that built one themselves."""
    rt = runtime or build_runtime(settings)
    settings = rt.settings  # with the host's settings from the store

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        deploys.reconcile(rt)
        _rewrite_routes(rt)
        rt.monitor.start()
        start_shipper(rt)
        start_scheduler(rt)
        threading.Thread(target=_flush_outbox, args=(rt, stop), daemon=True).start()
        yield
        stop.set()
        rt.stopping.set()  # deploy watches end
        stop_scheduler(rt)
        stop_shipper(rt)
        rt.monitor.stop()

    app = FastAPI(
        title="matrx-ship agent",
        version=__version__,
        lifespan=lifespan,
        description="The Server Manager's hands: every route but /healthz needs a token.",
    )
    app.state.runtime = rt
    registry = rt.registry = CollectorRegistry()  # one per app: a collector registers once
    registry.register(ContainerCollector(rt))
    errors.install(app)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(MetricsMiddleware, registry=registry)
    app.add_middleware(InputGuardMiddleware, limit=settings.max_body_bytes)
    include_routes(app)
    return app


def routers() -> list[APIRouter]:
    """Every router of the agent, HTTP and websocket (the OpenAPI document needs nothing else)."""
    modules = (
        health,
        tokens,
        audit,
        services,
        lifecycle,
        logs,
        host,
        releases,
        jobs,
        env,
        databases,
        backups,
        system,
        localstate,
    )
    return [
        *(module.router for module in modules),
        health.open_router,
        tokens.whoami_router,
        logs.ws_router,
        exec.router,
        exec.ws_router,
        jobs.ws_router,
    ]


def include_routes(app: FastAPI) -> None:
    for router in routers():
        app.include_router(router)
