"""The one time zone of yzmon: every calendar day and month is a day in Asia/Shanghai."""

from __future__ import annotations

from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")
