"""The bundled WhatsApp sandbox as the demo's account: connected and synced on first start.

``siaran up`` starts the sandbox when no real account is connected; ``connect_sandbox_if_
unconnected`` then makes it the active account (as Siaran's system user, audited) and syncs
its templates, so a fresh demo shows templates at once. The sandbox's identity (ids, token,
app secret, verify token) is its demo default, ``sandbox.config.SandboxConfig()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.bootstrap import Siaran
from core.permissions import SYSTEM_ACTOR
from core.whatsapp import (
    AccountCredentials,
    SyncReport,
    active_account,
    connect_account,
    sync_templates,
)


@dataclass(frozen=True)
class SandboxSetup:
    """What ``connect_sandbox_if_unconnected`` did, in one line for the console."""

    display_phone_number: str | None
    verified_name: str | None
    sync: SyncReport

    def __str__(self) -> str:
        who = " ".join(p for p in (self.verified_name, self.display_phone_number) if p)
        return f"WhatsApp sandbox account connected ({who}); {self.sync}"


def sandbox_credentials(url: str) -> AccountCredentials:
    """The credentials of a sandbox started with its default identity, served at ``url``."""
    from sandbox.config import SandboxConfig  # only the demo path needs the sandbox package

    config = SandboxConfig()
    return AccountCredentials(
        name=f"{config.verified_name} (sandbox)",
        waba_id=config.waba_id,
        phone_number_id=config.phone_number_id,
        access_token=config.access_token,
        app_secret=config.app_secret,
        verify_token=config.verify_token,
        api_base_url=url,
        is_sandbox=True,
    )


def connect_sandbox_if_unconnected(siaran: Siaran, url: str) -> SandboxSetup | None:
    """Connect the sandbox at ``url`` and sync its templates, unless an account is connected.

    A sandbox account left from an earlier start at another address is re-pointed (the
    sandbox port is a setting). Returns None when there was nothing to do.
    """
    credentials = sandbox_credentials(url)
    with siaran.uow.session() as session:
        current = active_account(session)
        if current is not None and not (
            current.is_sandbox and current.api_base_url != credentials.api_base_url
        ):
            return None
    # Two transactions: the account stays connected even if the template sync fails.
    with siaran.uow.begin() as session:
        account = connect_account(session, SYSTEM_ACTOR, siaran.secrets, credentials)
        number, name = account.display_phone_number, account.verified_name
    with siaran.uow.begin() as session:
        report = sync_templates(session, SYSTEM_ACTOR, siaran.secrets)
    return SandboxSetup(number, name, report)
