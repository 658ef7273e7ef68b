"""What segment criteria can name: the CRM's labels and the custom fields found on contacts.

``GET /api/labels`` lists every label with how many contacts carry it;
``GET /api/contacts/custom-fields`` lists the custom field names with the type most of
their values have (``core.custom_fields``). Both are for contact readers (owners and
supervisors). This router is included before the contacts router, whose
``/api/contacts/{contact_id}`` would otherwise take ``custom-fields`` for an id.
"""

from __future__ import annotations

from fastapi import APIRouter

from core.contact_search import list_labels
from core.custom_fields import discover_custom_fields
from webhook.api.segment_models import CustomFieldsOut, LabelOut
from webhook.deps import CurrentActor, DbSession

router = APIRouter(tags=["contacts"])


@router.get("/api/labels", summary="Every label with how many contacts carry it, by name")
def labels(session: DbSession, actor: CurrentActor) -> list[LabelOut]:
    return [LabelOut.model_validate(label) for label in list_labels(session, actor)]


@router.get(
    "/api/contacts/custom-fields",
    summary="Custom field names found on the most recently updated contacts, with their types",
)
def custom_fields(session: DbSession, actor: CurrentActor) -> CustomFieldsOut:
    return CustomFieldsOut.of(discover_custom_fields(session, actor))
