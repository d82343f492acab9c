"""What the CLI says when a command fails: a plain sentence and what to do next, never a traceback.

The traceback, when there is one, goes to DATA_DIR/logs/cli.log for whoever debugs.
"""

from __future__ import annotations

import re
import traceback
from datetime import datetime
from pathlib import Path

_MISSING = (
    re.compile(r"Unknown table expression identifier '([\w.]+)'"),
    re.compile(r"Table ([\w.`]+) does not exist"),
    re.compile(r"Database ([\w`]+) does not exist"),
    re.compile(r"There is no table ([\w.`]+)"),
    re.compile(r"Unknown table function (v_\w+)"),  # a parameterised view (v_pace …) read as a table function
)


def missing_object(exc: BaseException) -> str | None:
    """The table (or database) a store error says is missing, if that is what it says."""
    text = str(exc)
    for pattern in _MISSING:
        if found := pattern.search(text):
            return found.group(1).strip("`")
    return None


def explain(exc: BaseException, dsn: str, own_sql: bool = False) -> str:
    """One or two sentences for the operator (``own_sql``: the query was the analyst's, names may be typos)."""
    missing = missing_object(exc)
    if missing is not None:
        maybe = "if that name is right, " if own_sql else ""
        return (
            f"the store ({dsn}) has no {missing}: {maybe}its schema is missing or "
            "incomplete (a fresh data dir, or migrations not all applied). Start the stack with `yzmon up` "
            "(it migrates first), or run `yzmon db migrate`"
        )
    text = str(exc).strip()
    if "Cannot lock file" in text:
        return (
            "the embedded store is open in another process (a running stack owns it): "
            "run the command while the stack is up so it goes through the worker, or stop the stack with `yzmon down`"
        )
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def log_traceback(exc: BaseException, data_dir: Path) -> Path | None:
    """Append the traceback to DATA_DIR/logs/cli.log; None when it cannot be written."""
    try:
        path = data_dir / "logs" / "cli.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(f"--- {datetime.now().isoformat(timespec='seconds')}\n")
            f.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return None
