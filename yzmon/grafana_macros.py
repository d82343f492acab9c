"""Expand a dashboard query the way Grafana and grafana-clickhouse-datasource v4.20 do, so tests can run it.

The real pipeline has three steps, applied here in the same order (sources: the plugin's
src/data/CHDatasource.ts and pkg/macros/macros.go, grafana-plugin-sdk-go data/sqlutil/macros.go):

1. In the browser the plugin rewrites ``$__conditionalAll(cond, $var)`` (applyConditionalAll): the call becomes
   ``1=1`` when the variable's current value is empty or All (``$__all``), else ``cond`` verbatim.
2. Grafana replaces template variables (``$var``, ``${var}``, ``[[var]]``) with the plugin's formatter: a
   multi-value variable renders as ``'a','b'`` (no escaping), a single string value is inserted as it is.
   ``${var:fmt}`` supports the raw, csv, singlequote and sqlstring formats. All, without a custom all value,
   renders every option value; a custom all value (``allValue``) is inserted unformatted. Unknown variables
   are left in place, as Grafana does.
3. The plugin backend expands the ``$__`` macros, longest name first. Arguments are split on top-level commas
   and trimmed; v4.18 and older split on every comma, so dashboards should keep commas out of macro arguments.

Time zones: ``$__timeFilter``, ``$__fromTime`` and friends are Unix instants and depend on no zone;
``$__dateFilter`` formats dates in the Grafana server process's zone (UTC in the official image), ``date_zone``
here; ``$__timeInterval`` buckets whole seconds from the Unix epoch, so a 1-day bucket starts at 08:00 in
Asia/Shanghai. Day panels should use ``toStartOfDay(x, 'Asia/Shanghai')`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = ["ALL", "MacroError", "expand"]

ALL = "$__all"
"""The value Grafana stores for a variable whose All option is selected (``["$__all"]`` when multi-value)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CONDITIONAL_ALL = "$__conditionalAll("
_CONDITIONAL_VAR = re.compile(r"(?<=\$\{)\w+(?=\})|(?<=\$)\w+", re.ASCII)
# Grafana's variableRegex: $name | [[name:fmt]] | ${name.path:fmt}
_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}", re.ASCII)

Value = str | Sequence[str]


class MacroError(ValueError):
    """A macro call the plugin would refuse (wrong argument count, unbalanced brackets)."""


def expand(
    sql: str,
    *,
    time_from: datetime,
    time_to: datetime,
    interval_s: int,
    variables: Mapping[str, Value],
    all_values: Mapping[str, Value] | None = None,
    date_zone: tzinfo = UTC,
) -> str:
    """The SQL the ClickHouse server receives for ``sql`` from a panel or variable query.

    ``time_from``/``time_to`` are the dashboard range (time-zone-aware); ``interval_s`` is the panel interval in
    seconds (Grafana's ``$__interval``). ``variables`` maps a variable name to its current value: a list for a
    multi-value variable, a string otherwise; ``"$__all"`` or ``["$__all"]`` selects All, which then renders
    from ``all_values[name]``: a string is the variable's custom all value (inserted as it is), a list the
    values of all its options (what Grafana uses when there is no custom all value). ``date_zone`` is the zone
    of the Grafana server process, used only by ``$__dateFilter``/``$__dt``.
    """
    for name, when in (("time_from", time_from), ("time_to", time_to)):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"{name} must be time-zone-aware, got {when!r}")
    sql = _conditional_all(sql, variables)
    sql = _template_variables(sql, variables, all_values or {})
    return _backend_macros(sql, time_from, time_to, timedelta(seconds=interval_s), date_zone)


# --- step 1: $__conditionalAll, in the browser --------------------------------------------------------------


def _conditional_all(sql: str, variables: Mapping[str, Value]) -> str:
    index = sql.rfind(_CONDITIONAL_ALL)
    while index != -1:
        args = _frontend_args(sql, index + len(_CONDITIONAL_ALL) - 1)
        if len(args) != 2:
            # The plugin gives up and sends the query unexpanded; ClickHouse would then fail on it.
            raise MacroError(f"$__conditionalAll needs 2 arguments (condition, $variable), got {args!r}")
        phrase = args[0]
        var = _CONDITIONAL_VAR.search(args[1].strip())
        if var and var.group(0) in variables:
            current = variables[var.group(0)]
            value = current if isinstance(current, str) else ",".join(current)  # JS Array.toString
            if value in ("", ALL):
                phrase = "1=1"
        sql = sql.replace(f"{_CONDITIONAL_ALL}{args[0]},{args[1]})", phrase, 1)
        index = sql.rfind(_CONDITIONAL_ALL)
    return sql


def _frontend_args(sql: str, open_index: int) -> list[str]:
    """CHDatasource.getMacroArgs: untrimmed arguments of the call whose '(' is at ``open_index``; [] if unclosed."""
    args: list[str] = []
    depth = 0
    last = open_index + 1
    for i in range(open_index, len(sql)):
        ch = sql[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 1:
            args.append(sql[last:i])
            last = i + 1
        if ch in "()," and depth == 0:
            args.append(sql[last:i])
            return args
    return []


# --- step 2: template variables, Grafana's templateSrv.replace with the plugin's formatter -------------------


def _plugin_format(value: Value) -> str:
    return value if isinstance(value, str) else "'" + "','".join(value) + "'"


_FORMATS: dict[str, Callable[[Value], str]] = {
    "raw": lambda v: v if isinstance(v, str) else ",".join(v),
    "csv": lambda v: v if isinstance(v, str) else ",".join(v),
    "singlequote": lambda v: ",".join("'" + x.replace("'", "\\'") + "'" for x in ([v] if isinstance(v, str) else v)),
    "sqlstring": lambda v: ",".join("'" + x.replace("'", "''") + "'" for x in ([v] if isinstance(v, str) else v)),
}


def _is_all(value: Value) -> bool:
    return value == ALL if isinstance(value, str) else list(value) == [ALL]


def _template_variables(sql: str, variables: Mapping[str, Value], all_values: Mapping[str, Value]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if name not in variables:
            return match.group(0)
        if match.group(5):
            raise MacroError(f"field paths in variables are not supported: {match.group(0)}")
        value = variables[name]
        if _is_all(value):
            if name not in all_values:
                raise MacroError(f"${name} is All: pass its custom all value or option values in all_values")
            value = all_values[name]
            if isinstance(value, str):  # a custom all value is inserted unformatted
                return value
        if fmt is None:
            return _plugin_format(value)
        if fmt not in _FORMATS:
            raise MacroError(f"variable format {fmt!r} is not supported (use one of {sorted(_FORMATS)})")
        return _FORMATS[fmt](value)

    return _VARIABLE.sub(replace, sql)


# --- step 3: $__ macros, in the plugin backend -----------------------------------------------------------------


def _unix(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(seconds=1)


def _unix_ms(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(milliseconds=1)


def _seconds(interval: timedelta) -> int:
    return int(max(interval.total_seconds(), 1))


def _backend_macros(sql: str, time_from: datetime, time_to: datetime, interval: timedelta, date_zone: tzinfo) -> str:
    def to_date(when: datetime) -> str:
        return f"toDate('{when.astimezone(date_zone):%Y-%m-%d}')"

    def date_time(when: datetime) -> str:
        return f"toDateTime({_unix(when)})"

    def date_time64(when: datetime) -> str:
        return f"fromUnixTimestamp64Milli({_unix_ms(when)})"

    def between(column: str, render: Callable[[datetime], str]) -> str:
        return f"{column} >= {render(time_from)} AND {column} <= {render(time_to)}"

    ms = max(interval // timedelta(milliseconds=1), 1)
    macros: dict[str, tuple[int | None, Callable[[list[str]], str]]] = {
        "fromTime": (None, lambda a: date_time(time_from)),
        "toTime": (None, lambda a: date_time(time_to)),
        "fromTime_ms": (None, lambda a: date_time64(time_from)),
        "toTime_ms": (None, lambda a: date_time64(time_to)),
        "timeFilter": (1, lambda a: between(a[0], date_time)),
        "timeFilter_ms": (1, lambda a: between(a[0], date_time64)),
        "dateFilter": (1, lambda a: between(a[0], to_date)),
        "dateTimeFilter": (2, lambda a: f"({between(a[0], to_date)}) AND ({between(a[1], date_time)})"),
        "dt": (2, lambda a: f"({between(a[0], to_date)}) AND ({between(a[1], date_time)})"),
        "timeInterval": (1, lambda a: f"toStartOfInterval(toDateTime({a[0]}), INTERVAL {_seconds(interval)} second)"),
        "timeInterval_ms": (1, lambda a: f"toStartOfInterval(toDateTime64({a[0]}, 3), INTERVAL {ms} millisecond)"),
        "interval_s": (None, lambda a: str(_seconds(interval))),
    }
    for name in sorted(macros, key=len, reverse=True):  # longest first, as sqlutil.Interpolate does
        arity, render = macros[name]
        for full, args in _backend_matches(sql, name):
            if arity is not None and len(args) != arity:
                raise MacroError(f"$__{name}: expected {arity} argument(s), received {len(args)} in {full!r}")
            sql = sql.replace(full, render(args))
    return sql


def _backend_matches(sql: str, name: str) -> list[tuple[str, list[str]]]:
    """sqlutil getMacroMatches/parseArgs: each ``$__name\\b`` with its bracketed, trimmed, comma-split args."""
    found = []
    for match in re.finditer(rf"\$__{name}\b", sql, re.ASCII):
        rest = sql[match.end() :]
        if not rest.startswith("("):
            found.append((match.group(0), []))
            continue
        args: list[str] = []
        depth, current = 0, []
        for i, ch in enumerate(rest):
            if ch == "(":
                depth += 1
                if depth == 1:
                    continue
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    args.append("".join(current).strip())
                    found.append((match.group(0) + rest[: i + 1], args))
                    break
            elif ch == "," and depth == 1:
                args.append("".join(current).strip())
                current = []
                continue
            current.append(ch)
        else:
            raise MacroError(f"$__{name}: failed to parse macro arguments (missing close bracket?)")
    return found
