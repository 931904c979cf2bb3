"""RSS and Atom feeds of the status page's history (Django's syndication framework): one entry
per public update of an incident, newest first, its body as sanitised HTML."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from itsm.markdown import render
from warroom.choices import StatusIncidentStatus
from warroom.status import cache, selectors


class StatusHistoryRss(Feed):
    description_template = None

    def title(self):
        return f"{settings.STATUS_PAGE_NAME}: incident history"

    def link(self):
        return reverse("status:page")

    def description(self):
        return f"Every public update of incidents on {settings.STATUS_PAGE_NAME}."

    def items(self):
        return selectors.recent_updates()

    def item_title(self, update):
        return f"{update.status_incident.name}: {StatusIncidentStatus(update.status).label}"

    def item_description(self, update):
        return render(update.body)

    def item_link(self, update):
        return f"{reverse('status:page')}#{update.number}"

    def item_guid(self, update):
        return f"{settings.PORTAL_BASE_URL}{reverse('status:page')}#update-{update.pk}"

    item_guid_is_permalink = False

    def item_pubdate(self, update):
        return update.created_at

    def item_updateddate(self, update):
        return update.created_at


class StatusHistoryAtom(StatusHistoryRss):
    feed_type = Atom1Feed

    def subtitle(self):
        return self.description()


# Django's feeds make their links absolute with the host asked (ALLOWED_HOSTS) and its scheme.
history_rss = cache.cached("rss", per_origin=True)(StatusHistoryRss())
history_atom = cache.cached("atom", per_origin=True)(StatusHistoryAtom())
