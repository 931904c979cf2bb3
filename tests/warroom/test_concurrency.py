"""Several people writing in one war room at the same moment (PostgreSQL, real transactions,
each thread on its own connection): the row lock on the major incident orders them, so no
declaration is made twice, no scratchpad words are lost and a role has one holder."""

import pytest

from incidents.choices import ChangeSource
from itsm.errors import ConflictError
from itsm.roles import Role
from tests.concurrency import all_at_once
from warroom import selectors, services
from warroom.models import MajorIncident, RoleAssignment, ScratchpadRevision

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CLI = ChangeSource.CLI


def test_two_declarations_at_once_make_one_major_incident(p1, declare):
    outcomes = all_at_once(lambda: declare(p1), lambda: declare(p1))

    assert MajorIncident.objects.filter(incident=p1).count() == 1
    assert sorted(type(outcome).__name__ for outcome in outcomes) == [
        "ConflictError",
        "MajorIncident",
    ]
    conflict = next(o for o in outcomes if isinstance(o, ConflictError))
    assert conflict.status == 409
    assert p1.events.filter(type="warroom").count() == 1


def test_ten_people_saving_from_one_version_keep_all_their_sentences(major, make_user):
    writers = [make_user(f"writer{n}", roles=[Role.RESPONDER]) for n in range(10)]
    services.scratchpad_update(major=major, actor=writers[0], base_version=0, text="Log:\n")
    sentences = [f"Writer {n} checked shard {n} and found it healthy.\n" for n in range(10)]

    def save(writer, sentence):
        return lambda: services.scratchpad_update(
            major=major, actor=writer, base_version=1, text="Log:\n" + sentence
        )

    outcomes = all_at_once(*[save(w, s) for w, s in zip(writers, sentences, strict=True)])

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    text = selectors.scratchpad_payload(MajorIncident.objects.get(pk=major.pk))["text"]
    assert text.startswith("Log:\n")
    for sentence in sentences:
        assert text.count(sentence) == 1, (sentence, text)
    saved = ScratchpadRevision.objects.filter(major_incident=major, version__gt=1)
    assert saved.count() == 10
    assert sorted(o["version"] for o in outcomes) == list(range(2, 12))
    assert saved.get(version=11).text == text
    assert saved.filter(merged=True).count() == 9  # all but the first were typed against v1


def test_two_hand_overs_at_once_leave_one_incident_commander(major, manager, make_user):
    first, second, third = (make_user(n, roles=[Role.RESPONDER]) for n in ("ic1", "ic2", "ic3"))
    services.role_assign(
        major=major, actor=manager, source=CLI, role="incident_commander", user=first
    )

    def hand_over(to):
        return lambda: services.role_assign(
            major=major, actor=manager, source=CLI, role="incident_commander", user=to
        )

    outcomes = all_at_once(hand_over(second), hand_over(third))

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    rows = RoleAssignment.objects.filter(major_incident=major, role="incident_commander")
    [holder] = rows.filter(ended_at__isnull=True)
    assert holder.user in (second, third)
    assert rows.count() == 3
    summaries = list(
        major.incident.events.filter(data__action="role_assigned")
        .order_by("pk")
        .values_list("summary", flat=True)
    )
    # the two hand-overs happened one after the other: the later one took it from the earlier
    earlier = ({second, third} - {holder.user}).pop()
    assert summaries[1:] == [
        f"{earlier.username} is now incident commander (handed over from ic1)",
        f"{holder.user.username} is now incident commander (handed over from {earlier.username})",
    ]
