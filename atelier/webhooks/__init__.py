"""Signed webhooks for partner agencies, delivered from a durable outbox."""
