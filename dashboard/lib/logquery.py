"""Log searches: the filters a person sets, as the agent's query parameters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Stream = Literal["all", "stdout", "stderr"]
STREAMS: list[Stream] = ["all", "stdout", "stderr"]


@dataclass(frozen=True)
class LogQuery:
    """One search of ``GET /v1/services/{name}/logs``."""

    text: str = ""
    regex: str = ""
    ignore_case: bool = False
    stream: Stream = "all"
    since: datetime | None = None
    until: datetime | None = None
    tail: int = 200

    def params(self) -> dict[str, Any]:
        """Query parameters for the agent; empty filters are left out."""
        out: dict[str, Any] = {"tail": self.tail, "stream": self.stream}
        if self.text:
            out["q"] = self.text
        if self.regex:
            out["regex"] = self.regex
        if self.ignore_case:
            out["ignore_case"] = "true"
        if self.since is not None:
            out["since"] = self.since.isoformat()
        if self.until is not None:
            out["until"] = self.until.isoformat()
        return out

    def filename(self, service: str) -> str:
        return f"{service}-logs.txt"


def rows(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lines as table rows: time, stream, text."""
    return [{"time": ln["ts"], "stream": ln["stream"], "text": ln["text"]} for ln in lines]


def newest_first(lines: list[dict[str, Any]]) -> str:
    """The live tail: newest line on top, time of day to the millisecond (UTC)."""
    return "".join(
        f"{ln['ts'][11:23]}  {ln['stream']:<6}  {ln['text']}\n" for ln in reversed(lines)
    )


def as_text(lines: list[dict[str, Any]]) -> str:
    """Lines as a plain log file, one per line (what the download holds)."""
    return "".join(f"{ln['ts']} {ln['stream']} {ln['text']}\n" for ln in lines)
