"""Identities for demo rows, drawn in bulk: UUIDs and Indonesian mobile numbers.

Ids are UUIDv7 (RFC 9562) whose random bits start with a "fixed-length dedicated counter":
4 bits naming the kind of row, then a 36-bit sequence number, then 34 random bits. They are
unique without a lookup, the same for the same seed, and increase in insert order, so
every primary-key index is appended to rather than split at random places.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from sql.demo_catalog import OPERATORS, SUBSCRIBER_LENGTHS


def uuid_hex(now_ms: int, kind: int, seq: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """UUIDv7s as 32 hex digits (how SQLAlchemy's ``Uuid`` stores them on SQLite)."""
    seq = seq.astype(np.uint64)
    counter = (np.uint64(kind) << np.uint64(36)) | seq  # 40 bits: kind, then sequence
    tail = rng.integers(0, 1 << 34, size=len(seq), dtype=np.uint64)
    # unix_ts_ms (48) | version 7 (4) | rand_a (12) || variant 0b10 (2) | rand_b (62)
    word0 = (np.uint64(now_ms) << np.uint64(16)) | np.uint64(0x7000) | (counter >> np.uint64(28))
    low_counter = (counter & np.uint64((1 << 28) - 1)) << np.uint64(34)
    word1 = np.uint64(0x8000000000000000) | low_counter | tail
    text = np.stack([word0, word1], axis=1).astype(">u8").tobytes().hex()
    return pl.Series([text[i : i + 32] for i in range(0, len(text), 32)], dtype=pl.String)


class PhoneBook:
    """Draws Indonesian mobile numbers (E.164 digits as integers) never handed out before."""

    def __init__(self) -> None:
        shares = [(w / len(ps), int(p)) for w, ps in OPERATORS.values() for p in ps]
        self._prefixes = np.array([p for _, p in shares], dtype=np.int64)
        self._prefix_weights = _normalised([w for w, _ in shares])
        self._lengths = np.array(list(SUBSCRIBER_LENGTHS), dtype=np.int64)
        self._length_weights = _normalised(list(SUBSCRIBER_LENGTHS.values()))
        self._used = np.empty(0, dtype=np.int64)  # sorted

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = np.empty(0, dtype=np.int64)
        while len(out) < n:
            need = n - len(out)
            prefix = self._prefixes[rng.choice(len(self._prefixes), need, p=self._prefix_weights)]
            length = self._lengths[rng.choice(len(self._lengths), need, p=self._length_weights)]
            low = 10 ** (length - 1)  # subscriber numbers do not start with 0
            subscriber = low + (rng.random(need) * (9 * low)).astype(np.int64)
            digits = (62_000 + prefix) * 10**length + subscriber
            fresh = digits[~np.isin(digits, out) & ~_in_sorted(self._used, digits)]
            _, first = np.unique(fresh, return_index=True)
            out = np.concatenate([out, fresh[np.sort(first)]])
        self._used = np.sort(np.concatenate([self._used, out]))
        return out


def _normalised(weights: list[float]) -> np.ndarray:
    array = np.asarray(weights, dtype=np.float64)
    return array / array.sum()


def _in_sorted(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    if len(sorted_values) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[at] == values
