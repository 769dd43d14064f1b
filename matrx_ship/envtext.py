"""Environment variable names and `.env` text: the one grammar the domain model, the agent's
routes and the console check against.

A name is 1-128 letters, digits and `_`, not starting with a digit. A `.env` line is
`KEY=value` (optionally `export KEY=value`); blank lines and lines starting with `#` are
skipped; a value in double quotes knows `\\"` and `\\n`, one in single quotes is taken as it
is, and an unquoted one ends at ` #` (a trailing comment).
"""

from __future__ import annotations

import re

from matrx_ship.errors import InvalidInput

KEY_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,127}"
KEY_HELP = "Letters, digits and _, not starting with a digit."
_KEY = re.compile(KEY_PATTERN)
_LINE = re.compile(rf"(?:export\s+)?({KEY_PATTERN})\s*=\s*(.*)")
_ESCAPE = re.compile(r'\\([\\"n])')  # what `render` escapes inside double quotes


def valid_key(key: str) -> bool:
    """True when `key` is a valid environment variable name."""
    return _KEY.fullmatch(key) is not None


def parse(text: str) -> dict[str, str]:
    """The variables of a .env text; InvalidInput names the first bad line (not its value)."""
    out: dict[str, str] = {}
    for number, line in _lines(text):
        match = _LINE.fullmatch(line)
        if match is None:
            raise InvalidInput(
                f"Line {number} of the .env text is not KEY=value.",
                code="bad_dotenv",
                hint="Use one KEY=value per line; # starts a comment.",
            )
        out[match.group(1)] = _unquote(match.group(2))
    return out


def keys(text: str) -> list[str]:
    """The names a .env text sets, sorted; bad lines are passed over (`parse` refuses them)."""
    found = (_LINE.fullmatch(line) for _, line in _lines(text))
    return sorted({m.group(1) for m in found if m})


def render(env: dict[str, str]) -> str:
    """A .env text that `parse` reads back to the same values."""
    lines = []
    for key in sorted(env):
        value = env[key].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'{key}="{value}"')
    return "\n".join(lines) + ("\n" if lines else "")


def _lines(text: str) -> list[tuple[int, str]]:
    """The numbered lines that hold something: not blank, not a comment."""
    stripped = ((n, raw.strip()) for n, raw in enumerate(text.splitlines(), start=1))
    return [(n, line) for n, line in stripped if line and not line.startswith("#")]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        return _ESCAPE.sub(_unescape, inner) if value[0] == '"' else inner
    return value.split(" #", 1)[0].rstrip()


def _unescape(match: re.Match[str]) -> str:
    return "\n" if match.group(1) == "n" else match.group(1)
