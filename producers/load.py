"""A provider's file as a source (``producers.source``): its valid rows in file order, the bad ones
written to FILE.rejects.csv by line number as they come (the first few also on the console)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from producers.files import BadRow, Mapping, stream_file
from producers.source import Item

SHOWN_BAD = 20  # bad rows also printed on the console; all of them are in the rejects file


class FileSource:
    """Rows of ``path`` mapped onto ``mapping.feed``; ``good`` and ``bad`` count them."""

    unit = "rows"

    def __init__(
        self,
        path: Path,
        mapping: Mapping,
        total: int,
        rejects: Path,
        future_tolerance: timedelta,
        say: Callable[[str], None] = lambda _: None,
        check_only: bool = False,
    ):
        self.path, self.mapping, self.rejects = path, mapping, rejects
        self.future_tolerance = future_tolerance
        self.say = say
        self.description = f"{'check' if check_only else 'load'} {path.name}"
        self._total = total
        self.good = self.bad = 0
        self._out: IO[str] | None = None

    def total(self) -> int:
        return self._total

    def items(self) -> Iterator[Item]:
        try:
            for line, row in stream_file(self.path, self.mapping, self.future_tolerance):
                if isinstance(row, BadRow):
                    self._reject(line, row)
                    continue
                yield Item(self.mapping.feed, row, when=datetime.fromisoformat(row["event_time"]))
        finally:
            if self._out is not None:
                self._out.close()
                self._out = None

    def _reject(self, line: int, row: BadRow) -> None:
        self.bad += 1
        if self._out is None:
            self._out = self.rejects.open("w", encoding="utf-8")
            self._out.write("line,reason,detail\n")
        self._out.write(f'{row.line},{row.reason},"{row.detail.replace(chr(34), chr(39))}"\n')
        if self.bad <= SHOWN_BAD:
            self.say(f"{self.path.name}:{line}: {row.reason}: {row.detail}")

    def sent(self) -> None:
        self.good += 1

    def progress(self) -> tuple[int, str]:
        return self.good + self.bad, f"{self.bad:,} invalid"

    def position(self) -> dict[str, Any]:
        return {"rows": self.good + self.bad, "sent": self.good}

    def finish(self) -> None:
        pass
