"""Admin list pages that answer malformed query strings without a 500."""

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
