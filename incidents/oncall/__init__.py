"""On-call: schedules and who is on call, escalation policies and their steps, paging."""
