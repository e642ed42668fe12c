"""One declarative registry of every setting.

Each :class:`Setting` feeds the CLI flag, the ``FIREHOUSE_*`` environment
variable, the TOML key (``--config``) and the help text. Precedence is
flag > env > file > default (shared/spec/interface.md). The resolved values form
an immutable :class:`Settings` snapshot; nothing is read at import time.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting has a value its type does not accept."""


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise SettingsError("expected an integer, not a boolean")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise SettingsError(f"expected an integer, got {value!r}") from exc


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"expected true or false, got {value!r}")


def _as_str(value: Any) -> str:
    return str(value)


def _as_list(value: Any) -> tuple[str, ...]:
    """Lists come as TOML arrays or as comma/whitespace separated text."""
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(part for part in str(value).replace(",", " ").split() if part)


@dataclass(frozen=True)
class Setting:
    name: str
    convert: Callable[[Any], Any]
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    is_flag: bool = False

    @property
    def env_var(self) -> str:
        return "FIREHOUSE_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


REGISTRY: tuple[Setting, ...] = (
    Setting("host", _as_str, "127.0.0.1", "Interface to listen on."),
    Setting("port", _as_int, 8080, "TCP port to listen on."),
    Setting(
        "database",
        _as_str,
        "sqlite:///firehouse.db",
        "Database URL: sqlite:///path (created on first start) or postgresql://user@host/db.",
    ),
    Setting("workers", _as_int, 1, "Number of server processes."),
    Setting(
        "base_url",
        _as_str,
        "",
        "Public base URL used in Location, fullUrl and links (default: from the request).",
    ),
    Setting("max_body_size", _as_int, 16 * 1024 * 1024, "Largest request body in bytes (413)."),
    Setting("default_page_size", _as_int, 20, "Entries per page when _count is not given."),
    Setting("max_page_size", _as_int, 1000, "Largest _count a client may ask for."),
    Setting(
        "max_bundle_entries",
        _as_int,
        10_000,
        "Most entries in one batch or transaction Bundle (413 beyond).",
    ),
    Setting(
        "conditional_delete_multiple",
        _as_bool,
        False,
        "Conditional DELETE matching several resources deletes them all (default: 412).",
    ),
    Setting(
        "search_parameters_dir",
        _as_str,
        "",
        "Folder of SearchParameter JSON files loaded at start-up (then: firehouse db reindex).",
    ),
    Setting(
        "log_level",
        _as_str,
        "info",
        "Log level.",
        choices=("critical", "error", "warning", "info", "debug"),
    ),
    Setting("admin_token", _as_str, "", "Bearer token for /admin (admin plane off when empty)."),
    Setting("cors_origins", _as_list, (), "CORS: allowed origins, or * (a security risk)."),
    Setting("cors_headers", _as_list, (), "CORS: allowed request headers, or *."),
    Setting("cors_methods", _as_list, (), "CORS: allowed methods, or * (select all)."),
    Setting("cors_max_age", _as_int, None, "CORS: seconds a preflight may be cached (0..99999)."),
    Setting(
        "cors_allow_credentials",
        _as_bool,
        False,
        "CORS: allow cookies / HTTP auth (not with origins *).",
        is_flag=True,
    ),
    Setting(
        "cors_exposed_headers",
        _as_list,
        None,
        "CORS: response headers script may read.",
    ),
    Setting("auth", _as_str, "none", "Authentication: none or smart.", choices=("none", "smart")),
    Setting("auth_issuer", _as_str, "", "SMART: expected token issuer (iss)."),
    Setting("auth_audience", _as_str, "", "SMART: expected token audience (aud)."),
    Setting("auth_jwks", _as_str, "", "SMART: JWKS file path or URL."),
    Setting(
        "auth_algorithms",
        _as_list,
        ("RS256", "RS384", "ES256", "ES384", "PS256"),
        "SMART: accepted token signature algorithms (asymmetric only; never none or HS*).",
    ),
    Setting("auth_leeway", _as_int, 30, "SMART: seconds of clock skew allowed on exp/nbf."),
    Setting("auth_authorize_url", _as_str, "", "SMART: the IdP's authorization endpoint."),
    Setting("auth_token_url", _as_str, "", "SMART: the IdP's token endpoint."),
    Setting(
        "auth_key_dir",
        _as_str,
        "",
        "SMART: folder of the local dev-token key (default: the SQLite database's folder).",
    ),
)

BY_NAME: Mapping[str, Setting] = {s.name: s for s in REGISTRY}

# Settings a CORS flag/env/file value was given for are written to the stored
# policy at start-up; the rest of the policy is left as stored.
CORS_SETTING_NAMES = tuple(s.name for s in REGISTRY if s.name.startswith("cors_"))


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    database: str = "sqlite:///firehouse.db"
    workers: int = 1
    base_url: str = ""
    max_body_size: int = 16 * 1024 * 1024
    default_page_size: int = 20
    max_page_size: int = 1000
    max_bundle_entries: int = 10_000
    conditional_delete_multiple: bool = False
    search_parameters_dir: str = ""
    log_level: str = "info"
    admin_token: str = ""
    cors_origins: tuple[str, ...] = ()
    cors_headers: tuple[str, ...] = ()
    cors_methods: tuple[str, ...] = ()
    cors_max_age: int | None = None
    cors_allow_credentials: bool = False
    cors_exposed_headers: tuple[str, ...] | None = None
    auth: str = "none"
    auth_issuer: str = ""
    auth_audience: str = ""
    auth_jwks: str = ""
    auth_algorithms: tuple[str, ...] = ("RS256", "RS384", "ES256", "ES384", "PS256")
    auth_leeway: int = 30
    auth_authorize_url: str = ""
    auth_token_url: str = ""
    auth_key_dir: str = ""
    # Names of settings that were given explicitly (flag, env or file).
    explicit: frozenset[str] = field(default=frozenset())

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["explicit"] = sorted(self.explicit)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Settings:
        values = dict(data)
        values["explicit"] = frozenset(values.get("explicit", ()))
        for name in ("cors_origins", "cors_headers", "cors_methods"):
            values[name] = tuple(values.get(name) or ())
        if values.get("auth_algorithms") is not None:
            values["auth_algorithms"] = tuple(values["auth_algorithms"])
        if values.get("cors_exposed_headers") is not None:
            values["cors_exposed_headers"] = tuple(values["cors_exposed_headers"])
        return cls(**values)


def _check_choice(setting: Setting, value: Any) -> Any:
    if setting.choices and value not in setting.choices:
        raise SettingsError(
            f"{setting.name} must be one of {', '.join(setting.choices)}, got {value!r}"
        )
    return value


# TOML values are typed, so a file must use the type itself: ``max_age = "10"``
# is refused there as the JSON admin API refuses it, while flags and the
# environment, which are text by nature, are converted.
_TOML_TYPES: dict[Callable[[Any], Any], tuple[type, ...]] = {
    _as_int: (int,),
    _as_bool: (bool,),
    _as_str: (str,),
    _as_list: (list, str),
}
_TYPE_WORDS = {int: "an integer", bool: "true or false", str: "a string", list: "a list"}


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a --config TOML file: top-level keys are setting names."""
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    unknown = sorted(set(data) - set(BY_NAME))
    if unknown:
        raise SettingsError(f"unknown setting(s) in {path}: {', '.join(unknown)}")
    for name, value in data.items():
        expected = _TOML_TYPES[BY_NAME[name].convert]
        if not isinstance(value, expected) or (bool not in expected and isinstance(value, bool)):
            kinds = " or ".join(_TYPE_WORDS[t] for t in expected)
            raise SettingsError(f"{name} in {path} must be {kinds}, not {value!r}")
    return data


def resolve(
    flags: Mapping[str, Any] | None = None,
    *,
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Combine flag > env > file > default into one immutable snapshot."""
    flags = flags or {}
    environ = os.environ if environ is None else environ
    file_values = load_toml(config_file) if config_file else {}
    values: dict[str, Any] = {}
    explicit: set[str] = set()
    for setting in REGISTRY:
        raw: Any
        if flags.get(setting.name) is not None:
            raw = flags[setting.name]
        elif setting.env_var in environ:
            raw = environ[setting.env_var]
        elif setting.name in file_values:
            raw = file_values[setting.name]
        else:
            values[setting.name] = setting.default
            continue
        explicit.add(setting.name)
        try:
            values[setting.name] = _check_choice(setting, setting.convert(raw))
        except SettingsError as exc:
            raise SettingsError(f"{setting.name}: {exc}") from exc
    return Settings(**values, explicit=frozenset(explicit))
