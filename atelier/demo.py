"""Demo data (``flask seed-demo``) — filled in by the seed work."""
DEMO_PASSWORD = "demo-atelier-2026"


def demo_accounts():
    return []


def load_demo() -> bool:
    return False
