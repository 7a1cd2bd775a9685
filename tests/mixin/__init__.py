"""Tests of exporter/mixin/: the generated rules (with promtool) and dashboards."""
