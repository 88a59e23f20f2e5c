"""Ingestion: readers, checks, staging and merge into PostGIS, the ledger, history, and their CLI."""
