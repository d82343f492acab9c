"""Dashboard panels written once: each is a panel file and a SQL file in sql/panels/, placed into the dashboards
that show it. `python -m yzmon.panel_sources` rewrites dashboards/*.json; a test checks they are current.

A panel's SQL reads the views the commands read (v_pace, v_nowcast), so dashboards, commands and briefing share
one definition.
A panel keeps its place (id, gridPos) and its dashboard's own description when it is already on the board; a new
one goes below the others.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PANELS_DIR = ROOT / "sql" / "panels"
DASHBOARDS_DIR = ROOT / "dashboards"
# panel source → the dashboards that show it
PLACES = {
    "ytd_sales_vs_target": ("overview.json", "sales_targets.json"),
    "nowcast_year": ("overview.json", "sales_targets.json"),
}


def panel(name: str) -> dict:
    """The panel ``name`` as its files say: the panel JSON with its SQL as the one target."""
    spec = json.loads((PANELS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    sql = (PANELS_DIR / f"{name}.sql").read_text(encoding="utf-8").rstrip("\n")
    target = {"refId": "A", "datasource": spec["datasource"], "editorType": "sql", "format": 1, "rawSql": sql,
              "pluginVersion": "4.20.0", "queryType": "table"}  # fmt: skip
    return {**spec, "targets": [target]}


def render(board: dict, board_file: str) -> dict:
    """``board`` with every panel placed on it rewritten from its source (or added below the others)."""
    panels = board["panels"]
    for name, files in PLACES.items():
        if board_file not in files:
            continue
        fresh = panel(name)
        found = [i for i, p in enumerate(panels) if p["title"] == fresh["title"]]
        if found:
            merged = dict(panels[found[0]])  # its keys in their order; its id, place and description stay
            merged.update({k: v for k, v in fresh.items() if k not in merged or k != "description"})
            panels[found[0]] = merged
        else:
            bottom = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels), default=0)
            new_id = max((p["id"] for p in panels), default=0) + 1
            panels.append({"id": new_id, **fresh, "gridPos": {"h": 5, "w": 24, "x": 0, "y": bottom}})
    return board


def dump(board: dict) -> str:
    return json.dumps(board, ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    """Rewrite the dashboards from their panel sources."""
    for path in sorted(DASHBOARDS_DIR.glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        text = dump(render(board, path.name))
        if text != path.read_text(encoding="utf-8"):
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
