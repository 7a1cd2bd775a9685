"""The sidecar's and the library's settings: one YAML or JSON file overridden by
``LLM_EXPORTER_*`` environment variables (:mod:`.load`), the ``pricing:`` section
(:mod:`.pricing`), and the value checks they share with the mixin's config
(:mod:`._parse`)."""

from .._exceptions import ConfigError
from .load import ServerSettings, Settings

__all__ = ["ConfigError", "ServerSettings", "Settings"]
