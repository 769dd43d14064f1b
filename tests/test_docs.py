"""The docs stay true: every API path they name exists, and the env reference is current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.harness import RunningAgent

ROOT = Path(__file__).resolve().parent.parent
DOCS = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
WEBSOCKETS = {"/v1/services/{}/exec", "/v1/services/{}/logs/follow", "/v1/jobs/{}/events"}
MENTION = re.compile(r"(/(?:v1|healthz|readyz|metrics)[A-Za-z0-9_{}/.<>-]*)")


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.escape(path).replace(r"\{\}", "[^/]+"))


def test_docs_name_only_real_endpoints(agent: RunningAgent) -> None:
    spec = agent.app.openapi()
    known = {re.sub(r"\{[^}]+\}", "{}", p) for p in spec["paths"]} | WEBSOCKETS
    patterns = [_pattern(p) for p in known]
    wrong = []
    for doc in DOCS:
        for mention in MENTION.findall(doc.read_text()):
            path = re.sub(r"\{[^}]+\}|<[^>]+>", "{}", mention.rstrip(".,)`:/"))
            if path not in known and not any(p.fullmatch(path) for p in patterns):
                wrong.append(f"{doc.relative_to(ROOT)}: {mention}")
    assert wrong == [], "docs name endpoints the agent does not have"


@pytest.mark.parametrize(
    "runbook",
    [
        "service-wont-start",
        "database-connection-lost",
        "traefik-routing-broken",
        "disk-full",
        "agent-down",
        "manager-down",
        "new-ship-instance",
        "disaster-recovery",
    ],
)
def test_every_runbook_the_issues_ask_for_exists(runbook: str) -> None:
    text = (ROOT / "docs" / "runbooks" / f"{runbook}.md").read_text()
    assert text.startswith("# ") and len(text) > 500
