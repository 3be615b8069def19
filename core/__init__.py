"""Scriptorium engine. Never imports Qt; every capability is a plain function here."""

from core import offline as _offline  # noqa: F401  (sets offline variables first)

__version__ = "0.1.0"
