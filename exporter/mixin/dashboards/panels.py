"""Panel helpers shared by the dashboards.

Metric names come from the catalog and recorded series from the rule generator's
:class:`~exporter.mixin.names.Names`, both in the namespace of the alert config, whose
thresholds the stat panels also show. A :class:`Board` knows its template variables, so
a query only filters on variables its dashboard defines (a ``$team`` on a dashboard
without it matches nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from grafanalib.core import (
    Dashboard,
    GridPos,
    Heatmap,
    HeatmapColor,
    Stat,
    Table,
    Target,
    Template,
    Templating,
    TimeSeries,
    YAxis,
)

from ...catalog import family
from ..names import Names

DATASOURCE = "${datasource}"
RATE = "$__rate_interval"


def steps(*levels: float, colors: tuple[str, ...] = ("green", "orange", "red")) -> list:
    """Threshold steps: the base colour, then one step per level."""
    return [{"color": colors[0], "value": None}] + [
        {"color": c, "value": v} for c, v in zip(colors[1:], levels)]


class Board:
    """One dashboard's variables and the selectors built from them."""

    #: variable -> (catalog family its values come from)
    SOURCES = {"job": "build_info", "instance": "build_info", "provider": "requests",
               "model": "requests", "team": "requests", "tier": "requests"}

    def __init__(self, names: Names, *variables: str) -> None:
        self.names = names
        self.variables = variables

    def sel(self, key: str, *extra: str) -> str:
        """Label matchers for a scraped catalog family: its target labels (job, instance)
        and each label of the family that this board has a variable for, plus ``extra``
        (``'status="error"'``)."""
        return self.labels(("job", "instance", *family(key).labels), *extra)

    def labels(self, labels: Iterable[str], *extra: str) -> str:
        """Matchers for a series with ``labels`` (a recorded series has no job)."""
        have = set(labels)
        parts = [f'{v}=~"${v}"' for v in self.variables if v in have]
        return "{" + ",".join(parts + list(extra)) + "}"

    def templating(self) -> Templating:
        out = [Template(name="datasource", query="prometheus", type="datasource",
                        label="Data source", default="Prometheus")]
        for v in self.variables:
            metric = self.names.metric(self.SOURCES[v])
            query = (f"label_values({metric}, {v})" if v == "job"
                     else f'label_values({metric}{{job=~"$job"}}, {v})')
            out.append(Template(name=v, label=v, query=query, dataSource=DATASOURCE,
                                includeAll=True, multi=True, allValue=".*", default="All",
                                refresh=2))
        return Templating(list=out)

    def dashboard(self, uid: str, title: str, description: str, panels: list,
                  tags: list[str]) -> Dashboard:
        return Dashboard(uid=uid, title=title, description=description, panels=panels,
                         templating=self.templating(), tags=["llm", *tags], refresh="30s",
                         timezone="browser", editable=True).auto_panel_ids()


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False,
           fmt: str = "time_series") -> Target:
    """``intervalFactor=1``: each point's step is the panel interval, which
    ``$__rate_interval`` covers whole (grafanalib's default 2 skips half of every step)."""
    return Target(expr=expr, legendFormat=legend, refId=ref, datasource=DATASOURCE,
                  instant=instant, format=fmt, intervalFactor=1)


def timeseries(title: str, targets: list[Target], unit: str, x: int, y: int,
               description: str, w: int = 12, h: int = 8, stacked: bool = False,
               thresholds: list | None = None) -> TimeSeries:
    return TimeSeries(title=title, targets=targets, unit=unit, dataSource=DATASOURCE,
                      gridPos=GridPos(h=h, w=w, x=x, y=y), description=description,
                      stacking={"mode": "normal", "group": "A"} if stacked else {},
                      fillOpacity=30 if stacked else 0, legendDisplayMode="table",
                      legendCalcs=["mean", "max", "lastNotNull"], maxDataPoints=None,
                      thresholds=thresholds or steps(colors=("transparent",)),
                      thresholdsStyleMode="line" if thresholds else "off")


def stat(title: str, expr: str, unit: str, x: int, y: int, description: str,
         thresholds: list, w: int = 4, h: int = 4) -> Stat:
    return Stat(title=title, targets=[target(expr, instant=True)], format=unit,
                dataSource=DATASOURCE, gridPos=GridPos(h=h, w=w, x=x, y=y),
                description=description, reduceCalc="lastNotNull", graphMode="none",
                thresholds=thresholds, colorMode="background", maxDataPoints=None)


def table(title: str, targets: list[Target], x: int, y: int, description: str,
          w: int = 12, h: int = 8, unit: str = "", transformations: list | None = None,
          overrides: list | None = None) -> Table:
    return Table(title=title, targets=targets, dataSource=DATASOURCE,
                 gridPos=GridPos(h=h, w=w, x=x, y=y), unit=unit, description=description,
                 transformations=transformations or [], overrides=overrides or [],
                 maxDataPoints=None)


def heatmap(title: str, expr: str, x: int, y: int, description: str, w: int = 12,
            h: int = 8) -> Heatmap:
    """A latency heatmap from histogram buckets: how requests spread, not one quantile."""
    return Heatmap(title=title, targets=[target(expr, "{{le}}", fmt="heatmap")],
                   dataSource=DATASOURCE, gridPos=GridPos(h=h, w=w, x=x, y=y),
                   description=description, dataFormat="tsbuckets", hideZeroBuckets=True,
                   color=HeatmapColor(mode="spectrum", colorScheme="interpolateOranges"),
                   yAxis=YAxis(format="s"), maxDataPoints=None,
                   extraJson={"options": {"calculate": False, "yAxis": {"unit": "s"},
                                          "cellGap": 1}})


def merge_columns(names: dict[str, str], hide: Iterable[str] = ("Time",)) -> list[dict[str, Any]]:
    """Transformations that join instant table queries on their labels and name the
    value columns (``{"Value #A": "Spent"}``)."""
    return [{"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {h: True for h in hide},
                                           "renameByName": names}}]
