"""Panel helpers shared by the dashboards. Metric names come from the catalog
(``m("cost")`` is ``llm_cost_usd_total``); label filters use the template variables."""

from __future__ import annotations

from grafanalib.core import (
    Dashboard,
    GridPos,
    Stat,
    Table,
    Target,
    Template,
    Templating,
    TimeSeries,
)

from exporter.catalog import family, metric_name

DATASOURCE = "${datasource}"
RATE = "$__rate_interval"
VARIABLES = ("job", "provider", "model", "team", "tier")


def m(key: str) -> str:
    """The scraped name of a catalog family."""
    return metric_name(key)


def sel(key: str, *extra: str) -> str:
    """Label matchers for a family: each template variable the family has a label for,
    plus ``extra`` matchers (``'status="error"'``)."""
    labels = set(family(key).labels)
    parts = ['job=~"$job"'] + [f'{v}=~"${v}"' for v in VARIABLES[1:] if v in labels]
    return "{" + ",".join(parts + list(extra)) + "}"


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False,
           fmt: str = "time_series") -> Target:
    return Target(expr=expr, legendFormat=legend, refId=ref, datasource=DATASOURCE,
                  instant=instant, format=fmt)


def timeseries(title: str, targets: list[Target], unit: str, x: int, y: int, w: int = 12,
               h: int = 8, stacked: bool = False, description: str = "") -> TimeSeries:
    return TimeSeries(title=title, targets=targets, unit=unit, dataSource=DATASOURCE,
                      gridPos=GridPos(h=h, w=w, x=x, y=y), description=description,
                      stacking={"mode": "normal", "group": "A"} if stacked else {},
                      fillOpacity=30 if stacked else 0, legendDisplayMode="table",
                      legendCalcs=["mean", "max", "lastNotNull"])


def stat(title: str, expr: str, unit: str, x: int, y: int, w: int = 6, h: int = 4,
         description: str = "") -> Stat:
    return Stat(title=title, targets=[target(expr, instant=True)], format=unit,
                dataSource=DATASOURCE, gridPos=GridPos(h=h, w=w, x=x, y=y),
                description=description, reduceCalc="lastNotNull", graphMode="none")


def table(title: str, expr: str, x: int, y: int, w: int = 12, h: int = 8, unit: str = "",
          description: str = "") -> Table:
    return Table(title=title, targets=[target(expr, instant=True, fmt="table")],
                 dataSource=DATASOURCE, gridPos=GridPos(h=h, w=w, x=x, y=y), unit=unit,
                 description=description)


def templating(*variables: str) -> Templating:
    """The datasource variable, then multi-value "All" variables for ``variables``."""
    source = {"provider": "requests", "model": "requests", "team": "requests",
              "tier": "requests", "instance": "build_info", "job": "build_info"}
    out = [Template(name="datasource", query="prometheus", type="datasource",
                    label="Data source", default="Prometheus")]
    for v in variables:
        key = source[v]
        query = (f"label_values({m(key)}, {v})" if v == "job"
                 else f'label_values({m(key)}{{job=~"$job"}}, {v})')
        out.append(Template(name=v, label=v, query=query, dataSource=DATASOURCE,
                            includeAll=True, multi=True, allValue=".*", default="All",
                            refresh=2))
    return Templating(list=out)


def dashboard(uid: str, title: str, description: str, panels: list, variables: tuple[str, ...],
              tags: list[str]) -> Dashboard:
    return Dashboard(uid=uid, title=title, description=description, panels=panels,
                     templating=templating(*variables), tags=["llm", *tags], refresh="30s",
                     timezone="browser", editable=True).auto_panel_ids()
