"""Tests of exporter/_store/: layout, zero-first exposition, exemplars, multiprocess files."""
