"""The exec terminal over a websocket, and the host view."""

from __future__ import annotations

import threading

import docker
import pytest
from websockets.exceptions import InvalidStatus

from matrx_ship.client import AgentClient
from matrx_ship.models import Scope
from tests.harness import RunningAgent, app_spec


def test_terminal_runs_commands_with_a_tty_and_resizes(
    admin: AgentClient, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image))
    with admin.terminal(svc_name, cols=100, rows=30) as term:
        term.send("echo sum-$((40+2))\n")
        assert "sum-42" in term.read_until("sum-42")
        term.send("stty size\n")
        assert "30 100" in term.read_until("30 100")
        term.resize(120, 40)
        term.send("stty size\n")
        assert "40 120" in term.read_until("40 120")
        term.send("tty\n")
        assert "/dev/pts/" in term.read_until("/dev/pts/")
        term.send("exit 7\n")
        assert '"code":7' in term.read_until('"type":"exit"').replace(" ", "")
    events = admin.audit(target=svc_name, action="EXEC /v1/services/{name}/exec")["events"]
    assert len(events) == 1 and events[0]["actor"] == "bootstrap-admin"
    assert events[0]["detail"]["shell"] == "/bin/sh"


def test_terminal_closes_clearly_when_the_container_stops(
    admin: AgentClient, agent: RunningAgent, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image))
    with admin.terminal(svc_name) as term:
        term.send("echo ready\n")
        term.read_until("ready")
        stopper = threading.Thread(
            target=lambda: agent.client().lifecycle(svc_name, "stop", grace=1)
        )
        stopper.start()
        out = term.read_until('"type":"exit"', timeout=20)
        stopper.join()
    assert "the container stopped" in out


def test_exec_is_refused_before_accept_with_a_reason(
    admin: AgentClient, agent: RunningAgent, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image))
    operator = agent.client(admin.create_token(f"op-{svc_name}", "operate")["token"])
    with pytest.raises(InvalidStatus) as info, operator.terminal(svc_name):
        pass
    assert info.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as info, admin.terminal(svc_name, shell="/bin/evil;id"):
        pass
    assert info.value.response.status_code == 422
    assert b"bad_shell" in info.value.response.body
    admin.lifecycle(svc_name, "stop", grace=1)
    with pytest.raises(InvalidStatus) as info, admin.terminal(svc_name):
        pass
    assert info.value.response.status_code == 409 and b"not_running" in info.value.response.body
    outcomes = {
        e["outcome"]
        for e in admin.audit(target=svc_name)["events"]
        if e["action"].startswith("EXEC")
    }
    assert outcomes == {"denied", "failed"}


def test_host_shows_engine_disk_memory_networks_and_image_users(
    admin: AgentClient, docker_client: docker.DockerClient, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image))
    host = admin.host()
    assert host.docker.ServerVersion == docker_client.version()["Version"]
    assert host.memory.total_bytes > 0 and (host.load.cpus or 0) >= 1
    assert host.disk[0].path == "/" and 0 < host.disk[0].used_percent < 100
    nets = {n.name: n for n in admin.host_networks()}
    assert any(str(c).startswith(f"{svc_name}--") for c in nets["matrx-test"].containers)
    images = admin.host_images()
    [row] = [i for i in images.images if app_image in i.tags]
    assert svc_name in row.used_by and row.size_bytes > 1_000_000
    assert images.dangling_reclaimable_bytes >= 0


def test_a_one_use_ticket_opens_the_terminal_without_the_token(
    admin: AgentClient, agent: RunningAgent, app_image: str, svc_name: str
) -> None:
    admin.create_service(app_spec(svc_name, app_image))
    issued = admin.exec_ticket(svc_name)
    assert issued.expires_in <= 60 and issued.ticket.startswith("tkt_")
    anonymous = agent.client(token="")
    url = f"/v1/services/{svc_name}/exec"
    with anonymous.websocket(url, ticket=issued.ticket) as ws:
        ws.send(b"echo via-ticket\n")
        out = ""
        while "via-ticket\r\n" not in out:
            out += ws.recv(timeout=10).decode()  # type: ignore[union-attr]
    with pytest.raises(InvalidStatus) as info, anonymous.websocket(url, ticket=issued.ticket):
        pass
    assert info.value.response.status_code == 401
    other = admin.exec_ticket(svc_name).ticket
    with pytest.raises(InvalidStatus) as info, anonymous.websocket(
        "/v1/services/t-elsewhere/exec", ticket=other
    ):
        pass
    assert info.value.response.status_code == 401


def test_whoami_tells_the_scope(admin: AgentClient, agent: RunningAgent) -> None:
    assert admin.whoami().scope == Scope.admin
    reader = agent.client(admin.create_token("who-reader", "read")["token"])
    who = reader.whoami()
    assert (who.name, who.scope) == ("who-reader", Scope.read)
