"""Tests of the storage engines (retrieval/storage/)."""
