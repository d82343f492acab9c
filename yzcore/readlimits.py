"""The read path's limits: what every read query runs under, and how an error names them.

Every read — the HTTP interface the worker serves, `yzmon sql`, status, the live view, the report,
and a direct chDB client when the stack is down — runs with these ClickHouse settings, taken from
the settings object (``YZMON_READ_*``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yzcore.settings import Settings


@dataclass(frozen=True)
class Limit:
    setting: str  # the ClickHouse setting
    field: str  # the Settings field
    unit: str = ""

    @property
    def env(self) -> str:
        return f"YZMON_{self.field.upper()}"


LIMITS: tuple[Limit, ...] = (
    Limit("max_execution_time", "read_max_execution_time_s", " s"),
    Limit("max_memory_usage", "read_max_memory_bytes", " bytes"),
    Limit("max_rows_to_read", "read_max_rows_to_read", " rows"),
    Limit("max_bytes_to_read", "read_max_bytes_to_read", " bytes"),
    Limit("max_result_rows", "read_max_result_rows", " rows"),
    Limit("max_result_bytes", "read_max_result_bytes", " bytes"),
    Limit("max_threads", "read_max_threads"),
)
BY_SETTING = {limit.setting: limit for limit in LIMITS}

# Which limit an engine error is about: (error code, a word of its message) → setting.
_ERROR_LIMITS = (
    (159, "", "max_execution_time"),
    (241, "", "max_memory_usage"),
    (158, "max_rows_to_read", "max_rows_to_read"),
    (307, "max_bytes_to_read", "max_bytes_to_read"),
    (396, "rows", "max_result_rows"),
    (396, "bytes", "max_result_bytes"),
)
_CODE = re.compile(r"Code: (\d+)\.")


def engine_settings(settings: Settings) -> dict[str, str]:
    """The ClickHouse settings of a read: the limits, failing loudly rather than truncating."""
    values = {limit.setting: str(getattr(settings, limit.field)) for limit in LIMITS}
    values.update({"timeout_overflow_mode": "throw", "read_overflow_mode": "throw", "result_overflow_mode": "throw"})
    return values


def hint(message: str, settings: Settings) -> str:
    """A sentence naming the read limit an engine error hit and the setting that raises it ('' if none)."""
    match = _CODE.search(message)
    if not match:
        return ""
    code = int(match.group(1))
    for err_code, word, setting in _ERROR_LIMITS:
        if code == err_code and word in message:
            limit = BY_SETTING[setting]
            return (
                f"Stopped by the read limit {setting} (this read path allows at most "
                f"{getattr(settings, limit.field)}{limit.unit}): ask for less, or raise it with {limit.env} "
                "(read when the worker starts)."
            )
    return ""
