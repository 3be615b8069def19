"""The guided demo: every stage on the sample workspace, headless (see ``pipeline``)."""
