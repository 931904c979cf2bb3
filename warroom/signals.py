"""Signals the war room sends, for apps above it (and its own later work) to act on."""

from django.dispatch import Signal

# A public status page update was posted (sent after its transaction commits): subscribers
# are told from here. Arguments: update_id.
status_update_posted = Signal()

# A maintenance's update was posted (its first when it is announced), after the commit:
# subscribers are told from here. Arguments: update_id.
maintenance_update_posted = Signal()
