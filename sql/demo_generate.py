"""Generates the demo CRM in chunks: contacts, their labels and their conversations.

Everything is drawn with numpy from one seed and a fixed "now", column by column (no
per-row Python), so a million contacts take seconds and the same seed and anchor always
give the same rows. Output is engine-neutral Polars frames: ids as 32-digit hex, times as
naive UTC ``Datetime("us")``, custom fields as JSON text; ``sql.demo_load`` writes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np
import polars as pl

from sql.demo_catalog import (
    CHANNELS,
    CITIES,
    LABELS,
    POOLS,
    TIER_THRESHOLDS_IDR,
    TIERS,
    UTC_OFFSET_HOURS,
)
from sql.demo_ids import PhoneBook, uuid_hex
from sql.schema import CONVERSATION_STATUSES

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
MAX_CONVERSATIONS = 20
MAX_LABELS = 4
CONTACT_HISTORY_DAYS = 3 * 365  # how far back the CRM's contacts go
CONVERSATION_WINDOW_DAYS = 365  # conversations cover the last 12 months
DEFAULT_CHUNK = 50_000

# Kinds keep the demo's id spaces apart (see sql.demo_ids.uuid_hex).
KIND_CONTACT, KIND_CONVERSATION, KIND_LABEL = 1, 2, 3

# Status shares by how long ago the conversation's last message was: recent threads are
# mostly still open, old ones mostly resolved or closed (a few forgotten ones linger).
_STATUS_BY_AGE = (
    (1, (0.35, 0.30, 0.20, 0.10, 0.05)),
    (7, (0.08, 0.15, 0.22, 0.30, 0.25)),
    (30, (0.02, 0.04, 0.08, 0.36, 0.50)),
    (None, (0.005, 0.01, 0.025, 0.26, 0.70)),
)
_STATUS = {name: index for index, name in enumerate(CONVERSATION_STATUSES)}
_RATING_SHARES = (0.05, 0.05, 0.12, 0.28, 0.50)  # 1..5 stars, customers rate kindly
_RATED_SHARE = 0.55  # of resolved/closed conversations
# Local hour-of-day activity of a WhatsApp shop: mornings and evenings, quiet at night.
_HOURLY = (0.5, 0.3, 0.2, 0.1, 0.2, 0.6, 1.5, 3, 4.5, 6, 7, 7,
           6.5, 6, 5.5, 5, 5, 5.5, 6.5, 7.5, 7.5, 6, 3.5, 1.5)  # fmt: skip
_CONVERSATIONS_BY_TIER = (1.8, 3.2, 5.0, 7.5)  # mean per year of history


def _normalised(weights: object) -> np.ndarray:
    array = np.asarray(weights, dtype=np.float64)
    return array / array.sum()


class _Tables:
    """The catalog turned into arrays the samplers index into."""

    def __init__(self) -> None:
        pools = list(POOLS)
        self.city_names = pl.Series([c.name for c in CITIES])
        self.city_weights = _normalised([c.weight for c in CITIES])
        self.city_timezones = pl.Series([c.timezone for c in CITIES])
        self.city_offsets = np.array([UTC_OFFSET_HOURS[c.timezone] for c in CITIES])
        mix = np.array([[c.pools.get(p, 0.0) for p in pools] for c in CITIES], dtype=float)
        self.pool_cdf = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)
        self.single_share = np.array([POOLS[p].single_name_share for p in pools])
        # Flat name lists with (pool, kind) offsets; kinds: male, female, last m, last f.
        names: list[str] = []
        self.name_offset = np.zeros((len(pools), 4), dtype=np.int64)
        self.name_size = np.zeros((len(pools), 4), dtype=np.int64)
        for i, p in enumerate(pools):
            pool = POOLS[p]
            kinds = (pool.male, pool.female, pool.last_male, pool.last_female or pool.last_male)
            for k, values in enumerate(kinds):
                self.name_offset[i, k], self.name_size[i, k] = len(names), len(values)
                names.extend(values)
        self.names = pl.Series(names)
        self.channels = pl.Series(list(CHANNELS))
        self.channel_weights = _normalised(list(CHANNELS.values()))
        self.tiers = pl.Series(TIERS)
        self.hourly = _normalised(_HOURLY)


@cache
def _tables() -> _Tables:
    return _Tables()


@dataclass(frozen=True)
class DemoChunk:
    """One chunk of rows, column order as ``sql.demo_load`` inserts them."""

    contacts: pl.DataFrame
    contact_labels: pl.DataFrame
    conversations: pl.DataFrame


@dataclass(frozen=True)
class _Traits:
    """Per-contact facts the conversation and label samplers depend on."""

    ids: pl.Series
    created: np.ndarray
    tier: np.ndarray
    orders: np.ndarray
    spend: np.ndarray
    last_order: np.ndarray  # -1 when the contact never ordered
    offset_hours: np.ndarray


class DemoGenerator:
    """Yields chunks of the demo CRM for ``total`` contacts, deterministic per seed and now."""

    def __init__(
        self,
        *,
        seed: int,
        now: datetime,
        label_ids: dict[str, str],
        assignee_ids: tuple[str, ...] = (),
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        missing = set(LABELS) - set(label_ids)
        if missing:
            raise ValueError(f"label ids missing for {sorted(missing)}")
        self.seed = seed
        self.now_us = _epoch_us(now)
        self.label_names = list(LABELS)
        self.label_ids = pl.Series([label_ids[name] for name in self.label_names])
        self.assignee_ids = assignee_ids
        self.chunk_size = chunk_size
        self.phones = PhoneBook()
        self._next_conversation = 0

    def chunks(self, total: int) -> Iterator[DemoChunk]:
        for index, start in enumerate(range(0, total, self.chunk_size)):
            rng = np.random.default_rng([self.seed, index])
            yield self._chunk(rng, start, min(self.chunk_size, total - start))

    def _chunk(self, rng: np.random.Generator, start: int, n: int) -> DemoChunk:
        contacts, traits = self._contacts(rng, start, n)
        conversations, worst_rating, has_open = self._conversations(rng, traits)
        labels = self._labels(rng, traits, worst_rating, has_open)
        return DemoChunk(contacts, labels, conversations)

    # --- contacts -----------------------------------------------------------------------

    def _contacts(
        self, rng: np.random.Generator, start: int, n: int
    ) -> tuple[pl.DataFrame, _Traits]:
        t, now = _tables(), self.now_us
        ids = uuid_hex(now // 1000, KIND_CONTACT, np.arange(start, start + n), rng)
        city = rng.choice(len(t.city_weights), size=n, p=t.city_weights)
        pool = (rng.random(n)[:, None] > t.pool_cdf[city]).sum(axis=1)
        female = rng.random(n) < 0.54  # online shops skew slightly female
        names = self._names(rng, pool, female)
        phones = self.phones.draw(rng, n)
        # More customers joined recently than long ago (the shop grows).
        created = now - (CONTACT_HISTORY_DAYS * DAY_US * rng.random(n) ** 1.5).astype(np.int64)
        created = np.minimum(created, now - 60_000_000)
        updated = created + ((now - created) * rng.random(n) ** 0.3).astype(np.int64)
        ordered = rng.random(n) >= 0.10  # one in ten only ever chatted
        spend = np.where(ordered, rng.lognormal(np.log(800_000), 1.4, n), 0.0)
        spend = (np.round(np.minimum(spend, 2_000_000_000) / 500) * 500).astype(np.int64)
        tier = np.searchsorted(np.array(TIER_THRESHOLDS_IDR), spend, side="right")
        basket = rng.lognormal(np.log(180_000), 0.5, n)
        orders = np.where(ordered, np.clip(np.round(spend / basket), 1, 400), 0).astype(np.int64)
        last_order = np.where(
            ordered, created + ((now - created) * rng.random(n) ** 0.4).astype(np.int64), -1
        )
        offset = t.city_offsets[city]
        age_years = np.clip(rng.normal(32, 10, n), 17, 72)
        birthday = now - (age_years * 365.25 * DAY_US).astype(np.int64)
        channel = rng.choice(len(t.channel_weights), size=n, p=t.channel_weights)
        has_timezone = rng.random(n) >= 0.12  # not every CRM record knows it
        local_day = pl.Series(last_order + offset * HOUR_US).cast(pl.Datetime("us")).dt.date()
        frame = pl.DataFrame(
            {
                "city": t.city_names.gather(city),
                "tier": t.tiers.gather(tier),
                "gender": np.where(female, "female", "male"),
                "birthday": pl.Series(birthday).cast(pl.Datetime("us")).dt.date(),
                "total_spend": spend,
                "order_count": orders,
                "last_order_date": local_day,
                "channel": t.channels.gather(channel),
            }
        ).with_columns(
            pl.col("birthday").dt.strftime("%Y-%m-%d"),
            pl.when(pl.Series(ordered))
            .then(pl.col("last_order_date").dt.strftime("%Y-%m-%d"))
            .otherwise(None),
        )
        contacts = pl.DataFrame(
            {
                "id": ids,
                "name": names,
                "phone": pl.Series(phones).cast(pl.String),
                "timezone": t.city_timezones.gather(city),
                "custom_fields": frame.select(pl.struct(pl.all()).struct.json_encode()).to_series(),
                "created_at": pl.Series(created).cast(pl.Datetime("us")),
                "updated_at": pl.Series(updated).cast(pl.Datetime("us")),
            }
        ).with_columns(
            ("+" + pl.col("phone")).alias("phone"),
            pl.when(pl.Series(has_timezone)).then(pl.col("timezone")).otherwise(None),
        )
        return contacts, _Traits(ids, created, tier, orders, spend, last_order, offset)

    def _names(self, rng: np.random.Generator, pool: np.ndarray, female: np.ndarray) -> pl.Series:
        t, n = _tables(), len(pool)
        kind = female.astype(np.int64)

        def pick(kinds: np.ndarray) -> pl.Series:
            size = t.name_size[pool, kinds]
            # u**1.6 favours the head of each list: common names are common.
            index = t.name_offset[pool, kinds] + (size * rng.random(n) ** 1.6).astype(np.int64)
            return t.names.gather(index)

        first, last = pick(kind), pick(kind + 2)
        single = rng.random(n) < t.single_share[pool]
        # "Lestari Lestari" happens when a pool shares a name between lists: keep one.
        alone = pl.Series(single) | (first == last)
        full = pl.concat_str([first, last], separator=" ")
        return pl.select(pl.when(alone).then(first).otherwise(full)).to_series()

    # --- conversations ------------------------------------------------------------------

    def _conversations(
        self, rng: np.random.Generator, traits: _Traits
    ) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
        now, n = self.now_us, len(traits.created)
        window_start = np.maximum(traits.created, now - CONVERSATION_WINDOW_DAYS * DAY_US)
        exposure = np.clip((now - window_start) / (CONVERSATION_WINDOW_DAYS * DAY_US), 0.05, 1)
        mean = np.array(_CONVERSATIONS_BY_TIER)[traits.tier] * exposure
        mean = np.where(traits.orders == 0, mean * 0.5, mean)
        counts = rng.negative_binomial(1.0, 1.0 / (1.0 + mean))
        # A contact created lately usually exists because they just wrote in.
        recent = (now - traits.created < 30 * DAY_US) & (rng.random(n) < 0.7)
        counts = np.minimum(counts + recent, MAX_CONVERSATIONS)
        owner = np.repeat(np.arange(n), counts)
        m = len(owner)

        start, span = window_start[owner], now - 60_000_000 - window_start[owner]
        created = start + (np.maximum(span, 0) * rng.random(m)).astype(np.int64)
        created = self._at_local_hours(
            rng, created, start, start + np.maximum(span, 0), traits.offset_hours[owner]
        )
        minutes = np.clip(rng.lognormal(np.log(45), 1.8, m), 1, 14 * 24 * 60)
        last = created + (minutes * 60_000_000).astype(np.int64)
        # A thread still going on right now: its last message came some time since it began.
        ongoing = created + ((now - created) * rng.random(m)).astype(np.int64)
        last = np.where(last > now, ongoing, last)
        status = self._statuses(rng, now - last)
        rating = np.where(
            np.isin(status, [_STATUS["resolved"], _STATUS["closed"]])
            & (rng.random(m) < _RATED_SHARE),
            rng.choice(5, size=m, p=_RATING_SHARES) + 1,
            0,
        )
        messages = 1 + rng.poisson(2 + 1.5 * np.log1p(minutes))
        assignee = self._assignees(rng, status)

        seq = np.arange(self._next_conversation, self._next_conversation + m)
        self._next_conversation += m
        frame = pl.DataFrame(
            {
                "id": uuid_hex(now // 1000, KIND_CONVERSATION, seq, rng),
                "contact_id": traits.ids.gather(owner),
                "status": pl.Series(CONVERSATION_STATUSES).gather(status),
                "rating": pl.Series(rating, dtype=pl.Int16),
                "assigned_to": assignee,
                "message_count": pl.Series(messages, dtype=pl.Int32),
                "created_at": pl.Series(created).cast(pl.Datetime("us")),
                "last_message_at": pl.Series(last).cast(pl.Datetime("us")),
            }
        ).with_columns(pl.col("rating").replace(0, None))
        worst = np.full(n, 6)
        np.minimum.at(worst, owner, np.where(rating == 0, 6, rating))
        open_ = np.zeros(n, dtype=bool)
        open_[owner[np.isin(status, [_STATUS["in_progress"], _STATUS["waiting"]])]] = True
        return frame, worst, open_

    @staticmethod
    def _at_local_hours(
        rng: np.random.Generator,
        at: np.ndarray,
        earliest: np.ndarray,
        latest: np.ndarray,
        offset_hours: np.ndarray,
    ) -> np.ndarray:
        """Move each time to a plausible local hour of the same day, if that stays in range."""
        local = at + offset_hours * HOUR_US
        hour = rng.choice(24, size=len(at), p=_tables().hourly)
        moved = (local - local % DAY_US) + hour * HOUR_US + rng.integers(0, HOUR_US, len(at))
        moved -= offset_hours * HOUR_US
        return np.where((moved >= earliest) & (moved <= latest), moved, at)

    @staticmethod
    def _statuses(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
        status = np.empty(len(age), dtype=np.int64)
        lower = 0
        for days, shares in _STATUS_BY_AGE:
            upper = np.iinfo(np.int64).max if days is None else days * DAY_US
            mask = (age >= lower) & (age < upper)
            status[mask] = rng.choice(len(shares), size=int(mask.sum()), p=shares)
            lower = upper
        return status

    def _assignees(self, rng: np.random.Generator, status: np.ndarray) -> pl.Series:
        if not self.assignee_ids:
            return pl.Series([None] * len(status), dtype=pl.String)
        who = rng.integers(0, len(self.assignee_ids), len(status))
        ids = pl.Series(self.assignee_ids).gather(who)
        # New, unanswered conversations have nobody assigned yet.
        answered = pl.Series(status != _STATUS["incoming"])
        return pl.select(pl.when(answered).then(ids).otherwise(None)).to_series()

    # --- labels ---------------------------------------------------------------------------

    def _labels(
        self,
        rng: np.random.Generator,
        traits: _Traits,
        worst_rating: np.ndarray,
        has_open: np.ndarray,
    ) -> pl.DataFrame:
        now, n = self.now_us, len(traits.created)
        age = now - traits.created
        since_order = np.where(traits.last_order >= 0, now - traits.last_order, age)
        chance = {
            "vip": np.array([0.002, 0.02, 0.25, 0.75])[traits.tier],
            "loyal": np.where(traits.orders >= 5, 0.45, 0.03),
            "new_customer": np.where(age < 60 * DAY_US, 0.9, 0.0),
            "promo": np.full(n, 0.30),
            "reseller": np.where(traits.spend > 3_000_000, 0.15, 0.04),
            "wholesale": np.where(traits.spend > 10_000_000, 0.10, 0.012),
            "dropshipper": np.full(n, 0.025),
            "complaint": np.where(worst_rating <= 2, 0.6, 0.02),
            "inactive": np.where(since_order > 180 * DAY_US, 0.5, 0.0),
            "follow_up": np.where(has_open, 0.35, 0.01),
        }
        probability = np.stack([chance[name] for name in self.label_names], axis=1)
        chosen = rng.random(probability.shape) < probability
        # At most four labels: keep a random four of those drawn.
        keys = np.where(chosen, rng.random(probability.shape), 2.0)
        rank = np.argsort(np.argsort(keys, axis=1), axis=1)
        chosen &= rank < MAX_LABELS
        contact, label = np.nonzero(chosen)
        created = traits.created[contact]
        created = created + ((now - created) * rng.random(len(contact))).astype(np.int64)
        return pl.DataFrame(
            {
                "contact_id": traits.ids.gather(contact),
                "label_id": self.label_ids.gather(label),
                "created_at": pl.Series(created).cast(pl.Datetime("us")),
            }
        )


def label_ids_for(seed: int, now: datetime, names: list[str]) -> dict[str, str]:
    """Deterministic ids for the demo labels a seed creates."""
    rng = np.random.default_rng([seed, 1 << 30])
    ids = uuid_hex(_epoch_us(now) // 1000, KIND_LABEL, np.arange(len(names)), rng)
    return dict(zip(names, ids.to_list(), strict=True))


def _epoch_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch, exactly (no float rounding)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
