"""The monitoring mixin: one alert config (alerts/config.yml: namespace, selector,
thresholds, budgets) -> Prometheus rules (:mod:`.rules`, with :mod:`.budget`) and Grafana
dashboards (:mod:`.dashboards`), both reading metric names from the catalog and recorded
series names from :mod:`.names`, so a dashboard panel shows the number its alert fires
on. ``llm-exporter rules`` and ``llm-exporter dashboards`` write them; the committed
alerts/generated/ and dashboards/json/ must equal that output (tests check)."""
