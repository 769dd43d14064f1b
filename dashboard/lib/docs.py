"""The repository's docs (architecture, env reference, runbooks) as pages of the console."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
DISASTER_RECOVERY = "runbooks/disaster-recovery"
AGENT_DOWN = "runbooks/agent-down"
_LINK = re.compile(r"\]\((?!https?://|#)([^)\s]+?)\.md(#[^)\s]*)?\)")


@dataclass(frozen=True)
class Doc:
    key: str  # path under docs/ without .md, e.g. "runbooks/disk-full"
    title: str

    @property
    def path(self) -> Path:
        return DOCS / f"{self.key}.md"


def _title(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem.replace("-", " ")


def all_docs(root: Path = DOCS) -> list[Doc]:
    """Every Markdown file under docs/: guides first, then runbooks, each by title."""
    docs = [
        Doc(p.relative_to(root).with_suffix("").as_posix(), _title(p)) for p in root.rglob("*.md")
    ]
    return sorted(docs, key=_order)


def _order(doc: Doc) -> tuple[bool, bool, str]:
    """Guides, then the runbooks' index, then each runbook, by title."""
    return doc.key.startswith("runbooks/"), not doc.key.endswith("README"), doc.title.lower()


def find(key: str, docs: list[Doc]) -> Doc | None:
    return next((d for d in docs if d.key == key), None)


def render_links(text: str, key: str, page_url: str = "docs") -> str:
    """Relative links to other .md files become links to the console's Docs page."""
    base = Path(key).parent

    def repl(match: re.Match[str]) -> str:
        target = (base / match.group(1)).as_posix()
        parts: list[str] = []
        for part in target.split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part not in ("", "."):
                parts.append(part)
        return f"](/{page_url}?doc={'/'.join(parts)}{match.group(2) or ''})"

    return _LINK.sub(repl, text)


def read(doc: Doc) -> str:
    return render_links(doc.path.read_text(), doc.key)
