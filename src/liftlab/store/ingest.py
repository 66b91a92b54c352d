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
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from liftlab.errors import DataError

CHUNK_RECORDS = 200_000
BLOCK_BYTES = 16 << 20
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
_BROKEN_COLUMNS = ["line", "reason", "payload"]


@dataclass(frozen=True)
class Batch:
    """Records read from a file (`rows`, with the line each starts on) and its broken lines."""

    rows: pd.DataFrame
    lines: np.ndarray
    broken: pd.DataFrame  # line, reason, payload
    position: int = 0  # bytes of the file read so far, for a progress bar


def file_format(path: Path, fmt: str | None = None) -> str:
    """'csv' or 'jsonl': as given, else from the file's extension."""
    return fmt or ("jsonl" if path.suffix.lower() in JSON_SUFFIXES else "csv")


def read_batches(
    path: Path, fmt: str | None = None, *, required: tuple[str, ...] = (),
    chunk_records: int = CHUNK_RECORDS, block_bytes: int = BLOCK_BYTES,
) -> Iterator[Batch]:
    """The file's records in batches (a block of `block_bytes` of CSV, or up to `chunk_records`
    records), with the line each starts on and the file's broken lines.

    A CSV header that lacks a `required` column is a DataError before any row is read: every
    row would be refused for the same reason. (JSON Lines records are checked one by one.)
    """
    check_readable(path)
    try:
        if file_format(path, fmt) == "jsonl":
            yield from _jsonl(path, chunk_records)
        else:
            yield from _csv(path, chunk_records, block_bytes, required)
    except OSError as exc:  # unreadable (permissions, a device error): a file problem, not a bug
        raise DataError(f"cannot read: {exc.strerror or exc}", file=path) from None


def check_readable(path: Path) -> None:
    """DataError unless `path` is a file: a directory is called a directory, not missing."""
    if path.is_dir():
        raise DataError("is a directory, not a file (name one file inside it)", file=path)
    if not path.is_file():
        raise DataError("no such file" if not path.exists() else "is not a regular file", file=path)


def _text_lines(path: Path, broken: list[tuple[int, str, str]], *, offset: int = 0,
                first_line: int = 1, read: list[int] | None = None) -> Iterator[str]:
    """The file's lines from byte `offset` as text; a line that is not UTF-8 is reported broken
    and read as empty. `read[0]` counts the bytes read, for progress."""
    with path.open("rb") as handle:
        handle.seek(offset)
        for number, raw in enumerate(handle, start=first_line):
            if read is not None:
                read[0] += len(raw)
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                if number == 1:
                    raise DataError("the first line is not UTF-8 text", file=path, line=1) from None
                broken.append((number, "not UTF-8 text", raw[:200].decode("utf-8", "replace")))
                yield "\n"


def _csv(path: Path, chunk_records: int, block_bytes: int = BLOCK_BYTES,
         required: tuple[str, ...] = ()) -> Iterator[Batch]:
    """CSV in blocks of whole lines. A block with no quote character and valid UTF-8 has one
    record per line, so its lines are counted and its field counts checked with numpy and the
    good lines parsed by pandas' C reader; from the first block that has quotes (a field may
    span lines) or bad bytes, the rest of the file is read record by record."""
    with path.open("rb") as handle:
        header, width = _csv_header(path, handle.readline())
        absent = [name for name in required if name not in header]
        if absent:
            raise DataError(f"the header has no column {', '.join(map(repr, absent))} "
                            f"(it has {', '.join(map(repr, header))})", file=path, line=1)
        line, offset = 2, handle.tell()
        carry = b""
        while True:
            data = handle.read(block_bytes)
            block, carry = carry + data, b""
            if data:
                cut = block.rfind(b"\n") + 1
                if not cut:
                    carry = block
                    continue
                block, carry = block[:cut], block[cut:]
            elif not block:
                return
            fast = b'"' not in block and _is_utf8(block)
            batch = _csv_block(header, width, block, line, offset + len(block)) if fast else None
            if batch is None:
                yield from _csv_records(path, header, offset, line, chunk_records)
                return
            yield batch
            line += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
            offset += len(block)
            if not data:
                return


def _csv_header(path: Path, raw: bytes) -> tuple[list[str], int]:
    if not raw:
        raise DataError("the file is empty: a CSV needs a header line", file=path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("the first line is not UTF-8 text", file=path, line=1) from None
    try:
        header = [name.strip() for name in next(csv.reader([text]), [])]
    except csv.Error as exc:
        raise DataError(f"cannot read the header: {exc}", file=path, line=1) from None
    if not any(header):
        raise DataError("the header line is empty", file=path, line=1)
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise DataError(f"column {twice[0]!r} appears more than once in the header", file=path, line=1)
    return header, len(header)


def _is_utf8(block: bytes) -> bool:
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _csv_block(header: list[str], width: int, block: bytes, first_line: int, position: int) -> Batch | None:
    """One quote-free block: blank lines skipped, lines with the wrong field count broken."""
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == 10)
    if not block.endswith(b"\n"):
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    fields = np.diff(np.searchsorted(np.flatnonzero(data == 44), ends), prepend=0) + 1
    length = ends - starts
    last = data[np.minimum(starts + np.maximum(length - 1, 0), len(data) - 1)] if len(data) else np.zeros(0)
    blank = (length == 0) | ((length == 1) & (last == 13))  # empty, or a lone carriage return
    good = ~blank & (fields == width)
    ragged = np.flatnonzero(~blank & ~good)
    lines = first_line + np.arange(len(ends))
    keep = block
    if not good.all():
        keep = data[np.repeat(good, np.minimum(ends + 1, len(data)) - starts)].tobytes()
    rows = pd.read_csv(io.BytesIO(keep), header=None, names=header, dtype="str", keep_default_na=False,
                       na_values=[""], skip_blank_lines=False, encoding="utf-8") if keep else \
        pd.DataFrame({name: pd.Series(dtype="str") for name in header})
    if len(rows) != int(good.sum()):
        return None  # not one record per line after all: let the record reader decide
    broken = [(int(lines[i]), _ragged(width, int(fields[i])),
               block[starts[i]:ends[i]].decode("utf-8").rstrip("\r")[:200]) for i in ragged]
    return _batch(rows, lines[good], broken, position)


def _csv_records(path: Path, header: list[str], offset: int, first_line: int,
                 chunk_records: int) -> Iterator[Batch]:
    """The file from byte `offset` (line `first_line`) record by record with the csv module."""
    broken: list[tuple[int, str, str]] = []
    read = [offset]
    reader = csv.reader(_text_lines(path, broken, offset=offset, first_line=first_line, read=read))
    width = len(header)
    records: list[list[str]] = []
    lines: list[int] = []
    start = first_line
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            broken.append((start, f"not a CSV record: {exc}", ""))
            start = first_line + reader.line_num
            continue
        line, start = start, first_line + reader.line_num
        if not fields or fields == [""]:
            continue  # a blank line
        if len(fields) != width:
            broken.append((line, _ragged(width, len(fields)), json.dumps(fields)))
            continue
        records.append(fields)
        lines.append(line)
        if len(records) >= chunk_records:
            yield _csv_batch(header, records, lines, broken, read[0])
            records, lines, broken[:] = [], [], []
    yield _csv_batch(header, records, lines, broken, read[0])


def _csv_batch(header: list[str], records: list[list[str]], lines: list[int],
               broken: list[tuple[int, str, str]], position: int) -> Batch:
    rows = pd.DataFrame(records, columns=header, dtype=object)
    for column in rows.columns:  # an empty cell is a missing value; all else is text
        rows[column] = rows[column].mask(rows[column] == "").astype("str")
    return _batch(rows, lines, broken, position)


def _batch(rows: pd.DataFrame, lines: list[int] | np.ndarray, broken: list[tuple[int, str, str]],
           position: int) -> Batch:
    return Batch(rows, np.asarray(lines, dtype=np.int64), pd.DataFrame(list(broken), columns=_BROKEN_COLUMNS),
                 position)


def _ragged(width: int, found: int) -> str:
    return f"expected {width} fields (the header's), found {found}"


def _jsonl(path: Path, chunk_records: int) -> Iterator[Batch]:
    broken: list[tuple[int, str, str]] = []
    records: list[dict] = []
    lines: list[int] = []
    number = 0
    read = [0]
    for number, text in enumerate(_text_lines(path, broken, read=read), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            broken.append((number, f"not valid JSON ({exc.msg.removesuffix(' at')}, column {exc.colno})",
                           text.strip()[:200]))
            continue
        if not isinstance(record, dict):
            broken.append((number, f"not a JSON object (a {type(record).__name__})", text.strip()[:200]))
            continue
        records.append(record)
        lines.append(number)
        if len(records) >= chunk_records:
            yield _batch(records_frame(records), lines, broken, read[0])
            records, lines, broken[:] = [], [], []
    if number == 0:
        raise DataError("the file is empty", file=path)
    yield _batch(records_frame(records), lines, broken, read[0])


def records_frame(records: list[dict]) -> pd.DataFrame:
    """JSON records as a frame. A JSON escape can spell a lone surrogate (\\ud800), which Arrow-backed
    string columns cannot hold: such a batch is kept as Python objects, and the row checks
    quarantine the unstorable text with its line instead of the load failing."""
    try:
        return pd.DataFrame(records)
    except UnicodeEncodeError:
        return pd.DataFrame(records, dtype=object)


