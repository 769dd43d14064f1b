"""The console as a person sees it: ``streamlit run`` on a free port and a headless Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.dashboard.conftest import APP
from tests.harness import engines

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Console:
    """``streamlit run dashboard/streamlit_app.py`` as a subprocess with its own environment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = engines.free_port()
        self.env = {**os.environ, **env}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Console:
        args = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.headless=true",
            f"--server.port={self.port}",
            "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false",
            "--server.fileWatcherType=none",
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=out, stderr=out)
        engines.wait_for(
            lambda: httpx.get(f"{self.url}/_stcore/health").status_code == 200, 30, "streamlit"
        )
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


def ensure_chromium() -> None:
    """Debian's Chromium (Playwright's own browser download cannot work here)."""
    if not Path(CHROMIUM).exists():
        subprocess.run([str(ROOT / "scripts" / "install-packages.sh"), "chromium"], check=True)


@contextmanager
def chromium() -> Iterator[Browser]:
    ensure_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Browser, url: str, tries: int = 4) -> Page:
    """A new tab showing the console at ``url``, its frame drawn.

    Chromium aborts in-flight requests with ERR_NETWORK_CHANGED whenever Docker adds or
    removes a network interface (any container start or stop on this machine), which can
    leave the page blank; such a load is retried.
    """
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    for attempt in range(tries):
        page.goto(url)
        try:
            page.wait_for_selector("[data-testid=stSidebar]", timeout=12_000)
            return page
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
    return page


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under artifacts/screenshots/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    time.sleep(1.0)  # tables and charts paint on a canvas after their element appears
    page.screenshot(path=str(path), full_page=True)
    return path
