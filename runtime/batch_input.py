"""Batch scoring's inputs: CSV or Parquet files (or a folder of them), read in chunks.

A chunk is ``chunk_rows`` consecutive rows of one file (the last may be shorter; a
Parquet file's row groups may end one early), numbered from 0 in reading order, so the
same files read with the same ``chunk_rows`` always give the same chunks: that is
what lets a re-run skip the finished ones. Only one chunk per reader is in memory,
or for Parquet one row group (pyarrow decodes a row group at once): memory is bounded
by the writer's row group size, whatever the file's size.

A chunk is one array per feature of the schema, in its order: Parquet columns go
from pyarrow straight into numpy (no DataFrame), CSV files are read by pandas' C
parser in chunks (a column holding a cell that is not a number comes as text; the
checks in ``batch_decode`` parse such cells as the server parses a CSV body's). A
string feature's column stays a pyarrow string array when the reader gives one.
pandas and pyarrow (the ``batch`` extra) are imported here, when a job runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferstack.runtime.errors import InvalidInput, MissingExtraError

SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class InputFile:
    """One input file: where it is, its size (a re-run must see the same file) and kind."""

    path: Path
    size: int

    @property
    def parquet(self) -> bool:
        """Parquet (else CSV with a header row)."""
        return self.path.suffix.lower() in (".parquet", ".pq")

    def fingerprint(self) -> dict[str, Any]:
        """What a job records of the file, to refuse resuming over a changed input."""
        return {"path": str(self.path.resolve()), "size": self.size}


@dataclass(frozen=True)
class Chunk:
    """Rows ``first_row`` onwards of input file ``file``: one array per schema feature
    (numpy, or for a string feature possibly a pyarrow string array)."""

    file: int
    index: int
    first_row: int
    columns: list[Any]

    def __len__(self) -> int:
        return len(self.columns[0])

    @property
    def key(self) -> str:
        """The chunk's name in the output folder."""
        return f"{self.file:04d}-{self.index:06d}"


def batch_modules() -> tuple[Any, Any]:
    """pandas and pyarrow.parquet, or an error naming the extra."""
    try:
        import pandas
        import pyarrow.parquet
    except ImportError as err:
        raise MissingExtraError("batch", err.name or "pandas") from err
    return pandas, pyarrow.parquet


def input_files(source: str | Path) -> list[InputFile]:
    """The CSV and Parquet files of ``source`` (a file, or a folder read in name order)."""
    path = Path(source)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
        if not found:
            raise InvalidInput(f"input folder '{path}' holds no .csv or .parquet file")
    elif path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise InvalidInput(f"input '{path}': expected a .csv or .parquet file")
        found = [path]
    else:
        raise InvalidInput(f"input '{path}' does not exist")
    return [InputFile(p, p.stat().st_size) for p in found]


def total_rows(files: list[InputFile]) -> int | None:
    """Rows in all files when their metadata says (Parquet only), else None."""
    _, pq = batch_modules()
    total = 0
    for f in files:
        if not f.parquet:
            return None
        total += pq.ParquetFile(f.path).metadata.num_rows
    return total


def read_chunks(
    files: list[InputFile], names: list[str], chunk_rows: int, strings: frozenset[str] = frozenset()
) -> Iterator[Chunk]:
    """Every file's chunks, in order, with the schema's columns (others are ignored).

    ``strings`` names the string features: a CSV file's cells in them stay text (``007``
    is not the number 7), as in the server's CSV bodies.
    """
    for i, f in enumerate(files):
        first = 0
        for k, columns in enumerate(_columns(f, names, chunk_rows, strings)):
            chunk = Chunk(i, k, first, columns)
            yield chunk
            first += len(chunk)


def _columns(
    f: InputFile, names: list[str], chunk_rows: int, strings: frozenset[str]
) -> Iterator[list[Any]]:
    pd, pq = batch_modules()
    where = f"input '{f.path.name}'"
    try:
        if f.parquet:
            pfile = pq.ParquetFile(f.path)
            _need(names, pfile.schema_arrow.names, where)
            # one thread: the CPU time threads add costs more than it saves here
            batches = pfile.iter_batches(batch_size=chunk_rows, columns=names, use_threads=False)
            for batch in batches:
                by_name = dict(zip(batch.schema.names, batch.columns, strict=True))
                yield [_parquet_column(by_name[n], n in strings) for n in names]
            return
        text = {n: str for n in names if n in strings}
        # keep_default_na=False: "NA", "None" or an empty cell stay text, as in the
        # server's CSV bodies (a string feature keeps them; a number column refuses them)
        with pd.read_csv(f.path, chunksize=chunk_rows, dtype=text, keep_default_na=False) as reader:
            for k, frame in enumerate(reader):
                if k == 0:
                    _need(names, list(frame.columns), where)
                yield [_csv_column(frame[n], n in strings) for n in names]
    except (OSError, ValueError) as err:  # pandas' and pyarrow's parse errors are ValueErrors
        raise InvalidInput(f"{where}: cannot be read: {err}") from err


def _parquet_column(column: Any, string: bool) -> Any:
    """A Parquet column as numpy, but a string feature's strings stay pyarrow's (no
    Python object per cell: ``batch_decode`` checks them for nulls only)."""
    import pyarrow as pa

    if string and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    return column.to_numpy(zero_copy_only=False)


def _csv_column(column: Any, string: bool) -> Any:
    """A CSV column as numpy, but a string feature read as pandas' pyarrow-backed
    ``str`` stays pyarrow's (every cell is text: ``keep_default_na=False``)."""
    if string and type(column.array).__name__ == "ArrowStringArray":
        import pyarrow as pa

        return pa.array(column.array)
    return column.to_numpy()


def _need(names: list[str], columns: list[str], where: str) -> None:
    missing = [n for n in names if n not in columns]
    if missing:
        raise InvalidInput(f"{where}: no column '{missing[0]}' (a feature of the model)")
