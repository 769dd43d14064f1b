"""Every mutating call writes exactly one audit event: allowed, denied or failed."""

from __future__ import annotations

import httpx

from matrx_ship.client import AgentClient
from tests.harness import RunningAgent, app_spec


def newest(admin: AgentClient, n: int) -> list[dict]:  # type: ignore[type-arg]
    return admin.audit(limit=n)["events"]


def test_each_mutating_call_is_audited_once_with_its_outcome(
    agent: RunningAgent, admin: AgentClient, app_image: str, svc_name: str
) -> None:
    start = newest(admin, 1)
    start_id = start[0]["id"] if start else 0
    admin.create_service(app_spec(svc_name, app_image, env={"SECRET": "canary-a11"}))
    httpx.post(f"{agent.url}/v1/services/{svc_name}/restart")  # no token: denied
    reader = admin.create_token(f"r-{svc_name}", "read")["token"]
    httpx.post(
        f"{agent.url}/v1/services/{svc_name}/stop", headers={"Authorization": f"Bearer {reader}"}
    )  # too small: denied
    httpx.post(
        f"{agent.url}/v1/services/{svc_name}/start",
        params={"timeout": -1},
        headers={"Authorization": f"Bearer {agent.admin_token}"},
    )
    admin.services()
    admin.service(svc_name)
    events = [e for e in admin.audit(limit=50)["events"] if e["id"] > start_id][::-1]
    got = [(e["action"], e["actor"], e["outcome"], e["status"]) for e in events]
    assert got == [
        ("POST /v1/services", "bootstrap-admin", "allowed", 201),
        ("POST /v1/services/{name}/restart", "anonymous", "denied", 401),
        ("POST /v1/tokens", "bootstrap-admin", "allowed", 201),
        ("POST /v1/services/{name}/stop", f"r-{svc_name}", "denied", 403),
        ("POST /v1/services/{name}/start", "bootstrap-admin", "failed", 422),
    ]
    assert events[0]["target"] == svc_name and events[1]["target"] == svc_name
    assert "canary-a11" not in str(events)
    assert events[0]["detail"]["container"].startswith(f"{svc_name}--g1-")


def test_audit_filters_and_pages(admin: AgentClient) -> None:
    for i in range(3):
        admin.create_token(f"page-{i}", "read")
    page = admin.audit(action="POST /v1/tokens", limit=2)
    assert len(page["events"]) == 2 and page["next_before_id"] == page["events"][-1]["id"]
    rest = admin.audit(action="POST /v1/tokens", limit=2, before_id=page["next_before_id"])
    assert all(e["id"] < page["next_before_id"] for e in rest["events"])
    assert {e["outcome"] for e in admin.audit(outcome="denied")["events"]} <= {"denied"}
