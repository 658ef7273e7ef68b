"""The names ``core.segments`` exports: what the API, the app and Dagster build on."""

from __future__ import annotations

import core.segments


def test_public_names_are_pinned() -> None:
    assert sorted(core.segments.__all__) == sorted([
        "ACTIVE_CAMPAIGN_STATUSES", "EVERYONE", "UNCHANGED", "DeletedSegment",
        "MembershipHistoryEntry", "Preview", "SampleMember", "SegmentSummary", "SnapshotResult",
        "compile_criteria", "contacts_with_activity_since", "create_segment",
        "criteria_json_schema", "delete_segment", "dump_criteria", "features_computed_at",
        "get_segment", "label_masks", "list_segments", "matching_contacts", "member_ids",
        "members_query", "membership_history", "parse_criteria", "preview_criteria",
        "preview_segment", "refresh_contact_features", "resnapshot_segment", "snapshot_segment",
        "update_segment",
    ])  # fmt: skip
    for name in core.segments.__all__:
        assert getattr(core.segments, name) is not None
