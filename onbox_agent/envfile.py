"""Reading and writing ``.env`` text (KEY=value lines, comments, quotes, ``export``)."""

from __future__ import annotations

import re

from matrx_ship.errors import InvalidInput

_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")


def parse(text: str) -> dict[str, str]:
    """The variables of a .env text; InvalidInput names the first bad line (not its value)."""
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise InvalidInput(
                f"Line {number} of the .env text is not KEY=value.",
                code="bad_dotenv",
                hint="Use one KEY=value per line; # starts a comment.",
            )
        out[match.group(1)] = _unquote(match.group(2))
    return out


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        return inner.replace('\\"', '"').replace("\\n", "\n") if value[0] == '"' else inner
    return value.split(" #", 1)[0].rstrip()


def render(env: dict[str, str]) -> str:
    """A .env text that ``parse`` reads back to the same values."""
    lines = []
    for key in sorted(env):
        value = env[key].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'{key}="{value}"')
    return "\n".join(lines) + ("\n" if lines else "")
