"""A small shop for the segment pipeline tests: customers with explicit timestamps, segments."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.bootstrap import Siaran
from core.permissions import SYSTEM_ACTOR
from core.segments import create_segment, refresh_contact_features
from sql.schema import Contact, ContactLabel, Conversation, Label, Segment, SegmentMember
from sql.types import utcnow

VIP = {"type": "all", "conditions": [{"type": "labels", "match": "any", "labels": ["vip"]}]}
EVERYONE = {"type": "all", "conditions": []}
LONG_AGO = timedelta(days=3)


def customer(
    session: Session,
    name: str,
    phone: str,
    *,
    labels: Iterable[str] = (),
    at: datetime | None = None,
    conversations: int = 1,
) -> uuid.UUID:
    """A contact whose every timestamp (edit, labels, messages) is ``at`` (default: now)."""
    at = at or utcnow()
    contact = Contact(name=name, phone=phone, custom_fields={}, created_at=at, updated_at=at)
    session.add(contact)
    session.flush()
    for label_name in labels:
        label = session.scalar(select(Label).where(Label.name == label_name))
        if label is None:
            label = Label(name=label_name, created_at=at)
            session.add(label)
            session.flush()
        session.add(ContactLabel(contact_id=contact.id, label_id=label.id, created_at=at))
    for _ in range(conversations):
        session.add(
            Conversation(
                contact_id=contact.id,
                status="resolved",
                message_count=2,
                created_at=at,
                last_message_at=at,
            )
        )
    session.flush()
    return contact.id


@dataclass(frozen=True)
class Shop:
    vip: uuid.UUID  # dynamic: contacts labelled vip
    everyone: uuid.UUID  # static: everyone, frozen at creation
    ani: uuid.UUID  # vip
    budi: uuid.UUID  # no label


def open_shop(siaran: Siaran) -> Shop:
    """Two old customers, their features, a dynamic and a static segment; nothing recent."""
    old = utcnow() - LONG_AGO
    with siaran.uow.begin() as session:
        ani = customer(session, "Ani", "+6281200000001", labels=["vip"], at=old)
        budi = customer(session, "Budi", "+6281200000002", at=old)
    refresh_contact_features(siaran.engine)
    with siaran.uow.begin() as session:
        vip = create_segment(session, SYSTEM_ACTOR, name="VIP", criteria=VIP).id
        everyone = create_segment(
            session, SYSTEM_ACTOR, name="Everyone", criteria=EVERYONE, kind="static"
        ).id
    return Shop(vip=vip, everyone=everyone, ani=ani, budi=budi)


def segment_row(siaran: Siaran, segment_id: uuid.UUID) -> Segment:
    with siaran.uow.session() as session:
        segment = session.get(Segment, segment_id)
        assert segment is not None
        return segment


def tick(
    instance: dg.DagsterInstance, siaran_resource: dg.ConfigurableResource, cursor: str | None
) -> dg.SensorResult:
    from pipelines.segments import segment_partitions_sensor

    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"siaran": siaran_resource}
    )
    result = segment_partitions_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def apply_partitions(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    """Do what the daemon does with the tick's partition requests."""
    for request in result.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


def snapshot_requests(result: dg.SensorResult) -> dict[str, str]:
    """Partition -> trigger of the tick's snapshot run requests."""
    return {
        request.partition_key: request.tags["siaran/trigger"]
        for request in result.run_requests or []
        if request.job_name == "segment_snapshots_job" and request.partition_key
    }


def stored_members(siaran: Siaran, segment_id: uuid.UUID) -> set[uuid.UUID]:
    with siaran.uow.session() as session:
        query = select(SegmentMember.contact_id).where(SegmentMember.segment_id == segment_id)
        return set(session.scalars(query))
