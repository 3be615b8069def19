"""Local generation on llama.cpp: loading GGUF models, chat templates, streaming.

- ``template``: chat templates rendered in a sandboxed child process (time and size limits);
- ``runtime``: resolving and loading GGUF models, kept in a ``ModelCache``;
- ``context``: fitting history and retrieved passages into the context window;
- ``stream``: streaming generation with a cancel flag, tokens/s and time to first token;
- ``model``: the settings, messages and events these share;

Import the submodules; this package imports nothing heavy.
"""
