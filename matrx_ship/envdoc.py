"""Generate docs/env.md from the settings models: ``python -m matrx_ship.envdoc``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import get_args

from pydantic import SecretStr
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

DOC = Path(__file__).resolve().parent.parent / "docs" / "env.md"
# one settings model per deployable (imported by name: the library imports no deployable)
MODELS = [
    "onbox_agent.settings:AgentSettings",
    "dashboard.settings:ConsoleSettings",
    "lambdas.health_probe.settings:ProbeSettings",
    "lambdas.backup_check.settings:BackupCheckSettings",
]


def models() -> list[type[BaseSettings]]:
    """The settings classes documented in docs/env.md."""
    out = []
    for ref in MODELS:
        module, _, name = ref.partition(":")
        out.append(getattr(importlib.import_module(module), name))
    return out


def _default(field: object) -> str:
    default = getattr(field, "default", PydanticUndefined)
    if getattr(field, "default_factory", None) is not None:
        return "(computed)"
    if default is PydanticUndefined:
        return "**required**"
    if default is None:
        return "unset"
    text = str(default)
    return "~" + text[len(str(Path.home())) :] if text.startswith(str(Path.home())) else text


def render() -> str:
    """The environment variable reference as Markdown."""
    lines = [
        "# Environment variables",
        "",
        "Generated from each deployable's settings model by `python -m matrx_ship.envdoc`; "
        "a test fails when this file is stale.",
    ]
    for model in models():
        lines += ["", f"## {model.__name__}", "", (model.__doc__ or "").strip(), ""]
        lines += ["| variable | default | secret | meaning |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            var = field.validation_alias or name
            secret = "yes" if _is_secret(field.annotation) else ""
            lines.append(f"| `{var}` | {_default(field)} | {secret} | {field.description or ''} |")
    return "\n".join(lines + _env_file_section()) + "\n"


def _is_secret(annotation: object) -> bool:
    """SecretStr, alone or in a union (``SecretStr | None``)."""
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _env_file_section() -> list[str]:
    from matrx_ship.bootcheck import ENV_FILE

    lines = [
        "",
        "## bootstrap.sh's env file",
        "",
        "Only what cannot live in the state store (`matrx_ship.bootcheck.ENV_FILE`); the agent "
        "reads the same file. Secret values are never logged; keep the file mode 600. The "
        "test and trial knobs are in docs/bootstrap.md.",
        "",
        "| variable | secret | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| `{n}` | {'yes' if secret else ''} | {what} |" for n, secret, what in ENV_FILE]
    return lines


def main() -> None:
    """Write docs/env.md, or with --check exit 1 when it is stale."""
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if DOC.exists() and DOC.read_text() == text else 1)
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)


if __name__ == "__main__":
    main()
