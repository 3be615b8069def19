"""Where text is generated for a user: a local model or a remote server, and the shared
server itself.

- ``backend``: ``open_text_model`` (a local GGUF or a remote endpoint behind one call)
  and ``stream_reply``; the endpoint settings themselves are ``core.endpoints``;
- ``http``: requests to an endpoint with timeouts, user-facing errors and cancel;
- ``sse``: server-sent events, as OpenAI-compatible servers stream them;
- ``client``: ``RemoteModel``, generation through an endpoint in the local stream's shape;
- ``chat_format``: how the server formats chats so that they match the local path;
- ``engines``: which server program runs (llama.cpp's ``llama-server``, several requests
  at once, or llama-cpp-python's) and llama-server's command line;
- ``server``: checking a launch of the server and its command;
- ``launch``: llama-cpp-python's server with chat templates in our sandbox, no docs routes;
- ``process``: running it as a child process, waited for until it answers;
- ``state``: the launched server's state file (``scriptorium serve --status/--stop``);
- ``publish``: a server left running for the team (Releases pane, ``serve --background``).

Import the submodules; this package imports nothing heavy.
"""
