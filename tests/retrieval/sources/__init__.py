"""Tests of followed sources: feeds, sitemaps, folders, their store, sync, the CLI, kills and replicas."""
