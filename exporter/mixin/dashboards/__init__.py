"""Grafana dashboards as code (grafanalib): one module per dashboard, each a
``build(cfg)``; :mod:`.generate` renders them (needs the ``dashboards`` extra)."""
