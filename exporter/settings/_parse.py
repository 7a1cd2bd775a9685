"""Where settings come from: a YAML or JSON file, the environment, secret files; each
value checked with an error that names its key (never a secret's value)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._exceptions import ConfigError

#: A settings file is a few kilobytes; a bigger one is a mistake (a log, a dump).
_MAX_CONFIG_CHARS = 4 * 1024 * 1024


def read_document(path: Path, what: str) -> Any:
    """A YAML or JSON settings file; ConfigError (naming the file) for anything wrong
    with it: unreadable, not UTF-8, too big, malformed, nested too deeply."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the {what} as "
                          "UTF-8") from None
    if len(text) > _MAX_CONFIG_CHARS:
        raise ConfigError(f"{path}: {len(text):,} characters; a {what} is at most "
                          f"{_MAX_CONFIG_CHARS:,}")
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON: {exc}") from None
        except RecursionError:
            raise ConfigError(f"{path}: nested too deeply") from None
    try:
        import yaml
    except ImportError:
        raise ConfigError(f"{path}: reading YAML needs PyYAML "
                          "(pip install 'llm-exporter[pricing]'), or use a .json file") from None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    except RecursionError:  # PyYAML's composer recurses once per level
        raise ConfigError(f"{path}: nested too deeply") from None


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: must be a mapping, got {type(value).__name__}")
    return value


def no_unknown(raw: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(prefix + k for k in sorted(unknown))}"
                          f" (allowed: {', '.join(sorted(allowed))})")


def integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name}: must be an integer, got {value!r}") from None


def boolean(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: must be true or false, got {value!r}")


def secret(env: Mapping[str, str], name: str, file_setting: Any, where: str) -> str | None:
    """A secret from ``$NAME``, else from the file ``$NAME_FILE`` or the settings' file
    path; trailing newlines stripped. Its value is never part of an error message."""
    if env.get(name):
        return env[name]
    path = env.get(name + "_FILE") or file_setting
    if not path:
        return None
    try:
        value = Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror}") from None
    if not value:
        raise ConfigError(f"{where}: {path} is empty")
    return value


def names(env: Mapping[str, str], raw: Mapping[str, Any], key: str,
           env_name: str) -> tuple[str, ...] | None:
    """A list of names from a comma-separated variable or the file; None when unset."""
    value: Any = env.get(env_name)
    if value is not None:
        value = [v.strip() for v in value.split(",") if v.strip()]
    else:
        value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"server.{key}: must be a list of names, got {value!r}")
    return tuple(value)
