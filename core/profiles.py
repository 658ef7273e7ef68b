"""Profiles, sign-in and API tokens."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, TokenEnded
from core.permissions import Actor, Permission, Role, require
from core.security import hash_password, hash_token, new_api_token, verify_password
from sql.schema import ApiToken, Profile
from sql.types import utcnow


def actor_of(profile: Profile) -> Actor:
    return Actor(
        id=profile.id, email=profile.email, role=Role(profile.role), full_name=profile.full_name
    )


def create_profile(
    session: Session,
    actor: Actor,
    *,
    email: str,
    full_name: str,
    role: str,
    password: str,
) -> Profile:
    require(actor, Permission.PROFILE_MANAGE)
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInput(f"{email!r} is not an email address")
    if role not in (Role.OWNER, Role.SUPERVISOR, Role.AGENT):
        raise InvalidInput(f"role must be owner, supervisor or agent, not {role!r}")
    if session.scalar(select(Profile.id).where(Profile.email == email)) is not None:
        raise Conflict(f"A profile with email {email} already exists.")
    profile = Profile(
        email=email,
        full_name=full_name.strip() or email,
        role=role,
        password_hash=hash_password(password),
    )
    session.add(profile)
    session.flush()
    audit.record(
        session, actor, "profile.create", "profile", profile.id, {"email": email, "role": role}
    )
    return profile


def authenticate(session: Session, email: str, password: str) -> Profile:
    """The active profile with these credentials, or AuthenticationFailed."""
    profile = session.scalar(select(Profile).where(Profile.email == email.strip().lower()))
    # Verify even for unknown or inactive profiles: answering faster for them would tell an
    # attacker which email addresses have accounts.
    stored = profile.password_hash if profile is not None else _decoy_hash()
    if not verify_password(stored, password) or profile is None or not profile.is_active:
        raise AuthenticationFailed("Wrong email or password.")
    profile.last_login_at = utcnow()
    return profile


@cache
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def issue_token(
    session: Session, profile: Profile, *, name: str = "api", ttl_days: int = 30
) -> str:
    """Create an API bearer token for ``profile``; returns the token (stored only hashed)."""
    token, digest = new_api_token()
    session.add(
        ApiToken(
            profile_id=profile.id,
            name=name,
            token_hash=digest,
            expires_at=utcnow() + timedelta(days=ttl_days),
        )
    )
    audit.record(session, actor_of(profile), "token.issue", "profile", profile.id, {"name": name})
    return token


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: the profile and its new bearer token (shown once)."""

    profile: Profile
    token: str
    expires_at: datetime


def sign_in(
    session: Session, email: str, password: str, *, ttl_days: int = 30, token_name: str = "login"
) -> SignedIn:
    """Check the credentials and issue a bearer token (audited as ``token.issue``)."""
    profile = authenticate(session, email, password)
    token = issue_token(session, profile, name=token_name, ttl_days=ttl_days)
    expires_at = session.scalar(
        select(ApiToken.expires_at).where(ApiToken.token_hash == hash_token(token))
    )
    assert expires_at is not None  # issue_token always sets it
    return SignedIn(profile=profile, token=token, expires_at=expires_at)


def actor_for_token(session: Session, token: str) -> Actor:
    """Resolve a bearer token to its actor, or AuthenticationFailed."""
    return actor_of(_profile_for_token(session, token, "API token"))


def actor_for_app_session(session: Session, token: str) -> Actor:
    """Resolve the app's session cookie to its actor, or AuthenticationFailed saying why."""
    return actor_of(_profile_for_token(session, token, "session"))


def _profile_for_token(session: Session, token: str, kind: str) -> Profile:
    row = session.execute(
        select(ApiToken, Profile)
        .join(Profile, Profile.id == ApiToken.profile_id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None:
        raise TokenEnded(f"Unknown {kind}.")
    api_token, profile = row
    now = utcnow()
    if api_token.revoked_at is not None:
        raise TokenEnded(f"This {kind} was revoked (signed out).")
    if api_token.expires_at is not None and api_token.expires_at <= now:
        raise AuthenticationFailed(f"This {kind} has expired; sign in again.")
    if not profile.is_active:
        raise AuthenticationFailed(
            "This profile is deactivated and no longer active; ask an owner of your business."
        )
    return profile


def revoke_token(session: Session, actor: Actor, token: str) -> None:
    api_token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if api_token is None or api_token.profile_id != actor.id:
        raise NotFound("No such token for this profile.")
    api_token.revoked_at = utcnow()
    audit.record(session, actor, "token.revoke", "profile", actor.id, {"name": api_token.name})


def list_profiles(session: Session, actor: Actor) -> list[Profile]:
    require(actor, Permission.PROFILE_MANAGE)
    return list(session.scalars(select(Profile).order_by(Profile.email)))


def set_active(session: Session, actor: Actor, profile_id: uuid.UUID, active: bool) -> Profile:
    require(actor, Permission.PROFILE_MANAGE)
    profile = session.get(Profile, profile_id)
    if profile is None:
        raise NotFound(f"Profile {profile_id} does not exist.")
    if profile.id == actor.id and not active:
        raise Conflict("You cannot deactivate your own profile.")
    profile.is_active = active
    audit.record(
        session,
        actor,
        "profile.activate" if active else "profile.deactivate",
        "profile",
        profile.id,
    )
    return profile


def set_role(session: Session, actor: Actor, profile_id: uuid.UUID, role: str) -> Profile:
    """Change a profile's role; nobody changes their own, so an owner cannot lock themself out."""
    require(actor, Permission.PROFILE_MANAGE)
    if role not in (Role.OWNER, Role.SUPERVISOR, Role.AGENT):
        raise InvalidInput(f"role must be owner, supervisor or agent, not {role!r}")
    profile = session.get(Profile, profile_id)
    if profile is None:
        raise NotFound(f"Profile {profile_id} does not exist.")
    if profile.role == role:
        return profile
    if profile.id == actor.id:
        raise Conflict("You cannot change your own role.")
    previous = profile.role
    profile.role = role
    audit.record(
        session, actor, "profile.role", "profile", profile.id, {"from": previous, "to": role}
    )
    return profile


def count_profiles(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Profile)) or 0
