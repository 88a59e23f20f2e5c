"""The platform's exception hierarchy: one root, one subclass per concern, messages safe to show users."""
from __future__ import annotations


class GeoError(Exception):
    """Root of every error the platform raises on purpose; ``str(err)`` is safe to show a user."""

    exit_code = 1


class ConfigError(GeoError):
    """A setting is missing or wrong."""


class DatabaseError(GeoError):
    """The database cannot be reached or refused an operation."""


class EmbeddedDatabaseError(DatabaseError):
    """The embedded local PostgreSQL cluster could not be created, started or stopped."""


class InputError(GeoError):
    """A whole input file cannot be used (unreadable, no CRS, wrong layout...).

    Carries the file and, where known, the row/feature and field so that messages name them.
    """

    def __init__(self, reason: str, *, file: str | None = None, row: int | None = None,
                 field: str | None = None) -> None:
        self.reason = reason
        self.file = file
        self.row = row
        self.field = field
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{': '.join([', '.join(where)])}: {self.reason}" if where else self.reason


class CrsError(InputError):
    """The coordinate reference system of an input is missing, unknown or implausible."""


class RegistryError(GeoError):
    """The layer registry was asked for something it does not hold, or to overwrite an entry."""


class RunError(GeoError):
    """An ingest run cannot be found, diffed or reverted."""


class RevertConflict(RunError):
    """A revert would overwrite changes made by a later run."""


class TransitionError(GeoError):
    """A status change is not allowed by the layer's transition rules."""
