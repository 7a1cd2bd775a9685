"""A small WSGI app recording LLM requests in each gunicorn worker (multiprocess mode)."""

from __future__ import annotations

import os
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry

from exporter import LLMMetrics

_llm: LLMMetrics | None = None


def llm() -> LLMMetrics:
    """One recorder per worker, created after the fork."""
    global _llm
    if _llm is None:
        _llm = LLMMetrics(CollectorRegistry(), config=None)  # LLM_EXPORTER_MULTIPROC_DIR
    return _llm


def app(environ: dict, start_response) -> list[bytes]:
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    path = environ["PATH_INFO"]
    if path == "/record":
        llm().record_request(provider="openai", model="gpt-4o", team=query["team"],
                             input_tokens=int(query["input"]), output_tokens=3,
                             duration_seconds=0.5)
        body = str(os.getpid()).encode()
    elif path == "/provider":
        llm().set_provider_state(provider="ollama", up=query["up"] == "1")
        body = str(os.getpid()).encode()
    elif path == "/metrics":
        body = llm().exposition()
    else:
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
