"""Thin click wiring over the library modules; no logic of its own."""
