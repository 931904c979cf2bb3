"""Signals the war room sends, for apps above it (and its own later work) to act on."""

from django.dispatch import Signal

# A public status page update was posted (sent after its transaction commits): subscribers
# are told from here. Arguments: update_id.
status_update_posted = Signal()
