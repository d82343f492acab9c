"""Deterministic simulators of the three feeds. They only generate events; producers send them."""
