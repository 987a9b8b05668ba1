"""Alembic's environment and revisions for the store schema (a package so that it ships)."""
