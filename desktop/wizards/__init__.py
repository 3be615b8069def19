"""Multi-step wizards: each only builds a config and hands it to the engine."""
