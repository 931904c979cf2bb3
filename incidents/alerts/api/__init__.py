"""The alert API: the senders' endpoints, integrations, alert groups and received payloads."""
