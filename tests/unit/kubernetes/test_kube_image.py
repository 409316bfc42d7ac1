"""The laneway image: the repository's Dockerfile installs the package install.sh installs, and
the hydration Job's default image is the tag that Dockerfile builds for this version."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import laneway
from laneway.drivers.kubernetes.cache_render import DEFAULT_IMAGE

ROOT = Path(__file__).resolve().parents[3]


def _pip_install_targets(text: str) -> list[str]:
    """What each `pip install` line installs from the checkout (`.` with its extras), quotes removed."""
    out = []
    for line in text.splitlines():
        if "pip install" not in line or line.lstrip().startswith("#"):
            continue
        words = shlex.split(line.split("pip install", 1)[1].split("&&")[0])
        out += [w for w in words if w.startswith(".")]
    return out


def test_the_dockerfile_installs_the_package_install_sh_installs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    install = (ROOT / "install.sh").read_text()
    [from_install] = _pip_install_targets(install)  # `.[dev,llamacpp]`, editable
    [from_image] = _pip_install_targets(dockerfile)  # `.${EXTRAS}`
    assert from_install.startswith(".[") and from_image.startswith(".")  # both: this checkout's package
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    copied = {w for line in dockerfile.splitlines() if line.startswith("COPY") for w in line.split()[1:-1]}
    assert {"pyproject.toml", "src"} <= copied  # what setuptools builds the package from
    extras = set(project["optional-dependencies"])
    wanted = set(from_install[2:-1].split(","))
    assert wanted <= extras and "llamacpp" in wanted  # the image can add the same runtime extra
    assert re.search(r'--build-arg EXTRAS=.\[llamacpp\]', dockerfile)


def test_the_default_hydration_image_is_the_tag_the_dockerfile_builds() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert laneway.__version__ == version
    assert f"ghcr.io/laneway/laneway:{version}" == DEFAULT_IMAGE
    assert f"docker build -t {DEFAULT_IMAGE} ." in dockerfile
    assert f'org.opencontainers.image.version="{version}"' in dockerfile
    assert re.search(r"^USER 10001$", dockerfile, re.M)  # the hydration Job's runAsUser
