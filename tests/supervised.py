"""The detached stack helper, now in support.py (test modules import helpers from there)."""

from support import DetachedStack

__all__ = ["DetachedStack"]
