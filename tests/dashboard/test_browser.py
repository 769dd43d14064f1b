"""What a person sees: the console in a headless Chromium, one screenshot per page."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from matrx_ship.client import AgentClient
from tests.dashboard.browser import Console, chromium, open_page, shot
from tests.dashboard.conftest import Fleet, Shipped
from tests.harness import TEST_PREFIX, GitApp, RunningAgent, source_spec

pytestmark = pytest.mark.slow
TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def console(
    agent: RunningAgent, fleet: Fleet, xterm: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    env = {
        "MATRX_AGENT_URL": agent.url,
        "MATRX_CONSOLE_TOKEN": agent.admin_token,
        "MATRX_CONSOLE_SCOPE": "deploy",
    }
    running = Console(env, tmp_path_factory.mktemp("console") / "streamlit.log").start()
    yield running
    running.stop()


def visit(browser: Browser, console: Console, path: str, expect: str) -> Page:
    """Open a page and wait until it shows ``expect`` (a screenshot is kept when it does not)."""
    page = open_page(browser, f"{console.url}/{path}")
    try:
        page.get_by_text(expect, exact=False).first.wait_for(timeout=TIMEOUT_MS)
    except Exception:
        shot(page, "failed-" + (path.split("?")[0] or "home"))
        raise
    return page


def pages(fleet: Fleet, shipped: Shipped) -> list[tuple[str, str, str]]:
    """(screenshot name, URL path, text the page must show)."""
    app = f"service={fleet.app}"
    shop = f"service={shipped.name}"
    return [
        ("manager-overview", "", f"Overview: {fleet.manager}"),
        ("manager-logs", "manager-logs", f"Logs: {fleet.manager}"),
        ("manager-actions", "manager-actions", "Force-recreate…"),
        ("services", "services", f"Open {fleet.app}"),
        ("overview", f"overview?{app}", "Changes made through the agent (audit)"),
        ("logs", f"logs?{app}", "app starting version=1"),
        ("actions", f"actions?{app}", "Force-recreate…"),
        ("terminal", f"terminal?{app}", "Open a terminal session"),
        ("host", "host", "Docker engine"),
        ("networks", "networks", "Managed networks carry the label"),
        ("images", "images", "Reclaimable (dangling)"),
        ("agent", "agent", "NOT DURABLE"),
        ("audit", "audit", "event(s), newest first"),
        ("docs", "docs?doc=runbooks/disaster-recovery", "Disaster recovery: rebuild the host"),
        ("manager-releases", "manager-releases", "Build history"),
        ("releases", f"releases?{shop}", "commit(s) not deployed"),
        ("environment", f"environment?{shop}", "Reveal (audited)"),
        ("routing", f"routing?{shop}", "Not compared"),
        ("routes", "routes", "Routes"),
        ("local-state", "local-state", "exist only on this host"),
        ("databases", f"databases?db={shipped.name}", "table(s) and view(s)"),
        ("backups", f"backups?{shop}", "backup(s), newest first"),
        ("deployments", "deployments", "deployment(s), newest first"),
    ]


def test_every_page_renders_in_a_browser(
    browser: Browser, console: Console, fleet: Fleet, shipped: Shipped
) -> None:
    for name, path, shows in pages(fleet, shipped):
        started = time.monotonic()
        page = visit(browser, console, path, shows)
        print(f"{name}: {time.monotonic() - started:.1f} s")
        assert page.get_by_text("Traceback").count() == 0, name
        assert shot(page, name).stat().st_size > 10_000
        page.close()


def test_the_terminal_runs_a_command_typed_in_the_browser(
    browser: Browser, console: Console, fleet: Fleet, admin: AgentClient
) -> None:
    container_id = admin.service(fleet.app)["status"]["current"]["id"]
    page = visit(browser, console, f"terminal?service={fleet.app}", "Open a terminal session")
    page.get_by_role("button", name="Open a terminal session").click()
    frame = page.frame_locator("iframe[title=terminal]")
    frame.get_by_text("connected to").wait_for(timeout=TIMEOUT_MS)
    frame.locator(".xterm").click()
    page.keyboard.type("echo sum-$((40+2)) && hostname\n")
    screen = frame.locator(".xterm-rows")
    expect(screen).to_contain_text("sum-42", timeout=TIMEOUT_MS)
    expect(screen).to_contain_text(container_id, timeout=TIMEOUT_MS)  # the service's container
    shot(page, "terminal-session")
    page.close()


def test_an_action_asks_first_and_says_what_it_will_do(
    browser: Browser, console: Console, fleet: Fleet
) -> None:
    page = visit(browser, console, f"actions?service={fleet.app}", "Force-recreate…")
    page.get_by_role("button", name="Force-recreate…").click()
    page.get_by_text("old one keeps serving").wait_for(timeout=TIMEOUT_MS)
    expect(page.get_by_role("button", name=f"Yes, force-recreate {fleet.app}")).to_be_visible()
    shot(page, "actions-confirm")
    page.close()


def test_sign_in_then_agent_down_in_a_browser(
    browser: Browser, pg_url: str, tmp_path: Path, app_image: str
) -> None:
    from tests.dashboard.test_agent_down import start_doomed

    agent, name = start_doomed(pg_url, tmp_path, app_image)
    env = {"MATRX_AGENT_URL": agent.url, "SUPABASE_DB_URL": pg_url}
    console = Console(env, tmp_path / "streamlit.log").start()
    try:
        page = visit(browser, console, "", "The console acts with your agent token")
        shot(page, "sign-in")
        agent.remove_containers()
        agent.stop()
        page = visit(browser, console, "", "Disaster recovery: rebuild the host")
        page.get_by_text("The agent does not answer.").first.wait_for(timeout=TIMEOUT_MS)
        shot(page, "agent-down-recovery")
        page = visit(browser, console, "services", f"Open {name}")
        page.get_by_text("(stale)").first.wait_for(timeout=TIMEOUT_MS)
        shot(page, "agent-down-services")
    finally:
        console.stop()


def test_a_deploy_started_from_the_page_shows_its_progress_and_ends_live(
    browser: Browser, console: Console, admin: AgentClient, app_image: str, tmp_path: Path
) -> None:
    name = TEST_PREFIX + "d" + uuid.uuid4().hex[:7]
    repo = GitApp(tmp_path, app_image)
    sha = repo.commit("7", "ship version seven")
    admin.create_service(source_spec(name, app_image, tmp_path))
    built = admin.wait_job(admin.build(name)["id"], timeout=180)
    assert built["status"] == "succeeded", built
    (release,) = admin.releases(name)
    page = visit(browser, console, f"releases?service={name}", "Live release:")
    expect(page.get_by_text("Live release: no recorded release")).to_be_visible()
    page.get_by_role("button", name="Deploy…").click()
    page.get_by_text("old one keeps serving").wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name=f"Yes, deploy {name}").click()
    page.get_by_text(f"Deploy of {release['id']} to {name}").first.wait_for(timeout=TIMEOUT_MS)
    shot(page, "releases-deploy-progress")
    page.get_by_text(f"Deploy of {release['id']} to {name}: succeeded").wait_for(timeout=TIMEOUT_MS)
    live = page.get_by_text(f"Live release: {release['id']} ({sha[:12]}")
    expect(live).to_be_visible(timeout=TIMEOUT_MS)
    shot(page, "releases-deploy-done")
    labels = admin.service(name)["status"]["current"]["labels"]
    assert labels["matrx.release"] == release["id"]
    page.close()
