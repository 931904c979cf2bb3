"""Admin for admin_sla (filled in by issue 3)."""
