"""Importing contacts from CSV: the one service the CLI, the app and the API call.

Two phases, memory bounded by a partition of the file rather than the whole file:

1. The file is streamed and validated (``core.contacts_csv``); valid rows are parked in
   temporary partitions by phone. A bad row without ``skip_bad_rows`` rejects the file
   before the database is touched, with every problem listed.
2. Partition by partition, the rows of each phone are merged, then applied in batches:
   one query looks up a batch's contacts, bulk statements write them. All of it runs in
   one transaction with one audit record; a dry run computes the same counts but writes
   nothing.

Merging never removes data: a row's name and timezone replace the stored ones only when
given, its custom fields are added to (and override keys of) the stored ones, its labels
are added. Rows for the same phone in one file merge the same way, later rows winning.
"""

from __future__ import annotations

import itertools
import pickle
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import phonenumbers
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.contacts_csv import (
    ColumnMapping,
    ContactCsv,
    ContactRow,
    ResolvedColumns,
    RowProblem,
    normalize_label,
)
from core.db import UnitOfWork
from core.errors import Conflict, InvalidInput
from core.permissions import Actor, Permission, require
from core.settings import get_settings
from sql.schema import Contact, ContactLabel, Label
from sql.types import utcnow

AUDIT_LIST_LIMIT = 100
_CONTACTS = Contact.__table__
_UPDATE_CONTACT = (
    update(_CONTACTS)
    .where(_CONTACTS.c.id == bindparam("b_id"))
    .values(
        {
            column: bindparam(f"b_{column}")
            for column in ("name", "timezone", "custom_fields", "updated_at")
        }
    )
)


@dataclass(frozen=True)
class ImportOptions:
    """How to read and apply the file; ``region`` defaults to the settings' default region."""

    region: str | None = None
    skip_bad_rows: bool = False
    dry_run: bool = False
    infer_types: bool = True
    delimiter: str | None = None
    encoding: str = "utf-8-sig"
    batch_size: int = 2000

    def describe(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "skip_bad_rows": self.skip_bad_rows,
            "dry_run": self.dry_run,
            "infer_types": self.infer_types,
            "encoding": self.encoding,
        }


@dataclass
class ImportResult:
    """What an import did (or, for a dry run or a rejected file, would have done)."""

    file_name: str
    columns: ResolvedColumns
    dry_run: bool
    rows: int = 0  # data rows read, bad ones included, blank ones not
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    merged_rows: int = 0  # rows for a phone an earlier row of the file already named
    blank_rows: int = 0
    labels_created: list[str] = field(default_factory=list)
    bad_rows: list[tuple[int, str]] = field(default_factory=list)
    skipped: int = 0  # bad rows left out because skip_bad_rows was set
    rejected: bool = False  # bad rows without skip_bad_rows: nothing was written

    @property
    def written(self) -> bool:
        return not (self.dry_run or self.rejected)

    @property
    def imported_rows(self) -> int:
        return self.rows - len(self.bad_rows)

    def summary(self) -> dict[str, Any]:
        return {
            "file_name": self.file_name,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "merged_rows": self.merged_rows,
            "blank_rows": self.blank_rows,
            "labels_created": self.labels_created[:AUDIT_LIST_LIMIT],
            "labels_created_count": len(self.labels_created),
            "bad_rows": len(self.bad_rows),
            "first_bad_rows": [list(bad) for bad in self.bad_rows[:AUDIT_LIST_LIMIT]],
            "skipped": self.skipped,
        }


def import_contacts(
    uow: UnitOfWork,
    actor: Actor,
    source: bytes | IO[bytes] | IO[str],
    *,
    mapping: ColumnMapping | None = None,
    options: ImportOptions | None = None,
    file_name: str = "contacts.csv",
) -> ImportResult:
    """Import the CSV in ``source`` in one transaction; see the module docstring."""
    require(actor, Permission.CONTACT_WRITE)
    options = options or ImportOptions()
    region = _region(options.region)
    csv_file = ContactCsv(
        source,
        mapping or ColumnMapping(),
        region=region,
        infer_types=options.infer_types,
        delimiter=options.delimiter,
        encoding=options.encoding,
    )
    result = ImportResult(file_name=file_name, columns=csv_file.columns, dry_run=options.dry_run)
    with _Spool() as spool:
        for item in csv_file.rows():
            result.rows += 1
            if isinstance(item, RowProblem):
                result.bad_rows.append((item.line, item.reason))
            elif options.skip_bad_rows or not result.bad_rows:
                spool.add(item)
        result.blank_rows = csv_file.blank_rows
        if result.bad_rows and not options.skip_bad_rows:
            result.rejected = True
            return result
        result.skipped = len(result.bad_rows)
        with uow.session() as session:
            writer = _BatchWriter(session, result, write=not options.dry_run)
            for partition in spool.partitions():
                merged = _merge_by_phone(partition, result)
                for batch in _batches(merged, options.batch_size):
                    writer.apply(batch)
            result.labels_created.sort()
            if options.dry_run:
                return result
            details = result.summary() | {
                "columns": result.columns.describe(),
                "options": options.describe() | {"region": region},
            }
            audit.record(session, actor, "contact.import", "contact", None, details)
            session.commit()
    return result


def _region(region: str | None) -> str:
    code = (region or get_settings().default_region).strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(f"{code!r} is not a region code such as ID, MY or SG.")
    return code


def _merge_by_phone(rows: Iterator[ContactRow], result: ImportResult) -> dict[str, ContactRow]:
    merged: dict[str, ContactRow] = {}
    for row in rows:
        earlier = merged.get(row.phone)
        if earlier is None:
            merged[row.phone] = row
        else:
            earlier.absorb(row)
            result.merged_rows += 1
    return merged


def _batches(rows: dict[str, ContactRow], size: int) -> Iterator[dict[str, ContactRow]]:
    items = iter(rows.items())
    while batch := dict(itertools.islice(items, size)):
        yield batch


class _Spool:
    """Valid rows parked by a hash of their phone, so all rows of one phone meet at once.

    Each partition stays in memory up to 1 MB, then moves to a temporary file; only
    one partition is read back at a time.
    """

    PARTITIONS = 32

    def __init__(self) -> None:
        # Closed in __exit__: the spool is only used as a context manager.
        self._files = [
            tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115
            for _ in range(self.PARTITIONS)
        ]

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for file in self._files:
            file.close()

    def add(self, row: ContactRow) -> None:
        record = (row.line, row.phone, row.name, row.timezone, row.custom_fields, row.labels)
        file = self._files[hash(row.phone) % self.PARTITIONS]
        pickle.dump(record, file, protocol=pickle.HIGHEST_PROTOCOL)

    def partitions(self) -> Iterator[Iterator[ContactRow]]:
        """Each partition's rows, in file order."""
        for file in self._files:
            file.seek(0)
            yield self._read(file)

    @staticmethod
    def _read(file: IO[bytes]) -> Iterator[ContactRow]:
        while True:
            try:
                yield ContactRow(*pickle.load(file))
            except EOFError:
                return


class _BatchWriter:
    """Applies batches of merged rows (one per phone) and counts what each contact became.

    With ``write=False`` (a dry run) it decides and counts exactly the same, writing nothing.
    """

    def __init__(self, session: Session, result: ImportResult, *, write: bool) -> None:
        self.session = session
        self.result = result
        self.write = write
        self._labels = self._load_labels()

    def apply(self, batch: dict[str, ContactRow]) -> None:
        if not batch:
            return
        now = utcnow()
        existing = {
            row.phone: row
            for row in self.session.execute(
                select(
                    Contact.id, Contact.phone, Contact.name, Contact.timezone, Contact.custom_fields
                ).where(Contact.phone.in_(list(batch)))
            )
        }
        links = self._existing_links([row.id for row in existing.values()])
        label_ids = self._label_ids({name for row in batch.values() for name in row.labels}, now)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        new_links: list[dict[str, Any]] = []
        for phone, row in batch.items():
            wanted = {label_ids[name] for name in row.labels}
            stored = existing.get(phone)
            if stored is None:
                contact_id = uuid.uuid4()
                inserts.append(
                    {
                        "id": contact_id,
                        "name": row.name or phone,
                        "phone": phone,
                        "timezone": row.timezone,
                        "custom_fields": row.custom_fields,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                added = wanted
                self.result.created += 1
            else:
                contact_id = stored.id
                added = wanted - links.get(contact_id, set())
                values = {
                    "name": row.name or stored.name,
                    "timezone": row.timezone or stored.timezone,
                    "custom_fields": {**(stored.custom_fields or {}), **row.custom_fields},
                }
                changed = added or any(values[key] != getattr(stored, key) for key in values)
                if changed:
                    updates.append(
                        {"b_id": contact_id, "b_updated_at": now}
                        | {f"b_{key}": value for key, value in values.items()}
                    )
                    self.result.updated += 1
                else:
                    self.result.unchanged += 1
            new_links.extend(
                {"contact_id": contact_id, "label_id": label_id, "created_at": now}
                for label_id in added
            )
        self._write(inserts, updates, new_links)

    def _write(
        self,
        inserts: list[dict[str, Any]],
        updates: list[dict[str, Any]],
        links: list[dict[str, Any]],
    ) -> None:
        if not self.write:
            return
        try:
            # Core statements on the tables: the ORM's per-row bookkeeping is not needed here.
            if inserts:
                self.session.execute(insert(_CONTACTS), inserts)
            if updates:
                self.session.execute(_UPDATE_CONTACT, updates)
            if links:
                self.session.execute(insert(ContactLabel.__table__), links)
        except IntegrityError:
            raise Conflict(
                "Contacts in this file were changed by someone else during the import; "
                "nothing was imported. Run the import again."
            ) from None

    def _existing_links(self, contact_ids: list[uuid.UUID]) -> dict[uuid.UUID, set[uuid.UUID]]:
        links: dict[uuid.UUID, set[uuid.UUID]] = {}
        if not contact_ids:
            return links
        query = select(ContactLabel.contact_id, ContactLabel.label_id).where(
            ContactLabel.contact_id.in_(contact_ids)
        )
        for contact_id, label_id in self.session.execute(query):
            links.setdefault(contact_id, set()).add(label_id)
        return links

    def _load_labels(self) -> dict[str, uuid.UUID]:
        """Existing labels by normalised name, so ``VIP Customer`` matches ``vip_customer``."""
        labels: dict[str, uuid.UUID] = {}
        for label_id, name in self.session.execute(
            select(Label.id, Label.name).order_by(Label.name)
        ):
            labels.setdefault(normalize_label(name), label_id)
        return labels

    def _label_ids(self, names: set[str], now: datetime) -> dict[str, uuid.UUID]:
        missing = sorted(names - self._labels.keys())
        if missing:
            rows = [{"id": uuid.uuid4(), "name": name, "created_at": now} for name in missing]
            try:
                if self.write:
                    self.session.execute(insert(Label.__table__), rows)
            except IntegrityError:
                raise Conflict(
                    "A label in this file was created by someone else during the import; "
                    "nothing was imported. Run the import again."
                ) from None
            self._labels.update({row["name"]: row["id"] for row in rows})
            self.result.labels_created.extend(missing)
        return {name: self._labels[name] for name in names}
