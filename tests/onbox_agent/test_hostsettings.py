"""A host's non-secret settings come back from the store on a rebuilt host; the env wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from onbox_agent.hostsettings import LOCAL_ONLY, kept_fields, merged, storable
from onbox_agent.settings import AgentSettings
from tests.harness import engines, start_agent

SECRETS = {"admin_token": "adm_" + "a" * 24, "master_key": "k" * 40}


def settings(**values: object) -> AgentSettings:
    return AgentSettings(**SECRETS, **values)  # type: ignore[arg-type]


def test_a_setting_the_env_does_not_name_comes_from_the_store() -> None:
    old = settings(
        port=8811, health_timeout=12.5, traefik_dynamic_dir=Path("/srv/t"), s3_prefix="old-host"
    )
    new, taken = merged(settings(), storable(old))
    assert (new.port, new.health_timeout, new.traefik_dynamic_dir, new.s3_prefix) == (
        8811,
        12.5,
        Path("/srv/t"),
        "old-host",
    )
    assert set(taken) == {"port", "health_timeout", "traefik_dynamic_dir", "s3_prefix"}


def test_a_setting_the_env_names_wins_over_the_store() -> None:
    new, taken = merged(settings(port=9000), {"port": 8811})
    assert new.port == 9000 and taken == {}


def test_secrets_and_the_store_url_are_never_stored() -> None:
    kept = storable(settings(database_url="postgresql://u:p@db/x", s3_bucket="b"))
    assert not set(kept) & LOCAL_ONLY
    assert "p@db" not in str(kept) and SECRETS["master_key"] not in str(kept)
    assert list(kept) == kept_fields()


def test_a_stored_value_that_no_longer_validates_is_ignored() -> None:
    new, taken = merged(settings(), {"port": "not a port", "keep_releases": 3})
    assert new.port == AgentSettings.model_fields["port"].default and taken == {"keep_releases": 3}


def test_nothing_stored_changes_nothing() -> None:
    base = settings()
    new, taken = merged(base, {})
    assert taken == {} and storable(new) == storable(base)


@pytest.mark.engine  # a real agent (its monitor and scheduler reach the engine)
def test_a_new_agent_on_the_same_store_runs_with_the_old_host_s_settings(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    first = start_agent(
        engines.temp_dir("matrx-hs-"),
        database_url=store,
        keep_releases=3,
        backup_keep_weekly=9,
        s3_prefix="old-host",
    )
    token, key = first.admin_token, first.settings.master_key.get_secret_value()
    first.close()
    values = {"admin_token": token, "master_key": key, "database_url": store}
    second = start_agent(engines.temp_dir("matrx-hs-"), **values)  # an env without them
    try:
        with second.client() as admin:
            kept = admin.host_settings()["kept_in_store"]
        assert (kept["keep_releases"], kept["backup_keep_weekly"]) == (3, 9)
        assert second.runtime.settings.keep_releases == 3
        assert "master_key" not in kept and "database_url" not in kept
    finally:
        second.close()
