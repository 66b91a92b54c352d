"""Reading event files (CSV or JSON Lines) in chunks, line by line, losing no good record.

A file is read as records plus the physical line each starts on, so a rejected row is named by
its real line even when a quoted field spans lines or a broken line was skipped. A line that
cannot be a record at all — not UTF-8, not valid JSON, not a JSON object, the wrong number of
CSV fields — is returned as broken, with its reason, for the quarantine; the records around it
are kept. Only a file that cannot be read at all (missing, empty, an unreadable header) raises
DataError.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from liftlab.errors import DataError

CHUNK_RECORDS = 200_000
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
_BROKEN_COLUMNS = ["line", "reason", "payload"]


@dataclass(frozen=True)
class Batch:
    """Records read from a file (`rows`, with the line each starts on) and its broken lines."""

    rows: pd.DataFrame
    lines: np.ndarray
    broken: pd.DataFrame  # line, reason, payload


def file_format(path: Path, fmt: str | None = None) -> str:
    """'csv' or 'jsonl': as given, else from the file's extension."""
    return fmt or ("jsonl" if path.suffix.lower() in JSON_SUFFIXES else "csv")


def read_batches(path: Path, fmt: str | None = None, *, chunk_records: int = CHUNK_RECORDS) -> Iterator[Batch]:
    """The file's records in batches of up to `chunk_records`, with their lines and broken lines."""
    if not path.is_file():
        raise DataError("no such file", file=path)
    reader = _jsonl if file_format(path, fmt) == "jsonl" else _csv
    yield from reader(path, chunk_records)


def _text_lines(path: Path, broken: list[tuple[int, str, str]]) -> Iterator[str]:
    """The file's lines as text; a line that is not UTF-8 is reported broken and read as empty."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                if number == 1:
                    raise DataError("the first line is not UTF-8 text", file=path, line=1) from None
                broken.append((number, "not UTF-8 text", raw[:200].decode("utf-8", "replace")))
                yield "\n"


def _csv(path: Path, chunk_records: int) -> Iterator[Batch]:
    broken: list[tuple[int, str, str]] = []
    reader = csv.reader(_text_lines(path, broken))
    try:
        header = next(reader)
    except StopIteration:
        raise DataError("the file is empty: a CSV needs a header line", file=path) from None
    except csv.Error as exc:
        raise DataError(f"cannot read the header: {exc}", file=path, line=1) from None
    if not any(name.strip() for name in header):
        raise DataError("the header line is empty", file=path, line=1)
    width = len(header)
    records: list[list[str]] = []
    lines: list[int] = []
    start = reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            broken.append((start, f"not a CSV record: {exc}", ""))
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not fields or fields == [""]:
            continue  # a blank line
        if len(fields) != width:
            broken.append((line, f"expected {width} fields (the header's), found {len(fields)}",
                           json.dumps(fields)))
            continue
        records.append(fields)
        lines.append(line)
        if len(records) >= chunk_records:
            yield _csv_batch(header, records, lines, broken)
            records, lines, broken[:] = [], [], []
    yield _csv_batch(header, records, lines, broken)


def _csv_batch(header: list[str], records: list[list[str]], lines: list[int],
               broken: list[tuple[int, str, str]]) -> Batch:
    rows = pd.DataFrame(records, columns=[name.strip() for name in header], dtype=object)
    for column in rows.columns.unique():
        cells = rows[column]
        if isinstance(cells, pd.Series):  # an empty cell is a missing value; all else is text
            rows[column] = cells.mask(cells == "").astype("str")
    return Batch(rows, np.asarray(lines, dtype=np.int64), pd.DataFrame(list(broken), columns=_BROKEN_COLUMNS))


def _jsonl(path: Path, chunk_records: int) -> Iterator[Batch]:
    broken: list[tuple[int, str, str]] = []
    records: list[dict] = []
    lines: list[int] = []
    number = 0
    for number, text in enumerate(_text_lines(path, broken), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            broken.append((number, f"not valid JSON ({exc.msg} at column {exc.colno})", text.strip()[:200]))
            continue
        if not isinstance(record, dict):
            broken.append((number, f"not a JSON object (a {type(record).__name__})", text.strip()[:200]))
            continue
        records.append(record)
        lines.append(number)
        if len(records) >= chunk_records:
            yield _jsonl_batch(records, lines, broken)
            records, lines, broken[:] = [], [], []
    if number == 0:
        raise DataError("the file is empty", file=path)
    yield _jsonl_batch(records, lines, broken)


def _jsonl_batch(records: list[dict], lines: list[int], broken: list[tuple[int, str, str]]) -> Batch:
    return Batch(pd.DataFrame(records), np.asarray(lines, dtype=np.int64),
                 pd.DataFrame(list(broken), columns=_BROKEN_COLUMNS))
