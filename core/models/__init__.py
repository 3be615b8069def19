"""Model files: the bundled base model, facts about model folders and GGUF files."""
