"""Contact import from CSV, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from core.contacts_csv import ColumnMapping, infer_value
from core.contacts_import import ImportOptions, ImportResult, import_contacts
from core.db import UnitOfWork
from core.errors import InvalidInput, PermissionDenied
from core.permissions import SYSTEM_ACTOR, Actor
from sql.schema import AuditLog, Contact, ContactLabel, Label

BUDI = "+6281234567890"
SITI = "+6281298765432"
PAST = datetime(2024, 1, 1, tzinfo=UTC)


def csv_bytes(*lines: str, newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode()


def run(
    uow: UnitOfWork,
    actor: Actor,
    data: bytes,
    mapping: ColumnMapping | None = None,
    **options: Any,
) -> ImportResult:
    return import_contacts(
        uow, actor, data, mapping=mapping, options=ImportOptions(**options), file_name="c.csv"
    )


def stored(uow: UnitOfWork) -> dict[str, dict[str, Any]]:
    """Every contact by phone, with its labels."""
    with uow.session() as session:
        contacts = {
            c.phone: {
                "name": c.name,
                "timezone": c.timezone,
                "custom": c.custom_fields,
                "labels": set(),
                "updated_at": c.updated_at,
            }
            for c in session.scalars(select(Contact))
        }
        links = session.execute(
            select(Contact.phone, Label.name)
            .join(ContactLabel, ContactLabel.contact_id == Contact.id)
            .join(Label, Label.id == ContactLabel.label_id)
        )
        for phone, label in links:
            contacts[phone]["labels"].add(label)
        return contacts


def count(uow: UnitOfWork, model: type) -> int:
    with uow.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def seed(
    uow: UnitOfWork,
    phone: str,
    name: str,
    custom: dict[str, Any] | None = None,
    labels: tuple[str, ...] = (),
) -> None:
    """A contact as the CRM stored it, last changed long ago."""
    with uow.begin() as session:
        contact = Contact(
            name=name, phone=phone, custom_fields=custom or {}, created_at=PAST, updated_at=PAST
        )
        session.add(contact)
        session.flush()
        for label_name in labels:
            label = session.scalar(select(Label).where(Label.name == label_name))
            if label is None:
                label = Label(name=label_name)
                session.add(label)
                session.flush()
            session.add(ContactLabel(contact_id=contact.id, label_id=label.id))


# --- mapping and reading ------------------------------------------------------------------


def test_detects_common_indonesian_headers(uow: UnitOfWork, owner: Actor) -> None:
    data = csv_bytes(
        "Nama,No HP,Tags,Kota,Zona Waktu",
        "Budi Santoso,0812-3456-7890,vip,Jakarta,WIB",
    )
    result = run(uow, owner, data)
    assert result.columns.describe() == {
        "phone": "No HP",
        "name": "Nama",
        "labels": "Tags",
        "timezone": "Zona Waktu",
        "custom_fields": {"Kota": "kota"},
        "delimiter": ",",
    }
    assert result.created == 1
    contact = stored(uow)[BUDI]
    assert contact["name"] == "Budi Santoso"
    assert contact["timezone"] == "Asia/Jakarta"
    assert contact["custom"] == {"kota": "Jakarta"}
    assert contact["labels"] == {"vip"}


@pytest.mark.parametrize("header", ["phone", "hp", "no_hp", "WhatsApp", "Telepon", "Mobile"])
def test_detects_phone_column_names(uow: UnitOfWork, owner: Actor, header: str) -> None:
    result = run(uow, owner, csv_bytes(f"name,{header}", "Budi,081234567890"))
    assert result.columns.phone == header
    assert BUDI in stored(uow)


def test_explicit_mapping_and_renamed_custom_fields(uow: UnitOfWork, owner: Actor) -> None:
    data = csv_bytes(
        "Customer,Contact No,Groups,City,Secret,Spend",
        'Budi,081234567890,"gold|promo",Bandung,x,100',
    )
    mapping = ColumnMapping(
        name="Customer",
        phone="contact no",  # matched loosely: case and spacing do not matter
        labels="Groups",
        custom_fields={"City": "kota", "Spend": None},
        label_separator="|",
    )
    result = run(uow, owner, data, mapping)
    assert result.columns.custom_fields == {"City": "kota", "Spend": "spend"}
    contact = stored(uow)[BUDI]
    assert contact["custom"] == {"kota": "Bandung", "spend": 100}
    assert contact["labels"] == {"gold", "promo"}


def test_empty_custom_field_list_and_no_name_column(uow: UnitOfWork, owner: Actor) -> None:
    data = csv_bytes("name,phone,city", "Budi,081234567890,Bandung")
    run(uow, owner, data, ColumnMapping(name="", custom_fields=[]))
    assert stored(uow)[BUDI]["name"] == BUDI
    assert stored(uow)[BUDI]["custom"] == {}


@pytest.mark.parametrize(
    ("mapping", "header", "message"),
    [
        (ColumnMapping(phone="Mobile"), "name,phone", "The phone column 'Mobile' is not in"),
        (None, "name,city", "No phone column found"),
        (ColumnMapping(custom_fields=["Kota"]), "name,phone", "column 'Kota' is not in"),
        (ColumnMapping(name="phone"), "name,phone", "cannot be mapped to two"),
        (None, "name,phone,city,city", "repeats column names: city"),
        (None, "name,phone,City,city ", "Several columns would fill the custom field(s) city"),
    ],
)
def test_mapping_problems_reject_the_file(
    uow: UnitOfWork, owner: Actor, mapping: ColumnMapping | None, header: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(uow, owner, csv_bytes(header, "Budi,081234567890,a,b"), mapping)
    assert count(uow, Contact) == 0


def test_empty_file_is_rejected(uow: UnitOfWork, owner: Actor) -> None:
    with pytest.raises(InvalidInput, match="The file is empty"):
        run(uow, owner, b"")


def test_excel_utf8_bom_semicolons_quotes_and_crlf(uow: UnitOfWork, owner: Actor) -> None:
    data = "\ufeff" + "\r\n".join(
        [
            "Nama;No HP;Label;Alamat",
            'Budi;0812 3456 7890;"vip;reseller";"Jl. Merdeka 1; RT 2"',
            'Siti;081298765432;promo;"Jl. Sudirman\r\nLantai 3"',
            "Ani;123;;",
        ]
    )
    result = run(uow, owner, data.encode("utf-8"), skip_bad_rows=True)
    assert result.columns.delimiter == ";"
    assert result.columns.name == "Nama"  # the BOM is not part of the first header
    contacts = stored(uow)
    assert contacts[BUDI]["labels"] == {"vip", "reseller"}
    assert contacts[BUDI]["custom"] == {"alamat": "Jl. Merdeka 1; RT 2"}
    assert contacts[SITI]["custom"] == {"alamat": "Jl. Sudirman\r\nLantai 3"}
    # The quoted address spans lines 3 and 4, so the bad row is on line 5.
    assert result.bad_rows == [(5, "'123' is not a valid phone number")]


def test_excel_sep_line_and_explicit_delimiter(uow: UnitOfWork, owner: Actor) -> None:
    data = csv_bytes("sep=|", "name|phone", "Budi|081234567890", "Siti|0812")
    result = run(uow, owner, data, skip_bad_rows=True)
    assert result.columns.delimiter == "|"
    assert result.bad_rows == [(4, "'0812' is not a valid phone number")]
    result = run(uow, owner, csv_bytes("name\tphone", "Budi\t081234567890"), delimiter="\t")
    assert result.unchanged == 1


def test_file_that_is_not_utf8_names_the_line(uow: UnitOfWork, owner: Actor) -> None:
    data = "name,phone\nBudi,081234567890\nJosé,081298765432\n".encode("cp1252")
    with pytest.raises(InvalidInput, match="Line 3 is not valid utf-8-sig text"):
        run(uow, owner, data)
    assert count(uow, Contact) == 0
    run(uow, owner, data, encoding="cp1252")
    assert stored(uow)[SITI]["name"] == "José"


def test_reads_file_objects_and_leaves_them_open(uow: UnitOfWork, owner: Actor) -> None:
    upload = io.BytesIO(csv_bytes("name,phone", "Budi,081234567890"))
    run(uow, owner, upload)  # type: ignore[arg-type]
    assert not upload.closed
    text = io.StringIO("\ufeffname,phone\nSiti,081298765432\n", newline="")
    import_contacts(uow, owner, text)
    assert set(stored(uow)) == {BUDI, SITI}


def test_blank_rows_are_ignored_and_counted(uow: UnitOfWork, owner: Actor) -> None:
    result = run(uow, owner, csv_bytes("", "name,phone", "", "Budi,081234567890", ",", ""))
    assert (result.rows, result.blank_rows, result.created) == (1, 3, 1)


# --- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("-7", -7),
        ("0", 0),
        ("12.50", 12.5),
        ("true", True),
        ("Ya", True),
        ("tidak", False),
        ("2024-03-01", "2024-03-01"),
        ("0812", "0812"),  # leading zero: an id, not a number
        ("+62", "+62"),
        ("1.500.000", "1.500.000"),  # grouped digits depend on the locale
        ("12345678901234567890", "12345678901234567890"),
        ("Jakarta", "Jakarta"),
    ],
)
def test_infers_custom_field_types(text: str, value: Any) -> None:
    assert infer_value(text) == value
    assert type(infer_value(text)) is type(value)


def test_custom_field_types_stored_or_kept_as_text(uow: UnitOfWork, owner: Actor) -> None:
    data = csv_bytes(
        "name,phone,orders,spend,member,birthday",
        "Budi,081234567890,3,1250.75,yes,1990-05-17",
    )
    run(uow, owner, data)
    assert stored(uow)[BUDI]["custom"] == {
        "orders": 3,
        "spend": 1250.75,
        "member": True,
        "birthday": "1990-05-17",
    }
    data = csv_bytes("name,phone,orders,member", "Siti,081298765432,3,yes")
    run(uow, owner, data, infer_types=False)
    assert stored(uow)[SITI]["custom"] == {"orders": "3", "member": "yes"}


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("081234567890", "ID", BUDI),
        ("6281234567890", "ID", BUDI),
        ("+62 812-3456-7890", "ID", BUDI),
        ("(0812) 3456 7890", "ID", BUDI),
        ("012-345 6789", "MY", "+60123456789"),
        ("+62 812 3456 7890", "MY", BUDI),
    ],
)
def test_phones_normalised_to_e164(
    uow: UnitOfWork, owner: Actor, raw: str, region: str, expected: str
) -> None:
    run(uow, owner, csv_bytes("name,phone", f'Budi,"{raw}"'), region=region)
    assert list(stored(uow)) == [expected]


def test_unknown_region_is_rejected(uow: UnitOfWork, owner: Actor) -> None:
    with pytest.raises(InvalidInput, match="'XX' is not a region code"):
        run(uow, owner, csv_bytes("name,phone", "Budi,081234567890"), region="xx")


# --- bad rows --------------------------------------------------------------------------------


def test_each_bad_row_reason_with_its_line(uow: UnitOfWork, owner: Actor) -> None:
    data = csv_bytes(
        "name,phone,labels,timezone",
        "Budi,081234567890,vip,Asia/Jakarta",
        "No Phone,,,",
        "Wrong,12345,,",
        "Excel,6.28123E+11,,",
        "Zone,081298765432,,Asia/Jakrta",
        f"{'x' * 201},081311112222,,",
        f"Label,081311113333,{'y' * 101},",
        "Extra,081311114444,vip,WIB,surprise",
        "Two,abc,,Mars/Base",
        "Fine,081311115555,,wita",
    )
    result = run(uow, owner, data)
    assert result.rejected and not result.written
    assert result.bad_rows == [
        (3, "no phone number (column 'phone' is empty)"),
        (4, "'12345' is not a valid phone number"),
        (
            5,
            "'6.28123E+11' is not a phone number (The string supplied did not seem to be a "
            "phone number.) (a spreadsheet turned it into a number: format the column as Text)",
        ),
        (6, "timezone 'Asia/Jakrta' is not an IANA timezone such as Asia/Jakarta"),
        (7, "the name is longer than 200 characters"),
        (8, f"label {'y' * 20!r}... is longer than 100 characters"),
        (
            9,
            "the row has 5 fields but the header has 4 (check the quotes and the delimiter)",
        ),
        (
            10,
            "'abc' is not a phone number (The string supplied did not seem to be a phone "
            "number.); timezone 'Mars/Base' is not an IANA timezone such as Asia/Jakarta",
        ),
    ]
    assert (result.rows, result.created, result.skipped) == (10, 0, 0)


def test_all_or_nothing_writes_nothing_when_the_last_row_is_bad(
    uow: UnitOfWork, owner: Actor
) -> None:
    good = [f"Customer {i},0813{i:08d},new" for i in range(7)]
    data = csv_bytes("name,phone,labels", *good, "Bad,,vip")
    result = run(uow, owner, data, batch_size=2)
    assert result.rejected
    assert result.bad_rows == [(9, "no phone number (column 'phone' is empty)")]
    assert (result.created, result.labels_created) == (0, [])
    assert count(uow, Contact) == count(uow, Label) == count(uow, ContactLabel) == 0
    with uow.session() as session:
        actions = set(session.scalars(select(AuditLog.action)))
    assert actions == {"profile.create"}  # the owner's own creation, no import


def test_skip_bad_rows_imports_the_good_ones(uow: UnitOfWork, owner: Actor) -> None:
    data = csv_bytes("name,phone", "Budi,081234567890", "Bad,0812", "Siti,081298765432")
    result = run(uow, owner, data, skip_bad_rows=True)
    assert result.written and not result.rejected
    assert (result.created, result.skipped, result.imported_rows) == (2, 1, 2)
    assert result.bad_rows == [(3, "'0812' is not a valid phone number")]
    assert set(stored(uow)) == {BUDI, SITI}


def test_dry_run_reports_and_writes_nothing(uow: UnitOfWork, owner: Actor) -> None:
    seed(uow, BUDI, "Budi")
    before = count(uow, AuditLog)
    data = csv_bytes(
        "name,phone,labels", "Budi S,081234567890,vip", "Siti,081298765432,promo", "X,0812,"
    )
    result = run(uow, owner, data, dry_run=True, skip_bad_rows=True)
    assert (result.created, result.updated, result.skipped) == (1, 1, 1)
    assert result.labels_created == ["promo", "vip"]
    assert not result.written
    assert stored(uow)[BUDI]["name"] == "Budi" and SITI not in stored(uow)
    assert count(uow, Label) == 0
    assert count(uow, AuditLog) == before
    rejected = run(uow, owner, data, dry_run=True)
    assert rejected.rejected and rejected.bad_rows == [(4, "'0812' is not a valid phone number")]


# --- merging --------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_rows_for_one_phone_merge_within_the_file(
    uow: UnitOfWork, owner: Actor, batch_size: int
) -> None:
    data = csv_bytes(
        "name,phone,labels,city,tier",
        "Budi,081234567890,vip,Bandung,gold",
        "Siti,081298765432,,,",
        "Budi Santoso,+62 812 3456 7890,promo,Jakarta,",
        ",6281234567890,vip;reseller,,",
    )
    result = run(uow, owner, data, batch_size=batch_size)
    assert (result.created, result.updated, result.merged_rows) == (2, 0, 2)
    budi = stored(uow)[BUDI]
    assert budi["name"] == "Budi Santoso"  # the empty name in line 5 erases nothing
    assert budi["custom"] == {"city": "Jakarta", "tier": "gold"}
    assert budi["labels"] == {"vip", "promo", "reseller"}
    assert count(uow, Contact) == 2


def test_merges_into_existing_contacts_without_losing_data(uow: UnitOfWork, owner: Actor) -> None:
    seed(uow, BUDI, "Budi", {"city": "Bandung", "tier": "silver"}, labels=("vip",))
    seed(uow, SITI, "Siti", {"city": "Medan"}, labels=("promo",))
    data = csv_bytes(
        "name,phone,labels,tier,city",
        "Budi Santoso,081234567890,Reseller,gold,",
        "Siti,081298765432,promo,,Medan",
        ",081311112222,,,",
    )
    result = run(uow, owner, data)
    assert (result.created, result.updated, result.unchanged) == (1, 1, 1)
    assert result.labels_created == ["reseller"]
    contacts = stored(uow)
    budi = contacts[BUDI]
    assert budi["name"] == "Budi Santoso"
    assert budi["custom"] == {"city": "Bandung", "tier": "gold"}
    assert budi["labels"] == {"vip", "reseller"}
    assert budi["updated_at"] > PAST
    assert contacts[SITI]["updated_at"] == PAST  # nothing changed, nothing touched
    assert contacts[SITI]["labels"] == {"promo"}
    assert contacts["+6281311112222"]["name"] == "+6281311112222"  # no name: named by phone


def test_adding_only_a_label_counts_as_an_update(uow: UnitOfWork, owner: Actor) -> None:
    seed(uow, BUDI, "Budi")
    result = run(uow, owner, csv_bytes("phone,labels", "081234567890,vip"))
    assert (result.updated, result.unchanged) == (1, 0)
    assert stored(uow)[BUDI]["updated_at"] > PAST
    assert stored(uow)[BUDI]["name"] == "Budi"


def test_labels_are_normalised_and_match_existing_ones(uow: UnitOfWork, owner: Actor) -> None:
    seed(uow, SITI, "Siti", labels=("VIP Customer",))
    data = csv_bytes("name,phone,labels", 'Budi,081234567890," vip  customer | Pelanggan Setia "')
    result = run(uow, owner, data)
    assert result.labels_created == ["pelanggan_setia"]
    assert stored(uow)[BUDI]["labels"] == {"VIP Customer", "pelanggan_setia"}


def test_reimporting_the_same_file_changes_nothing(uow: UnitOfWork, owner: Actor) -> None:
    rows = [f"Customer {i},0813{i:08d},tag{i % 3},{i}" for i in range(40)]
    # Repeats far apart, whose rows disagree: only the merged end state may count.
    rows += [f"Renamed {i},0813{i:08d},other,{i * 2}" for i in range(0, 40, 5)]
    data = csv_bytes("name,phone,labels,spend", *rows)
    run(uow, owner, data, batch_size=3)
    first = stored(uow)
    assert first["+6281300000005"]["name"] == "Renamed 5"
    assert first["+6281300000005"]["custom"] == {"spend": 10}
    result = run(uow, owner, data, batch_size=3)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 40)
    assert result.merged_rows == 8
    assert stored(uow) == first  # updated_at included


# --- permissions and audit -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["supervisor", "agent"])
def test_only_roles_that_write_contacts_may_import(
    uow: UnitOfWork, role: str, request: pytest.FixtureRequest
) -> None:
    actor: Actor = request.getfixturevalue(role)
    before = count(uow, AuditLog)
    with pytest.raises(PermissionDenied, match="may not create, change or delete contacts"):
        run(uow, actor, csv_bytes("name,phone", "Budi,081234567890"))
    with pytest.raises(PermissionDenied):
        run(uow, actor, csv_bytes("name,phone", "Budi,081234567890"), dry_run=True)
    assert count(uow, Contact) == 0
    assert count(uow, AuditLog) == before


def test_one_audit_record_with_the_acting_user(uow: UnitOfWork, owner: Actor) -> None:
    data = csv_bytes("name,phone,labels", "Budi,081234567890,vip", "Bad,0812,")
    run(uow, owner, data, skip_bad_rows=True)
    with uow.session() as session:
        entries = list(session.scalars(select(AuditLog).where(AuditLog.action == "contact.import")))
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor_id, entry.actor_email, entry.actor_role) == (owner.id, owner.email, "owner")
    assert entry.details["file_name"] == "c.csv"
    assert entry.details["created"] == 1
    assert entry.details["bad_rows"] == 1
    assert entry.details["first_bad_rows"] == [[3, "'0812' is not a valid phone number"]]
    assert entry.details["labels_created"] == ["vip"]
    assert entry.details["options"]["skip_bad_rows"] is True
    assert entry.details["options"]["region"] == "ID"
    assert entry.details["columns"]["phone"] == "phone"


def test_system_actor_imports_under_its_own_name(uow: UnitOfWork) -> None:
    run(uow, SYSTEM_ACTOR, csv_bytes("name,phone", "Budi,081234567890"))
    with uow.session() as session:
        entry = session.scalar(select(AuditLog).where(AuditLog.action == "contact.import"))
    assert entry is not None and entry.actor_role == "system" and entry.actor_id is None
