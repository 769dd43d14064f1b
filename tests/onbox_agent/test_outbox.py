"""While the state store is down the agent keeps working and queues its audit events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import httpx
import pytest

from matrx_ship.client import AgentError
from tests.harness import RunningAgent, agent_settings, app_spec, engines
from tests.harness.engines import wait_for


@pytest.fixture
def own_postgres() -> Iterator[engines.Postgres]:
    """A PostgreSQL server of this test's own, so it can be stopped and started."""
    pg = engines.Postgres()
    pg.start()
    yield pg
    pg.stop()


def test_events_made_while_the_store_is_down_arrive_exactly_once_in_order(
    own_postgres: engines.Postgres,
    docker_client: docker.DockerClient,
    app_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = agent_settings(tmp_path_factory.mktemp("outbox"), database_url=own_postgres.url())
    agent = RunningAgent(settings).start()
    admin = agent.client()
    name = "t-" + uuid.uuid4().hex[:8]
    try:
        admin.create_service(app_spec(name, app_image))
        operator_token = admin.create_token("outbox-op", "operate")["token"]
        operator = agent.client(operator_token)
        operator.services()  # the agent has now seen this token
        own_postgres.stop()
        ready = admin.readyz()
        assert ready["ready"] is False and ready["checks"]["store"]["ok"] is False
        # reads answered from Docker, changes to containers still work
        assert [s["name"] for s in admin.services()["services"]] == [name]
        assert operator.lifecycle(name, "restart")["health"]["healthy"] is True
        operator.lifecycle(name, "stop", grace=1)
        httpx.post(f"{agent.url}/v1/services/{name}/start")  # no token: denied
        with pytest.raises(AgentError) as info:
            admin.create_token("during-outage", "read")  # needs the store: a clear 503
        assert info.value.status == 503 and info.value.code == "store_unavailable"
        assert admin.readyz()["outbox_pending"] == 4
        own_postgres.start()
        wait_for(lambda: admin.readyz()["outbox_pending"] == 0, 20, "outbox flush")
        events = admin.audit(limit=20)["events"][::-1]
        got = [(e["action"].split(" ", 1)[1], e["actor"], e["outcome"]) for e in events]
        assert got[-4:] == [
            ("/v1/services/{name}/restart", "outbox-op", "allowed"),
            ("/v1/services/{name}/stop", "outbox-op", "allowed"),
            ("/v1/services/{name}/start", "anonymous", "denied"),
            ("/v1/tokens", "bootstrap-admin", "failed"),
        ]
        assert len({e["id"] for e in events}) == len(events)
        agent.runtime.flush_outbox()  # a second flush writes nothing twice
        assert len(admin.audit(limit=50)["events"]) == len(events)
    finally:
        agent.remove_containers()
        admin.close()
        agent.stop()


def test_a_record_the_store_refuses_is_set_aside_reported_and_retried(
    agent: RunningAgent,
) -> None:
    admin = agent.client()
    rt = agent.runtime
    # a record the store cannot take (an older agent's shape); a good one queued behind it
    rt.outbox.append("audit", "k-bad", {"action": "POST /v1/x"})
    good = {
        "at": "2026-12-03T10:00:00Z",
        "actor": "outbox-test",
        "action": "POST /v1/system/outbox/retry",
        "target": "host",
        "outcome": "allowed",
        "status": 200,
    }
    rt.outbox.append("audit", "k-good", good)
    wait_for(lambda: admin.readyz()["outbox_pending"] == 0, 20, "outbox flush")
    ready = admin.readyz()
    assert ready["outbox_set_aside"] == 1
    assert ready["warnings"][0].startswith("OUTBOX BLOCKED: 1 record(s) the state store refused")
    [aside] = admin.request("GET", "/v1/system/outbox")["set_aside"]
    assert aside["key"] == "k-bad" and aside["reason"].startswith("ValidationError")
    assert admin.audit(actor="outbox-test")["events"][0]["target"] == "host"  # not blocked
    retried = admin.request("POST", "/v1/system/outbox/retry")
    assert (retried["requeued"], retried["delivered"]) == (1, 0)  # refused again, still aside
    assert [r["key"] for r in retried["set_aside"]] == ["k-bad"]
    admin.close()
