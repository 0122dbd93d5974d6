"""Billing's reactions to scheduling (sessions.scheduling.events), connected in apps.ready."""
