"""Alembic migrations of the platform's schema (one per core change and one per layer family)."""
