"""Tests of exporter/collectors/."""
