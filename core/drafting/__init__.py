"""Grounded drafting: retrieval-backed drafts with numbered citations, proposals, feedback.

- ``sources``: the ``Retriever`` interface, the workspace's retriever, citations;
- ``prompt``: the grounded prompt (sources as quoted data inside ``<sources>``);
- ``draft``: streaming a grounded draft;
- ``conversations``: saved chats under ``W/drafts/conversations``;
- ``requirements``: requirements and sections of an RFP;
- ``proposal`` / ``proposal_store``: proposals drafted section by section (``W/drafts/proposals``);
- ``export``: DOCX and Markdown;
- ``feedback``: thumbs and edits as preference pairs in ``W/feedback/feedback.jsonl``.
"""
