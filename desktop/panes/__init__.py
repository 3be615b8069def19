"""One pane per pipeline stage."""
