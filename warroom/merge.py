"""The scratchpad's merge: a three-way, word-level merge in which every insertion survives.

Each edit is sent as the whole new text together with the version it was typed against (its
base). When another edit was accepted in between, the incoming text is merged with the current
one instead of replacing it:

- both texts are diffed against the base, word by word (a diff never splits a word; a long
  text is diffed by line first, so a 100 kB scratchpad costs milliseconds);
- every character that either side inserted is kept; insertions at the same place keep the
  current text's first, then the incoming one's; an insertion both sides made identically (a
  resend after a reconnect) is kept once;
- a base character survives unless either side deleted it;
- where the merge puts two words against each other that neither text had together (two
  insertions side by side, or one side's words against a word the other side's deletion
  brought up to them), a space goes between them. Nothing else is added: a word followed by
  punctuation or an emoji stays as typed.

So two people typing on the same line both keep their words, and the worst a conflict can do is
put two insertions side by side, never drop one. The same function runs in the browser
(`static/js/warroom.js`), where it rebases the text typed while an edit was in flight.

Why not OT or a CRDT: both need every keystroke as an operation and a client library on each
side; this needs only whole texts and a version, the server stays the single authority (a
row lock orders the edits), and each accepted text is a plain revision row that survives a
restart and can be read or restored by anyone.
"""

import re
from difflib import SequenceMatcher

# Blocks of more tokens than this (per side) are diffed by line first: a token diff is
# quadratic, and a block that size is a paste, not typing.
REFINE_LIMIT = 2000
TOKEN = re.compile(r"\w+|\s+|[^\w\s]")

Edit = tuple[int, int, str]  # base[start:end] becomes text


def merge(base: str, current: str, incoming: str) -> str:
    """`incoming` (typed against `base`) merged into `current` (what the server holds now)."""
    if incoming in (base, current):
        return current
    if current == base:
        return incoming
    ours, theirs = diff(base, current), diff(base, incoming)
    points = sorted({0, len(base)} | {p for s, e, _ in ours + theirs for p in (s, e)})
    out: list[str] = []
    for here, nxt in zip(points, [*points[1:], None], strict=True):
        for inserted in _insertions(_inserted_at(ours, here), _inserted_at(theirs, here)):
            _append(out, inserted)
        if nxt is not None and not (_deletes(ours, here) or _deletes(theirs, here)):
            _append(out, base[here:nxt])
    return "".join(out)


def _insertions(first: str, second: str) -> list[str]:
    """Two insertions at one place, current first; once when both are the same."""
    return [first] if first == second else [first, second]


def _append(out: list[str], piece: str) -> None:
    """Every edit starts and ends between words in both texts, so two words meeting where two
    pieces meet were run together by the merge: a space keeps them apart."""
    if not piece:
        return
    if out and _is_word(out[-1][-1]) and _is_word(piece[0]):
        out.append(" ")
    out.append(piece)


def _inserted_at(edits: list[Edit], point: int) -> str:
    return "".join(text for start, _, text in edits if start == point)


def _deletes(edits: list[Edit], point: int) -> bool:
    return any(start <= point < end for start, end, _ in edits)


def diff(base: str, other: str) -> list[Edit]:
    """The edits that turn `base` into `other`, in order and non-overlapping."""
    if base == other:
        return []
    head = _word_start(base, other, _common_prefix(base, other))
    tail = _common_prefix(base[head:][::-1], other[head:][::-1])
    while tail and (_inside_word(base, len(base) - tail) or _inside_word(other, len(other) - tail)):
        tail -= 1
    old, new = base[head : len(base) - tail], other[head : len(other) - tail]
    return [(head + s, head + e, text) for s, e, text in _middle_edits(old, new)]


def _word_start(base: str, other: str, head: int) -> int:
    """`head` moved back to the start of the word it falls in, in either text."""
    while head and (_inside_word(base, head) or _inside_word(other, head)):
        head -= 1
    return head


def _inside_word(text: str, at: int) -> bool:
    return 0 < at < len(text) and _is_word(text[at - 1]) and _is_word(text[at])


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _middle_edits(old: str, new: str) -> list[Edit]:
    if not old or not new:
        return [(0, len(old), new)]
    old_tokens, new_tokens = _tokens(old), _tokens(new)
    if max(len(old_tokens), len(new_tokens)) <= REFINE_LIMIT:
        return _token_edits(old_tokens, new_tokens)
    return _line_edits(old, new)


def _tokens(text: str) -> list[str]:
    """Words, runs of white space, and single other characters: edits never split a word."""
    return TOKEN.findall(text)


def _token_edits(old: list[str], new: list[str]) -> list[Edit]:
    old_at, new_at = _offsets(old), _offsets(new)
    new_text = "".join(new)
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    return [
        (old_at[i1], old_at[i2], new_text[new_at[j1] : new_at[j2]])
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def _line_edits(old: str, new: str) -> list[Edit]:
    """A line-level diff, with each small changed block refined to tokens."""
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    old_at, new_at = _offsets(old_lines), _offsets(new_lines)
    edits: list[Edit] = []
    matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start, end = old_at[i1], old_at[i2]
        block_old, block_new = old[start:end], new[new_at[j1] : new_at[j2]]
        old_tokens, new_tokens = _tokens(block_old), _tokens(block_new)
        if tag == "replace" and max(len(old_tokens), len(new_tokens)) <= REFINE_LIMIT:
            edits += [(start + s, start + e, t) for s, e, t in _token_edits(old_tokens, new_tokens)]
        else:
            edits.append((start, end, block_new))
    return edits


def _offsets(pieces: list[str]) -> list[int]:
    offsets = [0]
    for piece in pieces:
        offsets.append(offsets[-1] + len(piece))
    return offsets
