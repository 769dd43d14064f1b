"""A host's non-secret settings live in the state store, so a rebuilt host gets them back.

The env file holds only what cannot live in the store (the store's URL, the bucket, the
secrets). Every other setting the agent runs with (port, intervals, retention, prefix,
Traefik paths, images...) is written to the store at start; on a new host, a setting the
environment does not name is taken from the store. A setting the environment names wins,
and the store then records the new value. Pure functions here; the store keeps the JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from matrx_ship.store import Store
from matrx_ship.store.settingstable import get_setting, put_setting
from onbox_agent.settings import AgentSettings

log = logging.getLogger(__name__)

# Never stored: secrets, how to reach the store and the bucket (the env file's job), and
# what belongs to this machine only.
LOCAL_ONLY = frozenset(
    {"admin_token", "master_key", "database_url", "s3_bucket", "docker_host", "data_dir"}
)
KEY = "host_settings"


def kept_fields() -> list[str]:
    """The settings the store keeps, in declaration order."""
    return [name for name in AgentSettings.model_fields if name not in LOCAL_ONLY]


def storable(settings: AgentSettings) -> dict[str, Any]:
    """The kept settings as JSON values."""
    data = settings.model_dump(mode="json", include=set(kept_fields()))
    return {name: data[name] for name in kept_fields()}


def merged(
    settings: AgentSettings, stored: Mapping[str, Any]
) -> tuple[AgentSettings, dict[str, Any]]:
    """The settings to run with: the stored value of every kept setting the environment did
    not name. Returns them and what was taken from the store. A stored value that no longer
    validates (a setting's rules changed) is ignored, so the default applies."""
    taken: dict[str, Any] = {}
    for name in kept_fields():
        if name in settings.model_fields_set or name not in stored:
            continue
        annotation: Any = AgentSettings.model_fields[name].annotation
        try:
            value = TypeAdapter(annotation).validate_python(stored[name])
        except ValidationError:
            continue
        if value != getattr(settings, name):
            taken[name] = value
    return settings.model_copy(update=taken), taken


def apply_stored(settings: AgentSettings, store: Store) -> AgentSettings:
    """The settings to run with on this host, read back from the store, then recorded there
    (the env's values included), so the next host starts with them."""
    raw = get_setting(store, KEY)
    try:
        stored = json.loads(raw) if raw else {}
    except ValueError:
        log.warning("the stored host settings are not JSON; using the environment's")
        stored = {}
    settings, taken = merged(settings, stored)
    if taken:
        shown = ", ".join(f"{k}={v}" for k, v in taken.items())
        log.info("settings from the state store: %s", shown)
    put_setting(store, KEY, json.dumps(storable(settings), sort_keys=True))
    return settings
