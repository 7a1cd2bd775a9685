"""Exact totals across the worker processes of one app, in memory-mapped files.

Each worker keeps its numbers in segment files of its own in a directory per app
instance; a series' values are a ``memoryview`` of doubles in a segment, so the
recorder's hot path updates them exactly as it updates lists (C-level item updates, no
write calls). Any worker answering ``/metrics`` merges every file of the directory, each
family by its catalog ``merge`` mode (``sum`` over every worker, dead ones included, so
nothing recorded is lost when a worker exits; ``live_sum`` over live workers; ``latest``
written). Dead workers' files are compacted into one archive as a scrape finds them, so
a long-lived app whose workers come and go reads one file per live worker plus one.
:mod:`exporter.multiprocess` is the public face (``prepare``).
"""

from __future__ import annotations

import contextlib
import fcntl
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

from .._exceptions import MultiprocessError
from ..catalog import BY_KEY
from . import layout
from .memory import Series, add_usage, new_states

if TYPE_CHECKING:
    from .memory import ZeroHold

MARKER = "instance.json"
LOCK = "merge.lock"
#: The pid in the name of the archive that holds what dead workers recorded.
ARCHIVE_PID = 0
SEGMENT_BYTES = 1 << 20
_HEADER = struct.Struct("<Q")       # bytes used in the segment
_RECORD = struct.Struct("<II")      # key length, number of doubles
NAN = float("nan")


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


def _pid(path: Path) -> int:
    return int(path.name.split("_")[1])


def read_all(directory: str | Path) -> Iterator[tuple[int, tuple, list[float]]]:
    """(pid, key, values) of every record in every segment of the directory."""
    for path in sorted(Path(directory).glob("llm_*.db")):
        yield from _records(path)


def _records(path: Path) -> Iterator[tuple[int, tuple, list[float]]]:
    pid = _pid(path)
    with open(path, "rb") as f:
        data = f.read()
    if len(data) >= _HEADER.size:
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


def _write(path: Path, records: list[tuple[tuple, list[float]]]) -> None:
    """One segment file holding ``records``, in the workers' format."""
    parts = [b""]
    used = _HEADER.size
    for key, values in records:
        raw = json.dumps(key, separators=(",", ":")).encode()
        pad = (-(_RECORD.size + len(raw))) % 8
        chunk = _RECORD.pack(len(raw), len(values)) + raw + b"\0" * pad + \
            struct.pack(f"<{len(values)}d", *values)
        parts.append(chunk)
        used += len(chunk)
    parts[0] = _HEADER.pack(used)
    with open(path, "wb") as f:
        f.write(b"".join(parts))
        f.flush()
        os.fsync(f.fileno())


@contextlib.contextmanager
def _locked(directory: Path, exclusive: bool) -> Iterator[bool]:
    """The directory's merge lock: shared while reading the files, exclusive while
    compacting them (so no reader sees an archive and the files it replaced). Yields
    False when ``exclusive`` and another process holds it (compaction can wait)."""
    with open(directory / LOCK, "a+b") as f:
        try:
            fcntl.flock(f, (fcntl.LOCK_EX | fcntl.LOCK_NB) if exclusive else fcntl.LOCK_SH)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _foldable(path: Path) -> list[Path]:
    """The files a compaction would fold: dead workers' and archives, when that is more
    than the one archive already there."""
    old = [f for f in sorted(path.glob("llm_*.db"))
           if _pid(f) == ARCHIVE_PID or not alive(_pid(f))]
    if all(_pid(f) == ARCHIVE_PID for f in old) and len(old) < 2:
        return []
    return old


def compact(directory: str | Path) -> int:
    """Fold the files of dead workers (and earlier archives) into one archive file
    (pid 0), each family by its merge mode, so that a scrape reads one file per live
    worker plus one, however many workers died. Returns the files folded (0 when there
    was nothing to do, or another process is compacting)."""
    path = Path(directory)
    if not _foldable(path):
        return 0
    with _locked(path, exclusive=True) as mine:
        old = _foldable(path) if mine else []  # again: another may have just done it
        if not old:
            return 0
        sums: dict[tuple, list[float]] = {}
        latest: dict[tuple, list[float]] = {}
        seen: dict[tuple, list[float]] = {}
        for f in old:
            for _, key, values in _records(f):
                if key[0] == "seen":
                    if key not in seen or values[0] < seen[key][0]:
                        seen[key] = values
                    continue
                merge = "sum" if key[0] == layout.USAGE_KEY else BY_KEY[key[0]].merge
                if merge == "live_sum":
                    continue  # a dead worker's in-flight requests are over
                if merge == "latest":
                    if values[layout.VALUE] == values[layout.VALUE] and (
                            key not in latest or
                            values[layout.WRITTEN] >= latest[key][layout.WRITTEN]):
                        latest[key] = values
                    continue
                total = sums.setdefault(key, [0.0] * len(values))
                for i, v in enumerate(values):
                    total[i] += v
        tmp = path / f".archive-{uuid.uuid4().hex}.tmp"
        _write(tmp, [*sums.items(), *latest.items(), *seen.items()])
        os.replace(tmp, path / f"llm_{ARCHIVE_PID}_{uuid.uuid4().hex[:8]}_0000.db")
        for f in old:
            f.unlink()
    return len(old)


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
    compact(store.directory)
    with _locked(store.directory, exclusive=False):
        records = list(read_all(store.directory))
    for pid, key, values in records:
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
