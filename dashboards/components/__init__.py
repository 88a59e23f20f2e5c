"""Reusable pieces of page layout built from data (no database access)."""
