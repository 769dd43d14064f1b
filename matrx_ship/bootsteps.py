"""bootstrap.sh's steps that talk to the agent: readiness, platform services, reconcile, summary.

``python -m matrx_ship.bootsteps COMMAND --env-file PATH [--check]``:

- ``networks``, ``volumes``: the Docker networks and the named volumes the platform specs
  name, one a line (changes nothing);
- ``wait-ready``: polls ``GET /readyz`` until the agent is ready (exit 1 with its failing
  checks after ``--timeout`` seconds);
- ``register``: registers the platform specs the store lacks (``POST /v1/services``);
- ``reconcile``: asks for the plan (``POST /v1/system/reconcile?dry_run=true``); when it is
  empty prints "nothing to do: the host already matches the store", else starts the job,
  prints its progress events, and then the summary (URLs of routed services, what was
  restored from which backup and how old it is, what failed and why). Exit 1 when a
  service could not come back.

``--check`` prints what ``register`` and ``reconcile`` would do and changes nothing. The
agent is ``MATRX_AGENT_URL``, else ``http://127.0.0.1:$MATRX_AGENT_PORT`` (8700); https with
the certificate of ``MATRX_TLS_CERT`` pinned when the agent serves TLS itself.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from matrx_ship.bootcheck import platform_dir, platform_variables, read_env_file
from matrx_ship.client import AgentClient, AgentError, cert_sha256
from matrx_ship.models import ServiceSpec
from matrx_ship.platform import load_platform_specs

NOTHING_TO_DO = "nothing to do: the host already matches the store"
Say = Callable[[str], None]


def agent_url(env: Mapping[str, str]) -> str:
    """Where the agent answers on this host."""
    if env.get("MATRX_AGENT_URL"):
        return env["MATRX_AGENT_URL"].rstrip("/")
    scheme = "https" if env.get("MATRX_TLS_CERT") else "http"
    return f"{scheme}://127.0.0.1:{env.get('MATRX_AGENT_PORT') or 8700}"


def client_for(env: Mapping[str, str], timeout: float = 300.0) -> AgentClient:
    """An admin client of this host's agent (its own certificate pinned under TLS)."""
    cert = env.get("MATRX_TLS_CERT")
    pin = cert_sha256(Path(cert).read_text()) if cert else None
    return AgentClient(agent_url(env), env["MATRX_ADMIN_TOKEN"], pinned_sha256=pin, timeout=timeout)


def platform_specs(env: Mapping[str, str]) -> list[ServiceSpec]:
    return load_platform_specs(platform_variables(env), platform_dir(env))


def networks(specs: Iterable[ServiceSpec]) -> list[str]:
    """The networks the specs name, each once, in order."""
    return list(dict.fromkeys(n for spec in specs for n in spec.networks))


def volumes(specs: Iterable[ServiceSpec]) -> list[str]:
    """The named volumes the specs mount, each once, in order."""
    return list(dict.fromkeys(v.source for spec in specs for v in spec.volumes))


def not_ready(ready: Mapping[str, Any]) -> list[str]:
    """The failing checks of a /readyz answer, as lines for people."""
    out = []
    for name, check in ready.get("checks", {}).items():
        if not check.get("ok"):
            hint = f" ({check['hint']})" if check.get("hint") else ""
            out.append(f"{name}: {check.get('error', 'not ok')}{hint}")
    return out


def wait_ready(client: AgentClient, timeout: float, say: Say) -> bool:
    """Poll /readyz until ready; on timeout say why not (the last answer's failing checks)."""
    deadline = time.monotonic() + timeout
    last: list[str] = ["the agent did not answer"]
    while time.monotonic() < deadline:
        try:
            ready = client.readyz()
            if ready.get("ready"):
                return True
            last = not_ready(ready)
        except AgentError as exc:
            last = [exc.message]
        time.sleep(0.5)
    say(f"the agent at {client.base_url} is not ready after {timeout:.0f} s:")
    for line in last:
        say(f"    {line}")
    return False


def missing_specs(specs: Iterable[ServiceSpec], stored: Iterable[str]) -> list[ServiceSpec]:
    """The platform specs the store does not hold yet, in order."""
    have = set(stored)
    return [s for s in specs if s.name not in have]


def stored_names(client: AgentClient) -> list[str]:
    return [s["name"] for s in client.services()["services"]]


def register(client: AgentClient, specs: list[ServiceSpec], check: bool, say: Say) -> bool:
    """Register (start, health-gated) the platform services the store lacks."""
    todo = missing_specs(specs, stored_names(client))
    if not todo:
        say(f"    already done: the store holds {', '.join(s.name for s in specs)}")
        return True
    ok = True
    for spec in todo:
        if check:
            say(f"    would register {spec.name} ({spec.kind}, image {spec.image})")
            continue
        try:
            client.create_service(spec.model_dump(mode="json"))
            say(f"    registered {spec.name}: running and healthy")
        except AgentError as exc:
            ok = False
            why = f"{exc.message} {exc.hint or ''}".rstrip()
            say(f"    NEEDS A PERSON: could not register {spec.name}: {why}")
    return ok


def plan_lines(plan: Mapping[str, Any]) -> list[str]:
    return [
        f"    {s['action']} {s['target']} {s.get('detail') or ''}".rstrip() for s in plan["steps"]
    ]


def follow(client: AgentClient, job_id: str, say: Say) -> dict[str, Any]:
    """Print the job's progress events until it ends; returns the finished job."""
    try:
        for event in client.job_events(job_id):
            if event["kind"] == "log":
                say(f"    {event.get('line', '')}")
            elif event["kind"] == "step":
                say(f"    [{event.get('percent') or 0:>3}%] {event.get('step', '')}")
    except Exception as exc:  # events are for people; the job's row is the truth
        say(f"    (progress events unavailable: {type(exc).__name__}; waiting for the job)")
    return client.wait_job(job_id, timeout=3600)


def reconcile(client: AgentClient, check: bool, say: Say) -> dict[str, Any] | None:
    """The reconcile: None when nothing was to do (or --check), else the finished job."""
    plan = client.request("POST", "/v1/system/reconcile", params={"dry_run": "true"})
    if plan["nothing_to_do"]:
        say(f"    {NOTHING_TO_DO}")
        return None
    say(f"    {'would apply' if check else 'plan'}: {len(plan['steps'])} step(s)")
    for line in plan_lines(plan):
        say(line)
    if check:
        return None
    job = client.request("POST", "/v1/system/reconcile")
    say(f"    job {job['id']}")
    return follow(client, job["id"], say)


def urls(services: Iterable[Mapping[str, Any]]) -> list[str]:
    """``name: https://host`` for every route of every service spec."""
    out = []
    for s in services:
        for r in s.get("routes", []):
            path = "" if (r.get("path_prefix") or "/") == "/" else r["path_prefix"]
            out.append(
                f"{s['name']}: {'https' if r.get('tls', True) else 'http'}://{r['host']}{path}"
            )
    return out


def summary_lines(job: Mapping[str, Any] | None, specs: Iterable[Mapping[str, Any]]) -> list[str]:
    """The closing summary: URLs, what was restored from which backup, what failed and why."""
    lines = ["summary:"]
    lines += [f"  {u}" for u in urls(specs)] or ["  no routed services"]
    if job is None:
        lines.append(f"  {NOTHING_TO_DO}")
        return lines
    services = (job.get("result") or {}).get("services") or {}
    for name, r in sorted(services.items()):
        if r.get("restored_from"):
            lines.append(
                f"  {name}: restored from backup {r['restored_from']} "
                f"({r.get('backup_age_hours')} h old)"
            )
        if not r.get("ok"):
            lines.append(f"  NEEDS A PERSON: could not come back: {name}: {r.get('error')}")
    if not failed(job):
        restored = sum(1 for r in services.values() if r.get("restored_from"))
        lines.append(f"  all {len(services)} service(s) came back ({restored} with restored data)")
    if job.get("status") != "succeeded":
        lines.append(
            f"  NEEDS A PERSON: the reconcile job {job['id']} ended {job.get('status')}: "
            f"{job.get('error')}"
        )
    return lines


def stored_specs(client: AgentClient) -> list[dict[str, Any]]:
    return [client.service(name)["spec"] for name in stored_names(client)]


def failed(job: Mapping[str, Any] | None) -> bool:
    if job is None:
        return False
    services = (job.get("result") or {}).get("services") or {}
    return job.get("status") != "succeeded" or any(not r.get("ok") for r in services.values())


def run(command: str, env: Mapping[str, str], check: bool, timeout: float, say: Say) -> int:
    """One command; its exit status."""
    if command in ("networks", "volumes"):
        names = networks if command == "networks" else volumes
        for name in names(platform_specs(env)):
            say(name)
        return 0
    with client_for(env) as client:
        if command == "wait-ready":
            return 0 if wait_ready(client, timeout, say) else 1
        if command == "register":
            return 0 if register(client, platform_specs(env), check, say) else 1
        job = reconcile(client, check, say)
        if not check:
            for line in summary_lines(job, stored_specs(client)):
                say(line)
        return 1 if failed(job) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matrx_ship.bootsteps", description=__doc__)
    parser.add_argument(
        "command", choices=["networks", "volumes", "wait-ready", "register", "reconcile"]
    )
    parser.add_argument("--env-file", required=True, type=Path)
    parser.add_argument(
        "--check", action="store_true", help="say what would change; change nothing"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="wait-ready's deadline (s)")
    args = parser.parse_args(argv)
    env, problem = read_env_file(args.env_file)
    if problem:
        print("\n".join(problem.lines()), file=sys.stderr)
        return 2
    return run(args.command, env, args.check, args.timeout, lambda line: print(line, flush=True))


if __name__ == "__main__":
    sys.exit(main())
