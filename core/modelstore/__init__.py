"""Base models a team brings (a Hugging Face folder or a GGUF file): checked before
anything is copied, kept once per machine in a content-addressed store, linked into each
workspace that uses them."""
