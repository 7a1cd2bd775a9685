"""Tests of exporter/server/: the sidecar app over loopback."""
