"""Settings precedence: flag > env > file > default (shared/spec/interface.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from firehouse.settings import REGISTRY, SettingsError, resolve


def test_precedence(tmp_path: Path) -> None:
    config = tmp_path / "firehouse.toml"
    config.write_text(
        'port = 9001\nworkers = 3\nhost = "0.0.0.0"\ncors_origins = ["https://a.example"]\n'
    )
    env = {"FIREHOUSE_PORT": "9002", "FIREHOUSE_WORKERS": "4"}
    settings = resolve({"port": "9003"}, config_file=config, environ=env)
    assert settings.port == 9003  # flag
    assert settings.workers == 4  # env beats file
    assert settings.host == "0.0.0.0"  # file beats default
    assert settings.cors_origins == ("https://a.example",)
    assert settings.database == "sqlite:///firehouse.db"  # default
    assert settings.explicit == {"port", "workers", "host", "cors_origins"}


def test_lists_from_text_and_booleans_from_env() -> None:
    settings = resolve(
        environ={
            "FIREHOUSE_CORS_METHODS": "GET, PUT  POST",
            "FIREHOUSE_CORS_ALLOW_CREDENTIALS": "true",
        }
    )
    assert settings.cors_methods == ("GET", "PUT", "POST")
    assert settings.cors_allow_credentials is True


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FIREHOUSE_PORT": "eighty"}, "port"),
        ({"FIREHOUSE_AUTH": "magic"}, "auth must be one of none, smart"),
        ({"FIREHOUSE_CORS_ALLOW_CREDENTIALS": "maybe"}, "cors_allow_credentials"),
    ],
)
def test_bad_values_name_the_setting(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        resolve(environ=environ)


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="prot"):
        resolve(config_file=config, environ={})


def test_every_setting_has_help_and_an_env_var() -> None:
    for setting in REGISTRY:
        assert setting.help and setting.env_var.startswith("FIREHOUSE_")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('cors_max_age = "10"', "cors_max_age in .* must be an integer, not '10'"),
        ("port = true", "port in .* must be an integer, not True"),
        ('cors_allow_credentials = "yes"', "cors_allow_credentials .* must be true or false"),
        ("host = 1", "host .* must be a string"),
    ],
)
def test_file_values_must_have_the_settings_type(tmp_path: Path, line: str, message: str) -> None:
    config = tmp_path / "typed.toml"
    config.write_text(line + "\n")
    with pytest.raises(SettingsError, match=message):
        resolve(config_file=config, environ={})
