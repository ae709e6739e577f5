"""How alike two article bodies are: MinHash signatures of their word 3-shingles, and LSH bands.

Pure: bodies in, numbers out. Two bodies' Jaccard similarity (of their sets of three consecutive
lower-cased words) is estimated from their MinHash signatures (rensa): the share of the
PERMUTATIONS positions where they agree. Bodies are candidates for that estimate when they
share a band (BAND_ROWS consecutive positions hashed together). With 32 bands of 4 rows, a
pair at Jaccard 0.6 shares a band with probability 1 - (1 - 0.6^4)^32 = 0.99; at 0.3, 0.23;
at 0.1, 0.003. What is kept of a signature is its sketch: the low byte of each position
(b-bit MinHash, Li and König 2010), a quarter of the bytes; two sketches agree by chance at
1/256 of the positions where the signatures differ, which `similarity` takes out.

The signatures depend on the word hashing here and on rensa's MinHash (pinned in
pyproject.toml): a change of either needs `newsdrop rebuild`, as a change of the reading
rules does.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rensa import RMinHash

PERMUTATIONS = 128
BAND_ROWS = 4
BANDS = PERMUTATIONS // BAND_ROWS
SEED = 34  # any fixed number: every signature of a warehouse must share it
SHINGLE_WORDS = 3
# Two bodies are near-duplicates at an estimated Jaccard similarity of at least this (issue 34
# measured pair precision 0.97 and recall 0.99 against the source article at 0.6).
THRESHOLD = 0.6
SKETCH_BITS = 8

# Word hashes: a polynomial over the word's UTF-8 bytes, modulo 2^64.
_BASE = 0x100000001B3
WORDS_CHUNK = 256
POWERS_KEPT = 1 << 20
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5],
                dtype=np.uint64)
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True  # stored text has no other whitespace (transforms/lines.py)
_NO_SHINGLES = np.uint32(0xFFFFFFFF)


def _powers(count: int) -> tuple[np.ndarray, np.ndarray]:
    """_BASE^i and _BASE^-i modulo 2^64 for i < count: from tables made once per process for
    chunks of up to POWERS_KEPT bytes (16 MB), made anew for a larger chunk."""
    if count <= POWERS_KEPT:
        up, down = _kept_powers()
        return up[:count], down[:count]
    return _make_powers(count)


@functools.cache
def _kept_powers() -> tuple[np.ndarray, np.ndarray]:
    return _make_powers(POWERS_KEPT)


def _make_powers(count: int) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(over="ignore"):
        up = np.cumprod(np.full(count, _BASE, dtype=np.uint64))
        down = np.cumprod(np.full(count, pow(_BASE, -1, 1 << 64), dtype=np.uint64))
    up[1:], up[0] = up[:-1], 1
    down[1:], down[0] = down[:-1], 1
    return up, down


def word_hashes(bodies: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Each word's hash, in order, and the number of words of each body: words are runs of
    non-whitespace in the lower-cased text, hashed over their bytes in numpy (splitting and
    hashing word by word in Python cost several times more), WORDS_CHUNK bodies at a time so
    that the byte-wide arrays stay small."""
    lowered = pc.utf8_lower(bodies.fill_null(""))
    parts = [_chunk_word_hashes(lowered.slice(at, WORDS_CHUNK)) for at in range(0, len(lowered), WORDS_CHUNK)]
    if not parts:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    return np.concatenate([hashes for hashes, _ in parts]), np.concatenate([counts for _, counts in parts])


def _chunk_word_hashes(lowered: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    _validity, offsets_buffer, data_buffer = lowered.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[lowered.offset:lowered.offset + len(lowered) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]:offsets[-1]] if data_buffer else np.empty(0, np.uint8)
    starts_of_bodies = offsets[:-1] - offsets[0]
    space = _WHITESPACE[data]
    # A word begins after whitespace or where a body begins.
    boundary = np.zeros(len(data), dtype=bool)
    boundary[starts_of_bodies[starts_of_bodies < len(data)]] = True
    begins = ~space & (boundary | np.concatenate([[True], space[:-1]]))
    first = np.flatnonzero(begins)
    if not len(first):
        return np.empty(0, np.uint64), np.zeros(len(lowered), np.int64)
    # A word ends before whitespace or where a body ends; its hash is the sum of its bytes times
    # _BASE to the power of their place in it, modulo 2^64: a difference of two prefix sums over
    # the chunk, divided by _BASE to the power of where the word begins (_BASE is odd).
    ends = ~space & (np.concatenate([boundary[1:], [True]]) | np.concatenate([space[1:], [True]]))
    last = np.flatnonzero(ends) + 1
    up, down = _powers(len(data))
    with np.errstate(over="ignore"):
        prefix = np.concatenate([[np.uint64(0)], np.cumsum(data * up)])
        hashes = (prefix[last] - prefix[first]) * down[first]
    words_per_body = np.bincount(np.searchsorted(starts_of_bodies, first, side="right") - 1, minlength=len(lowered))
    return hashes, words_per_body


def signatures(bodies: pa.Array) -> np.ndarray:
    """One row of PERMUTATIONS uint32 per body: the MinHash of its word 3-shingles. A body of
    one or two words has them as its one shingle; a body of no words has none (a row of
    all _NO_SHINGLES, which `has_words` tells)."""
    hashed, counts = word_hashes(bodies)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    body_of = np.repeat(np.arange(len(counts)), counts)
    with np.errstate(over="ignore"):  # multiplication modulo 2^64 is the point
        shingles = hashed[:-2] * _MIX[0] ^ hashed[1:-1] * _MIX[1] ^ hashed[2:] if len(hashed) > 2 else hashed[:0]
        short = (counts > 0) & (counts < SHINGLE_WORDS)  # a body of one or two words: one shingle of them
        short_hash = np.zeros(len(counts), np.uint64)
        for at in range(SHINGLE_WORDS - 1):
            has = short & (counts > at)
            short_hash[has] ^= hashed[offsets[:-1][has] + at] * _MIX[at]
    whole = body_of[:len(shingles)] == body_of[SHINGLE_WORDS - 1:]  # the three words in one body
    per_body = np.where(short, 1, np.maximum(counts - (SHINGLE_WORDS - 1), 0))
    # Each body's shingles in order: a short body's one shingle stands where its words began.
    tokens = np.empty(int(per_body.sum()), np.uint64)
    starts = np.concatenate([[0], np.cumsum(per_body)[:-1]]).astype(np.int64)
    tokens[np.repeat(~short, per_body)] = shingles[whole]
    tokens[starts[short]] = short_hash[short]
    bounds = np.concatenate([[0], np.cumsum(per_body)]).astype(np.uint64)
    digests = RMinHash.digest_matrix_from_flat_token_hashes(tokens, bounds, num_perm=PERMUTATIONS, seed=SEED)
    rows = np.array(digests.to_rows(), dtype=np.uint32).reshape(len(counts), PERMUTATIONS)
    rows[per_body == 0] = _NO_SHINGLES  # rensa's digest of no tokens is not this, nor documented
    return rows


def has_words(signature_rows: np.ndarray) -> np.ndarray:
    """Which signatures come from at least one shingle."""
    found: np.ndarray = (signature_rows != _NO_SHINGLES).any(axis=1)
    return found


def bands(signature_rows: np.ndarray) -> np.ndarray:
    """BANDS int64 per signature: each band's rows and its number mixed into one hash (the bands
    of a body without words match every other such body's: callers keep only `has_words`)."""
    rows = signature_rows.astype(np.uint64).reshape(len(signature_rows), BANDS, BAND_ROWS)
    with np.errstate(over="ignore"):
        mixed = (rows * _MIX).sum(axis=2, dtype=np.uint64)
        mixed ^= np.arange(BANDS, dtype=np.uint64) * np.uint64(0xFF51AFD7ED558CCD)
        mixed ^= mixed >> np.uint64(29)
    keyed: np.ndarray = mixed.view(np.int64)
    return keyed


def sketches(signature_rows: np.ndarray) -> np.ndarray:
    """What is kept of each signature: the low SKETCH_BITS of each position."""
    low: np.ndarray = (signature_rows & ((1 << SKETCH_BITS) - 1)).astype(np.uint8)
    return low


def similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The estimated Jaccard similarity of each pair of sketch rows: the share of positions that
    agree, less the share that agree by chance."""
    chance = 1.0 / (1 << SKETCH_BITS)
    agree = (left == right).mean(axis=1)
    shared: np.ndarray = np.clip((agree - chance) / (1.0 - chance), 0.0, 1.0)
    return shared


def fingerprints(bodies: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Per body, what the warehouse keeps of it for near-duplicates: its sketch (one binary
    value of PERMUTATIONS bytes) and its bands (a list of BANDS int64, empty for no words)."""
    rows = signatures(bodies)
    keyed = bands(rows)
    worded = has_words(rows)
    counts = np.where(worded, BANDS, 0)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    band_lists = pa.ListArray.from_arrays(offsets, pa.array(keyed[worded].ravel(), pa.int64()))
    return to_binary(sketches(rows)), band_lists


def to_binary(rows: np.ndarray) -> pa.Array:
    """Rows of a numpy matrix as one Arrow binary value each, without a Python object a row."""
    count, width = len(rows), rows.shape[1] * rows.itemsize
    offsets = pa.py_buffer((np.arange(count + 1, dtype=np.int32) * width).tobytes())
    data = pa.py_buffer(np.ascontiguousarray(rows).tobytes())
    return pa.Array.from_buffers(pa.binary(), count, [None, offsets, data])


def from_binary(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Sketches stored by `to_binary` (no nulls), back as rows of uint8, from Arrow's buffers."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not len(array):
        return np.empty((0, PERMUTATIONS), np.uint8)
    width = np.int64 if pa.types.is_large_binary(array.type) else np.int32
    offsets = np.frombuffer(array.buffers()[1], dtype=width)[array.offset:array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    return data.reshape(len(array), PERMUTATIONS)
