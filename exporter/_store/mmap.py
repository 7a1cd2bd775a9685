"""Exact totals across the worker processes of one app, in memory-mapped files.

Each worker keeps its numbers in segment files of its own in a directory per app
instance; a series' values are a ``memoryview`` of doubles in a segment, so the
recorder's hot path updates them exactly as it updates lists (C-level item updates, no
write calls). Any worker answering ``/metrics`` merges every file of the directory, each
family by its catalog ``merge`` mode (``sum`` over every worker, dead ones included, so
nothing recorded is lost when a worker exits; ``live_sum`` over live workers; ``latest``
written). :mod:`exporter.multiprocess` is the public face (``prepare``).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..catalog import BY_KEY
from . import layout
from .memory import Series, add_usage, new_states

if TYPE_CHECKING:
    from .memory import ZeroHold

MARKER = "instance.json"
SEGMENT_BYTES = 1 << 20
_HEADER = struct.Struct("<Q")       # bytes used in the segment
_RECORD = struct.Struct("<II")      # key length, number of doubles
NAN = float("nan")


class MultiprocessError(RuntimeError):
    """The directory is missing, not prepared, or belongs to another app instance."""


def prepare(directory: str | Path) -> Path:
    """Empty ``directory`` (creating it) and mark it as this process's instance: call it
    in the master process before workers start (gunicorn's ``on_starting``)."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink()
    (path / MARKER).write_text(json.dumps({"master_pid": os.getpid(),
                                           "instance": uuid.uuid4().hex,
                                           "started": time.time()}))
    return path


def check(directory: str | Path) -> dict:
    """The instance marker, if this process (or its parent) prepared the directory."""
    path = Path(directory)
    try:
        marker = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        raise MultiprocessError(
            f"{path} is not prepared: call exporter.multiprocess.prepare({str(path)!r}) in "
            "the master process before workers start (gunicorn: on_starting)") from None
    if marker.get("master_pid") not in (os.getpid(), os.getppid()):
        raise MultiprocessError(
            f"{path} belongs to another app instance (master pid {marker.get('master_pid')},"
            f" ours {os.getppid()}): give each instance its own directory")
    return marker


class SegmentStore:
    """This process's segments: hands out memoryviews of doubles, one per value list."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.started: float = float(check(self.directory).get("started") or time.time())
        """When the directory was prepared: the same instant in every worker."""
        self._prefix = f"llm_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self._segments: list[tuple[mmap.mmap, int]] = []
        self._lock = threading.Lock()
        self._new_segment(SEGMENT_BYTES)

    def _new_segment(self, size: int) -> None:
        path = self.directory / f"{self._prefix}_{len(self._segments):04d}.db"
        with open(path, "w+b") as f:
            f.truncate(size)
            mm = mmap.mmap(f.fileno(), size)
        _HEADER.pack_into(mm, 0, _HEADER.size)
        self._segments.append((mm, size))

    def new(self, key: tuple, n: int, fill: float = 0.0) -> Any:
        """Room for ``n`` numbers identified by ``key`` (the same key in every worker)."""
        raw = json.dumps(key, separators=(",", ":")).encode()
        pad = (-(_RECORD.size + len(raw))) % 8
        need = _RECORD.size + len(raw) + pad + 8 * n
        with self._lock:
            mm, size = self._segments[-1]
            used = _HEADER.unpack_from(mm, 0)[0]
            if used + need > size:
                self._new_segment(max(SEGMENT_BYTES, need + _HEADER.size))
                mm, size = self._segments[-1]
                used = _HEADER.unpack_from(mm, 0)[0]
            _RECORD.pack_into(mm, used, len(raw), n)
            start = used + _RECORD.size
            mm[start:start + len(raw)] = raw
            data = start + len(raw) + pad
            values = memoryview(mm)[data:data + 8 * n].cast("d")
            for i in range(n):
                values[i] = fill
            _HEADER.pack_into(mm, 0, data + 8 * n)  # published last: readers see whole records
        return values


def read_all(directory: str | Path) -> Iterator[tuple[int, tuple, list[float]]]:
    """(pid, key, values) of every record in every segment of the directory."""
    for path in sorted(Path(directory).glob("llm_*.db")):
        pid = int(path.name.split("_")[1])
        with open(path, "rb") as f:
            data = f.read()
        used = _HEADER.unpack_from(data, 0)[0]
        offset = _HEADER.size
        while offset < used:
            key_len, n = _RECORD.unpack_from(data, offset)
            start = offset + _RECORD.size
            key = tuple(json.loads(data[start:start + key_len]))
            first = start + key_len + (-(_RECORD.size + key_len)) % 8
            values = list(struct.unpack_from(f"<{n}d", data, first))
            yield pid, key, values
            offset = first + 8 * n


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def merged_states(store: SegmentStore, namespace: str, hold: ZeroHold | None = None) -> list:
    """Every worker's series, merged family by family (the module docstring), as the
    FamilyState objects the renderer takes.

    With ``hold``, a ``sum`` series reads 0 until ``hold.seconds`` after the first scrape
    that saw it, by *any* worker: that worker writes a ("seen", key...) record into its
    own files and the earliest record counts, so whichever worker answers the next scrape
    makes the same choice (one worker showing the value and another 0 would look like a
    counter reset and count the value twice).
    """
    states = new_states(namespace)
    sums: dict[tuple, list[float]] = {}
    latest: dict[tuple, list[float]] = {}
    seen: dict[tuple, float] = {}
    live: dict[int, bool] = {}
    for pid, key, values in read_all(store.directory):
        if key[0] == "seen":
            inner = tuple(key[1:])
            seen[inner] = min(values[0], seen.get(inner, values[0]))
            continue
        merge = "sum" if key[0] == layout.USAGE_KEY else BY_KEY[key[0]].merge
        if merge == "latest":
            v = values[layout.VALUE]
            if v == v and (key not in latest or
                           values[layout.WRITTEN] >= latest[key][layout.WRITTEN]):
                latest[key] = values
            continue
        if merge == "live_sum":
            if pid not in live:
                live[pid] = alive(pid)
            if not live[pid]:
                continue
        total = sums.get(key)
        if total is None:
            sums[key] = list(values)
        else:
            for i, v in enumerate(values):
                total[i] += v
    if hold is not None:
        for key, values in sums.items():
            if key[0] != layout.USAGE_KEY and BY_KEY[key[0]].merge != "sum":
                continue
            first = seen.get(key)
            if first is None:
                store.new(("seen", *key), 1, hold.now)
            elif hold.now - first >= hold.seconds:
                continue
            sums[key] = [0.0] * len(values)
    for key, values in list(sums.items()) + list(latest.items()):
        labels = tuple(key[1:])
        if key[0] == layout.USAGE_KEY:
            add_usage(states, labels, values)
        else:
            states[key[0]].series[labels] = Series(labels, values, 0)
    return list(states.values())
