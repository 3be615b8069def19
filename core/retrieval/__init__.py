"""Retrieval (RAG): a LanceDB knowledge base over the workspace's documents.

- ``chunking``: structure-following chunks of a document's blocks;
- ``embedder``: local sentence-transformers embeddings (and an optional cross-encoder);
- ``index``: incremental indexing (job kind ``index-documents``) and index status;
- ``search``: vector, full-text or hybrid (RRF) search with filters and highlights;
- ``identifiers``, ``exact``: identifiers a query names (solicitation and contract
  numbers, codes, distinctive names) and hybrid ranking that puts their documents first;
- ``reference``: exact lookups and questions over reference-table rows;
- ``evaluate``: recall@k and MRR of a question set for each search mode.

Import the submodules; this package imports nothing heavy.
"""
