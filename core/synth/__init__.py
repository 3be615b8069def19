"""Instruction pairs from documents that have none: a local teacher writes them
(``job``, ``tasks``), grounding and quality filters keep the sound ones (``grounding``),
and analysts review them before any enters a dataset (``store``)."""
