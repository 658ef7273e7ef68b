"""The REST API under ``/api``: one router per resource, each carrying its own prefix.

To add a resource, write ``webhook/api/<resource>.py`` with a ``router`` and append it to
``ROUTERS``; the server includes them in this order.
"""

from __future__ import annotations

from fastapi import APIRouter

from webhook.api import (
    analytics,
    audit,
    auth,
    campaign_templates,
    campaigns,
    contacts,
    crm_fields,
    notifications,
    opt_outs,
    profiles,
    segments,
    stats,
    webhooks,
    whatsapp,
)

ROUTERS: list[APIRouter] = [
    auth.router,
    profiles.router,
    audit.router,
    crm_fields.router,  # before contacts: /api/contacts/custom-fields is no contact id
    contacts.router,
    stats.router,
    whatsapp.router,
    opt_outs.router,
    webhooks.router,
    analytics.router,
    campaigns.router,
    campaign_templates.router,
    notifications.router,
    segments.router,
]
