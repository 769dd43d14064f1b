"""Zero-downtime deploys: failed requests during 10 deploys and 10 rollbacks, and their speed.

A client container on the `proxy` network resolves `<service>` through Docker's DNS and
requests `http://<service>:8080/` in a loop while the agent deploys 10 fresh releases
and rolls back 10 times. Printed, in the same run:
  - requests made and requests failed (target: 0 failed),
  - time from the deploy/rollback request to the new release live (its alias attached),
  - a plain `docker run` of the same image until its first passing health check, measured
    once per cycle between the deploys (the machine is shared: same conditions).
Target: rollback at most 1.5 times the plain run.

Run: .venv/bin/python -m bench.deploy [--cycles 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import docker

from matrx_ship.client import AgentClient
from tests.harness import GitApp, app_spec, start_agent
from tests.harness.engines import build_busybox_app, docker_client

SERVICE = "t-bench-web"
CLIENT_LOOP = (
    "while true; do ip=$(nslookup {svc} 2>/dev/null | awk '/^Address: /{{print $2}}' | tail -1); "
    "if [ -n \"$ip\" ] && wget -q -O /dev/null http://$ip:8080/ 2>/dev/null; then echo ok; "
    "else echo FAIL $ip; fi; done"
)
CHECK = ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]


def time_to_live(api: AgentClient, job: dict[str, object], started: float) -> float:
    """Seconds from the request until the job's 'attach' step (traffic on the new container)."""
    for event in api.job_events(str(job["id"])):
        if event.get("kind") == "step" and str(event.get("step", "")).startswith("attach"):
            return time.perf_counter() - started
        if event.get("kind") == "end":
            raise RuntimeError(f"job ended without going live: {event}")
    raise RuntimeError("no events")


def plain_run(client: docker.DockerClient, image: str) -> float:
    """`docker run` of the image until its health check first passes."""
    started = time.perf_counter()
    c = client.containers.run(image, detach=True, init=True)
    try:
        while c.exec_run(CHECK).exit_code != 0:
            time.sleep(0.05)
        return time.perf_counter() - started
    finally:
        c.remove(force=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=10)
    args = ap.parse_args()
    client = docker_client()
    image = build_busybox_app(client)
    tmp = Path(tempfile.mkdtemp())
    agent = start_agent(tmp / "data")
    api = agent.client()
    (tmp / "repo").mkdir()
    repo = GitApp(tmp / "repo", image)
    repo.commit("0")
    spec = app_spec(SERVICE, image, networks=["proxy"],
                    source={"repo": str(repo.path), "branch": "main"})
    watcher = None
    try:
        api.create_service(spec)
        first = api.wait_job(api.build(SERVICE)["id"])["result"]["release"]
        api.wait_job(api.deploy(SERVICE, first["id"])["id"])
        watcher = client.containers.run(image, ["sh", "-c", CLIENT_LOOP.format(svc=SERVICE)],
                                        detach=True, init=True, network="proxy",
                                        name="t-bench-client")
        time.sleep(2)
        deploys, rollbacks, baseline = [], [], []
        for i in range(1, args.cycles + 1):
            baseline.append(plain_run(client, first["image"]))  # interleaved: same conditions
            repo.commit(str(i))
            release = api.wait_job(api.build(SERVICE)["id"])["result"]["release"]
            started = time.perf_counter()
            deploys.append(time_to_live(api, api.deploy(SERVICE, release["id"]), started))
            api.wait_job(api.jobs(service=SERVICE, kind="deploy", limit=1)[0]["id"])
            started = time.perf_counter()
            rollbacks.append(time_to_live(api, api.rollback(SERVICE), started))
            api.wait_job(api.jobs(service=SERVICE, kind="rollback", limit=1)[0]["id"])
        time.sleep(1)
        watcher.stop(timeout=1)
        lines = watcher.logs().decode().splitlines()
    finally:
        if watcher is not None:
            watcher.remove(force=True)
        api.close()
        agent.close()
    failed = sum(1 for ln in lines if ln.startswith("FAIL"))
    base = statistics.median(baseline)
    rb, dp = statistics.median(rollbacks), statistics.median(deploys)
    print(f"requests: {len(lines)}   failed: {failed}   (target 0)")
    print(f"deploy   -> live: median {dp:.2f} s   worst {max(deploys):.2f} s")
    print(f"rollback -> live: median {rb:.2f} s   worst {max(rollbacks):.2f} s")
    print(f"plain docker run -> first passing health check: median {base:.2f} s")
    print(f"rollback / plain run = {rb / base:.2f}  (target <= 1.5)   "
          f"deploy / plain run = {dp / base:.2f}")


if __name__ == "__main__":
    main()
