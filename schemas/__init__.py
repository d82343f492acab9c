"""Versioned event contracts (JSON Schema files) and the reference lists feeds must use."""

from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent
