"""Logs: tail, streams, substring and RE2 filters, time range, and live follow."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import docker
import pytest

from matrx_ship.client import AgentClient, AgentError
from tests.harness import app_spec
from tests.harness.engines import wait_for


@pytest.fixture
def ticking(admin: AgentClient, app_image: str, svc_name: str) -> str:
    admin.create_service(app_spec(svc_name, app_image, env={"LOG_EVERY": "0.2"}))
    wait_for(lambda: len(admin.logs(svc_name, q="tick")["lines"]) >= 5, 10, "ticks")
    return svc_name


def test_tail_merges_stdout_and_stderr_in_time_order(admin: AgentClient, ticking: str) -> None:
    lines = admin.logs(ticking, tail=6)["lines"]
    assert len(lines) == 6
    assert {ln["stream"] for ln in lines} == {"stdout", "stderr"}
    assert [ln["ts"] for ln in lines] == sorted(ln["ts"] for ln in lines)


def test_stream_and_substring_filters(admin: AgentClient, ticking: str) -> None:
    errs = admin.logs(ticking, stream="stderr", tail=50)["lines"]
    assert errs and all(ln["stream"] == "stderr" for ln in errs)
    assert all("warn" in ln["text"] or "hello" in ln["text"] for ln in errs)
    found = admin.logs(ticking, q="TICK 3", ignore_case=True)["lines"]
    assert [ln["text"] for ln in found] == ["tick 3"]


def test_regex_filter_and_time_range(admin: AgentClient, ticking: str) -> None:
    assert [ln["text"] for ln in admin.logs(ticking, regex=r"^tick [12]$")["lines"]] == [
        "tick 1",
        "tick 2",
    ]
    later = datetime.now(UTC).isoformat()
    recent = wait_for(lambda: admin.logs(ticking, since=later, q="tick")["lines"], 10, "a tick")
    assert recent and all(ln["ts"] >= later[:19] for ln in recent)
    assert admin.logs(ticking, until="2000-01-01T00:00:00Z")["lines"] == []


def test_hostile_regex_is_fast_and_unsupported_syntax_is_refused(
    admin: AgentClient, ticking: str
) -> None:
    started = time.monotonic()
    admin.logs(ticking, regex="(a+)+$" + "|(x*)*y" * 20, tail=5000)
    assert time.monotonic() - started < 5
    with pytest.raises(AgentError) as info:
        admin.logs(ticking, regex=r"(tick)\1")
    assert info.value.status == 422 and info.value.code == "bad_regex"
    assert "RE2" in info.value.hint


def test_text_download(admin: AgentClient, ticking: str) -> None:
    text = admin.logs(ticking, format="text", q="tick 1")
    assert isinstance(text, str) and text.splitlines()[0].endswith("stdout tick 1")


def test_follow_streams_new_filtered_lines_and_ends_when_the_container_stops(
    admin: AgentClient, docker_client: docker.DockerClient, ticking: str
) -> None:
    seen: list[dict[str, str]] = []
    for item in admin.follow_logs(ticking, tail=0, regex="^warn", stream="all"):
        seen.append(item)
        if len(seen) == 3:
            break
    assert [i["type"] for i in seen] == ["line"] * 3
    assert all(i["text"].startswith("warn") and i["stream"] == "stderr" for i in seen)

    ended: list[dict[str, str]] = []

    def follow() -> None:
        ended.extend(admin.follow_logs(ticking, tail=0))

    t = threading.Thread(target=follow)
    t.start()
    wait_for(lambda: ended, 10, "the follow stream's first line")  # it is open: stop it now
    admin.lifecycle(ticking, "stop", grace=1)
    t.join(15)
    assert not t.is_alive()
    assert ended[-1] == {"type": "end", "reason": "the container stopped"}
