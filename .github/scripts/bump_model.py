"""Point every stack serving a model at a new version of it (the retraining workflow).

    bump_model.py --model churn-logreg --version 1.1.0 --artifact s3://bucket/churn/1.1.0

Edits `model.version` and `model.artifact` in place in each stacks/Pulumi.<stack>.yaml
whose `inferstack:deployment.model.name` is the model (comments and layout kept), and
prints the files it changed (a local stack keeps its bundle when the artifact is a
URI). Inputs come from an outside event, so they are checked
first: a release-style version and an artifact URI of a known scheme or a path inside
the repository; anything else exits 2 naming the field. No stack serving the model
exits 1.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG_KEY = "inferstack:deployment"
VERSION = re.compile(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?")
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
ARTIFACT = re.compile(r"(?:s3|gs|azureml|https)://[\w.\-/:@=+]+|[\w.\-/]+")


def check(model: str, version: str, artifact: str) -> list[str]:
    """What is wrong with the event's inputs, one line per field."""
    problems = []
    if not NAME.fullmatch(model):
        problems.append(f"model: {model!r} is not a model name (lowercase, digits, dashes)")
    if not VERSION.fullmatch(version):
        problems.append(f"version: {version!r} is not MAJOR.MINOR.PATCH[-suffix]")
    if not ARTIFACT.fullmatch(artifact) or ".." in artifact.split("/") or artifact[:1] == "/":
        problems.append(
            f"artifact: {artifact!r} is not an s3://, gs://, azureml:// or https:// URI "
            "or a relative path inside the repository"
        )
    return problems


def _set_in_model_block(text: str, key: str, value: str) -> str:
    """Replace `key: ...` inside the deployment's `model:` block, keeping indentation."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if re.match(r"\s+model:\s*$", line))
    indent = len(lines[start]) - len(lines[start].lstrip())
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        match = re.match(rf"(\s+{key}:\s*)\S.*?(\n?)$", line)
        if match:
            lines[i] = f"{match.group(1)}{value}{match.group(2)}"
            return "".join(lines)
    raise ValueError(f"no {key} under model:")


def bump(root: Path, model: str, version: str, artifact: str) -> list[Path]:
    """Edit the stacks serving `model`; return the files changed."""
    changed = []
    for path in sorted((root / "stacks").glob("Pulumi.*.yaml")):
        text = path.read_text()
        spec = ((yaml.safe_load(text) or {}).get("config") or {}).get(CONFIG_KEY) or {}
        if (spec.get("model") or {}).get("name") != model:
            continue
        if spec.get("target") == "local" and "://" in artifact:
            # The local target serves bundles from this checkout, not from a URI.
            print(f"{path.name}: local stack kept (it needs a bundle path)", file=sys.stderr)
            continue
        edited = _set_in_model_block(text, "version", version)
        edited = _set_in_model_block(edited, "artifact", artifact)
        after = yaml.safe_load(edited)["config"][CONFIG_KEY]["model"]
        # The text edit must have changed exactly these two values.
        if (str(after["version"]), after["artifact"]) != (version, artifact):
            raise ValueError(f"{path.name}: the edit did not take")
        if edited != text:
            path.write_text(edited)
            changed.append(path)
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--model", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--artifact", required=True)
    args = parser.parse_args()
    problems = check(args.model, args.version, args.artifact)
    if problems:
        for problem in problems:
            print(f"error: retraining event: {problem}", file=sys.stderr)
        return 2
    serving = bump(args.root, args.model, args.version, args.artifact)
    if not serving:
        print(f"error: no stack in stacks/ serves model {args.model!r}", file=sys.stderr)
        return 1
    for path in serving:
        print(path.relative_to(args.root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
