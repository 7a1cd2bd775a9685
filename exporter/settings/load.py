"""Settings: one YAML (or JSON) file, overridden by ``LLM_EXPORTER_*`` environment
variables, validated once at start-up with errors that name the offending key."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .._store import DEFAULT_SERIES_BUDGET
from ..cardinality import DEFAULT_CAPS
from ..pricing.book import PriceBook, PriceOverride
from ..pricing.pools import Pool
from ..read.endpoint import Endpoint
from ..record import validation
from ._parse import ConfigError, boolean, integer, mapping, names, no_unknown, read_document, secret
from .schema import BY_PATH, COLLECTORS, DEFAULT_PORT, DEFAULT_ZERO_HOLD_SECONDS, KEYS, section

__all__ = ["COLLECTORS", "DEFAULT_PORT", "DEFAULT_ZERO_HOLD_SECONDS", "ConfigError",
           "ServerSettings", "Settings", "read_document"]
_TOP_KEYS, _SERVER_KEYS = section(""), section("server")
_PRICING_KEYS, _LABEL_KEYS = section("pricing"), section("labels")


@dataclass(frozen=True)
class ServerSettings:
    """The sidecar's settings. Secrets come from the environment or files, never from
    the settings file itself, and are left out of ``repr``. Each field is documented
    once, in :mod:`.schema` (and so in the configuration reference)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    ingest_token: str | None = field(default=None, repr=False)
    metrics_user: str | None = None
    metrics_password: str | None = field(default=None, repr=False)
    max_body_bytes: int = 1 << 20
    max_batch_events: int = 1000
    collectors: tuple[str, ...] = COLLECTORS
    gpu_processes: bool = False
    allowed_hosts: tuple[str, ...] | None = None
    """Host names clients may use besides the bind address and localhost (any name is
    accepted when bound to every interface, 0.0.0.0 or ::)."""
    allowed_origins: tuple[str, ...] = ()
    """Browser origins that may post events ("*": any); none by default."""
    idempotency_keys: int = 10_000
    """Answers kept for retries with the same Idempotency-Key (one per request)."""
    idempotency_window_seconds: int = 600
    idempotency_max_bytes: int = 16 << 20
    """Memory for the kept answers; past it the oldest go first."""
    max_header_bytes: int = 16 * 1024
    """A request head (request line and headers) past this gets 431 and is closed."""
    request_timeout_seconds: int = 10
    """A request not complete this long after its first byte gets 408 and is closed."""
    keepalive_timeout_seconds: int = 5
    """An idle keep-alive connection is closed after this long."""
    max_connections: int = 512
    """Connections past this many get 503 and are closed at once."""
    prometheus_url: str | None = field(default=None, repr=False)
    """Where the read routes, the page and the report ask exact windowed questions; none:
    they answer from this sidecar's own counters since it started."""
    prometheus_user: str | None = None
    prometheus_password: str | None = field(default=None, repr=False)
    prometheus_bearer_token: str | None = field(default=None, repr=False)
    """Credentials for ``prometheus_url`` (basic, or a bearer token; also accepted as
    ``https://user:password@host`` in the URL, never shown)."""
    read_token: str | None = field(default=None, repr=False)
    """A bearer token for the read routes, the page and the WebSocket (the metrics
    credentials open them too)."""
    public_reads: bool = False
    """Serve reads without credentials although some are configured (an explicit choice:
    they show team spend and user ids)."""

    def prometheus(self, url: str | None = None, where: str = "server.prometheus_url"
                   ) -> Endpoint | None:
        """The Prometheus the read side asks (``url``, else ``prometheus_url``), with the
        configured credentials apart from its URL."""
        url = url or self.prometheus_url
        if not url:
            return None
        return Endpoint.parse(url, user=self.prometheus_user, password=self.prometheus_password,
                              bearer=self.prometheus_bearer_token, where=where)
    recent_requests: int = 1000
    """Requests kept for /api/v1/requests/recent (0: none)."""
    request_log: bool = False
    """Each request as one JSON line on the ``llm_exporter.requests`` logger."""
    history_interval_seconds: int = 60
    history_points: int = 1440
    """The in-memory history of totals that trends come from without a Prometheus."""
    history_max_bytes: int = 64 << 20
    """Its memory: past it, older points merge (coarser resolution, the same totals)."""


@dataclass(frozen=True)
class Settings:
    namespace: str = "llm"
    zero_hold_seconds: float = field(default_factory=lambda: _zero_hold(os.environ, None))
    label_caps: Mapping[str, int] = field(default_factory=dict)
    series_budget: int = DEFAULT_SERIES_BUDGET
    """Series per family; past it, new label sets fold into the family's overflow set."""
    price_overrides: tuple[PriceOverride, ...] = ()
    price_catalog: bool = True
    pools: tuple[Pool, ...] = ()
    """Self-hosted GPU pools: their hours are the cost of the models they serve."""
    catalog_date: date | None = None
    override_warn_ratio: float = 3.0
    baseline: tuple[str, str] | None = None
    server: ServerSettings = field(default_factory=ServerSettings)
    source: str = "defaults"

    @classmethod
    def load(cls, path: str | Path | None = None,
             env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``path`` (or ``$LLM_EXPORTER_CONFIG``), then the environment."""
        env = os.environ if env is None else env
        path = path or env.get("LLM_EXPORTER_CONFIG") or None
        raw: dict[str, Any] = read_document(Path(path), "config") if path else {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        no_unknown(raw, _TOP_KEYS, "")
        labels = mapping(raw.get("labels", {}), "labels")
        no_unknown(labels, _LABEL_KEYS, "labels.")
        pricing = mapping(raw.get("pricing", {}), "pricing")
        no_unknown(pricing, _PRICING_KEYS, "pricing.")

        namespace = env.get("LLM_EXPORTER_NAMESPACE") or raw.get("namespace", "llm")
        try:
            validation.namespace(namespace)
        except validation.InvalidValue as exc:
            raise ConfigError(str(exc)) from None

        hold = _zero_hold(env, raw.get("zero_hold_seconds"))
        caps = dict(mapping(labels.get("caps", {}), "labels.caps"))
        for key, value in env.items():
            if key.startswith("LLM_EXPORTER_CAP_"):
                caps[key[len("LLM_EXPORTER_CAP_"):].lower()] = integer(value, key)
        for label, cap in caps.items():
            where = f"labels.caps.{label}"
            if label not in DEFAULT_CAPS:
                raise ConfigError(f"{where}: unknown label; capped labels are "
                                  f"{', '.join(sorted(DEFAULT_CAPS))}")
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
                raise ConfigError(f"{where}: must be a positive integer, got {cap!r}")

        budget = labels.get("series_budget", DEFAULT_SERIES_BUDGET)
        if env.get("LLM_EXPORTER_SERIES_BUDGET"):
            budget = integer(env["LLM_EXPORTER_SERIES_BUDGET"], "LLM_EXPORTER_SERIES_BUDGET")
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ConfigError(f"labels.series_budget: must be a positive integer, got "
                              f"{budget!r}")

        from .pricing import pricing_settings

        return cls(namespace=namespace, zero_hold_seconds=hold, label_caps=caps,
                   series_budget=budget,
                   **pricing_settings(pricing, env),
                   server=_server(mapping(raw.get("server", {}), "server"), env),
                   source=str(path) if path else "defaults")

    @classmethod
    def of(cls, config: Settings | str | Path | None) -> Settings:
        """Settings given, or loaded from a file (None: the environment alone)."""
        return cls.load(config) if config is None or isinstance(config, (str, Path)) \
            else config

    def limits(self, zero_hold: float | None, budget: int | None) -> tuple[float, int]:
        """The zero-first hold and the series budget: an argument, else these settings'."""
        hold = self.zero_hold_seconds if zero_hold is None else zero_hold
        budget = self.series_budget if budget is None else budget
        if validation.count("series_budget", budget) < 1:
            raise validation.InvalidValue("series_budget", f"must be at least 1, got {budget}")
        return float(validation.finite("zero_hold_seconds", hold, minimum=0)), budget

    def price_book(self) -> PriceBook:
        return PriceBook(self.price_overrides, use_catalog=self.price_catalog,
                         pools=self.pools, catalog_date=self.catalog_date,
                         override_warn_ratio=self.override_warn_ratio)


def _zero_hold(env: Mapping[str, str], configured: Any) -> float:
    """``$LLM_EXPORTER_ZERO_HOLD_SECONDS``, else the file's ``zero_hold_seconds``, else
    the default; the environment also applies to Settings built in code."""
    hold = DEFAULT_ZERO_HOLD_SECONDS if configured is None else configured
    where = "zero_hold_seconds"
    if env.get("LLM_EXPORTER_ZERO_HOLD_SECONDS"):
        where = "LLM_EXPORTER_ZERO_HOLD_SECONDS"
        try:
            hold = float(env[where])
        except ValueError:
            raise ConfigError(f"{where}: must be a number of seconds, got {env[where]!r}") \
                from None
    if not validation.is_seconds(hold) or hold > 86400:
        raise ConfigError(f"{where}: must be a number of seconds in 0..86400, got {hold!r}")
    return float(hold)


def _server(raw: Mapping[str, Any], env: Mapping[str, str]) -> ServerSettings:
    no_unknown(raw, _SERVER_KEYS, "server.")
    defaults = ServerSettings()
    host = env.get("LLM_EXPORTER_HOST") or raw.get("host", defaults.host)
    if not isinstance(host, str) or not host:
        raise ConfigError(f"server.host: must be an address, got {host!r}")

    def number(key: str) -> int:
        k = BY_PATH["server." + key]
        assert k.env is not None and k.low is not None and k.high is not None
        value = integer(env[k.env], k.env) if env.get(k.env) else raw.get(key, k.default)
        if isinstance(value, bool) or not isinstance(value, int) or \
                not k.low <= value <= k.high:
            raise ConfigError(f"server.{key}: must be an integer in {k.low:.0f}..{k.high:.0f}, "
                              f"got {value!r}")
        return value

    def flag(key: str) -> bool:
        env_name = BY_PATH["server." + key].env or ""
        value = boolean(env[env_name], env_name) if env_name in env else raw.get(key, False)
        if not isinstance(value, bool):
            raise ConfigError(f"server.{key}: must be true or false, got {value!r}")
        return value

    server = [k for k in KEYS if k.section == "server"]
    ints = {k.name: number(k.name) for k in server if k.kind == "integer"}
    flags = {k.name: flag(k.name) for k in server if k.kind == "boolean"}
    collectors_raw: Any = env.get("LLM_EXPORTER_COLLECTORS")
    if collectors_raw is not None:
        collectors_raw = [c.strip() for c in collectors_raw.split(",") if c.strip()]
    else:
        collectors_raw = raw.get("collectors", list(COLLECTORS))
    if not isinstance(collectors_raw, list) or \
            any(c not in COLLECTORS for c in collectors_raw):
        raise ConfigError(f"server.collectors: a list of {', '.join(COLLECTORS)}, "
                          f"got {collectors_raw!r}")
    allowed_hosts = names(env, raw, "allowed_hosts", "LLM_EXPORTER_ALLOWED_HOSTS")
    allowed_origins = names(env, raw, "allowed_origins", "LLM_EXPORTER_ALLOWED_ORIGINS")
    settings = ServerSettings(host=host, **ints, **flags, **_credentials(raw, env),
                              collectors=tuple(collectors_raw), allowed_hosts=allowed_hosts,
                              allowed_origins=allowed_origins or ())
    try:
        settings.prometheus()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return settings


def _credentials(raw: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The sidecar's secrets and the Prometheus it reads from: each from its variable,
    its ``*_FILE`` variable or its ``*_file`` key; never from the settings file itself."""
    # METRICS_BASIC_AUTH_*: the Go proxy's names, so its deployment env keeps working
    user = env.get("LLM_EXPORTER_METRICS_USER") or env.get("METRICS_BASIC_AUTH_USER") \
        or raw.get("metrics_user")
    password = secret(env, "LLM_EXPORTER_METRICS_PASSWORD", raw.get("metrics_password_file"),
                       "server.metrics_password_file") or env.get("METRICS_BASIC_AUTH_PASS")
    prometheus_url = env.get("LLM_EXPORTER_PROMETHEUS_URL") or raw.get("prometheus_url")
    if prometheus_url is not None and not isinstance(prometheus_url, str):
        raise ConfigError("server.prometheus_url: must be an http(s) URL")
    prometheus_user = env.get("LLM_EXPORTER_PROMETHEUS_USER") or raw.get("prometheus_user")
    prometheus_password = secret(env, "LLM_EXPORTER_PROMETHEUS_PASSWORD",
                                  raw.get("prometheus_password_file"),
                                  "server.prometheus_password_file")
    prometheus_bearer = secret(env, "LLM_EXPORTER_PROMETHEUS_BEARER_TOKEN",
                                raw.get("prometheus_bearer_token_file"),
                                "server.prometheus_bearer_token_file")
    if (prometheus_user is None) != (prometheus_password is None):
        raise ConfigError("server.prometheus_user and a Prometheus password go together "
                          "(LLM_EXPORTER_PROMETHEUS_PASSWORD[_FILE])")
    if (user is None) != (password is None):
        raise ConfigError("server.metrics_user and a metrics password go together: set both "
                          "(LLM_EXPORTER_METRICS_USER and LLM_EXPORTER_METRICS_PASSWORD[_FILE])"
                          " or neither")
    return {
        "ingest_token": secret(env, "LLM_EXPORTER_INGEST_TOKEN", raw.get("ingest_token_file"),
                               "server.ingest_token_file"),
        "metrics_user": user, "metrics_password": password,
        "prometheus_url": prometheus_url, "prometheus_user": prometheus_user,
        "prometheus_password": prometheus_password, "prometheus_bearer_token": prometheus_bearer,
        "read_token": secret(env, "LLM_EXPORTER_READ_TOKEN", raw.get("read_token_file"),
                             "server.read_token_file")}
