"""Every setting, declared once: where it lives in the settings file, its environment
variable, its kind, bounds and default, and what it is for.

The loader reads its keys, bounds and variable names from here, and the configuration
reference (``docs/reference/configuration.md``) is generated from it, so neither can
drift from the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._store import DEFAULT_SERIES_BUDGET
from ..cardinality import DEFAULT_CAPS
from ..collectors import available as available_collectors

COLLECTORS = available_collectors()
DEFAULT_PORT = 9473
#: How long a new counter series reads 0 after its first scrape (see
#: exporter._store.memory.ZeroHold): at least the longest scrape interval of any
#: Prometheus that scrapes us.
DEFAULT_ZERO_HOLD_SECONDS = 60.0


@dataclass(frozen=True)
class Key:
    """One setting. ``path`` is its place in the file (``server.port``); ``env`` the
    variable that overrides it (a secret's ``*_FILE`` variant is implied)."""

    path: str
    kind: str
    default: Any
    doc: str
    env: str | None = None
    low: float | None = None
    high: float | None = None

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    @property
    def section(self) -> str:
        return self.path.rpartition(".")[0]


def _int(path: str, default: int, low: int, high: int, doc: str, env: str) -> Key:
    return Key(path, "integer", default, doc, env, low, high)


def _flag(path: str, doc: str, env: str) -> Key:
    return Key(path, "boolean", False, doc, env)


def _secret(path: str, env: str, doc: str) -> Key:
    return Key(path, "file path (secret)", None, doc, env)


E = "LLM_EXPORTER_"

KEYS: tuple[Key, ...] = (
    Key("namespace", "name", "llm", "Prefix of every metric name.", E + "NAMESPACE"),
    Key("zero_hold_seconds", "seconds", DEFAULT_ZERO_HOLD_SECONDS,
        "How long a new counter series reads 0 before its value, so that increase() "
        "counts its first increment: at least the longest scrape interval and the budget "
        "rules' step.", E + "ZERO_HOLD_SECONDS", 0, 86400),
    Key("labels.caps", "mapping of label to integer", dict(DEFAULT_CAPS),
        "Distinct values kept per label; past a cap, new values become `other`. "
        "`LLM_EXPORTER_CAP_TEAM=500` sets one.", E + "CAP_<LABEL>", 1),
    Key("labels.series_budget", "integer", DEFAULT_SERIES_BUDGET,
        "Series per family; past it, new label sets fold into the family's overflow set.",
        E + "SERIES_BUDGET", 1),
    Key("pricing.catalog", "boolean", True,
        "Price from genai-prices' bundled catalog (needs the `pricing` extra).",
        E + "PRICE_CATALOG"),
    Key("pricing.overrides", "list of prices", [],
        "Your own prices, which win over the catalog (`provider`, `model`, per-million "
        "rates, or `free: true`)."),
    Key("pricing.overrides_file", "file path", None,
        "More overrides from a YAML or JSON file (a list, or a `prices:` list).",
        E + "PRICES_FILE"),
    Key("pricing.pools", "list of GPU pools", [],
        "Self-hosted GPU pools (`name`, `provider`, `models`, `gpus`, `gpu_hour_usd`): "
        "their hours are the cost of the models they serve."),
    Key("pricing.baseline", "provider/model", None,
        "The model savings are measured against (what the same tokens would cost there).",
        E + "BASELINE"),
    Key("pricing.catalog_date", "date", None,
        "The catalog data's date when its own is unknown (for the catalog-age alert)."),
    Key("pricing.override_warn_ratio", "number", 3.0,
        "Warn when an override is this many times above or below the catalog's price "
        "(a typo guard)."),
    Key("server.host", "address", "127.0.0.1", "The sidecar's bind address.", E + "HOST"),
    _int("server.port", DEFAULT_PORT, 0, 65535, "The sidecar's port.", E + "PORT"),
    _secret("server.ingest_token_file", E + "INGEST_TOKEN",
            "A bearer token required on every write."),
    Key("server.metrics_user", "name", None,
        "Basic-auth user for /metrics (also `METRICS_BASIC_AUTH_USER`).",
        E + "METRICS_USER"),
    _secret("server.metrics_password_file", E + "METRICS_PASSWORD",
            "Its password (also `METRICS_BASIC_AUTH_PASS`)."),
    _int("server.max_body_bytes", 1 << 20, 1024, 1 << 30,
         "A request body past this gets 413.", E + "MAX_BODY_BYTES"),
    _int("server.max_batch_events", 1000, 1, 1_000_000,
         "Events per batch; past it, 413 and nothing recorded.", E + "MAX_BATCH_EVENTS"),
    Key("server.collectors", "list of names", list(COLLECTORS),
        f"Host collectors to run ({', '.join(COLLECTORS)}).", E + "COLLECTORS"),
    _flag("server.gpu_processes", "Per-process GPU memory (NVML), bounded like a label.",
          E + "GPU_PROCESSES"),
    Key("server.allowed_hosts", "list of names", None,
        "Host names clients may use besides the bind address and localhost (any name is "
        "accepted when bound to every interface).", E + "ALLOWED_HOSTS"),
    Key("server.allowed_origins", "list of origins", [],
        "Browser origins that may post events (`*`: any).", E + "ALLOWED_ORIGINS"),
    _int("server.idempotency_keys", 10_000, 0, 10_000_000,
         "Answers kept for retries with the same Idempotency-Key.", E + "IDEMPOTENCY_KEYS"),
    _int("server.idempotency_window_seconds", 600, 1, 86400,
         "How long an Idempotency-Key's answer is replayed.",
         E + "IDEMPOTENCY_WINDOW_SECONDS"),
    _int("server.idempotency_max_bytes", 16 << 20, 0, 1 << 34,
         "Memory for the kept answers; past it the oldest go first.",
         E + "IDEMPOTENCY_MAX_BYTES"),
    _int("server.max_header_bytes", 16 * 1024, 1024, 1 << 20,
         "A request head past this gets 431 and is closed.", E + "MAX_HEADER_BYTES"),
    _int("server.request_timeout_seconds", 10, 1, 600,
         "A request not complete this long after its first byte gets 408 and is closed.",
         E + "REQUEST_TIMEOUT_SECONDS"),
    _int("server.keepalive_timeout_seconds", 5, 1, 3600,
         "An idle keep-alive connection is closed after this long.",
         E + "KEEPALIVE_TIMEOUT_SECONDS"),
    _int("server.max_connections", 512, 1, 1_000_000,
         "Connections past this many get 503 and are closed at once.",
         E + "MAX_CONNECTIONS"),
    Key("server.prometheus_url", "http(s) URL", None,
        "Where the read routes, the page and the report ask exact windowed questions; "
        "none: they answer from the sidecar's own counters since it started.",
        E + "PROMETHEUS_URL"),
    Key("server.prometheus_user", "name", None, "Basic-auth user for `prometheus_url`.",
        E + "PROMETHEUS_USER"),
    _secret("server.prometheus_password_file", E + "PROMETHEUS_PASSWORD",
            "Its password (also accepted as `https://user:password@host`, never shown)."),
    _secret("server.prometheus_bearer_token_file", E + "PROMETHEUS_BEARER_TOKEN",
            "A bearer token for `prometheus_url` instead."),
    _secret("server.read_token_file", E + "READ_TOKEN",
            "A bearer token for the read routes, the page and the WebSocket (the metrics "
            "credentials open them too)."),
    _flag("server.public_reads", "Serve reads without credentials although some are "
          "configured (they show team spend and user ids).", E + "PUBLIC_READS"),
    _int("server.recent_requests", 1000, 0, 1_000_000,
         "Requests kept for /api/v1/requests/recent (0: none).", E + "RECENT_REQUESTS"),
    _flag("server.request_log", "Each request as one JSON line on the "
          "`llm_exporter.requests` logger.", E + "REQUEST_LOG"),
    _int("server.history_interval_seconds", 60, 1, 3600,
         "Step of the in-memory history that trends come from without a Prometheus.",
         E + "HISTORY_INTERVAL_SECONDS"),
    _int("server.history_points", 1440, 2, 100_000, "Points kept in that history.",
         E + "HISTORY_POINTS"),
    _int("server.history_max_bytes", 64 << 20, 1 << 20, 1 << 36,
         "Its memory: past it, older points merge (coarser, the same totals).",
         E + "HISTORY_MAX_BYTES"),
)

BY_PATH: Mapping[str, Key] = {k.path: k for k in KEYS}


def section(name: str) -> set[str]:
    """The keys allowed in one section of the file ("" for the top level)."""
    keys = {k.name for k in KEYS if k.section == name}
    if name == "":
        keys |= {k.section.partition(".")[0] for k in KEYS if k.section}
    return keys


def _shown(key: Key) -> str:
    value = key.default
    if value is None or value == [] or value == {}:
        return ""
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return "`" + ", ".join(map(str, value)) + "`"
    return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"


def _bounds(key: Key) -> str:
    if key.low is None:
        return ""
    return f"{key.low:g}..{key.high:g}" if key.high is not None else f"at least {key.low:g}"


def markdown() -> str:
    """The configuration reference: one table per section of the settings file (printed
    by ``llm-exporter settings``; a test keeps docs/reference/configuration.md equal)."""
    out = ["# Configuration reference", "",
           "Generated from `exporter/settings/schema.py` by `llm-exporter settings`; do not "
           "edit by hand. The file is `--config FILE` or `$LLM_EXPORTER_CONFIG` (YAML or "
           "JSON); a variable wins over the file. A secret is read from `$VAR`, "
           "`$VAR_FILE` or the `*_file` key, and never appears in a log or a reply.", ""]
    for name, title in (("", "Top level"), ("labels", "`labels:`"),
                        ("pricing", "`pricing:`"), ("server", "`server:` (the sidecar)")):
        out += [f"## {title}", "", "| key | kind | default | bounds | variable | what for |",
                "|---|---|---|---|---|---|"]
        for k in KEYS:
            if k.section == name:
                env = f"`{k.env}`" if k.env else ""
                out.append(f"| `{k.path}` | {k.kind} | {_shown(k)} | {_bounds(k)} | {env} | "
                           f"{k.doc} |")
        out.append("")
    return "\n".join(out)
