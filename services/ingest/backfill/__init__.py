"""Backfill: past orders imported on request, behind live work (issue 17)."""
