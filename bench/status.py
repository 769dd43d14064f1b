"""Status of many containers: GET /v1/services against `docker stats` and sequential stats.

Starts 30 managed busybox services through a real agent, then measures in the same run:
  A. GET /v1/services with resource figures (warm: the monitor's cache is sampled in
     the background; cold: the first call after start, which samples synchronously),
  B. `docker stats --no-stream` on the same 30 containers,
  C. sequential docker-py `container.stats(stream=False)` on the same containers.
Targets (issue 2): A at most half of B, and C at least 20 times A.

Run: .venv/bin/python -m bench.status [--count 30] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from tests.harness import app_spec, start_agent
from tests.harness.engines import build_busybox_app, docker_client


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    client = docker_client()
    image = build_busybox_app(client)
    agent = start_agent(stats_interval=2.0)
    api = agent.client()
    names = [f"t-bench-{i:02d}" for i in range(args.count)]
    try:
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda n: api.create_service(app_spec(n, image)), names))
        ids = [s["current"]["id"] for s in api.services()["services"] if s["name"] in names]
        assert len(ids) == args.count
        agent.runtime.monitor._figures.clear()  # a cold cache: the first call samples itself
        cold = timed(api.services)
        time.sleep(2.5)
        listing = api.services()["services"]
        with_cpu = sum(
            1 for s in listing if (s["current"]["resources"] or {}).get("cpu_percent") is not None
        )
        warm = [timed(api.services) for _ in range(args.rounds)]
        cli = [
            timed(
                lambda: subprocess.run(
                    ["docker", "stats", "--no-stream", *ids], check=True, capture_output=True
                )
            )
            for _ in range(args.rounds)
        ]
        containers = [client.containers.get(i) for i in ids]
        sequential = timed(lambda: [c.stats(stream=False) for c in containers])
    finally:
        api.close()
        agent.close()
    a, b = statistics.median(warm), statistics.median(cli)
    print(f"containers: {args.count}   rounds: {args.rounds}   services with CPU %: {with_cpu}")
    print(
        f"A  GET /v1/services (warm, median): {a * 1000:8.1f} ms   worst {max(warm) * 1000:.1f} ms"
    )
    print(f"A' GET /v1/services (cold cache):   {cold * 1000:8.1f} ms")
    print(f"B  docker stats --no-stream (median): {b * 1000:6.1f} ms")
    print(f"C  sequential stats(stream=False):  {sequential * 1000:8.1f} ms")
    print(f"A/B  = {a / b:.3f}  (target <= 0.5)    A'/B = {cold / b:.3f}")
    print(f"C/A  = {sequential / a:.1f}x (target >= 20)   C/A' = {sequential / cold:.1f}x")


if __name__ == "__main__":
    main()
