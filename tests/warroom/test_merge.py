"""The scratchpad's three-way merge: the shared cases (the browser's copy of the merge runs the
same file) and properties over many random pairs of edits."""

import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from warroom.merge import diff, merge

CASES = json.loads((Path(__file__).parent / "merge_cases.json").read_text(encoding="utf-8"))
WORD = re.compile(r"\w+")
SEPARATORS = [" ", " ", " ", ", ", ". ", "\n", " - ", "; "]


def words(text: str) -> list[str]:
    return WORD.findall(text)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_shared_case(case):
    assert merge(case["base"], case["current"], case["incoming"]) == case["expected"]


def test_the_shared_cases_are_many_and_named_once():
    names = [case["name"] for case in CASES]
    assert len(names) >= 20
    assert len(set(names)) == len(names)
    assert all(set(case) == {"name", "base", "current", "incoming", "expected"} for case in CASES)


@pytest.mark.parametrize("text", ["", "one", "Checkout is down\nsince 09:02 🔥", "  \n\t "])
def test_identities(text):
    other = text + " and more"
    assert merge(text, text, text) == text
    assert merge(text, other, text) == other  # the incoming edit changed nothing
    assert merge(text, text, other) == other  # nothing was saved in between
    assert merge(text, other, other) == other  # the same edit twice


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_a_diff_rebuilds_the_other_text_and_never_splits_a_word(case):
    base = case["base"]
    for other in (case["current"], case["incoming"]):
        rebuilt, at = [], 0
        for start, end, text in diff(base, other):
            assert at <= start <= end
            assert not _inside_word(base, start) and not _inside_word(base, end)
            rebuilt += [base[at:start], text]
            at = end
        assert "".join([*rebuilt, base[at:]]) == other


def _inside_word(text: str, at: int) -> bool:
    return bool(WORD.fullmatch(text[at - 1 : at + 1])) if 0 < at < len(text) else False


# --- random edits ----------------------------------------------------------------------------


def random_text(rng: random.Random, prefix: str, count: int) -> list[str]:
    """`count` distinct words (prefix0, prefix1, ...) with separators: a list of pieces."""
    pieces = []
    for n in range(count):
        pieces += [f"{prefix}{n}", rng.choice(SEPARATORS)]
    return pieces


def random_edit(rng: random.Random, pieces: list[str], fresh: str) -> list[str]:
    """Insert, delete and replace words and separators at random (deleting a separator joins
    two words into a new one); inserted words are fresh<n>, seen nowhere else."""
    pieces, made = list(pieces), 0
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(pieces) + 1)
        kind = rng.choice(["insert", "insert", "delete", "replace"])
        if kind != "insert" and at < len(pieces):
            del pieces[at : at + rng.randint(1, 4)]
        if kind != "delete":
            new = []
            for _ in range(rng.randint(1, 3)):
                new += [f"{fresh}{made}", rng.choice(SEPARATORS)]
                made += 1
            pieces[at:at] = new
    return pieces


def random_edit_pairs(count: int, seed: int = 20260302):
    rng = random.Random(seed)
    for _ in range(count):
        base = random_text(rng, "b", rng.randint(0, 25))
        yield (
            "".join(base),
            "".join(random_edit(rng, base, "cur")),
            "".join(random_edit(rng, base, "inc")),
        )


PAIRS = list(random_edit_pairs(600))


def test_every_word_either_side_inserted_survives_once():
    for base, current, incoming in PAIRS:
        result = Counter(words(merge(base, current, incoming)))
        inserted = set(words(current) + words(incoming)) - set(words(base))
        for word in inserted:
            assert result[word] == 1, (word, base, current, incoming)


def test_base_words_both_kept_survive_once_and_words_both_deleted_are_gone():
    for base, current, incoming in PAIRS:
        result = Counter(words(merge(base, current, incoming)))
        kept = set(words(current)) & set(words(incoming))
        gone = set(words(base)) - set(words(current)) - set(words(incoming))
        for word in kept & set(words(base)):
            assert result[word] == 1, (word, base, current, incoming)
        for word in gone:
            assert result[word] == 0, (word, base, current, incoming)


def test_no_word_is_run_together_or_split():
    """Every word of the result was typed as such in one of the three texts."""
    for base, current, incoming in PAIRS:
        known = set(words(base)) | set(words(current)) | set(words(incoming))
        merged = merge(base, current, incoming)
        assert set(words(merged)) <= known, (merged, base, current, incoming)


def test_the_order_of_the_two_edits_changes_only_the_order_of_their_words():
    for base, current, incoming in PAIRS:
        one_way = Counter(words(merge(base, current, incoming)))
        assert one_way == Counter(words(merge(base, incoming, current)))


def test_a_long_text_is_diffed_by_line_and_still_keeps_every_word():
    """Past the token limit a text is diffed by line first; the guarantees stay."""
    lines = [f"{n:04d} status of service{n} is green" for n in range(600)]
    base = "\n".join(lines)
    current = base.replace("service10 is green", "service10 is red since 09:02")
    current += "\ncur0 rollback started"
    incoming = base.replace("0500 status", "0500 latest status").replace("service10 is", "svc10 is")
    incoming += "\ninc0 vendor paged"

    merged = merge(base, current, incoming)

    assert "0010 status of svc10 is red since 09:02" in merged
    assert "0500 latest status of service500" in merged
    assert merged.endswith("\ncur0 rollback started\ninc0 vendor paged")
    assert merged.count("\n") == len(lines) + 1
