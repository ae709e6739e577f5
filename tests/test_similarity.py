"""MinHash signatures and LSH bands of article bodies (transforms/similarity.py, issue 34)."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from newsdrop.transforms import similarity as similarity_module
from newsdrop.transforms.similarity import (
    BANDS,
    PERMUTATIONS,
    THRESHOLD,
    bands,
    fingerprints,
    from_binary,
    has_words,
    signatures,
    sketches,
    word_hashes,
)
from newsdrop.transforms.similarity import similarity as sketch_similarity


def similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return sketch_similarity(sketches(left), sketches(right))

WORDS = [f"w{number}" for number in range(400)]


def _body(rng: random.Random, count: int = 300) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def _jaccard(left: str, right: str) -> float:
    def shingles(text: str) -> set[tuple[str, ...]]:
        words = text.lower().split()
        return {tuple(words[at:at + 3]) for at in range(len(words) - 2)}
    a, b = shingles(left), shingles(right)
    return len(a & b) / len(a | b)


def test_a_signature_is_the_body_s_own_whatever_batch_it_is_in() -> None:
    rng = random.Random(1)
    bodies = [_body(rng) for _ in range(20)]
    together = signatures(pa.array(bodies))
    assert together.shape == (20, PERMUTATIONS)
    for at in (0, 7, 19):
        assert (signatures(pa.array([bodies[at]]))[0] == together[at]).all()


def test_case_and_spacing_do_not_count() -> None:
    rows = signatures(pa.array(["The Cat sat on the mat", " the cat  sat on\nthe MAT "]))
    assert similarity(rows[:1], rows[1:])[0] == 1.0
    assert (bands(rows)[0] == bands(rows)[1]).all()


def test_the_estimate_follows_the_jaccard_similarity_of_word_3_shingles() -> None:
    rng = random.Random(2)
    base = _body(rng).split()
    pairs = []
    for changed in (0, 10, 30, 60, 120, 300):
        edited = list(base)
        for at in rng.sample(range(len(edited)), changed):
            edited[at] = rng.choice(WORDS)
        pairs.append((" ".join(base), " ".join(edited)))
    rows = signatures(pa.array([text for pair in pairs for text in pair]))
    estimates = similarity(rows[0::2], rows[1::2])
    for (left, right), estimate in zip(pairs, estimates, strict=True):
        # 128 positions: the estimate's standard error is at most 0.045.
        assert abs(estimate - _jaccard(left, right)) < 0.15
    assert estimates[0] == 1.0 and estimates[-1] < 0.1


def test_near_duplicates_share_a_band_and_strangers_do_not() -> None:
    rng = random.Random(3)
    stories = [_body(rng) for _ in range(30)]
    copies = []
    for story in stories:
        words = story.split()
        del words[-30:]  # the last lines cut: Jaccard about 0.9
        copies.append(" ".join(words))
    rows = signatures(pa.array(stories + copies))
    keyed = bands(rows)
    assert keyed.shape == (60, BANDS) and keyed.dtype == np.int64
    for at in range(30):
        assert set(keyed[at]) & set(keyed[30 + at])
        assert similarity(rows[at:at + 1], rows[30 + at:31 + at])[0] >= THRESHOLD
    strangers = sum(bool(set(keyed[a]) & set(keyed[b])) for a in range(30) for b in range(a + 1, 30))
    assert strangers == 0


def test_bodies_of_no_words_have_no_shingles_and_short_ones_one() -> None:
    rows = signatures(pa.array(["", "   ", "one", "one two", "One  two", "one two three"]))
    assert has_words(rows).tolist() == [False, False, True, True, True, True]
    assert similarity(rows[3:4], rows[4:5])[0] == 1.0
    assert similarity(rows[2:3], rows[3:4])[0] < 0.2


def _reference_word_hash(word: str) -> int:
    """The word hash as the definition reads: sum of byte_i * BASE^i modulo 2^64."""
    total = 0
    for at, byte in enumerate(word.encode("utf-8")):
        total = (total + byte * pow(0x100000001B3, at, 1 << 64)) % (1 << 64)
    return total


def test_words_are_hashed_as_the_definition_says_across_a_batch() -> None:
    rng = random.Random(4)
    bodies = ["", "  Ünïcode wörds\nand ÉCOLE  ", "one", _body(rng, 50), "tab\tseparated\rtoo", "", "x y"]
    hashes, counts = word_hashes(pa.array(bodies))
    words = [word for body in bodies for word in body.lower().split()]
    assert counts.tolist() == [len(body.lower().split()) for body in bodies]
    assert hashes.tolist() == [_reference_word_hash(word) for word in words]
    # A slice of a larger array (an offset into its buffers) reads the same.
    sliced_hashes, sliced_counts = word_hashes(pa.array(["lead in", *bodies])[1:])
    assert sliced_hashes.tolist() == hashes.tolist() and sliced_counts.tolist() == counts.tolist()


def test_fingerprints_are_sketches_and_bands_that_round_trip() -> None:
    rng = random.Random(6)
    bodies = pa.array([_body(rng, 80), "", "two words"])
    sketch, band_lists = fingerprints(bodies)
    rows = signatures(bodies)
    assert (from_binary(sketch) == sketches(rows)).all()
    assert (from_binary(pa.chunked_array([sketch[:1], sketch[1:]])) == sketches(rows)).all()
    assert [len(value) for value in band_lists.to_pylist()] == [BANDS, 0, BANDS]
    assert band_lists[0].as_py() == bands(rows)[0].tolist()
    assert sketch_similarity(from_binary(sketch)[:1], from_binary(sketch)[:1])[0] == 1.0


def test_a_chunk_longer_than_the_kept_powers_hashes_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(8)
    bodies = pa.array([_body(rng, 40) for _ in range(5)])
    kept = word_hashes(bodies)
    monkeypatch.setattr(similarity_module, "POWERS_KEPT", 16)
    made = word_hashes(bodies)
    assert made[0].tolist() == kept[0].tolist() and made[1].tolist() == kept[1].tolist()
