"""Reading TensorBoard event files with the tensorboard package's own record reader
(`event_file_loader.RawEventFileLoader`, which uses TensorFlow's reader when TensorFlow is
installed and tensorboard's pure-Python one otherwise) and its protos.

The loader stops quietly at a truncated or corrupt record; we count the bytes of the records
it returned (each record is its payload plus 16 bytes of framing), so a file that was not read
to its end is reported by name, with what was imported from it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, NamedTuple

from .._warn import warn

_RECORD_FRAMING = 16  # 8-byte length, 4-byte length crc, 4-byte data crc

# what the importer yields: (step, wall time, kind, tag, payload)
#   kind "scalar": payload float; "histo": a HistogramProto; "rows": [[left, right, count]];
#   "hparams": {name: value}; "skip": the plugin name of a summary we do not import
Record = tuple[int, float, str, str, Any]


def is_event_file(name: str) -> bool:
    return "tfevents" in name


def event_files(folder: str) -> list[str]:
    """The event files directly in `folder`, oldest first (their names start with the
    creation time, as TensorBoard orders them)."""
    try:
        names = sorted(n for n in os.listdir(folder) if is_event_file(n))
    except OSError:
        return []
    return [os.path.join(folder, n) for n in names if os.path.isfile(os.path.join(folder, n))]


def _fast_crc() -> None:
    """tensorboard's own reader checks every record's CRC32C in pure Python (about 0.2 us a
    byte). When google-crc32c is installed, the same checksum is computed in C instead; the
    reader and its checks are unchanged."""
    try:
        from tensorboard.compat import tf
        if getattr(tf, "__version__", None) != "stub":
            return  # TensorFlow's reader: already native
        import google_crc32c
        from tensorboard.compat.tensorflow_stub import pywrap_tensorflow as stub
    except Exception:  # noqa: BLE001 - the pure-Python checksum still works
        return
    if getattr(stub.masked_crc32c, "_gradwatch_fast", False):
        return
    value = google_crc32c.value

    def masked_crc32c(data: bytes) -> int:
        x = int(value(bytes(data)))
        return (((x >> 15) | (x << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    masked_crc32c._gradwatch_fast = True  # type: ignore[attr-defined]
    stub.masked_crc32c = masked_crc32c


class FileReport(NamedTuple):
    path: str
    size: int
    read: int        # bytes of the records read
    records: int
    undecodable: int

    @property
    def complete(self) -> bool:
        return self.read >= self.size


class EventReader:
    """Yields the scalar, histogram and hparams records of one event file."""

    def __init__(self, path: str) -> None:
        from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
        from tensorboard.compat.proto import event_pb2

        _fast_crc()
        self.path = path
        self.size = os.path.getsize(path)
        self.read = 0
        self.records = 0
        self.undecodable = 0
        self._loader = RawEventFileLoader(path)
        self._parse = event_pb2.Event.FromString
        self._plugins: dict[str, str] = {}  # TF2 writes a tag's metadata on its first value only

    def report(self) -> FileReport:
        return FileReport(self.path, self.size, self.read, self.records, self.undecodable)

    def __iter__(self) -> Iterator[Record]:
        from google.protobuf.message import DecodeError

        parse = self._parse
        for raw in self._loader.Load():
            self.read += len(raw) + _RECORD_FRAMING
            self.records += 1
            try:
                ev = parse(raw)
            except DecodeError:
                self.undecodable += 1
                continue
            if not ev.HasField("summary"):
                continue
            step, wall = int(ev.step), float(ev.wall_time)
            for v in ev.summary.value:
                rec = self._record(v, step, wall)
                if rec is not None:
                    yield rec

    def _record(self, v: Any, step: int, wall: float) -> Record | None:
        kind = v.WhichOneof("value")
        tag = v.tag
        if kind == "simple_value":
            return step, wall, "scalar", tag, float(v.simple_value)
        if kind == "histo":
            return step, wall, "histo", tag, v.histo
        plugin = v.metadata.plugin_data.plugin_name if v.HasField("metadata") else ""
        if plugin:
            self._plugins.setdefault(tag, plugin)
        else:
            plugin = self._plugins.get(tag, "")
        if plugin == "hparams":
            hp = _hparams(v.metadata.plugin_data.content)
            return (step, wall, "hparams", tag, hp) if hp is not None else None
        if kind == "tensor" and plugin == "scalars":
            from tensorboard.util import tensor_util
            return step, wall, "scalar", tag, float(tensor_util.make_ndarray(v.tensor).item())
        if kind == "tensor" and plugin == "histograms":
            from tensorboard.util import tensor_util
            arr = tensor_util.make_ndarray(v.tensor)
            if arr.ndim == 2 and arr.shape[1] == 3:
                return step, wall, "rows", tag, arr.tolist()
            return None
        return step, wall, "skip", tag, plugin or kind or "unknown"


def _hparams(content: bytes) -> dict[str, Any] | None:
    from tensorboard.plugins.hparams import plugin_data_pb2

    try:
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
    except Exception:  # noqa: BLE001 - not the session record
        return None
    if data.WhichOneof("data") != "session_start_info":
        return None
    out: dict[str, Any] = {}
    for name, val in data.session_start_info.hparams.items():
        which = val.WhichOneof("kind")
        if which == "number_value":
            f = val.number_value
            out[name] = int(f) if f.is_integer() and abs(f) < 2 ** 53 else f
        elif which == "string_value":
            out[name] = val.string_value
        elif which == "bool_value":
            out[name] = val.bool_value
        elif which == "null_value":
            out[name] = None
    return out


def warn_incomplete(rep: FileReport) -> None:
    if rep.undecodable:
        warn(f"{rep.path}: {rep.undecodable} records could not be decoded and were skipped")
    if not rep.complete:
        warn(f"{rep.path}: the file ends in a truncated or corrupt record; imported its first "
             f"{rep.records} records ({rep.read} of {rep.size} bytes), the rest is not readable")
