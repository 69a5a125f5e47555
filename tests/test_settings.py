"""Settings come from the environment once, with units in the names and clear errors."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import pytest

from server.base.settings import SECRETS, Settings, SettingsError, variable
from server.base.settings_rules import embed_origins


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("postgresql://")
    assert settings.admin_token is None and settings.bus == "memory"
    assert settings.batch_max_rows == 1000 and settings.batch_max_wait_ms == 0.0


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
        ({"TRACKER_LOG_FORMAT": "jsno"}, "TRACKER_LOG_FORMAT='jsno' is not one of text, json"),
        ({"TRACKER_ROUTING_PROFILE": "tank"}, "TRACKER_ROUTING_PROFILE='tank' is not one of"),
        ({"TRACKER_ROUTING_CONCURRENCY": "11"}, "TRACKER_ROUTING_CONCURRENCY must not exceed"),
        ({"TRACKER_ROUTING_TIMEOUT_S": "0"}, "TRACKER_ROUTING_TIMEOUT_S must be positive"),
        ({"TRACKER_OPTIMIZE_MAX_STOPS": "500"}, "TRACKER_OPTIMIZE_MAX_STOPS must be 200"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_a_misspelt_boolean_is_an_error_naming_the_accepted_words() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"TRACKER_REJECT_NULL_ISLAND": "ture"})
    assert str(caught.value) == (
        "TRACKER_REJECT_NULL_ISLAND='ture' is not a boolean: "
        "use true or false (also 1/0, yes/no, on/off)"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), (" Yes ", True), ("on", True), ("1", True), ("FALSE", False), ("0", False)],
)
def test_booleans_take_the_usual_words(raw: str, expected: bool) -> None:
    assert Settings.from_env({"TRACKER_REJECT_NULL_ISLAND": raw}).reject_null_island is expected


def test_texts_take_their_usual_forms() -> None:
    settings = Settings.from_env(
        {
            "TRACKER_MAIL_FROM": "Shop <tracking@shop.test>",
            "TRACKER_SUPPORT_EMAIL": "Help desk <help@shop.test>",
            "TRACKER_TILE_URL": "https://{s}.tiles.example.com/{z}/{x}/{-y}.png",
            "TRACKER_PUBLIC_BASE_URL": "https://track.example.com:8443/shop",
        }
    )
    assert settings.base_url == "https://track.example.com:8443/shop"
    assert settings.support_email == "Help desk <help@shop.test>"
    assert Settings.from_env({}).support_email == ""  # unset: no support email
    # The basemap (issue 19): unset tile URL = the server's own tiles, else OpenStreetMap's;
    # a vector tile template is a tile template too.
    assert Settings.from_env({}).tile_url == ""
    assert Settings.from_env({}).tiles_file == ".local/tiles/basemap.mbtiles"
    vector = "https://tiles.example.com/v1/{z}/{x}/{y}.pbf?key=k"
    assert Settings.from_env({"TRACKER_TILE_URL": vector}).tile_url == vector
    assert Settings.from_env({"TRACKER_TILES_FILE": "/srv/tiles/pt.mbtiles"}).tiles_file == (
        "/srv/tiles/pt.mbtiles"
    )


def test_the_log_format_is_one_word_of_two() -> None:
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"TRACKER_LOG_FORMAT": " JSON "}).log_format == "json"
    with pytest.raises(SettingsError, match="TRACKER_LOG_FORMAT must be one of text, json"):
        Settings.from_env({}, log_format="yaml")


def test_numbers_take_plain_decimals() -> None:
    settings = Settings.from_env(
        {"TRACKER_PORT": " 9000 ", "TRACKER_BUS_TIMEOUT_S": "2.5", "TRACKER_MAX_FIX_AGE_S": "6e4"}
    )
    assert (settings.port, settings.bus_timeout_s, settings.max_fix_age_s) == (9000, 2.5, 60_000.0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRACKER_BUS_TIMEOUT_S": "nan"}, "TRACKER_BUS_TIMEOUT_S='nan' is not a number of sec"),
        ({"TRACKER_BUS_TIMEOUT_S": "inf"}, "TRACKER_BUS_TIMEOUT_S='inf' is not a number"),
        ({"TRACKER_BUS_TIMEOUT_S": "1e999"}, "TRACKER_BUS_TIMEOUT_S='1e999' is not a number"),
        ({"TRACKER_BUS_TIMEOUT_S": "2s"}, "write the number alone"),
        ({"TRACKER_FLEET_INTERVAL_MS": "1,000"}, "not a number of milliseconds"),
        ({"TRACKER_MAX_ACCURACY_M": "50.0.0"}, "TRACKER_MAX_ACCURACY_M='50.0.0'"),
        ({"TRACKER_PORT": "80a"}, "TRACKER_PORT='80a' is not a whole number"),
        ({"TRACKER_PORT": "8e3"}, "TRACKER_PORT='8e3' is not a whole number"),
        ({"TRACKER_DB_POOL_SIZE": "1_0"}, "TRACKER_DB_POOL_SIZE='1_0'"),
        ({"TRACKER_PORT": "70000"}, "TRACKER_PORT"),
        ({"TRACKER_SMTP_PORT": "0"}, "TRACKER_SMTP_PORT"),
        ({"TRACKER_MAX_FIX_FUTURE_S": "-5"}, "TRACKER_MAX_FIX_FUTURE_S=-5.0 must be a finite"),
        ({"TRACKER_MAX_CONNECTIONS": "-1"}, "TRACKER_MAX_CONNECTIONS=-1 must be"),
        ({"TRACKER_NOTIFY_POLL_INTERVAL_S": "0"}, "TRACKER_NOTIFY_POLL_INTERVAL_S must be posit"),
        ({"TRACKER_DETOUR_FACTOR": "0.5"}, "TRACKER_DETOUR_FACTOR must be 1 or more"),
        ({"TRACKER_PUBLIC_BASE_URL": "track.example.com"}, "TRACKER_PUBLIC_BASE_URL="),
        ({"TRACKER_PUBLIC_BASE_URL": "https://track.example.com:99999"}, "PUBLIC_BASE_URL"),
        ({"TRACKER_SMS_BASE_URL": "ftp://api.example.com"}, "TRACKER_SMS_BASE_URL="),
        ({"TRACKER_TILE_URL": "https://tiles.example.com/tile.png"}, "TRACKER_TILE_URL"),
        ({"TRACKER_TILE_URL": "https://tiles example.com/{z}/{x}/{y}.png"}, "TRACKER_TILE_URL"),
        ({"TRACKER_BUS": "redis//x"}, "TRACKER_BUS must be memory or a redis://"),
        ({"TRACKER_TRUSTED_PROXIES": "10.0.0.1, nginx"}, "TRACKER_TRUSTED_PROXIES: 'nginx'"),
        ({"TRACKER_SMTP_SECURITY": "ssl"}, "TRACKER_SMTP_SECURITY must be starttls, tls or none"),
        ({"TRACKER_MAIL_FROM": "tracking"}, "TRACKER_MAIL_FROM='tracking' is not an email"),
        ({"TRACKER_MAIL_FROM": "a@b.test\r\nBcc: x@y.test"}, "TRACKER_MAIL_FROM="),
        ({"TRACKER_SUPPORT_EMAIL": "support"}, "TRACKER_SUPPORT_EMAIL='support' is not an email"),
        ({"TRACKER_SUPPORT_EMAIL": "a@b.test\nBcc: x@y.test"}, "TRACKER_SUPPORT_EMAIL="),
        ({"TRACKER_TILE_URL": "https://tiles.example.com/{z}/{x}.png"}, "TRACKER_TILE_URL"),
        ({"TRACKER_TILE_URL": "/tiles/{z}/{x}/{y}.pbf"}, "TRACKER_TILE_URL"),  # http(s) only
        ({"TRACKER_TILES_FILE": "   "}, "TRACKER_TILES_FILE"),
        ({"TRACKER_TILES_MAX_AGE_S": "1h"}, "TRACKER_TILES_MAX_AGE_S"),
        ({"TRACKER_TEMPLATES_DIR": "/nonexistent/templates"}, "TRACKER_TEMPLATES_DIR="),
        ({"TRACKER_NAIVE_TIME_ZONE": "Europe/Lisbn"}, "TRACKER_NAIVE_TIME_ZONE="),
        ({"TRACKER_DEFAULT_LOCALE": "pt_PT"}, "TRACKER_DEFAULT_LOCALE: locale 'pt_PT' is not"),
    ],
)
def test_malformed_values_are_errors_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert message in str(caught.value)


def test_a_bad_database_url_does_not_show_its_password() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DATABASE_URL": "mysql://app:hunter2@db/x"})
    assert "DATABASE_URL" in str(caught.value) and "hunter2" not in str(caught.value)


SECRET_VALUES = {
    "DATABASE_URL": "postgresql://app:hunter2@db:5432/tracker",
    "TRACKER_ADMIN_TOKEN": "admin-token-from-a-file",
    "TRACKER_METRICS_TOKEN": "metrics-token-from-a-file",
    "TRACKER_BUS": "redis://:hunter2@redis:6379/0",
    "TRACKER_SMTP_USERNAME": "mailer",
    "TRACKER_SMTP_PASSWORD": "smtp password with spaces ",
    "TRACKER_SMS_ACCOUNT_SID": "AC123",
    "TRACKER_SMS_AUTH_TOKEN": "sms-token",
}


def test_every_secret_has_a_file_variant() -> None:
    assert set(SECRET_VALUES) == {variable(name) for name in SECRETS}


@pytest.mark.parametrize("name", sorted(SECRET_VALUES))
def test_secrets_are_read_from_files_without_their_trailing_newline(
    name: str, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET_VALUES[name] + "\n")
    settings = Settings.from_env({f"{name}_FILE": str(secret_file)})
    field = "database_url" if name == "DATABASE_URL" else name.removeprefix("TRACKER_").lower()
    assert getattr(settings, field) == SECRET_VALUES[name]


def test_a_secret_and_its_file_together_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-the-file")
    env = {"TRACKER_ADMIN_TOKEN": "inline", "TRACKER_ADMIN_TOKEN_FILE": str(tmp_path / "token")}
    with pytest.raises(SettingsError, match="TRACKER_ADMIN_TOKEN and TRACKER_ADMIN_TOKEN_FILE"):
        Settings.from_env(env)


def test_an_unreadable_or_empty_secret_file_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"TRACKER_SMTP_PASSWORD_FILE": str(missing)})
    assert str(caught.value) == (
        f"TRACKER_SMTP_PASSWORD_FILE={str(missing)!r}: cannot read the file "
        "(No such file or directory)"
    )
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SettingsError, match=r"TRACKER_SMS_AUTH_TOKEN_FILE=.*the file is empty"):
        Settings.from_env({"TRACKER_SMS_AUTH_TOKEN_FILE": str(tmp_path / "empty")})


def test_unknown_variables_are_warned_about_once_each(caplog: pytest.LogCaptureFixture) -> None:
    env = {
        "TRACKER_PROT": "9000",  # a typo
        "TRACKER_SOMETHING_ELSE": "1",
        "TRACKER_ADMIN_TOKEN_FILE": "",  # known: a secret's file variant
        "TRACKER_CHROMIUM": "/usr/bin/chromium",  # known: read by the tests
        "HOME": "/root",  # not ours
    }
    with caplog.at_level(logging.WARNING, logger="server.base.settings"):
        Settings.from_env(env)
    assert [r.getMessage() for r in caplog.records] == [
        "TRACKER_PROT is not a known setting (did you mean TRACKER_PORT?); it is ignored",
        "TRACKER_SOMETHING_ELSE is not a known setting; it is ignored",
    ]


def _readme_configuration_variables() -> set[str]:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`([A-Z_]+)`", cell)}


def test_the_readme_configuration_table_lists_exactly_the_settings() -> None:
    documented = _readme_configuration_variables()
    settings = {variable(field.name) for field in dataclasses.fields(Settings)}
    assert sorted(settings - documented) == []  # undocumented settings
    assert sorted(documented - settings) == []  # documented, but nothing reads them


@pytest.mark.parametrize(
    "raw",
    [
        "*",
        "https://*.shop.example",
        "https://shop.example/orders",
        "shop.example",
        "javascript:alert(1)",
        "'self'",
        "https://shop.example; script-src *",
        "https://shop.example https://other.example",
        "https://shop.example:99999",
        "ftp://shop.example",
        "https://shop.example?x=1",
    ],
)
def test_embed_origins_are_plain_origins(raw: str) -> None:
    """Each becomes a frame-ancestors source: nothing a CSP header would read as more."""
    with pytest.raises(SettingsError, match=r"TRACKER_EMBED_ORIGINS: .* is not an origin"):
        Settings.from_env({"TRACKER_EMBED_ORIGINS": raw})


def test_embed_origins_are_normalised() -> None:
    raw = " https://Shop.example, http://127.0.0.1:8080/ ,"
    settings = Settings.from_env({"TRACKER_EMBED_ORIGINS": raw})
    assert embed_origins(settings.embed_origins) == [
        "https://shop.example",
        "http://127.0.0.1:8080",
    ]
    assert embed_origins(Settings.from_env({}).embed_origins) == []
