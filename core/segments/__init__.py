"""Segments: who a broadcast reaches.

criteria     the JSON criteria language and its validation (criteria_errors: paths)
compiler     criteria -> SQLAlchemy Core over ``contact_features``, same on both engines
features     ``contact_features``: per-contact aggregates, label bits, custom fields
preview      counts, breakdowns and sample members of unsaved or saved criteria
snapshots    stored membership, entered/left history (the Dagster asset's work)
service      create / edit / delete / get / list segments, members for a campaign
"""

from __future__ import annotations

from core.segments.compiler import compile_criteria, matching_contacts
from core.segments.criteria import (
    EVERYONE,
    criteria_json_schema,
    dump_criteria,
    parse_criteria,
)
from core.segments.features import (
    contacts_with_activity_since,
    features_computed_at,
    label_masks,
    refresh_contact_features,
)
from core.segments.preview import Preview, SampleMember, preview_criteria, preview_segment
from core.segments.service import (
    ACTIVE_CAMPAIGN_STATUSES,
    UNCHANGED,
    DeletedSegment,
    MembershipHistoryEntry,
    SegmentSummary,
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    member_ids,
    members_query,
    membership_history,
    resnapshot_segment,
    update_segment,
)
from core.segments.snapshots import SnapshotResult, snapshot_segment

__all__ = [
    "ACTIVE_CAMPAIGN_STATUSES",
    "EVERYONE",
    "UNCHANGED",
    "DeletedSegment",
    "MembershipHistoryEntry",
    "Preview",
    "SampleMember",
    "SegmentSummary",
    "SnapshotResult",
    "compile_criteria",
    "contacts_with_activity_since",
    "create_segment",
    "criteria_json_schema",
    "delete_segment",
    "dump_criteria",
    "features_computed_at",
    "get_segment",
    "label_masks",
    "list_segments",
    "matching_contacts",
    "member_ids",
    "members_query",
    "membership_history",
    "parse_criteria",
    "preview_criteria",
    "preview_segment",
    "refresh_contact_features",
    "resnapshot_segment",
    "snapshot_segment",
    "update_segment",
]
