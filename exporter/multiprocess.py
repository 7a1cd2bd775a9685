"""Exact totals across the worker processes of one app (gunicorn, uvicorn --workers).

Set-up (gunicorn): clean the directory once, in the master, before workers start::

    # gunicorn.conf.py
    from exporter import multiprocess
    def on_starting(server):
        multiprocess.prepare("/run/myapp/llm-metrics")

and create ``LLMMetrics(multiprocess_dir="/run/myapp/llm-metrics")`` in each worker (or
set ``LLM_EXPORTER_MULTIPROC_DIR``). ``prepare`` writes a marker naming the master
process; a worker whose parent is not that master refuses the directory, so two app
instances never share state by accident. Any worker's ``/metrics`` then shows the
sums over every worker, dead ones included (gauges: the most recently set value;
``llm_requests_in_flight``: live workers only). The files: :mod:`exporter._store.mmap`.
"""

from __future__ import annotations

from ._store.mmap import MultiprocessError, prepare

__all__ = ["MultiprocessError", "prepare"]
