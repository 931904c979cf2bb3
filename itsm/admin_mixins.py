"""Behaviours several admins share: lists that answer malformed query strings without a 500,
and records nobody edits."""

from django.contrib.admin.options import IncorrectLookupParameters


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
