"""Signed webhooks for partner agencies, delivered from a durable outbox (issue 5, item 5)."""
