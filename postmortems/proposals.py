"""The review's proposed action items: rows {text, source}, and {accepted_item: id} once an
action item was created from one (postmortems.action_items.proposal_accept). Shared by the
action items, which mark rows accepted, and the review's edits, which keep the marks."""

ACCEPTED = "accepted_item"


def proposals_titled(rows: list[dict], title: str) -> list[int]:
    """The indexes of the proposals whose text is `title`."""
    return [index for index, row in enumerate(rows) if row.get("text") == title]


def keep_accepted(old_rows: list[dict], new_rows: list[dict]) -> list[dict]:
    """The edited list `new_rows` (rows without marks: an edit cannot set one) with each mark
    of `old_rows` kept on a row of the same text, so an edit never lets a proposal be accepted
    twice. A mark whose text is gone is dropped with its row; the item stays."""
    marks: dict[str, list[int]] = {}
    for row in old_rows:
        if row.get(ACCEPTED):
            marks.setdefault(row["text"], []).append(row[ACCEPTED])
    kept = []
    for row in new_rows:
        items = marks.get(row["text"])
        kept.append({**row, ACCEPTED: items.pop(0)} if items else row)
    return kept
