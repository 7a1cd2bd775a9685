"""Grafana dashboards as code (grafanalib). ``python -m dashboards`` writes json/."""
