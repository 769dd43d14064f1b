"""Run the agent: ``python -m onbox_agent`` (or the ``matrx-agent`` script)."""

from __future__ import annotations

import logging
import sys

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from onbox_agent.main import create_app
from onbox_agent.settings import AgentSettings, get_settings


def main() -> None:
    """Read the settings, build the app and serve it (HTTPS when a certificate is set)."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            print(f"matrx-agent: {where}: {err['msg']}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    for warning in settings.embedded:
        logging.getLogger("onbox_agent").warning("NOT DURABLE: %s", warning)
    app = create_app(settings)
    uvicorn.Server(server_config(app, app.state.runtime.settings)).run()


def server_config(app: FastAPI, settings: AgentSettings) -> uvicorn.Config:
    """How uvicorn serves the agent: address, HTTPS when a certificate is set, websockets."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        log_level=settings.log_level.lower(),
        ws="websockets-sansio",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
