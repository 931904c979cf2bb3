"""itsm/batching.py: a step a batch of changes would repeat runs once at the batch's end, in its
transaction; outside a batch it runs at once; a failing step leaves the batch's changes."""

import pytest

from incidents.models import Team
from itsm.batching import batched, once_per_batch


@pytest.mark.django_db
def test_outside_a_batch_the_step_runs_at_once():
    calls = []
    once_per_batch(calls.append, [1])
    once_per_batch(calls.append, [2])
    assert calls == [{1}, {2}]


@pytest.mark.django_db
def test_in_a_batch_the_step_runs_once_with_every_item_at_the_end():
    calls = []
    with batched():
        once_per_batch(calls.append, [1, 2])
        with batched():  # nested: the outer batch's
            once_per_batch(calls.append, [2, 3])
        assert calls == []
    assert calls == [{1, 2, 3}]


def test_a_batch_that_raises_runs_nothing():
    calls = []
    with pytest.raises(RuntimeError), batched():
        once_per_batch(calls.append, [1])
        raise RuntimeError("the batch failed")
    assert calls == []


@pytest.mark.django_db
def test_a_failing_step_is_undone_and_the_batch_s_changes_stand(caplog):
    def fails(items):
        Team.objects.create(slug="from-the-step", name="Step")
        raise ValueError("the step broke")

    with batched():
        Team.objects.create(slug="from-the-batch", name="Batch")
        once_per_batch(fails, [1])

    assert list(Team.objects.values_list("slug", flat=True)) == ["from-the-batch"]
    assert "fails failed for a batch of 1" in caplog.text


@pytest.mark.django_db
def test_outside_a_batch_a_failing_step_leaves_the_change_too(caplog):
    def fails(items):
        raise ValueError("the step broke")

    Team.objects.create(slug="the-change", name="Change")
    once_per_batch(fails, [1])

    assert Team.objects.filter(slug="the-change").exists()
    assert "fails failed for a batch of 1" in caplog.text
