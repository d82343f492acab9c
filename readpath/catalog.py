"""What the engine knows, learned once from its own system tables when the interface starts: the type
of every setting, the output formats, and how it resolves function and table-function names (which
names are case-insensitive, which are aliases of which).

The vetting of a request (`readpath.urlsettings`, `readpath.readguard`) asks this catalog rather than
comparing spellings, so a name is judged as the engine will resolve it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Catalog:
    setting_types: dict[str, str] = field(default_factory=dict)  # name → type (UInt64, Bool, Seconds …)
    output_formats: dict[str, str] = field(default_factory=dict)  # lower-case name → the engine's spelling
    table_functions: frozenset[str] = frozenset()  # lower-case
    canonical: dict[str, str] = field(default_factory=dict)  # lower-case function name or alias → target, lower
    exact: frozenset[str] = frozenset()  # every ordinary function's spelling
    insensitive: frozenset[str] = frozenset()  # lower-case names of case-insensitive functions
    views: frozenset[str] = frozenset()  # the store's parameterised views, called like table functions: v_pace(…)

    @classmethod
    def learn(cls, query: Any) -> Catalog:
        """``query(sql) -> str`` runs a statement on a read-only session and answers TSVRaw text."""

        def rows(sql: str) -> list[list[str]]:
            return [line.split("\t") for line in query(sql).splitlines() if line]

        setting_types = {name: kind for name, kind in rows("SELECT name, type FROM system.settings")}
        formats = {name.lower(): name for (name,) in rows("SELECT name FROM system.formats WHERE is_output")}
        table_functions = frozenset(name.lower() for (name,) in rows("SELECT name FROM system.table_functions"))
        functions = rows("SELECT name, case_insensitive, alias_to FROM system.functions")
        views = frozenset(
            name
            for (name,) in rows(
                "SELECT name FROM system.tables WHERE engine = 'View' AND database NOT IN "
                "('system', 'information_schema', 'INFORMATION_SCHEMA') AND match(create_table_query, '\\{\\w+\\s*:')"
            )
        )
        return cls(
            setting_types,
            formats,
            table_functions,
            {name.lower(): (alias_to or name).lower() for name, _, alias_to in functions},
            frozenset(name for name, _, _ in functions),
            frozenset(name.lower() for name, insensitive, _ in functions if insensitive == "1"),
            views,
        )

    def names(self, spelled: str) -> set[str]:
        """Every lower-case name a call spelled ``spelled`` may reach: itself and what it is an alias of."""
        lower = spelled.lower()
        return {lower, self.canonical.get(lower, lower)}

    def is_ordinary(self, spelled: str) -> bool:
        """Whether the engine resolves ``spelled(…)`` as an ordinary function (else, in IN, as a table)."""
        return spelled in self.exact or spelled.lower() in self.insensitive

    def is_store_view(self, spelled: str) -> bool:
        """Whether ``spelled(…)`` in a FROM clause is one of the store's parameterised views (names of tables are
        case-sensitive; a table function of that name would win, so none may have it)."""
        return spelled in self.views and spelled.lower() not in self.table_functions

    def output_format(self, name: str) -> str | None:
        """The engine's spelling of output format ``name`` (names match case-insensitively), or None."""
        return self.output_formats.get(name.lower())
