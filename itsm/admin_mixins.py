"""Behaviours several admins share: lists that answer malformed query strings without a 500,
records nobody edits, and the estimated count of a big table's whole list."""

from functools import cached_property

from django.conf import settings
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.paginator import Paginator
from django.db import connections


class RefusesMalformedLists:
    """A list filtered or searched by a value with a NUL (PostgreSQL cannot compare it) or by a
    date too large for a Python date gets the list's error page, as any bad lookup does."""

    def get_changelist_instance(self, request):
        if any("\x00" in value for _, values in request.GET.lists() for value in values):
            raise IncorrectLookupParameters("A NUL character in the query.")
        try:
            return super().get_changelist_instance(request)
        except OverflowError as error:
            raise IncorrectLookupParameters(error) from error


class ReadOnlyRecords:
    """A record the portal writes and nobody edits in the admin: no add, change or delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EstimatedCountPaginator(Paginator):
    """An admin list's paginator that, for the whole table (no filter, no search), takes
    PostgreSQL's estimate of its rows (`pg_class.reltuples`, kept by ANALYZE and autovacuum)
    once that is above `ADMIN_ESTIMATED_COUNT_ABOVE`: an exact COUNT(*) reads every row. A
    filtered list, a smaller table and SQLite count exactly. Set `show_full_result_count =
    False` beside it, or the admin counts the whole table again itself."""

    @cached_property
    def count(self):
        estimate = self._estimate()
        if estimate is not None and estimate > settings.ADMIN_ESTIMATED_COUNT_ABOVE:
            return estimate
        return super().count

    def _estimate(self) -> int | None:
        queryset = self.object_list
        query = queryset.query
        if query.where or query.distinct or query.is_sliced:
            return None
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
        return row[0] if row else None
