"""Signals of the itsm package. Higher packages receive them in their AppConfig.ready(), so
itsm never imports a domain model."""

from django.dispatch import Signal

# kwargs: notification. Sent inside the transaction that records the outcome.
notification_sent = Signal()
# kwargs: notification. Sent once, when the last attempt failed or the failure is permanent.
notification_failed = Signal()
