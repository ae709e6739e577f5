"""How alike two article bodies are: MinHash signatures of their word 3-shingles, and LSH bands.

Pure: bodies in, numbers out. Two bodies' estimated Jaccard similarity (of their sets of three
consecutive lower-cased words) is the share of signature positions they agree on; bodies are
candidates for that check when they share a band (BAND_ROWS consecutive positions hashed
together). With 32 bands of 4 rows, a pair at Jaccard 0.6 shares a band with probability
1 - (1 - 0.6^4)^32 = 0.99; at 0.3, 0.23; at 0.1, 0.003.

The signatures depend on rensa's hashing (pinned in pyproject.toml): a rensa whose hashes
differ needs `newsdrop rebuild`, as a change of the reading rules does.
"""

from __future__ import annotations

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
EMPTY = np.uint32(0xFFFFFFFF)  # every position of the signature of no shingles

_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5],
                dtype=np.uint64)


def signatures(bodies: pa.Array) -> np.ndarray:
    """One row of PERMUTATIONS uint32 per body. Words are split at whitespace after lower-casing,
    in Arrow; each distinct word of the batch is hashed once. A body of fewer than three words
    has its words as its one shingle; a body of no words has none (a signature of all EMPTY,
    which `bands` leaves out, so such bodies match only their exact copies)."""
    lists = pc.utf8_split_whitespace(pc.utf8_lower(bodies))
    # Arrow splits leading and trailing whitespace, and an empty text, into empty words: not words.
    body_of = np.repeat(np.arange(len(bodies)), np.diff(lists.offsets.to_numpy()))
    all_words = pc.list_flatten(lists)
    real = pc.not_equal(all_words, "")
    words = pc.dictionary_encode(all_words.filter(real))
    body_of = body_of[real.to_numpy(zero_copy_only=False)]
    counts = np.bincount(body_of, minlength=len(bodies))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    distinct = words.dictionary.to_pylist()
    word_hashes = np.array(RMinHash.hash_token_sets([distinct])[0] if distinct else [], dtype=np.uint64)
    hashed = word_hashes[words.indices.to_numpy()]
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
    rows[per_body == 0] = EMPTY  # rensa's digest of no tokens is not this, nor documented
    return rows


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


def has_words(signature_rows: np.ndarray) -> np.ndarray:
    """Which signatures come from at least one shingle."""
    found: np.ndarray = (signature_rows != EMPTY).any(axis=1)
    return found


def similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The estimated Jaccard similarity of each pair of rows: the share of positions that agree."""
    shared: np.ndarray = (left == right).mean(axis=1)
    return shared


def to_binary(signature_rows: np.ndarray) -> pa.Array:
    """Signatures as one Arrow binary value each (PERMUTATIONS little-endian uint32), without a
    Python object a row."""
    count, width = len(signature_rows), PERMUTATIONS * 4
    offsets = pa.py_buffer((np.arange(count + 1, dtype=np.int32) * width).tobytes())
    data = pa.py_buffer(np.ascontiguousarray(signature_rows, dtype="<u4").tobytes())
    return pa.Array.from_buffers(pa.binary(), count, [None, offsets, data])


def from_binary(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """`to_binary`'s values back as rows of uint32."""
    joined = b"".join(value for value in values.to_pylist() if value is not None)
    return np.frombuffer(joined, dtype="<u4").reshape(-1, PERMUTATIONS).astype(np.uint32)
