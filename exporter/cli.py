"""``llm-exporter``: the command line."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import catalog
from .settings.load import DEFAULT_PORT, ConfigError
from .settings.schema import markdown as settings_markdown


def _settings(args: argparse.Namespace, demo: bool = False) -> Any:
    from dataclasses import replace

    from .settings.load import Settings

    if args.config or not demo:
        settings = Settings.load(args.config)
    else:
        from .demo import DEMO_SETTINGS

        settings = replace(DEMO_SETTINGS, server=Settings.load().server)
    server = settings.server
    if args.host is not None:
        server = replace(server, host=args.host)
    if args.port is not None:
        server = replace(server, port=args.port)
    return replace(settings, server=server)


def _serve(args: argparse.Namespace, demo: bool = False) -> int:
    from .server import bind, build_app, serve

    settings = _settings(args, demo)
    app = build_app(settings)
    try:
        sock = bind(settings.server.host, settings.server.port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {settings.server.host}:{settings.server.port}: "
                          f"{exc.strerror} (another process there? choose another with "
                          "--port)") from None
    port = sock.getsockname()[1]
    stop = threading.Event()
    what = f"demo workload at ~{args.rate:g} requests/s" if demo else "sidecar"
    auth = []
    if settings.server.ingest_token:
        auth.append("ingest needs a bearer token")
    if settings.server.metrics_user:
        auth.append("/metrics needs basic auth")
    server = settings.server
    if (server.ingest_token or server.metrics_user or server.read_token) \
            and not server.public_reads:
        auth.append("reads need the read token or the metrics credentials")
    print(f"llm-exporter {what}: http://{settings.server.host}:{port}/metrics "
          f"(ingest: POST /v1/events; docs: /docs{'; ' + ', '.join(auth) if auth else ''})",
          flush=True)
    threads = []
    if demo:
        from .demo import Workload

        workload = Workload(app.llm, seed=args.seed)
        threads.append(threading.Thread(target=workload.run, args=(args.rate, stop),
                                        daemon=True))

        def report() -> None:
            deadline = time.monotonic() + args.duration if args.duration else None
            while not stop.wait(args.report):
                print(f"  requests={workload.requests} tokens={workload.tokens} "
                      f"cost=${workload.cost:.4f}", flush=True)
                if deadline is not None and time.monotonic() >= deadline:
                    stop.set()

        threads.append(threading.Thread(target=report, daemon=True))

    def started() -> None:
        for t in threads:
            t.start()

    serve(app, sock, on_started=started, stop=stop)
    stop.set()
    if demo:
        print(f"stopped: requests={workload.requests} tokens={workload.tokens} "
              f"cost=${workload.cost:.4f}", flush=True)
    return 0


def _prices(args: argparse.Namespace) -> int:
    import json

    from .pricing.lookup import lookup, text
    from .settings.load import Settings

    provider, model = (None, args.names[0]) if len(args.names) == 1 else args.names[:2]
    if len(args.names) > 2:
        raise ValueError("prices takes MODEL or PROVIDER MODEL")
    found = lookup(Settings.load(args.config).price_book(), provider, model, batch=args.batch)
    sys.stdout.write(json.dumps(found, indent=2) + "\n" if args.json else text(found))
    return 0 if found["priced"] else 1


def _rules(args: argparse.Namespace) -> int:
    from .mixin.config import load_alert_config, local_grafana
    from .mixin.rules import write

    if local_grafana(load_alert_config(args.config)):
        sys.stderr.write(
            "warning: grafana_url is localhost: every alert's dashboard link will point at "
            "the on-call engineer's own machine. Set grafana_url in the alerts config to "
            "your Grafana (the Slack message warns until you do).\n")
    if args.format == "prometheusrule":
        from .mixin.kubernetes import dump, prometheus_rule
        from .mixin.rules import generate

        return _emit(dump([prometheus_rule(generate(load_alert_config(args.config)))]),
                     args.out)
    for path in write(args.config, args.out or "alerts/generated"):
        print(f"wrote {path}")
    return 0


def _emit(text: str, out: str | None) -> int:
    """One generated file: to ``out``, or to stdout."""
    if out:
        Path(out).write_text(text)
        print(f"wrote {out}")
    else:
        sys.stdout.write(text)
    return 0


def _dashboards(args: argparse.Namespace) -> int:
    try:
        from .mixin.dashboards.generate import write
    except ImportError as exc:
        print(f"llm-exporter dashboards needs the dashboards extra "
              f"(pip install 'llm-exporter[dashboards]'): {exc}", file=sys.stderr)
        return 2
    if args.format == "configmap":
        from .mixin.config import load_alert_config
        from .mixin.dashboards.generate import render
        from .mixin.kubernetes import compact, dashboard_configmaps, dump

        boards = render(load_alert_config(args.config))
        return _emit(dump(dashboard_configmaps({k: compact(v) for k, v in boards.items()})),
                     args.out)
    for path in write(args.config, args.out or "dashboards/json"):
        print(f"wrote {path}")
    return 0


def catalog_markdown() -> str:
    """The metric catalog as the markdown table of docs/metrics.md (a test keeps them in sync)."""
    rows = ["| name | type | labels | unit | buckets |", "|---|---|---|---|---|"]
    for f in catalog.LLM_FAMILIES + catalog.EXPORTER_FAMILIES:
        buckets = ""
        if f.buckets:
            b = f.buckets
            buckets = ", ".join(f"{x:g}" for x in b) if len(b) <= 6 else \
                f"{b[0]:g}, {b[1]:g}, {b[2]:g} … {b[-1]:g} ({len(b)})"
        rows.append(f"| `{f.name}` | {f.kind} | {', '.join(f.labels)} | {f.unit} | {buckets} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llm-exporter", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the sidecar")
    demo = sub.add_parser("demo", help="run the sidecar with a synthetic LLM workload")
    for p in (serve, demo):
        p.add_argument("--host", help="bind address (default 127.0.0.1; 0.0.0.0 in a "
                                      "container)")
        p.add_argument("--port", type=int,
                       help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
        p.add_argument("--config", help="settings file (YAML or JSON)")
    serve.set_defaults(func=_serve)
    demo.add_argument("--rate", type=float, default=20.0, help="requests per second")
    demo.add_argument("--duration", type=float, default=0.0,
                      help="stop after this many seconds (default: run until Ctrl-C)")
    demo.add_argument("--report", type=float, default=5.0, help="seconds between totals")
    demo.add_argument("--seed", type=int, default=1)
    demo.set_defaults(func=lambda a: _serve(a, demo=True))
    price = sub.add_parser("prices", aliases=["price"],
                           help="a model's resolved prices, their source and date")
    price.add_argument("names", nargs="+", metavar="[PROVIDER] MODEL",
                       help="the model, optionally after its provider")
    price.add_argument("--batch", action="store_true", help="batch-API prices")
    price.add_argument("--json", action="store_true", help="as JSON")
    price.add_argument("--config", help="settings file with price overrides and pools")
    price.set_defaults(func=_prices)
    rules = sub.add_parser("rules", help="generate Prometheus rules from alerts/config.yml "
                                         "(its namespace key names the metrics)")
    rules.add_argument("--config", default="alerts/config.yml")
    rules.add_argument("--out", help="a directory (default alerts/generated), or with "
                                     "--format prometheusrule a file (default stdout)")
    rules.add_argument("--format", choices=("files", "prometheusrule"), default="files",
                       help="rule files, or one prometheus-operator PrometheusRule")
    rules.set_defaults(func=_rules)
    boards = sub.add_parser("dashboards", help="generate the Grafana dashboards' JSON from "
                                               "alerts/config.yml (namespace, thresholds)")
    boards.add_argument("--config", default="alerts/config.yml")
    boards.add_argument("--out", help="a directory (default dashboards/json), or with "
                                      "--format configmap a file (default stdout)")
    boards.add_argument("--format", choices=("json", "configmap"), default="json",
                        help="dashboard JSON files, or ConfigMaps for Grafana's sidecar")
    boards.set_defaults(func=_dashboards)
    from .read.report import add_parser as add_report

    add_report(sub)
    cat = sub.add_parser("catalog", help="print the metric catalog as a markdown table")
    cat.set_defaults(func=lambda _: print(catalog_markdown(), end="") or 0)
    ref = sub.add_parser("settings", help="print the configuration reference (markdown)")
    ref.set_defaults(func=lambda _: print(settings_markdown(), end="") or 0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ValueError as exc:  # ConfigError and bad arguments: a message, not a traceback
        print(f"llm-exporter: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
