"""Email notifications (outbox, preferences, digests, reminders) and messages with attachments."""
