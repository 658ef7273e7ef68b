"""The app's pages and who may see them: one registry, filtered by the permission model.

To add a page, write its script under ``app/views/`` and add one ``PageSpec`` to ``PAGES``
naming the permissions it needs; the navigation of every role follows. Pages never test
role names. An actor who may see none of them (an agent) gets the "no access" page.

Streamlit's ``url_path`` is one path segment, so ``/campaigns/new`` becomes
``campaign-builder`` and per-campaign pages take the campaign id as a query parameter
(``campaign-builder?campaign=<id>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.permissions import Actor, Permission
from core.stats import DASHBOARD_PERMISSIONS

VIEWS = Path(__file__).resolve().parent / "views"


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its script, address, place in the sidebar and what it needs."""

    title: str
    script: str
    url_path: str
    icon: str
    section: str
    requires: frozenset[Permission]
    default: bool = False

    def visible_to(self, actor: Actor) -> bool:
        return all(actor.can(permission) for permission in self.requires)

    def page(self, *, default: bool = False) -> st.Page:
        return st.Page(
            VIEWS / self.script,
            title=self.title,
            icon=self.icon,
            url_path=self.url_path,
            default=default,
        )


# Sidebar sections in display order; a section with no visible page is left out.
SECTIONS = ("Overview", "Customers", "Campaigns", "WhatsApp", "Administration")

PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        "Home",
        "home.py",
        "home",
        ":material/home:",
        "Overview",
        frozenset(DASHBOARD_PERMISSIONS),
        default=True,
    ),
    PageSpec(
        "Contacts",
        "contacts.py",
        "contacts",
        ":material/contacts:",
        "Customers",
        frozenset({Permission.CONTACT_READ}),
    ),
    PageSpec(
        "Segments",
        "segments.py",
        "segments",
        ":material/group_work:",
        "Customers",
        frozenset({Permission.SEGMENT_READ}),
    ),
    PageSpec(
        "Opt-outs",
        "opt_outs.py",
        "opt-outs",
        ":material/unsubscribe:",
        "Customers",
        frozenset({Permission.OPTOUT_READ}),
    ),
    PageSpec(
        "Campaigns",
        "campaigns.py",
        "campaigns",
        ":material/campaign:",
        "Campaigns",
        frozenset({Permission.CAMPAIGN_READ}),
    ),
    PageSpec(
        "Campaign builder",
        "campaign_builder.py",
        "campaign-builder",
        ":material/edit_square:",
        "Campaigns",
        frozenset({Permission.CAMPAIGN_WRITE}),
    ),
    PageSpec(
        "Campaign analytics",
        "campaign_analytics.py",
        "campaign-analytics",
        ":material/monitoring:",
        "Campaigns",
        frozenset({Permission.ANALYTICS_READ}),
    ),
    PageSpec(
        "WhatsApp templates",
        "whatsapp_templates.py",
        "whatsapp-templates",
        ":material/chat:",
        "WhatsApp",
        frozenset({Permission.TEMPLATE_READ}),
    ),
    PageSpec(
        "WhatsApp account",
        "whatsapp_account.py",
        "whatsapp-account",
        ":material/settings_phone:",
        "WhatsApp",
        frozenset({Permission.ACCOUNT_READ}),
    ),
    PageSpec(
        "Audit log",
        "audit_log.py",
        "audit-log",
        ":material/history:",
        "Administration",
        frozenset({Permission.AUDIT_READ}),
    ),
)

SIGN_IN = PageSpec("Sign in", "login.py", "sign-in", ":material/login:", "", frozenset())
NO_ACCESS = PageSpec("No access", "no_access.py", "no-access", ":material/block:", "", frozenset())


def signed_out_pages() -> list[st.Page]:
    """The sign-in form at the root and at every page's address.

    A visitor who follows a link (``/campaign-analytics?campaign=...``) or reloads while
    signed out signs in right there and then sees the page they asked for.
    """
    login = VIEWS / SIGN_IN.script
    return [
        SIGN_IN.page(default=True),
        *(st.Page(login, title=SIGN_IN.title, url_path=spec.url_path) for spec in PAGES),
    ]


def visible_pages(actor: Actor) -> list[PageSpec]:
    """The registered pages ``actor`` may open, in sidebar order."""
    order = {section: i for i, section in enumerate(SECTIONS)}
    visible = [spec for spec in PAGES if spec.visible_to(actor)]
    return sorted(visible, key=lambda spec: order.get(spec.section, len(order)))


def default_page(specs: list[PageSpec]) -> PageSpec:
    """The page a fresh session opens: the registry's default if visible, else the first."""
    return next((spec for spec in specs if spec.default), specs[0])


def navigation_for(actor: Actor) -> dict[str, list[st.Page]]:
    """The ``st.navigation`` argument for ``actor``: pages grouped by section."""
    specs = visible_pages(actor)
    if not specs:
        return {"": [NO_ACCESS.page(default=True)]}
    start = default_page(specs)
    sections: dict[str, list[st.Page]] = {}
    for spec in specs:
        sections.setdefault(spec.section, []).append(spec.page(default=spec is start))
    return sections
