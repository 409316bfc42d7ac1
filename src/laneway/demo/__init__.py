"""`laneway demo`: a model answering on an OpenAI-compatible URL, from one command."""
