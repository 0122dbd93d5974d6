"""Appointments, session plans, notes and reminders: added with scheduling and clinical records."""
