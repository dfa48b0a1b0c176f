"""JSON Lines files, plain or gzip (by the ``.gz`` suffix)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import orjson


def open_write(path: str | Path) -> IO[bytes]:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".gz":
        return cast(IO[bytes], gzip.open(p, "wb", compresslevel=3))
    return open(p, "wb", buffering=1 << 20)


def open_read(path: str | Path) -> IO[bytes]:
    p = Path(path)
    with open(p, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":  # gzip, whatever the name says
        return cast(IO[bytes], gzip.open(p, "rb"))
    return open(p, "rb", buffering=1 << 20)


def read_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) for each non-empty line."""
    with open_read(path) as fh:
        for i, line in enumerate(fh, 1):
            if line.strip():
                yield i, line.rstrip(b"\r\n")


def write_jsonl(path: str | Path, rows: Any) -> int:
    n = 0
    with open_write(path) as fh:
        for row in rows:
            fh.write(orjson.dumps(row) + b"\n")
            n += 1
    return n
