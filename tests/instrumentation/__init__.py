"""Tests of exporter/instrumentation/."""
