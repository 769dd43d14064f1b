"""Checking databases end to end: the container exists, runs and accepts connections; the
app is on the database network with the current URL, and that URL really connects (psql
in a short-lived helper container on the network). Also: apps whose env expects a
database they do not have, and database containers whose service no longer declares one."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from docker.errors import ImageNotFound
from docker.errors import NotFound as DockerNotFound
from docker.models.containers import Container

from matrx_ship.errors import NotFound
from matrx_ship.models import ServiceSpec
from onbox_agent.databases.access import Access, env_of, on_network
from onbox_agent.databases.records import DbInfo
from onbox_agent.dockerexec import run_once
from onbox_agent.engine import DATABASE_OF, KIND, MANAGED

Finding = dict[str, str]
URL_KEYS = re.compile(r"(DATABASE_URL|DB_HOST|DB_URL|POSTGRES_\w+|PG(HOST|DATABASE|USER)\w*)")
REPAIR = "Repair it with POST /v1/databases/{service}/repair."
HINTS = {
    "no_record": "Create it with POST /v1/databases/{service}/repair.",
    "no_app_container": "Start the app with POST /v1/services/{service}/recreate.",
    "spec_differs": "Renaming needs a dump and a restore; the app keeps the existing one.",
    "expects_database": "Add 'database' to the spec to get a dedicated Postgres, or ignore "
    "this when the database lives elsewhere.",
    "host_unresolved": "Fix the URL, or add 'database' to the spec.",
    "orphan_database": "Its data is kept. Dump it if needed, then remove the container and "
    "its volume by hand, or declare the database in the spec again.",
}
WARNINGS = {"no_app_container", "spec_differs", "expects_database", "orphan_database"}


def finding(service: str, code: str, message: str) -> Finding:
    """One finding of the audit, with its severity and the hint for the next step."""
    return {
        "service": service,
        "severity": "warning" if code in WARNINGS else "error",
        "code": code,
        "message": message,
        "hint": HINTS.get(code, REPAIR).format(service=service),
    }


def _empty_report(service: str, found: list[Finding]) -> dict[str, Any]:
    return {
        "service": service,
        "container": None,
        "running": False,
        "ready": False,
        "app_container": None,
        "app_on_network": False,
        "url_current": False,
        "connects": False,
        "findings": found,
    }


def check_spec(spec: ServiceSpec, info: DbInfo) -> list[Finding]:
    """A finding when the spec asks for another database or user than the one that exists."""
    assert spec.database is not None
    if (spec.database.db, spec.database.user) == (info.db, info.user):
        return []
    message = (
        f"The spec asks for database {spec.database.db} / user {spec.database.user}; "
        f"the container serves {info.db} / {info.user}."
    )
    return [finding(info.service, "spec_differs", message)]


def _url_findings(info: DbInfo, app: Container, url: str | None, current: bool) -> list[Finding]:
    if url is None:
        return [finding(info.service, "url_missing", f"{app.name} has no DATABASE_URL.")]
    if not current:
        message = f"The DATABASE_URL of {app.name} is not the database's current one."
        return [finding(info.service, "url_stale", message)]
    return []


class Checks(Access):
    """The audit of every service's database, and the check of one."""

    def audit(self, service: str | None = None) -> dict[str, Any]:
        """Every service's database checked (or one service's), plus apps that look like they
        need a database but have none. Services are checked in parallel (helpers take ~1 s)."""
        specs = [s for s in self.specs.list() if service is None or s.name == service]
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(self._audit_one, specs))
        reports = [r for r, _ in results if r is not None]
        findings = [f for _, found in results for f in found]
        if service is None:
            findings += self.orphans({s.name for s in specs if s.database is not None})
        return {
            "ok": not any(f["severity"] == "error" for f in findings),
            "databases": reports,
            "findings": findings,
        }

    def _audit_one(self, spec: ServiceSpec) -> tuple[dict[str, Any] | None, list[Finding]]:
        if spec.database is None:
            return None, self.suspects(spec)
        report = self.check(spec)
        return report, report["findings"]

    def orphans(self, owners: set[str]) -> list[Finding]:
        """Database containers whose service no longer declares a database (kept, with data)."""
        found = self.docker.containers.list(
            all=True, sparse=True, filters={"label": [f"{MANAGED}=true", f"{KIND}=database"]}
        )
        return [
            finding(
                of,
                "orphan_database",
                f"The database container {c.attrs['Names'][0].lstrip('/')} belongs to '{of}', "
                "which has no database in its spec (any more).",
            )
            for c in found
            if (of := (c.attrs.get("Labels") or {}).get(DATABASE_OF, "?")) not in owners
        ]

    def check(self, spec: ServiceSpec) -> dict[str, Any]:
        """One service's database: the container exists, runs and accepts connections; the
        app is on the database network with the current URL, and that URL really connects
        from the network (psql in a helper container)."""
        service, found = spec.name, list[Finding]()
        report = _empty_report(service, found)
        info = self.load(service)
        if info is None:
            found.append(finding(service, "no_record", f"'{service}' has no database made yet."))
            return report
        report["container"] = info.container
        found += self._check_db_container(info, report) + check_spec(spec, info)
        app = self.app_container(service)
        if app is None:
            found.append(finding(service, "no_app_container", f"'{service}' has no app container."))
        else:
            found += self._check_app(info, app, report)
        return report

    def _check_db_container(self, info: DbInfo, report: dict[str, Any]) -> list[Finding]:
        service = info.service
        try:
            container = self.db_container(service)
        except NotFound:
            return [finding(service, "db_missing", f"{info.container} does not exist.")]
        report["running"] = container.status == "running"
        if not report["running"]:
            return [finding(service, "db_not_running", f"{container.name} is {container.status}.")]
        report["ready"] = self.pg_ready(container)
        out = []
        if not report["ready"]:
            message = f"{container.name} runs but does not accept connections."
            out.append(finding(service, "db_not_ready", message))
        if not on_network(container, info.network):
            message = f"{container.name} is not on {info.network}."
            out.append(finding(service, "db_not_on_network", message))
        return out

    def _check_app(self, info: DbInfo, app: Container, report: dict[str, Any]) -> list[Finding]:
        report["app_container"] = app.name
        report["app_on_network"] = on_network(app, info.network)
        out = []
        if not report["app_on_network"]:
            message = f"{app.name} is not on {info.network}."
            out.append(finding(info.service, "app_not_on_network", message))
        url = env_of(app).get("DATABASE_URL")
        report["url_current"] = url == info.url
        out += _url_findings(info, app, url, report["url_current"])
        if url is not None and report["ready"]:  # else the cause is already listed
            report["connects"], why = self.connects(info, url)
            if not report["connects"]:
                message = f"The app's DATABASE_URL does not connect from {info.network}: {why}"
                out.append(finding(info.service, "url_fails", message))
        return out

    def connects(self, info: DbInfo, url: str) -> tuple[bool, str]:
        """Whether ``url`` connects from the database network: psql in a short-lived helper."""
        try:
            self.docker.networks.get(info.network)
        except DockerNotFound:
            return False, f"the network {info.network} does not exist"
        script = 'psql "$DATABASE_URL" -X -tA -c "select 1"'
        env = {"DATABASE_URL": url, "PGCONNECT_TIMEOUT": "5"}
        code, text = self._helper(info.image, info.network, ["sh", "-c", script], env, info.service)
        return code == 0 and text.strip().endswith("1"), text.strip()[-300:]

    def _helper(
        self, image: str, network: str, cmd: list[str], env: dict[str, str], service: str
    ) -> tuple[int, str]:
        labels = {MANAGED: "true", KIND: "database-check", DATABASE_OF: service}
        name = f"{service}-db-check"
        return run_once(self.docker, image, cmd, name=name, labels=labels, network=network, env=env)

    def suspects(self, spec: ServiceSpec) -> list[Finding]:
        """Findings for a service without ``database`` whose env suggests it expects one
        (names only: values are secrets, except the URL's host)."""
        keys = sorted(k for k in spec.env if URL_KEYS.fullmatch(k))
        if not keys:
            return []
        message = f"'{spec.name}' has {', '.join(keys)} in its env but no database in its spec."
        out = [finding(spec.name, "expects_database", message)]
        url = spec.env.get("DATABASE_URL")
        host = urlsplit(url).hostname if url else None
        if host and not self._resolves(spec, host):
            message = (
                f"The DATABASE_URL names the host {host}, "
                "which does not resolve from the app's network."
            )
            out.append(finding(spec.name, "host_unresolved", message))
        return out

    def _resolves(self, spec: ServiceSpec, host: str) -> bool:
        """Whether ``host`` resolves on the app's first network (checked in a helper)."""
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(host)
            return True
        if host == "localhost" or not spec.networks:
            return True
        image = self.settings.postgres_image
        try:
            self.docker.images.get(image)
            cmd = ["getent", "hosts", host]
            code, _ = self._helper(image, spec.networks[0], cmd, {}, spec.name)
        except (ImageNotFound, DockerNotFound):
            return True  # nothing to check with: say nothing rather than guess
        return code == 0
