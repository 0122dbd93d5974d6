"""The peer's migrations for the bench (bench/peer_settings.py MIGRATION_MODULES)."""
