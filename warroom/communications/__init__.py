"""Stakeholder communications: templates rendered in a sandbox from an incident's facts, drafts
a person edits, and sending them to an audience (docs/communications.md)."""
