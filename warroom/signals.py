"""Signals the war room sends, for apps above it (and its own later work) to act on."""

from django.dispatch import Signal

# A public status page update was posted (sent inside its transaction): subscribers are told
# from here, through the outbox. Arguments: update_id.
status_update_posted = Signal()

# A maintenance's update was posted (its first when it is announced), inside its transaction:
# subscribers are told from here, through the outbox. Arguments: update_id.
maintenance_update_posted = Signal()
