"""The demo generator on its own: deterministic, realistic shapes, valid values (no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import phonenumbers
import polars as pl
import pytest

from sql.demo_catalog import CITIES, LABELS, POOLS, TIERS
from sql.demo_generate import DemoChunk, DemoGenerator, label_ids_for
from sql.demo_ids import PhoneBook, uuid_hex

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
AGENTS = ("a" * 32, "b" * 32)


def generate(contacts: int, seed: int = 3, chunk_size: int = 5_000) -> DemoChunk:
    generator = DemoGenerator(
        seed=seed,
        now=NOW,
        label_ids=label_ids_for(seed, NOW, list(LABELS)),
        assignee_ids=AGENTS,
        chunk_size=chunk_size,
    )
    chunks = list(generator.chunks(contacts))
    return DemoChunk(
        pl.concat([c.contacts for c in chunks]),
        pl.concat([c.contact_labels for c in chunks]),
        pl.concat([c.conversations for c in chunks]),
    )


@pytest.fixture(scope="module")
def data() -> DemoChunk:
    return generate(20_000)


def fields(data: DemoChunk) -> pl.DataFrame:
    return pl.DataFrame([json.loads(f) for f in data.contacts["custom_fields"]])


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first, again, other = generate(2_000), generate(2_000), generate(2_000, seed=4)
    for a, b in zip(
        (first.contacts, first.contact_labels, first.conversations),
        (again.contacts, again.contact_labels, again.conversations),
        strict=True,
    ):
        assert a.equals(b)
    assert not first.contacts["phone"].equals(other.contacts["phone"])


def test_ids_are_unique_uuid7_in_insert_order(data: DemoChunk) -> None:
    for frame in (data.contacts, data.conversations):
        ids = frame["id"]
        assert ids.n_unique() == frame.height
        assert ids.is_sorted()  # appends at the end of every primary-key index
        assert all(id_[12] == "7" and id_[16] in "89ab" for id_ in ids.head(100))


def test_uuid_hex_is_what_the_uuid_module_reads() -> None:
    import uuid

    rng = np.random.default_rng(1)
    values = uuid_hex(1_700_000_000_000, 2, np.array([0, 1, 2**35]), rng).to_list()
    parsed = [uuid.UUID(hex=v) for v in values]
    assert [p.version for p in parsed] == [7, 7, 7]
    assert [p.hex for p in parsed] == values


def test_phone_numbers_valid_and_unique_across_chunks(data: DemoChunk) -> None:
    phones = data.contacts["phone"]
    assert phones.n_unique() == data.contacts.height
    for phone in phones.sample(2_000, seed=1):
        number = phonenumbers.parse(phone)
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
        assert phonenumbers.region_code_for_number(number) == "ID"


def test_phonebook_never_repeats_a_number() -> None:
    book, rng = PhoneBook(), np.random.default_rng(5)
    drawn = np.concatenate([book.draw(rng, 30_000) for _ in range(5)])
    assert len(np.unique(drawn)) == len(drawn) == 150_000


def test_timezone_follows_the_city(data: DemoChunk) -> None:
    zones = {city.name: city.timezone for city in CITIES}
    frame = data.contacts.select("timezone").with_columns(fields(data)["city"])
    known = frame.drop_nulls("timezone")
    assert all(zones[city] == zone for zone, city in known.iter_rows())
    assert 0.8 < known.height / frame.height < 0.95  # some records lack a timezone
    assert set(known["timezone"]) == {"Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"}


def test_names_follow_the_region(data: DemoChunk) -> None:
    batak = set(POOLS["batak"].last_male)
    frame = data.contacts.select("name").with_columns(fields(data)["city"])

    def batak_share(city: str) -> float:
        names = frame.filter(pl.col("city") == city)["name"]
        return sum(name.split()[-1] in batak for name in names) / len(names)

    assert batak_share("Medan") > 0.3 > 0.1 > batak_share("Yogyakarta")
    balinese = frame.filter(pl.col("city") == "Denpasar")["name"]
    assert sum(n.startswith(("I ", "Ni ")) for n in balinese) / len(balinese) > 0.5


def test_custom_fields_are_plausible(data: DemoChunk) -> None:
    f = fields(data)
    shares = f["tier"].value_counts(normalize=True).sort("tier")
    share = dict(zip(shares["tier"], shares["proportion"], strict=True))
    assert set(share) == set(TIERS)
    assert share["bronze"] > share["silver"] > share["gold"] > share["platinum"] > 0.01
    assert (f["total_spend"] % 500 == 0).all()
    assert f.filter(pl.col("total_spend") == 0)["last_order_date"].null_count() > 0
    assert set(f["channel"]) > {"instagram", "shopee", "tokopedia"}


def test_conversations_are_skewed_and_recent_ones_open(data: DemoChunk) -> None:
    per_contact = (
        data.contacts.select(pl.col("id").alias("contact_id"))
        .join(data.conversations.group_by("contact_id").len(), on="contact_id", how="left")
        .fill_null(0)["len"]
    )
    assert per_contact.max() <= 20
    assert per_contact.median() <= 2  # many contacts have few
    assert (per_contact == 0).mean() > 0.2
    assert (per_contact >= 10).sum() > 50  # and a few talk a lot
    convs = data.conversations.with_columns(
        age_days=(pl.lit(NOW.replace(tzinfo=None)) - pl.col("last_message_at")).dt.total_days(),
        open=pl.col("status").is_in(["incoming", "in_progress", "waiting"]),
    )
    recent = convs.filter(pl.col("age_days") < 1)["open"].mean()
    old = convs.filter(pl.col("age_days") > 30)["open"].mean()
    assert recent > 0.6 and old < 0.1
    rated = convs.filter(pl.col("rating").is_not_null())
    assert set(rated["status"]) <= {"resolved", "closed"}
    assert rated["rating"].mean() > 3.5


def test_labels_are_skewed_and_capped(data: DemoChunk) -> None:
    names = {v: k for k, v in label_ids_for(3, NOW, list(LABELS)).items()}
    counts = data.contact_labels["label_id"].replace_strict(names).value_counts()
    count = dict(zip(counts["label_id"], counts["count"], strict=True))
    assert count["promo"] > count["vip"] > 0
    assert count["promo"] > count["wholesale"] > 0
    per_contact = data.contact_labels.group_by("contact_id").len()["len"]
    assert per_contact.max() <= 4
    assert data.contact_labels.height / data.contacts.height < 2


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DemoGenerator(seed=1, now=datetime(2026, 1, 1), label_ids=label_ids_for(1, NOW, []))
