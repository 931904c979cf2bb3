"""Signals the incident core sends INSIDE the transaction of the write they report, once its
rows are written. Higher packages (warroom, postmortems) receive them in their
AppConfig.ready(); the core never imports them. A receiver either writes what must follow in
the same transaction, or records a step for the worker with `itsm.outbox.enqueue`, which
commits with the write and is retried until done. A receiver that raises rolls the write back:
nothing that must follow a committed write is lost to a failure after the commit."""

from django.dispatch import Signal

# kwargs: incident_id, priority, created_at
incident_created = Signal()
# kwargs: incident_id, transition, from_status, to_status, event_id (the transition's timeline
# event: a key for work done once per state change)
incident_transitioned = Signal()
# kwargs: incident_id, old_priority, new_priority
incident_priority_changed = Signal()
# kwargs: incident_id, fields (the sorted names of the fields an edit changed)
incident_updated = Signal()
# kwargs: event (the IncidentEvent), event_id, incident_id, type (every timeline event)
timeline_event_recorded = Signal()
# kwargs: incident_id, type. Sent INSIDE the transaction of each timeline event the incident
# services write, once the incident's row and links are written, so a receiver's writes commit
# or roll back with the change (the metrics rollup).
timeline_event_written = Signal()
# kwargs: incident_id, rule (its name). Sent INSIDE the transaction that opened the incident from
# alerts, so a receiver's declaration commits with it: an alert routing rule says "declare major".
alert_rule_declares_major = Signal()
# kwargs: users (username → user). Sent by `seed_demo` after it seeded, so higher apps can add
# their own demo data.
demo_seeded = Signal()
# kwargs: users, schedules (slug → schedule). Sent by `seed_demo` once its people, teams,
# services and on-call schedules exist and before its incidents, so higher apps can set up
# what those incidents need (the war room's declaration rules).
demo_directory_seeded = Signal()
