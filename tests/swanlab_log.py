"""Read back what SwanLab wrote offline (its LevelDB-style record log), for assertions."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path


def read_swanlab_log(path: Path) -> dict:
    """{'scalars': {key: [(step, value)]}, 'media': {key: count}, 'finished': a RunState name or None,
    'sections': {key: the chart group (section) SwanLab files its chart under}}."""
    from swanlab.proto.swanlab.record.v1.record_pb2 import Record
    from swanlab.proto.swanlab.run.v1.run_pb2 import RunState
    from swanlab.sdk.internal.core_python.store import DataStoreReader

    reader = DataStoreReader()
    reader.open(path)
    scalars: dict[str, list[tuple[int, float]]] = defaultdict(list)
    media: dict[str, int] = defaultdict(int)
    sections: dict[str, str] = {}
    finished = None
    while (raw := reader.scan()) is not None:
        record = Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "scalar":
            scalars[record.scalar.key].append((record.scalar.step, record.scalar.value.number))
        elif kind == "media":
            media[record.media.key] += 1
        elif kind == "column":
            sections[record.column.column_key] = record.column.section_name
        elif kind == "finish":
            finished = RunState.Name(record.finish.state)
    return {"scalars": dict(scalars), "media": dict(media), "finished": finished, "sections": sections}
