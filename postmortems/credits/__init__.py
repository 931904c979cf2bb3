"""Customers, their availability contracts, and the monthly SLA credit statements
(docs/credits.md). The models live in postmortems/models/credits.py."""
