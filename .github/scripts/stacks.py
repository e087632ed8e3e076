"""The stacks CI plans, previews and deploys, derived from stacks/Pulumi.<stack>.yaml.

No workflow lists stacks by hand: a stack file added today is planned, previewed and
deployed by the next run. Each stack is {stack, target, environment, region} as its
`inferstack:deployment` says (`environment` defaults to dev, like the spec), and its
region (`deployment.region`, else `aws:region`; the AWS login needs it).

    stacks.py                          every stack, one name a line
    stacks.py --matrix --cloud         {"include": [...]} of the cloud stacks (not local)
    stacks.py --matrix --cloud --environment prod
    git diff --name-only BASE... | stacks.py --matrix --cloud --changed -
                                       only the stacks those changed files affect

A changed file affects: its own stack (stacks/Pulumi.<stack>.yaml); the stacks of one
target (components/<target>/..., policies/<target>.py); every stack (any other file
under components/, runtime/, policies/, stacks/, and pyproject.toml, Pulumi.yaml);
none (docs, tests, examples, CI files).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG_KEY = "inferstack:deployment"
SHARED = ("components/", "runtime/", "policies/", "stacks/", "pyproject.toml", "Pulumi.yaml")


def read_stacks(root: Path) -> list[dict[str, str]]:
    """Every stack file's name, target and environment, sorted by name."""
    stacks = []
    for path in sorted(
        (root / "stacks").glob("Pulumi.*.yaml"), key=lambda p: p.name.removesuffix(".yaml")
    ):
        name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        document = yaml.safe_load(path.read_text()) or {}
        deployment = (document.get("config") or {}).get(CONFIG_KEY) or {}
        if not isinstance(deployment, dict) or "target" not in deployment:
            sys.exit(f"error: {path.relative_to(root)}: no {CONFIG_KEY}.target")
        config = document.get("config") or {}
        region = deployment.get("region") or config.get("aws:region") or ""
        stacks.append(
            {
                "stack": name,
                "target": str(deployment["target"]),
                "environment": str(deployment.get("environment", "dev")),
                "region": str(region),
            }
        )
    return stacks


def affected(stacks: list[dict[str, str]], changed: list[str]) -> list[dict[str, str]]:
    """The stacks whose preview can change when `changed` (repository paths) change."""
    targets = {s["target"] for s in stacks}
    names, hit_targets = set(), set()
    for path in changed:
        parts = path.split("/")
        policy_module = path.removeprefix("policies/").removesuffix(".py")
        if path.startswith("stacks/Pulumi."):
            names.add(path.removeprefix("stacks/Pulumi.").removesuffix(".yaml"))
        elif parts[0] == "components" and len(parts) > 2 and parts[1] in targets:
            hit_targets.add(parts[1])
        elif parts[0] == "policies" and policy_module in targets:
            hit_targets.add(policy_module)
        elif path.startswith(SHARED):
            return stacks
    return [s for s in stacks if s["stack"] in names or s["target"] in hit_targets]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--cloud", action="store_true", help="leave out the local stacks")
    parser.add_argument("--environment", choices=("dev", "staging", "prod"))
    parser.add_argument("--changed", metavar="FILE", help="changed paths, one a line (- for stdin)")
    parser.add_argument("--matrix", action="store_true", help='print {"include": [...]} JSON')
    args = parser.parse_args()

    stacks = read_stacks(args.root)
    if args.cloud:
        stacks = [s for s in stacks if s["target"] != "local"]
    if args.environment:
        stacks = [s for s in stacks if s["environment"] == args.environment]
    if args.changed:
        text = sys.stdin.read() if args.changed == "-" else Path(args.changed).read_text()
        stacks = affected(stacks, [line.strip() for line in text.splitlines() if line.strip()])
    if args.matrix:
        print(json.dumps({"include": stacks}, separators=(",", ":")))
    else:
        print("\n".join(s["stack"] for s in stacks))


if __name__ == "__main__":
    main()
