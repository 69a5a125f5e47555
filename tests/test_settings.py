"""Settings come from the environment once, with units in the names and clear errors."""

from __future__ import annotations

import dataclasses

import pytest

from server.base.settings import Settings, SettingsError


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("postgresql://")
    assert settings.admin_token is None and settings.bus == "memory"
    assert settings.batch_max_rows == 1000 and settings.batch_max_wait_ms == 50.0


def test_reads_documented_variables() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u:p@db:5432/x",
            "TRACKER_ADMIN_TOKEN": "secret",
            "TRACKER_BUS": "redis://127.0.0.1:6379/0",
            "TRACKER_PORT": "9000",
            "TRACKER_BATCH_MAX_WAIT_MS": "12.5",
            "TRACKER_MAX_FIX_AGE_S": "60",
        }
    )
    assert settings.database_url == "postgresql://u:p@db:5432/x"
    assert settings.admin_token == "secret" and settings.bus == "redis://127.0.0.1:6379/0"
    assert settings.port == 9000 and settings.batch_max_wait_ms == 12.5
    assert settings.max_fix_age_s == 60.0


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings.from_env({}).port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRACKER_PORT": "eighty"}, "TRACKER_PORT"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"TRACKER_BATCH_MAX_ROWS": "0"}, "TRACKER_BATCH_MAX_ROWS"),
        ({"TRACKER_RETENTION_DAYS": "1"}, "TRACKER_RETENTION_DAYS"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
