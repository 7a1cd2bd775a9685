"""``llm-exporter``: the command line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time

from . import catalog

DEFAULT_PORT = 9473


def _demo(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry

    from .demo import DEMO_SETTINGS, Workload
    from .metrics_server import start_metrics_server
    from .recorder import LLMMetrics

    llm = LLMMetrics(CollectorRegistry(), config=args.config or DEMO_SETTINGS)
    server = start_metrics_server(llm, args.port, args.host)
    print(f"llm-exporter demo: serving http://{args.host}:{server.server_address[1]}/metrics "
          f"(~{args.rate:g} requests/s; Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    workload = Workload(llm, seed=args.seed)
    worker = threading.Thread(target=workload.run, args=(args.rate, stop), daemon=True)
    worker.start()
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while not stop.wait(args.report):
            print(f"  requests={workload.requests} tokens={workload.tokens} "
                  f"cost=${workload.cost:.4f}", flush=True)
            if deadline is not None and time.monotonic() >= deadline:
                stop.set()
    except KeyboardInterrupt:
        stop.set()
    worker.join(timeout=5)
    server.shutdown()
    print(f"stopped: requests={workload.requests} tokens={workload.tokens} "
          f"cost=${workload.cost:.4f}", flush=True)
    return 0


def _price(args: argparse.Namespace) -> int:
    from .config import Settings
    from .labels import normalise_model, normalise_provider

    settings = Settings.load(args.config)
    provider = normalise_provider(args.provider)
    model = normalise_model(provider, args.model)
    rates = settings.price_book().rates(provider, model, batch=args.batch)
    if not rates.priced:
        print(f"{provider}/{model}: no price known (add a price override)")
        return 1
    names = ("input", "cache_read", "cache_write", "output", "reasoning")
    print(f"{provider}/{model} ({rates.source}), USD per million tokens:")
    print("  " + ", ".join(f"{n} {p * 1e6:g}" for n, p in zip(names, rates.base)))
    for start, vec in rates.tiers:
        print(f"  above {start} input tokens: " +
              ", ".join(f"{n} {p * 1e6:g}" for n, p in zip(names, vec)))
    if rates.request_fee:
        print(f"  per request: {rates.request_fee:g}")
    if rates.per_second:
        print(f"  per hour of request time: {rates.per_second * 3600:g}")
    return 0


def catalog_markdown() -> str:
    """The metric catalog as the README's markdown table (a test keeps them in sync)."""
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
    demo = sub.add_parser("demo", help="serve /metrics with a synthetic LLM workload")
    demo.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=DEFAULT_PORT,
                      help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    demo.add_argument("--rate", type=float, default=20.0, help="requests per second")
    demo.add_argument("--duration", type=float, default=0.0,
                      help="stop after this many seconds (default: run until Ctrl-C)")
    demo.add_argument("--report", type=float, default=5.0, help="seconds between totals")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--config", help="settings file (YAML or JSON; default: the demo's "
                      "embedded settings, with a GPU-hour price for ollama and gpt-4o as "
                      "the savings baseline)")
    demo.set_defaults(func=_demo)
    price = sub.add_parser("price", help="show the resolved price of a model")
    price.add_argument("provider")
    price.add_argument("model")
    price.add_argument("--batch", action="store_true", help="batch-API prices")
    price.add_argument("--config", help="settings file with price overrides")
    price.set_defaults(func=_price)
    cat = sub.add_parser("catalog", help="print the metric catalog as a markdown table")
    cat.set_defaults(func=lambda _: print(catalog_markdown(), end="") or 0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ValueError as exc:  # ConfigError and bad arguments: a message, not a traceback
        print(f"llm-exporter: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
