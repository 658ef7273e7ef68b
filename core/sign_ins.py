"""Signing in through any entry point, with failed attempts audited and limited.

After ``MAX_FAILURES`` wrong passwords for one email address within ``WINDOW`` (counted
since its last successful sign-in), that address is refused, even with the right password,
until the oldest of those failures leaves the window. Guessing a password then takes years,
while an owner who mistypes a few times is not locked out for long. Every failure is in the
audit log as ``sign_in.failed`` with the address as its target, known profile or not.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.db import UnitOfWork
from core.errors import AuthenticationFailed
from core.permissions import SYSTEM_ACTOR
from core.profiles import SignedIn, sign_in
from sql.schema import AuditLog, Profile
from sql.types import utcnow

FAILED_ACTION = "sign_in.failed"
TARGET_TYPE = "sign_in"
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


class TooManyFailedSignIns(AuthenticationFailed):
    status_code = 429


def sign_in_limited(
    uow: UnitOfWork,
    email: str,
    password: str,
    *,
    ttl_days: int,
    token_name: str,
    via: str,
) -> SignedIn:
    """``core.profiles.sign_in`` in its own transaction, refused after too many failures.

    ``via`` names the entry point (``app``, ``api``) in the audit record of a failure.
    """
    address = email.strip().lower()
    with uow.begin() as session:
        _refuse_while_locked(session, address, utcnow())
        try:
            return sign_in(session, email, password, ttl_days=ttl_days, token_name=token_name)
        except AuthenticationFailed as exc:
            failure = exc
    # The sign-in's transaction rolled back; the failure is recorded in a transaction of its own.
    with uow.begin() as session:
        audit.record(session, SYSTEM_ACTOR, FAILED_ACTION, TARGET_TYPE, address, {"via": via})
    raise failure


def _refuse_while_locked(session: Session, address: str, now: datetime) -> None:
    since = now - WINDOW
    last_login = session.scalar(select(Profile.last_login_at).where(Profile.email == address))
    if last_login is not None and last_login > since:
        since = last_login
    failures = session.execute(
        select(func.count(), func.min(AuditLog.created_at)).where(
            AuditLog.target_type == TARGET_TYPE,
            AuditLog.target_id == address,
            AuditLog.action == FAILED_ACTION,
            AuditLog.created_at > since,
        )
    ).one()
    count, oldest = failures
    if count < MAX_FAILURES or oldest is None:
        return
    minutes = max(1, math.ceil((oldest + WINDOW - now).total_seconds() / 60))
    raise TooManyFailedSignIns(
        f"Too many failed sign-ins for {address}. Try again in {minutes} minute"
        f"{'' if minutes == 1 else 's'}, or ask an owner of your business to check your profile."
    )
