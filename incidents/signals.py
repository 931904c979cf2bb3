"""Signals the incident core sends after a write commits. Higher packages (warroom,
postmortems) receive them in their AppConfig.ready(); the core never imports them."""

from django.dispatch import Signal

# kwargs: incident_id
incident_created = Signal()
# kwargs: incident_id, transition, from_status, to_status
incident_transitioned = Signal()
# kwargs: incident_id, old_priority, new_priority
incident_priority_changed = Signal()
# kwargs: event_id, incident_id, type (every timeline event, after its transaction commits)
timeline_event_recorded = Signal()
