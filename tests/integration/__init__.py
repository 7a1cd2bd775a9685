"""Integration: the sidecar fuzzed and loaded over loopback."""
