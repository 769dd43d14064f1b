"""Which pages the console offers, planned from its scope and the agent's state.

A pure plan (sections of page specs) that the entry file turns into ``st.navigation``;
a page exists only when the agent has an API for it (no placeholders).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["deploy", "manager"]


@dataclass(frozen=True)
class PageSpec:
    file: str  # relative to dashboard/
    title: str
    url_path: str
    icon: str
    pinned: bool = False  # a Manager-section copy: the service is the manager


def _page(
    name: str, title: str, icon: str, url: str | None = None, pinned: bool = False
) -> PageSpec:
    return PageSpec(f"app_pages/{name}.py", title, url or name, icon, pinned)


SERVICE_PAGES = (
    ("overview", "Overview", ":material/monitor_heart:"),
    ("logs", "Logs", ":material/subject:"),
    ("terminal", "Terminal", ":material/terminal:"),
    ("actions", "Actions", ":material/power_settings_new:"),
    ("releases", "Releases", ":material/rocket_launch:"),
    ("environment", "Environment", ":material/tune:"),
    ("routing", "Routing", ":material/alt_route:"),
    ("backups", "Backups", ":material/backup:"),
)
SERVICES = _page("services", "All services", ":material/apps:")
INFRASTRUCTURE = [
    _page("host", "Host", ":material/dns:"),
    _page("networks", "Networks", ":material/lan:"),
    _page("images", "Images", ":material/layers:"),
    _page("agent", "Agent", ":material/smart_toy:"),
    _page("routes", "Routes", ":material/alt_route:"),
    _page("local_state", "Local-only state", ":material/sd_card_alert:", url="local-state"),
]
DATABASES = _page("databases", "Databases", ":material/database:")
AUDIT = _page("audit", "Audit", ":material/history:")
DEPLOYMENTS = _page("deployments", "Deployments", ":material/published_with_changes:")
DOCS = _page("docs", "Docs", ":material/menu_book:")
RECOVERY = _page("recovery", "Recovery", ":material/emergency:")
SIGN_IN = _page("sign_in", "Sign in", ":material/key:", url="sign-in")


def url_for(purpose: str, pinned: bool) -> str:
    """The URL path of a per-service page: the Manager's copies are 'manager', 'manager-logs'…"""
    if not pinned:
        return purpose
    return "manager" if purpose == "overview" else f"manager-{purpose}"


def manager_pages() -> list[PageSpec]:
    """The Manager's own per-service pages (deploy scope, pinned first)."""
    return [
        _page(name, title, icon, url_for(name, True), True) for name, title, icon in SERVICE_PAGES
    ]


def service_pages() -> list[PageSpec]:
    return [SERVICES] + [_page(name, title, icon) for name, title, icon in SERVICE_PAGES]


def plan(
    scope: Scope, *, agent_up: bool, signed_in: bool, has_store: bool, manager: str | None
) -> dict[str, list[PageSpec]]:
    """Sections of pages, first page first (it is the default)."""
    if not agent_up:
        return _plan_down(scope, has_store, manager)
    if not signed_in:
        return {"Console": [SIGN_IN], "Docs": [DOCS]}
    sections: dict[str, list[PageSpec]] = {}
    if scope == "deploy" and manager:
        sections["Manager"] = manager_pages()
    sections["Services"] = service_pages()
    if scope == "manager":
        sections["Databases"] = [DATABASES]
        sections["Infrastructure"] = INFRASTRUCTURE
    else:
        sections["Infrastructure"] = [*INFRASTRUCTURE, DATABASES]
    sections["History"] = [DEPLOYMENTS, AUDIT]
    sections["Docs"] = [DOCS]
    return sections


def _plan_down(scope: Scope, has_store: bool, manager: str | None) -> dict[str, list[PageSpec]]:
    """The agent is gone: recovery first, then what the state store still shows."""
    sections: dict[str, list[PageSpec]] = {"Recovery": [RECOVERY]}
    if scope == "deploy" and has_store:
        if manager:
            sections["Manager"] = manager_pages()[:1]
        sections["Services"] = [SERVICES, _page("overview", "Overview", SERVICE_PAGES[0][2])]
        sections["History"] = [AUDIT]
    sections["Docs"] = [DOCS]
    return sections
