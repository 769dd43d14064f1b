"""A service's routes: from its spec, what Traefik loaded, and a real request through each."""

from __future__ import annotations

from dashboard.lib import data, routes, ui
from dashboard.lib.console import current


def render() -> None:
    con = current()
    snap = ui.attempt(lambda: data.snapshot(con))
    service = ui.pick_service(con, snap) if snap else None
    if service is None:
        return
    ui.header(con, service, "Routing")
    ui.service_links(con, service["name"], "routing")
    report = ui.call(con, lambda c: data.plain(c.routes()))
    if report is not None:
        routes.show(report, service["name"])
