"""Machine facts: hardware detection."""
