"""The review of a resolved P1 in a real browser (Debian's Chromium driven by Playwright,
against the production ASGI server serving the test database, as the incident and war-room
browser tests do): a manager opens the generated draft, edits a section, adds an action item,
submits the review and publishes it, seeing the result of each step on the page. The section
is edited live (static/js/review.js): saved as typed, rendered back over the page's socket."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from postmortems import services, tasks
from postmortems.models import ActionItem, PostIncidentReview
from tests.browser import AsgiServer, free_port, log_in, off_the_loop
from tests.factories import make_incident

PORTS = range(19500, 19600)


@pytest.fixture
def server(tmp_path):
    server = AsgiServer(free_port(PORTS), tmp_path / "server.log")
    server.start()
    yield server
    server.stop()  # before pytest-django empties the database it reads


@pytest.fixture
def drafted(responder, drive):
    """A P1 resolved just now, and the draft the job generated for it."""
    incident = make_incident(
        actor=responder, priority="P1", assignee=responder, title="Checkout down"
    )
    incident = drive(incident, responder, "acknowledge", "start", "resolve")
    tasks.ensure_review(incident.pk)
    return incident


def watched_page(browser, errors: list):
    """A page whose script errors and refused policies land in `errors`."""
    page = browser.new_context().new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and errors.append(message.text),
    )
    return page


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_manager_edits_adds_an_item_submits_and_publishes(
    drafted, manager, responder, server, browser
):
    errors = []
    page = watched_page(browser, errors)
    path = f"/postmortems/{drafted.number}/"
    log_in(page, server, "mona", path)
    review = page.locator(f'[data-review="{drafted.number}"]')

    # The generated draft: facts and timeline filled in, the root cause's headings to fill.
    expect(review.locator(".head-meta .chip")).to_have_text("Draft")
    expect(review.locator(".pm-facts")).to_contain_text("Checkout down")
    expect(review.locator("#timeline .pm-timeline")).to_contain_text("Resolved")
    expect(review.locator("#root_cause .pm-section")).to_contain_text("Immediate cause")

    # Edit a section: the page is live, so what is typed is saved as it is typed (no Save
    # button) and comes back rendered.
    expect(page.locator("#review-connection")).to_have_attribute("data-status", "live")
    section = review.locator("#root_cause")
    section.get_by_text("Edit root cause").click()
    form = section.locator('form[data-section="root_cause"]')
    expect(form.get_by_role("button", name="Save root cause")).to_be_hidden()
    form.locator('textarea[name="text"]').fill("The **connection pool** was exhausted.")
    expect(section.locator(".pm-section strong")).to_have_text("connection pool")
    expect(section.locator(".pm-section")).not_to_contain_text("Immediate cause")
    page.reload()
    expect(section.locator(".pm-section strong")).to_have_text("connection pool")

    # Add an action item.
    items = review.locator("#action_items")
    items.get_by_text("Add an action item").click()
    due = (timezone.localdate() + timedelta(days=10)).isoformat()
    items.get_by_label("Title").fill("Alert on pool saturation")
    items.locator("#id_item_owner").select_option("rita")
    items.get_by_label("Due date").fill(due)
    items.get_by_label("Priority").select_option("P0")
    items.get_by_label("Type").select_option("detect")
    items.get_by_role("button", name="Add action item").click()
    expect(page.locator(".messages")).to_contain_text("Action item added: Alert on pool saturation")
    row = page.locator("#action_items .pm-item")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Alert on pool saturation")
    expect(row).to_contain_text("Open")

    # Submit, then publish.
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".messages")).to_contain_text("is now in review")
    expect(review.locator(".head-meta .chip")).to_have_text("In review")
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("is now published")
    expect(review.locator(".head-meta .chip")).to_have_text("Published")
    expect(page.get_by_role("button", name="Submit for review")).to_have_count(0)
    expect(page.locator('form[data-section="root_cause"]')).to_have_count(0)

    stored = off_the_loop(lambda: PostIncidentReview.objects.get(incident=drafted))
    assert stored.status == "published"
    assert stored.root_cause == "The **connection pool** was exhausted."
    item = off_the_loop(lambda: ActionItem.objects.select_related("owner").get(incident=drafted))
    assert (item.owner.username, item.priority, item.due_date.isoformat()) == ("rita", "P0", due)
    assert errors == []


WELL = "Paging:\nRollback:"
LINE_A = " the on-call answered in two minutes"  # typed after "Paging:"
LINE_B = " took four minutes end to end"  # typed after "Rollback:"
BOTH = f"Paging:{LINE_A}\nRollback:{LINE_B}"


def open_section(browser, server, username: str, number: str, errors: list):
    """`username` on the review's page, live, with the "What went well" editor open."""
    page = watched_page(browser, errors)
    log_in(page, server, username, f"/postmortems/{number}/")
    expect(page.locator("#review-connection")).to_have_attribute("data-status", "live")
    page.locator("#went_well").get_by_text("Edit what went well").click()
    return page, page.locator('form[data-section="went_well"] textarea[name="text"]')


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_people_type_in_one_section_at_once_and_both_keep_their_words(
    drafted, manager, responder, server, browser
):
    off_the_loop(
        lambda: services.review_section_save(
            review=PostIncidentReview.objects.get(incident=drafted),
            actor=manager,
            section="went_well",
            base_version=0,
            text=WELL,
        )
    )
    errors = []
    rita, rita_text = open_section(browser, server, "rita", drafted.number, errors)
    mona, mona_text = open_section(browser, server, "mona", drafted.number, errors)
    expect(rita_text).to_have_value(WELL)

    # Keystroke for keystroke, on two lines of the same section.
    rita_text.evaluate("(t, at) => { t.focus(); t.setSelectionRange(at, at); }", len("Paging:"))
    mona_text.evaluate("(t, at) => { t.focus(); t.setSelectionRange(at, at); }", len(WELL))
    for n in range(max(len(LINE_A), len(LINE_B))):
        for page, line in ((rita, LINE_A), (mona, LINE_B)):
            if n < len(line):
                page.keyboard.type(line[n])
        time.sleep(0.03)

    for page, text in ((rita, rita_text), (mona, mona_text)):
        expect(text).to_have_value(BOTH, timeout=5000)
        expect(page.locator("#went_well [data-section-status]")).to_contain_text("Saved")
        expect(page.locator('#went_well [data-section-html="went_well"]')).to_contain_text(
            "two minutes"
        )
    stored = off_the_loop(lambda: PostIncidentReview.objects.get(incident=drafted).went_well)
    assert stored == BOTH
    assert errors == []
