"""Container logs: tail, time range, stream choice and safe filters.

Regular expressions run on RE2, whose matching time is linear in the input, so a
hostile pattern cannot stall the agent; patterns RE2 does not support
(backreferences, lookaround) are refused with a clear error.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import re2
from docker.models.containers import Container

from matrx_ship.errors import InvalidInput

MAX_PATTERN = 500
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.max_mem = 8 << 20


@dataclass(frozen=True)
class LogFilter:
    query: str | None = None
    regex: str | None = None
    ignore_case: bool = False

    def compile(self) -> Callable[[str], bool]:
        """A predicate for one line; InvalidInput for a pattern RE2 refuses."""
        tests: list[Callable[[str], bool]] = []
        if self.query:
            needle = self.query.lower() if self.ignore_case else self.query
            tests.append(lambda s: needle in (s.lower() if self.ignore_case else s))
        if self.regex:
            pattern = _compile(self.regex, self.ignore_case)
            tests.append(lambda s: pattern.search(s) is not None)
        return lambda line: all(t(line) for t in tests)


def _compile(regex: str, ignore_case: bool) -> Any:
    if len(regex) > MAX_PATTERN:
        raise InvalidInput(
            f"The pattern is longer than {MAX_PATTERN} characters.",
            code="bad_regex",
            hint="Use a shorter pattern.",
        )
    options = re2.Options()
    options.log_errors, options.max_mem = False, 8 << 20
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(regex, options)
    except re2.error as exc:
        raise InvalidInput(
            f"The pattern is not a supported regular expression: {exc!s}.",
            code="bad_regex",
            hint="Patterns use RE2 syntax: no backreferences or lookaround.",
        ) from exc


def parse_line(raw: str, stream: str) -> dict[str, str]:
    """A timestamped Docker log line as {ts, stream, text}."""
    ts, _, text = raw.partition(" ")
    return {"ts": ts, "stream": stream, "text": text}


def _read(container: Container, stream: str, **kw: Any) -> list[dict[str, str]]:
    raw = container.logs(
        stdout=stream == "stdout", stderr=stream == "stderr", timestamps=True, **kw
    )
    return [parse_line(line, stream) for line in raw.decode(errors="replace").splitlines()]


def read_logs(
    container: Container,
    streams: list[str],
    tail: int,
    since: datetime | None,
    until: datetime | None,
    keep: Callable[[str], bool],
) -> list[dict[str, str]]:
    """The last ``tail`` matching lines of the chosen streams, merged in time order."""
    kw: dict[str, Any] = {}
    if since is not None:
        kw["since"] = since
    if until is not None:
        kw["until"] = until
    scan = max(tail * 20, 2000)
    per_stream = [_read(container, s, tail=scan, **kw) for s in streams]
    merged = list(heapq.merge(*per_stream, key=lambda r: r["ts"]))
    return [r for r in merged if keep(r["text"])][-tail:]


def open_follow(container: Container, stream: str, tail: int) -> Any:
    """A live log stream of one of the container's streams; ``.close()`` ends it."""
    return container.logs(
        stdout=stream == "stdout",
        stderr=stream == "stderr",
        timestamps=True,
        stream=True,
        follow=True,
        tail=tail,
    )


def iter_lines(chunks: Any, stream: str) -> Iterator[dict[str, str]]:
    """Parsed lines from a live log stream (blocking; run it in a thread)."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield parse_line(line.decode(errors="replace"), stream)
