"""Logs shipped to the blob store while containers run: chunks, history search, no duplicates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from matrx_ship.client import AgentClient
from onbox_agent.archive import chunked, read_archived
from onbox_agent.logship import due, ship_once
from onbox_agent.routes.logs import _once
from tests.harness import RunningAgent, app_spec, engines, start_agent

SHIP_SECONDS = 1.0


def line(ts: str, text: str, stream: str = "stdout") -> dict[str, str]:
    return {"ts": ts, "stream": stream, "text": text}


def test_new_lines_are_cut_into_chunks_within_the_size_limit() -> None:
    lines = [line(f"2026-12-03T10:00:0{i}.000000000Z", "x" * 20) for i in range(5)]
    each = len(f"{lines[0]['ts']} stdout {'x' * 20}\n")
    assert [len(run) for run in chunked(lines, 2 * each)] == [2, 2, 1]
    assert [len(run) for run in chunked(lines, 1)] == [1, 1, 1, 1, 1]  # one line at least
    assert list(chunked([], 100)) == []


def test_held_lines_ship_when_the_period_is_over_or_the_size_is_reached() -> None:
    assert not due(0, 60.0, 1000, 5.0)  # nothing held: nothing to ship
    assert not due(999, 4.9, 1000, 5.0)
    assert due(1000, 0.1, 1000, 5.0)  # the size threshold does not wait for the period
    assert due(1, 5.0, 1000, 5.0)


def test_history_shows_a_line_of_a_shipped_running_container_once() -> None:
    live = {**line("2026-12-03T10:00:01.000000000Z", "tick 1"), "container": "web--g1-aa"}
    other = {**live, "container": "web--g1-bb"}
    assert _once([live, dict(live), other]) == [live, other]


# --- over the real engine -----------------------------------------------------------------


@pytest.fixture(scope="module")
def shipping(
    docker_client: docker.DockerClient,
    postgres: engines.Postgres,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningAgent]:
    """An agent that ships logs every second."""
    with start_agent(
        tmp_path_factory.mktemp("ship"), postgres=postgres, log_ship_seconds=SHIP_SECONDS
    ) as running:
        yield running


def history(client: AgentClient, name: str, q: str) -> list[dict[str, Any]]:
    return list(client.logs(name, q=q, history=True, tail=10_000)["lines"])


def numbers(lines: list[dict[str, str]], word: str) -> list[int]:
    return [int(m[1]) for r in lines if (m := re.fullmatch(rf"{word} (\d+)", r["text"]))]


def archived_lines(agent: RunningAgent, service: str, container: str) -> list[dict[str, str]]:
    rt = agent.runtime
    rows = [r for r in rt.records.log_archives(service) if r["container"] == container]
    return [ln for r in rows for ln in read_archived(rt.blobs, r["key"])]


def test_a_running_containers_log_reaches_the_blob_store_and_survives_its_loss(
    shipping: RunningAgent, app_image: str, svc_name: str, docker_client: docker.DockerClient
) -> None:
    client = shipping.client()
    client.create_service(app_spec(svc_name, app_image, env={"LOG_EVERY": "1"}))
    first = client.service(svc_name)["status"]["current"]["name"]

    engines.wait_for(  # within a few shipping periods of being written
        lambda: "tick 3" in [r["text"] for r in archived_lines(shipping, svc_name, first)],
        3 * SHIP_SECONDS + 4,
        "tick 3 shipped",
    )
    chunks = shipping.runtime.blobs.list(f"logs/{svc_name}/{first}/")
    assert chunks and all(k.endswith(".log.gz") for k in chunks)
    found = [r for r in history(client, svc_name, "tick 3") if r["text"] == "tick 3"]
    assert [r["container"] for r in found] == [first]

    client.lifecycle(svc_name, "recreate")  # the first container is retired
    second = client.service(svc_name)["status"]["current"]["name"]
    assert second != first
    kept = archived_lines(shipping, svc_name, first)  # shipped chunks + the rest at retire
    ticks, warns = numbers(kept, "tick"), numbers(kept, "warn")
    assert ticks == list(range(1, len(ticks) + 1)) and len(ticks) >= 3  # each once, no gap
    assert warns == list(range(1, len(warns) + 1))
    searched = [r for r in history(client, svc_name, "tick") if r["container"] == first]
    assert numbers(searched, "tick") == ticks

    engines.wait_for(
        lambda: "tick 2" in [r["text"] for r in archived_lines(shipping, svc_name, second)],
        3 * SHIP_SECONDS + 4,
        "the second container's tick 2 shipped",
    )
    ship_once(shipping.runtime)  # one more pass, as a restarted agent's first: only newer lines
    again = numbers(archived_lines(shipping, svc_name, second), "tick")
    assert again == list(range(1, len(again) + 1))
    docker_client.containers.get(second).remove(force=True)  # the host loses the container
    after_loss = [r for r in history(client, svc_name, "tick 2") if r["container"] == second]
    assert [r["text"] for r in after_loss] == ["tick 2"]
    client.close()


def test_a_busy_container_ships_at_the_size_threshold_before_the_period_ends(
    docker_client: docker.DockerClient,
    postgres: engines.Postgres,
    app_image: str,
    svc_name: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with start_agent(
        tmp_path_factory.mktemp("busy"),
        postgres=postgres,
        log_ship_seconds=600.0,
        log_ship_bytes=4096,
    ) as agent:
        client = agent.client()
        client.create_service(app_spec(svc_name, app_image, env={"LOG_EVERY": "0.01"}))
        rows = engines.wait_for(
            lambda: agent.runtime.records.log_archives(svc_name), 15, "a chunk before 600 s"
        )
        assert all(r["key"].startswith(f"logs/{svc_name}/") for r in rows)
        lines = [ln for r in rows for ln in read_archived(agent.runtime.blobs, r["key"])]
        assert sum(len(f"{r['ts']} {r['stream']} {r['text']}\n") for r in lines) >= 4096 - 200
        for r in rows:  # no chunk is larger than the threshold
            text = read_archived(agent.runtime.blobs, r["key"])
            assert sum(len(f"{x['ts']} {x['stream']} {x['text']}\n") for x in text) <= 4096
        client.close()
