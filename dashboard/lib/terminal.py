"""The browser terminal: xterm.js from ``dashboard/node_modules`` connected to the agent.

The page gets a one-use ticket from the agent (``POST /v1/services/{name}/exec-ticket``,
admin) and hands only the ticket to the browser, which opens the exec websocket
straight to the agent with ``?ticket=``; the long-lived token never leaves the
console. xterm.js is installed by ``dashboard/setup.sh`` (npm) and inlined here.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from string import Template
from urllib.parse import quote, urlencode

NODE_MODULES = Path(__file__).resolve().parents[1] / "node_modules"
ASSETS = (
    "@xterm/xterm/lib/xterm.js",
    "@xterm/addon-fit/lib/addon-fit.js",
    "@xterm/xterm/css/xterm.css",
)
TEMPLATE = Path(__file__).with_name("terminal.html")
HEIGHT_PX = 460


class AssetsMissing(RuntimeError):
    """xterm.js is not installed next to the console."""


@lru_cache(maxsize=1)
def assets(root: Path = NODE_MODULES) -> tuple[str, str, str]:
    """xterm.js, its fit addon and its CSS, read once."""
    missing = [a for a in ASSETS if not (root / a).is_file()]
    if missing:
        raise AssetsMissing(
            f"xterm.js is not installed ({', '.join(missing)} missing under {root})."
        )
    js, fit, css = ((root / a).read_text().replace("</script", "<\\/script") for a in ASSETS)
    return js, fit, css


def exec_url(ws_base: str, service: str, ticket: str, shell: str, cols: int, rows: int) -> str:
    """The exec websocket URL a browser opens with a ticket (never a token)."""
    query = urlencode({"ticket": ticket, "shell": shell, "cols": cols, "rows": rows})
    return f"{ws_base}/v1/services/{quote(service)}/exec?{query}"


def page(url: str, service: str, root: Path = NODE_MODULES) -> str:
    """The terminal's HTML document, xterm.js inlined, connecting to ``url``."""
    js, fit, css = assets(root)
    return Template(TEMPLATE.read_text()).substitute(
        css=css, js=js, fit=fit, url=json.dumps(url), service=json.dumps(service), height=HEIGHT_PX
    )
