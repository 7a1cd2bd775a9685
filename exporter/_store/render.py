"""Render series state: Prometheus text 0.0.4, OpenMetrics 1.0, or prometheus_client
``Metric`` objects for apps that serve client_python's registry.

All three read the same :class:`~exporter._store.memory.FamilyState` objects, so they give the
same samples. Sample-line prefixes are cached per series; a scrape formats numbers
and joins strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..catalog import Family
from .memory import FamilyState, UpdateLock, ZeroHold, escape_label_value

Exemplar = tuple[str, float, float]
"""(trace id, value, time) of the latest traced observation in one slot."""
ExemplarMap = dict[int, dict[int, Exemplar]]
"""Per value list (by identity), per slot: see :class:`~exporter._store.memory.Exemplars`."""


def _help_text(text: str, openmetrics: bool) -> str:
    text = text.replace("\\", r"\\").replace("\n", r"\n")
    return text.replace('"', r"\"") if openmetrics else text


def _headers(add: Any, fam: Family, name: str, openmetrics: bool) -> None:
    header = name[: -len("_total")] if openmetrics and fam.kind == "counter" \
        and name.endswith("_total") else name
    add(f"# HELP {header} {_help_text(fam.help, openmetrics)}")
    add(f"# TYPE {header} {fam.kind}")
    if openmetrics and fam.unit:
        add(f"# UNIT {header} {fam.unit}")


def _exemplar(e: Exemplar) -> str:
    return f' # {{trace_id="{escape_label_value(e[0])}"}} {e[1]!r} {e[2]:.3f}'


def render(states: Iterable[FamilyState], lock: UpdateLock, *,
           openmetrics: bool = False, created: bool = False, eof: bool = True,
           exemplars: ExemplarMap | None = None, hold: ZeroHold | None = None) -> bytes:
    """The exposition of ``states``. ``created`` adds ``_created`` samples (OpenMetrics
    only: the text format would need separate gauge families for them). ``eof=False``
    leaves OpenMetrics' ``# EOF`` off, for a caller that appends more families.
    ``hold`` shows new counter and histogram series at 0 first (:class:`ZeroHold`)."""
    out: list[str] = []
    add = out.append
    created = created and openmetrics

    def add_zeros(prefixes: tuple[str, ...]) -> None:
        for prefix in prefixes:
            add(prefix + "0")
    for st in states:
        fam = st.family
        kind = fam.kind
        name = st.name
        _headers(add, fam, name, openmetrics)
        labels, le, offset = fam.labels, st.le, st.offset
        stamps = st.created if created else None
        with lock:
            if kind == "histogram":
                n = len(le)
                for s in st.series.values():
                    pre = s.text or s.histogram_prefixes(name, labels, le)
                    if hold is not None and hold.hides(s):
                        add_zeros(pre)  # type: ignore[arg-type]
                        if stamps is not None:
                            add(s.created_prefix(name, labels) + str(stamps[s.labels]))
                        continue
                    v = s.values
                    ex = exemplars.get(id(v)) if exemplars else None
                    acc = 0
                    for i in range(n):
                        acc += v[i]
                        if ex and i in ex:
                            add(pre[i] + str(acc) + _exemplar(ex[i]))
                        else:
                            add(pre[i] + str(acc))
                    add(pre[n] + str(acc))
                    add(pre[n + 1] + str(v[n]))
                    if stamps is not None:
                        add(s.created_prefix(name, labels) + str(stamps[s.labels]))
            else:
                counter_hold = hold if kind == "counter" else None
                for s in st.series.values():
                    if counter_hold is not None and counter_hold.hides(s):
                        add(name + (s.text or s.label_text(labels)) + "0")  # type: ignore[operator]
                        if stamps is not None:
                            add(s.created_prefix(name, labels) + str(stamps[s.labels]))
                        continue
                    value = s.values[s.index + offset]
                    if value is None or value != value:  # unset gauge (None, or NaN in files)
                        continue
                    line = name + (s.text or s.label_text(labels)) + str(value)  # type: ignore[operator]
                    if exemplars and kind == "counter":
                        ex = exemplars.get(id(s.values))
                        if ex and s.index + offset in ex:
                            line += _exemplar(ex[s.index + offset])
                    add(line)
                    if stamps is not None and kind == "counter":
                        add(s.created_prefix(name, labels) + str(stamps[s.labels]))
    if openmetrics and eof:
        add("# EOF")
    add("")
    return "\n".join(out).encode()


def render_samples(samples: Iterable[tuple[Family, list[tuple[tuple[str, ...], float]]]],
                   namespace: str, *, openmetrics: bool = False, eof: bool = True) -> bytes:
    """Counter and gauge samples computed at scrape time (the sidecar's collectors)."""
    out: list[str] = []
    add = out.append
    for fam, rows in samples:
        name = fam.full_name(namespace)
        _headers(add, fam, name, openmetrics)
        for labels, value in rows:
            pairs = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in zip(fam.labels, labels))
            add(f"{name}{{{pairs}}} {value!r}" if pairs else f"{name} {value!r}")
    if openmetrics and eof:
        add("# EOF")
    add("")
    return "\n".join(out).encode()


def metric_families(states: Iterable[FamilyState], lock: UpdateLock,
                    created: bool = False, hold: ZeroHold | None = None,
                    exemplars: ExemplarMap | None = None) -> Iterator:
    """The same samples as prometheus_client Metric objects (for ``registry.collect``),
    exemplars included: client_python's OpenMetrics output shows them."""
    from prometheus_client.metrics_core import Metric
    from prometheus_client.samples import Exemplar as ClientExemplar

    def exemplar(ex: dict[int, Exemplar] | None, slot: int) -> Any:
        e = ex.get(slot) if ex else None
        return None if e is None else ClientExemplar({"trace_id": e[0]}, e[1], e[2])

    for st in states:
        fam = st.family
        kind = fam.kind
        name = st.name
        base = name[: -len("_total")] if kind == "counter" and name.endswith("_total") else name
        metric = Metric(base, fam.help, kind, fam.unit)
        labels = fam.labels
        stamps = st.created or {}
        series_hold = hold if kind != "gauge" else None
        with lock:
            rows: list[tuple[Any, Any, Any, Any, int]] = []
            for s in st.series.values():
                hidden = series_hold is not None and series_hold.hides(s)
                slot = s.index + st.offset
                if kind == "histogram":
                    v: Any = [0] * len(s.values) if hidden else list(s.values)
                else:
                    v = 0 if hidden else s.values[slot]
                ex = None if hidden or not exemplars else exemplars.get(id(s.values))
                rows.append((s.labels, v, stamps.get(s.labels), ex, slot))
        for values, v, ts, ex, slot in rows:
            lab = dict(zip(labels, values))
            if kind == "histogram":
                acc = 0
                for i, (bound, count) in enumerate(zip(st.le, v)):
                    acc += count
                    metric.add_sample(name + "_bucket", {**lab, "le": bound}, acc,
                                      exemplar=exemplar(ex, i))
                metric.add_sample(name + "_count", lab, acc)
                metric.add_sample(name + "_sum", lab, v[-1])
                if created:
                    metric.add_sample(name + "_created", lab, ts)
            elif v is not None and v == v:
                metric.add_sample(name, lab, v,
                                  exemplar=exemplar(ex, slot) if kind == "counter" else None)
                if created and kind == "counter":
                    metric.add_sample(base + "_created", lab, ts)
        yield metric


SampleKey = tuple[str, tuple[tuple[str, str], ...]]
"""(sample name, label pairs sorted by name): how readers index a sample."""


def sample_values(states: Iterable[FamilyState], lock: UpdateLock,
                  keys: dict[tuple[str, tuple[str, ...]], tuple[SampleKey, ...]]
                  ) -> dict[SampleKey, float]:
    """The samples of :func:`metric_families` (no ``_created``, no hold) as
    {(name, sorted label pairs): value}, without building Metric objects: what the
    read side's shared snapshot takes. ``keys`` keeps each series' sample keys across
    calls (the caller bounds it)."""
    out: dict[SampleKey, float] = {}
    taken: list[tuple[FamilyState, list[tuple[tuple[str, ...], Any]]]]
    with lock:  # all families at once: a snapshot never holds half of a request
        taken = [(st, [(s.labels, list(s.values) if st.family.kind == "histogram"
                        else s.values[s.index + st.offset]) for s in st.series.values()])
                 for st in states]
    for st, rows in taken:
        name = st.name
        histogram = st.family.kind == "histogram"
        for labels, v in rows:
            ks = keys.get((name, labels))
            if ks is None:
                ks = keys[(name, labels)] = _sample_keys(st, labels)
            if histogram:
                acc = 0
                for k, n in zip(ks[:-2], v):
                    acc += n
                    out[k] = float(acc)
                out[ks[-2]] = float(acc)
                out[ks[-1]] = float(v[-1])
            elif v is not None and v == v:
                out[ks[0]] = float(v)
    return out


def _sample_keys(st: FamilyState, labels: tuple[str, ...]) -> tuple[SampleKey, ...]:
    """One series' sample keys: its value's, or a histogram's buckets, count and sum."""
    names = st.family.labels
    pairs = tuple(sorted(zip(names, labels)))
    if st.family.kind != "histogram":
        return ((st.name, pairs),)
    at = sum(1 for n in names if n < "le")  # where "le" sorts among the names
    head, tail = pairs[:at], pairs[at:]
    return (*((st.name + "_bucket", (*head, ("le", b), *tail)) for b in st.le),
            (st.name + "_count", pairs), (st.name + "_sum", pairs))


def describe(states: Iterable[FamilyState]) -> list:
    """Empty Metric objects naming each family, so a registry can detect clashes."""
    from prometheus_client.metrics_core import Metric

    out = []
    for st in states:
        kind = st.family.kind
        name = st.name
        base = name[: -len("_total")] if kind == "counter" and name.endswith("_total") else name
        out.append(Metric(base, st.family.help, kind, st.family.unit))
    return out
