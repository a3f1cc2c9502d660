"""Durability, backup and database-fault tests against a real server process."""
