"""Who may see what: roles, access levels and the rule between them (pure, no I/O)."""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Platform roles; ANONYMOUS is everyone who has not logged in."""

    ANONYMOUS = "anonymous"
    PUBLIC = "public"
    IP_AUTHORITY = "ip_authority"
    DEPARTMENT = "department"
    ADMIN = "admin"


class Level(StrEnum):
    """Access level of a layer (the registry's default, or an administrator's override)."""

    PUBLIC = "public"
    INTERNAL = "internal"
    RESTRICTED = "restricted"


# Restricted data (polluted-land details, enterprise data) must not leave the environment department;
# internal layers are shared with the industrial-parks authority; public ones with everyone.
_SEES: dict[Role, frozenset[Level]] = {
    Role.ANONYMOUS: frozenset({Level.PUBLIC}),
    Role.PUBLIC: frozenset({Level.PUBLIC}),
    Role.IP_AUTHORITY: frozenset({Level.PUBLIC, Level.INTERNAL}),
    Role.DEPARTMENT: frozenset({Level.PUBLIC, Level.INTERNAL, Level.RESTRICTED}),
    Role.ADMIN: frozenset({Level.PUBLIC, Level.INTERNAL, Level.RESTRICTED}),
}
ROLE_TITLES = {
    Role.ANONYMOUS: ("Khách", "Visitor"),
    Role.PUBLIC: ("Người dùng", "Public user"),
    Role.IP_AUTHORITY: ("Ban quản lý các KCN", "Industrial-parks authority"),
    Role.DEPARTMENT: ("Sở Tài nguyên và Môi trường", "Environment department"),
    Role.ADMIN: ("Quản trị", "Administrator"),
}


def can_see(role: Role | str, level: Level | str) -> bool:
    return Level(level) in _SEES[Role(role)]


def is_staff(role: Role | str) -> bool:
    """Staff see internal pages (department map, trackers, targets)."""
    return Role(role) in (Role.IP_AUTHORITY, Role.DEPARTMENT, Role.ADMIN)


LOGIN_ROLES = tuple(r for r in Role if r is not Role.ANONYMOUS)
