"""What a release, environment, database or backup action will do, said before it is done.

Pure: each function takes what the agent reported and returns the Markdown sentence the
confirmation shows (tested by equality), or a one-line summary of the agent's answer.
"""

from __future__ import annotations

from typing import Any

from dashboard.lib import fmt
from matrx_ship import envtext

GATE = (
    "the new container must pass its health check (at most the agent's MATRX_HEALTH_TIMEOUT, "
    "60 s by default) before traffic moves to it; if it never gets healthy, the old one keeps "
    "serving and nothing changes"
)


def release_label(r: dict[str, Any] | None) -> str:
    """'rel_… (abc123def456 "message")', or 'no recorded release'."""
    if not r:
        return "no recorded release"
    sha = (r.get("commit_sha") or "")[:12]
    what = f"{sha} “{first_line(r.get('message'))}”" if sha else f"image `{r.get('image')}`"
    return f"`{r['id']}` ({what})"


def first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def build(service: str, ref: str, branch: str | None) -> str:
    at = f"`{ref}`" if ref else f"the head of `{branch or 'its branch'}`"
    return (
        f"**Build {service}** at {at}: the agent fetches the git source, builds the image "
        "on this host and records it as a new release. Nothing is deployed: the running "
        "container keeps serving."
    )


def deploy(service: str, target: dict[str, Any], live: dict[str, Any] | None) -> str:
    return (
        f"**Deploy {release_label(target)} to {service}**, replacing "
        f"{release_label(live)}: the agent starts a container from the release beside the "
        f"running one; {GATE}."
    )


def rollback(service: str, target: dict[str, Any] | None, live: dict[str, Any] | None) -> str:
    to = (
        release_label(target)
        if target
        else "the previous release that was healthy (the agent picks it)"
    )
    return (
        f"**Roll {service} back** from {release_label(live)} to {to}, through the same "
        f"health gate: {GATE}."
    )


def env_change(service: str, set_keys: list[str], unset: list[str]) -> str:
    parts = []
    if set_keys:
        parts.append("set " + ", ".join(f"`{k}`" for k in sorted(set_keys)))
    if unset:
        parts.append("remove " + ", ".join(f"`{k}`" for k in sorted(unset)))
    return (
        f"**Change {service}'s environment**: {' and '.join(parts) or 'nothing'}. The agent "
        f"recreates the container with the new values; {GATE} (the old values stay)."
    )


def dotenv_keys(text: str) -> list[str]:
    """The variable names a .env text sets (the agent parses the values and refuses bad lines)."""
    return envtext.keys(text)


def env_import(service: str, keys: list[str], replace: bool) -> str:
    how = (
        "**replace** its environment with them (variables the file does not name are removed)"
        if replace
        else "merge them into its environment (other variables are kept)"
    )
    names = ", ".join(f"`{k}`" for k in keys) or "no variables"
    return (
        f"**Import a .env into {service}**: {len(keys)} variable(s) ({names}); the agent will "
        f"{how}, then recreate the container; {GATE}."
    )


def repair(service: str, codes: list[str]) -> str:
    return (
        f"**Repair {service}'s database** ({', '.join(codes)}): the agent recreates what is "
        "missing (the database container, its network, the app's connection) and gives the "
        "app a working DATABASE_URL again. The data in the database volume is kept."
    )


def backup(service: str, has_database: bool) -> str:
    what = (
        "its database (a dump), its volumes and its spec"
        if has_database
        else ("its volumes and its spec")
    )
    return (
        f"**Back up {service}**: the agent streams {what} to the blob store, with a checksum "
        "for each part. The service keeps running."
    )


def verify(b: dict[str, Any]) -> str:
    return (
        f"**Verify backup `{b['id']}`** ({fmt.when(b.get('created_at'))}): the agent checks "
        "every part's checksum and restores the database dump into a scratch Postgres. "
        "Nothing of the live service changes; the result is recorded on the backup."
    )


def restore(b: dict[str, Any], keep_old: bool) -> str:
    old = "kept, renamed," if keep_old else "removed"
    return (
        f"**Restore {b.get('service')} from backup `{b['id']}`** taken "
        f"{fmt.when(b.get('created_at'))} ({fmt.size(b.get('size'))}): the agent restores it "
        "beside the live service, checks it, then swaps: everything written since that "
        f"backup is **lost**. The previous data is {old} after success; a failure changes "
        "nothing."
    )


def applied(result: dict[str, Any]) -> str:
    """One sentence from the agent's answer to an environment change."""
    steps = [f"{s['action']} {s['target']}" for s in result.get("steps") or []]
    health = result.get("health") or {}
    done = ", ".join(steps) if steps else "nothing to do"
    if health.get("healthy"):
        done += f"; healthy after {health.get('seconds')} s"
    return f"Applied: {done}. {len(result.get('env') or {})} variable(s) now."
