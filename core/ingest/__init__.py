"""Document import: parsing, cleaning, the document store."""
