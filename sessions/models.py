"""Appointments, session plans, notes and reminders arrive with the scheduling and clinical issues."""
