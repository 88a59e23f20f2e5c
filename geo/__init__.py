"""Core of the platform: settings, database, CRS and geometry helpers, domain calculators."""

__version__ = "0.1.0"
