"""Applying a plan: freshness and guard checks, paced deletion, a journal, verification."""
