"""Running commands in containers: exec with bounded output, exec fed from a stream, and
short-lived helper containers (one command, or a created-never-started holder of volumes).

Backups, restores, verification and the database checks all go through these, so the
socket plumbing (multiplexed frames, EOF on stdin, output caps) lives in one place.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import DockerException
from docker.models.containers import Container
from docker.utils.socket import frames_iter
from requests.exceptions import RequestException

HELPER = "matrx.helper"
MAX_OUTPUT = 16 * 1024 * 1024
KEPT_STDERR = 65536


@dataclass
class ExecResult:
    code: int
    out: bytes
    err: bytes
    truncated: bool = False

    def stderr_tail(self) -> str:
        """The last few lines of stderr, or the exit code when it said nothing."""
        text = self.err.decode(errors="replace").strip()
        return "\n".join(text.splitlines()[-5:])[-1000:] or f"exit code {self.code}"


def run_exec(
    client: docker.DockerClient,
    container: Container,
    cmd: list[str],
    env: dict[str, str] | None = None,
    max_bytes: int = MAX_OUTPUT,
) -> ExecResult:
    """Run a command in the container; stdout kept up to ``max_bytes`` (then cut off)."""
    api = client.api
    exec_id = api.exec_create(container.id, cmd, environment=env or {})["Id"]
    stream = api.exec_start(exec_id, stream=True, demux=True)
    out, err, truncated = bytearray(), bytearray(), False
    try:
        for chunk_out, chunk_err in stream:
            if chunk_err and len(err) < KEPT_STDERR:
                err += chunk_err
            if chunk_out:
                out += chunk_out
                if len(out) > max_bytes:
                    truncated = True
                    break
    finally:
        stream.close()
    if truncated:
        return ExecResult(-1, bytes(out[:max_bytes]), bytes(err), True)
    code = api.exec_inspect(exec_id).get("ExitCode")
    return ExecResult(int(code if code is not None else -1), bytes(out), bytes(err))


def pipe_into(
    client: docker.DockerClient, container: Container, cmd: list[str], chunks: Iterable[bytes]
) -> tuple[int, str]:
    """Run ``cmd`` with ``chunks`` as its stdin over the exec socket: (exit code, output).

    The output (stdout and stderr, the first 64 KiB) is read on a thread while the input
    is written, so a command that talks while it reads never blocks the writer.
    """
    api = client.api
    exec_id = api.exec_create(container.id, cmd, stdin=True, stdout=True, stderr=True)["Id"]
    sock = api.exec_start(exec_id, socket=True)
    raw: Any = getattr(sock, "_sock", sock)
    output: list[bytes] = []
    reader = threading.Thread(target=drain, args=(sock, output), daemon=True)
    reader.start()
    try:
        for chunk in chunks:
            raw.sendall(chunk)
        raw.shutdown(socket.SHUT_WR)  # EOF on the command's stdin
        reader.join(3600)
    finally:
        sock.close()
    code = api.exec_inspect(exec_id).get("ExitCode")
    return int(code if code is not None else -1), b"".join(output).decode(errors="replace")


def drain(sock: Any, output: list[bytes], keep: int = KEPT_STDERR) -> None:
    """Read an exec's multiplexed output until EOF, keeping the first ``keep`` bytes."""
    kept = 0
    with contextlib.suppress(OSError):
        for _stream, data in frames_iter(sock, tty=False):
            if kept < keep:
                output.append(data)
                kept += len(data)


def run_once(
    client: docker.DockerClient,
    image: str,
    cmd: list[str],
    *,
    name: str,
    labels: dict[str, str],
    network: str | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 30,
) -> tuple[int, str]:
    """Run one command in a throwaway container: (exit code, output); always removed.

    A command still running after ``timeout_s`` counts as failed (-1).
    """
    container = client.containers.create(
        image,
        cmd,
        name=f"{name}-{secrets.token_hex(3)}",
        environment=env or {},
        network=network,
        network_disabled=network is None,
        labels=labels,
        detach=True,
    )
    try:
        container.start()
        try:
            code = int(container.wait(timeout=timeout_s).get("StatusCode", -1))
        except RequestException:
            return -1, f"the command did not finish within {timeout_s:g} s"
        return code, container.logs(stdout=True, stderr=True).decode(errors="replace")
    finally:
        with contextlib.suppress(DockerException):
            container.remove(force=True)


@contextmanager
def holder(
    client: docker.DockerClient,
    image: str,
    *,
    name: str,
    labels: dict[str, str],
    volumes: dict[str, dict[str, str]],
) -> Iterator[Container]:
    """A created (never started) container holding ``volumes``, for the archive API."""
    box = client.containers.create(
        image,
        name=f"{name}-{secrets.token_hex(3)}",
        labels=labels,
        volumes=volumes,
        network_disabled=True,
    )
    try:
        yield box
    finally:
        with contextlib.suppress(DockerException):
            box.remove(force=True)


@contextmanager
def scratch(
    client: docker.DockerClient,
    image: str,
    *,
    name: str,
    labels: dict[str, str],
    env: dict[str, str],
) -> Iterator[Container]:
    """A started container on no network (a scratch database, say); removed afterwards."""
    box = client.containers.run(
        image,
        detach=True,
        name=f"{name}-{secrets.token_hex(3)}",
        labels=labels,
        environment=env,
        network_disabled=True,
    )
    try:
        yield box
    finally:
        with contextlib.suppress(DockerException):
            box.remove(force=True)
