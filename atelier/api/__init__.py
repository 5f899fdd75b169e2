"""The partner API (``/api/v1``): personal tokens, JSON resources, events through the pages' handlers."""
