"""Roles and what each may do: the one permission check every entry point calls.

owner       everything
supervisor  reads campaigns, segments, templates and analytics; changes nothing
agent       nothing of the campaign features
system      Siaran's own jobs (Dagster, CLI), audited under its own name
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from core.errors import PermissionDenied


class Role(StrEnum):
    OWNER = "owner"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    SYSTEM = "system"


class Permission(StrEnum):
    CAMPAIGN_READ = "campaign:read"
    CAMPAIGN_WRITE = "campaign:write"
    SEGMENT_READ = "segment:read"
    SEGMENT_WRITE = "segment:write"
    ANALYTICS_READ = "analytics:read"
    TEMPLATE_READ = "template:read"
    TEMPLATE_WRITE = "template:write"
    ACCOUNT_READ = "account:read"
    ACCOUNT_MANAGE = "account:manage"
    CONTACT_READ = "contact:read"
    CONTACT_WRITE = "contact:write"
    OPTOUT_READ = "optout:read"
    OPTOUT_MANAGE = "optout:manage"
    PROFILE_MANAGE = "profile:manage"
    AUDIT_READ = "audit:read"
    PHONE_UNMASKED = "phone:unmasked"


_SUPERVISOR = frozenset(
    {
        Permission.CAMPAIGN_READ,
        Permission.SEGMENT_READ,
        Permission.ANALYTICS_READ,
        Permission.TEMPLATE_READ,
        Permission.ACCOUNT_READ,
        Permission.OPTOUT_READ,
        Permission.CONTACT_READ,
    }
)

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.SUPERVISOR: _SUPERVISOR,
    Role.AGENT: frozenset(),
    Role.SYSTEM: frozenset(Permission),
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in profile or Siaran's own system user."""

    id: uuid.UUID | None
    email: str
    role: Role
    full_name: str = ""

    def can(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]


SYSTEM_ACTOR = Actor(id=None, email="system@siaran.local", role=Role.SYSTEM, full_name="Siaran")


def require(actor: Actor, permission: Permission) -> None:
    """Raise PermissionDenied unless ``actor``'s role grants ``permission``."""
    if not actor.can(permission):
        raise PermissionDenied(f"Your role ({actor.role.value}) may not {_describe(permission)}.")


def _describe(permission: Permission) -> str:
    noun, verb = permission.value.split(":")
    words = {
        "read": "view",
        "write": "create, change or delete",
        "manage": "manage",
        "unmasked": "see full",
    }
    nouns = {"optout": "opt-outs", "phone": "phone numbers", "audit": "the audit log"}
    return f"{words.get(verb, verb)} {nouns.get(noun, noun + 's')}"
