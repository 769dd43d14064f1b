"""Releases: builds from git at an exact commit (or registered images), logs and archives.

A build checks out one commit, builds it with the engine, tags
``matrx/<service>:<sha12>``, stores the whole build log in the blob store and
archives the image (``docker save``, gzipped, sha256) so a rollback never needs a
rebuild. A failed build keeps its log and changes nothing else.
"""

from __future__ import annotations

import io
import secrets
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Unpack

from docker.errors import APIError, BuildError, ImageNotFound

from matrx_ship.errors import InvalidInput, NotFound
from matrx_ship.models import ServiceSpec
from matrx_ship.store.records import ReleaseUpdate
from matrx_ship.store.store import utcnow
from onbox_agent import archive, engine
from onbox_agent.gitrepo import GitRepo
from onbox_agent.jobs import JobContext
from onbox_agent.runtime import Runtime


def new_release_id() -> str:
    return "rel_" + secrets.token_hex(6)


def repo_for(rt: Runtime, spec: ServiceSpec) -> GitRepo:
    """The service's git mirror (InvalidInput when the service has no source)."""
    if spec.source is None:
        raise InvalidInput(
            f"The service '{spec.name}' has no git source.",
            code="no_source",
            hint="Add a source (repo, branch) with PUT /v1/services/{name}.",
        )
    return GitRepo(rt.settings.data_dir / "git" / f"{spec.name}.git", spec.source.repo)


def build(rt: Runtime, ctx: JobContext, spec: ServiceSpec, ref: str, actor: str) -> dict[str, Any]:
    """The build job: fetch, check out, build, record, store the log, archive the image."""
    repo = repo_for(rt, spec)
    assert spec.source is not None
    ctx.step("fetching the repository", 5)
    repo.sync()
    sha = repo.resolve(ref, spec.source.branch)
    commit = repo.commit(sha)
    release_id, tag = new_release_id(), f"matrx/{spec.name}:{sha[:12]}"
    rt.records.add_release(
        id=release_id,
        service=spec.name,
        commit_sha=sha,
        message=commit.message,
        author=commit.author,
        committed_at=datetime.fromisoformat(commit.date),
        image=tag,
        status="building",
        started_by=actor,
    )
    ctx.log(f"release {release_id}: {sha[:12]} {commit.message}")
    lines: list[str] = []
    started = time.monotonic()
    try:
        image_id = build_image(rt, ctx, repo, spec, sha, tag, lines)
    except InvalidInput:
        _finish_log(
            rt, spec, release_id, lines, status="failed", build_seconds=time.monotonic() - started
        )
        raise
    image = rt.docker.images.get(image_id)
    _finish_log(
        rt,
        spec,
        release_id,
        lines,
        status="ready",
        image_id=image.id,
        size_bytes=image.attrs.get("Size"),
        build_seconds=round(time.monotonic() - started, 2),
    )
    return _archive(rt, ctx, spec.name, release_id, tag)


def build_image(
    rt: Runtime,
    ctx: JobContext,
    repo: GitRepo,
    spec: ServiceSpec,
    sha: str,
    tag: str,
    lines: list[str],
) -> str:
    assert spec.source is not None
    with tempfile.TemporaryDirectory(prefix="matrx-build-") as tmp:
        ctx.step(f"checking out {sha[:12]}", 15)
        repo.export(sha, Path(tmp))
        context = Path(tmp) / spec.source.context
        if not (context / spec.source.dockerfile).is_file():
            lines.append(f"no {spec.source.dockerfile} in {spec.source.context} at {sha[:12]}")
            raise InvalidInput(
                f"There is no {spec.source.dockerfile} in the build context at {sha[:12]}.",
                code="build_failed",
                hint="Fix the source's dockerfile/context paths.",
            )
        ctx.step("building the image", 25)
        return _stream_build(rt, ctx, context, spec, tag, sha, lines)


def _stream_build(
    rt: Runtime,
    ctx: JobContext,
    context: Path,
    spec: ServiceSpec,
    tag: str,
    sha: str,
    lines: list[str],
) -> str:
    assert spec.source is not None
    labels = {engine.SERVICE: spec.name, "matrx.commit": sha}
    image_id = ""
    try:
        for chunk in rt.docker.api.build(
            path=str(context),
            dockerfile=spec.source.dockerfile,
            tag=tag,
            buildargs=spec.source.build_args,
            rm=True,
            forcerm=True,
            decode=True,
            labels=labels,
        ):
            text = chunk.get("stream") or chunk.get("status") or ""
            if "error" in chunk:
                lines.append(chunk["error"])
                ctx.log(chunk["error"])
                raise BuildError(chunk["error"], iter([]))
            for line in text.splitlines():
                lines.append(line)
                ctx.log(line)
            image_id = (chunk.get("aux") or {}).get("ID", image_id)
    except (BuildError, APIError) as exc:
        tail = "; ".join(lines[-3:])
        raise InvalidInput(
            f"The build failed: {tail or exc}.",
            code="build_failed",
            hint="Read the build log: GET /v1/releases/{id}/log.",
        ) from exc
    return image_id or tag


def _finish_log(
    rt: Runtime,
    spec: ServiceSpec,
    release_id: str,
    lines: list[str],
    **values: Unpack[ReleaseUpdate],
) -> None:
    key = f"builds/{spec.name}/{release_id}.log"
    rt.blobs.put(key, io.BytesIO(("\n".join(lines) + "\n").encode()))
    values["build_log_key"], values["finished_at"] = key, utcnow()
    rt.records.update_release(release_id, **values)


def register_image(
    rt: Runtime, ctx: JobContext, spec: ServiceSpec, image: str, actor: str
) -> dict[str, Any]:
    """The release job for an image built elsewhere: record it and archive it."""
    ctx.step("checking the image", 10)
    try:
        img = rt.docker.images.get(image)
    except ImageNotFound as exc:
        raise InvalidInput(
            f"The image '{image}' is not on this host.",
            code="image_not_found",
            hint="Load or pull it first.",
        ) from exc
    release_id = new_release_id()
    rt.records.add_release(
        id=release_id,
        service=spec.name,
        image=image,
        image_id=img.id,
        size_bytes=img.attrs.get("Size"),
        status="ready",
        started_by=actor,
        message=f"image {image}",
        finished_at=utcnow(),
    )
    return _archive(rt, ctx, spec.name, release_id, image)


def _archive(
    rt: Runtime, ctx: JobContext, service: str, release_id: str, image: str
) -> dict[str, Any]:
    ctx.step("archiving the image to the blob store", 80)
    key = f"images/{service}/{release_id}.tar.gz"
    rt.records.update_release(release_id, **archive.archive_image(rt.docker, rt.blobs, image, key))
    release = rt.records.release(release_id)
    ctx.log(f"archived {image} as {key} ({release['archive_size']} bytes)")
    return {"release": release}


def pending(rt: Runtime, spec: ServiceSpec) -> dict[str, Any]:
    """Commits between the running release and the head of the source branch."""
    repo = repo_for(rt, spec)
    assert spec.source is not None
    repo.sync()
    head = repo.resolve("", spec.source.branch)
    running = live_release(rt, spec.name)
    base = {"branch": spec.source.branch, "head": head}
    if running is None or not running.get("commit_sha"):
        return {
            **base,
            "running": None,
            "up_to_date": None,
            "commits": [],
            "message": "The running container did not come from a recorded release of this "
            "source; build and deploy one to track pending changes.",
        }
    old = running["commit_sha"]
    commits = repo.commits_between(old, head)
    return {
        **base,
        "running": {"release": running["id"], "commit_sha": old},
        "up_to_date": not commits,
        "commits": [c.__dict__ for c in commits],
        "diffstat": repo.diffstat(old, head) if commits else None,
        "message": "up to date" if not commits else f"{len(commits)} commit(s) not deployed",
    }


def live_release(rt: Runtime, service: str) -> dict[str, Any] | None:
    """The release the running container came from, if any."""
    found = engine.running_names_and_labels(rt.docker, service)
    release_id = found[0][1].get(engine.RELEASE) if found else None
    if not release_id:
        return None
    try:
        return rt.records.release(release_id)
    except NotFound:
        return None
