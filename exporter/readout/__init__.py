"""Answers about recorded traffic for the read routes, the live page and
``llm-exporter report``: from Prometheus when one is configured (exact windows), else
from the sidecar's own counters and their in-memory history."""
