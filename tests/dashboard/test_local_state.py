"""The Local-only state page: the table of items with their actions, or the green all-clear."""

from __future__ import annotations

from typing import Any

import docker
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import Fleet, open_page, texts
from tests.harness import RunningAgent

ITEM = {
    "kind": "volume",
    "name": "shop/shop-files",
    "risk": "The volume shop-files of shop (/srv) exists only on this host.",
    "since": "2026-12-01T10:00:00+00:00",
    "action": 'On the console\'s Backups page of shop, press "Back up now…".',
    "page": "backups?service=shop",
}


def _show(body: dict[str, object]) -> None:
    from dashboard.lib.views.local_state import show

    show(body, {})


def shown(body: dict[str, Any]) -> AppTest:
    at = AppTest.from_function(_show, args=(body,), default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_empty_list_is_said_in_green() -> None:
    at = shown({"items": [], "checked_at": "2026-12-03T10:00:00+00:00"})
    assert [s.value for s in at.success] == [
        "Nothing exists only on this host: every volume, database, image and record is kept "
        "off the host."
    ]
    assert not at.table and not at.error


def test_each_item_is_a_row_with_its_risk_and_action() -> None:
    at = shown({"items": [ITEM], "checked_at": "2026-12-03T10:00:00+00:00"})
    assert not at.success
    assert "1 thing(s) exist only on this host" in at.error[0].value
    rows = at.table[0].value.to_dict("records")
    assert rows == [
        {
            "what": "volume",
            "name": "shop/shop-files",
            "risk": ITEM["risk"],
            "since": "2026-12-01 10:00:00 UTC",
            "action": ITEM["action"],
        }
    ]


def test_the_page_lists_what_the_agent_finds_with_the_fix_per_row(
    console: AppTest,
    fleet: Fleet,
    agent: RunningAgent,
    docker_client: docker.DockerClient,
    app_image: str,
) -> None:
    stray = docker_client.containers.run(
        app_image, name=f"{fleet.app}-stray", detach=True, init=True
    )
    try:
        at = open_page(console, "local_state")
        assert "Local-only state" in texts(at)
        rows = {r["name"]: r for r in at.table[0].value.to_dict("records")}
        assert rows[f"{fleet.app}-stray"]["what"] == "container"
        assert "POST /v1/services" in rows[f"{fleet.app}-stray"]["action"]
        blobs = rows[f"{agent.settings.data_dir}/blobs"]
        assert blobs["what"] == "blob store" and "MATRX_S3_BUCKET" in blobs["action"]
        assert "exist only on this host" in at.error[0].value
    finally:
        stray.remove(force=True)
