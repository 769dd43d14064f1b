"""The console reaches the agent's API only through the client's typed methods."""

from __future__ import annotations

import re
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
# A raw call and its first two arguments, across line breaks: request("GET", "/v1/...").
RAW = re.compile(r"\.request\(\s*([^,()]+),\s*([^,()]+)")
LITERAL = re.compile(r"""^f?["'](?P<path>[^"']*)["']$""")


def raw_requests(text: str) -> list[str]:
    """The paths of raw ``request(`` calls that are an API route or not a literal at all."""
    found = []
    for match in RAW.finditer(text):
        literal = LITERAL.match(match.group(2).strip())
        if literal is None or literal["path"].startswith("/v1/"):
            found.append(match.group(0))
    return found


def test_the_console_makes_no_raw_api_request() -> None:
    found = {
        str(path.relative_to(DASHBOARD)): calls
        for path in sorted(DASHBOARD.rglob("*.py"))
        if "node_modules" not in path.parts and (calls := raw_requests(path.read_text()))
    }
    assert found == {}


def test_the_grep_sees_raw_calls_in_every_spelling() -> None:
    assert raw_requests('c.request("GET", f"/v1/services/{name}/backups")')
    assert raw_requests('c.request(\n    "POST", "/v1/databases/x/query", json=body\n)')
    assert raw_requests("c.request(method, path, json=body)")  # a path nobody can grep
    assert not raw_requests('client.request("GET", "/healthz", timeout=PROBE_TIMEOUT_S)')
