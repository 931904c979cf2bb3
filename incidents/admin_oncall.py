"""Admin for admin_oncall (filled in by issue 3)."""
