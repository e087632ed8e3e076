#!/usr/bin/env bash
# The offline cost estimate of STACK at the pull request's base and head, as Markdown.
#
#   cost-change.sh STACK BASE_SHA
#
# Both estimates run the head's code (`inferstack plan --cost`, Pulumi mocks, the price
# table shipped with the package) on each side's stack file: the difference is what the
# change to the stack's config costs. A stack new in this pull request has no base.
set -euo pipefail

stack="$1"
base_sha="$2"
inferstack="${INFERSTACK:-.venv/bin/inferstack}"
base_tree="$(mktemp -d "${RUNNER_TEMP:-/tmp}/base.XXXXXX")"
trap 'git worktree remove --force "$base_tree" >/dev/null 2>&1 || true' EXIT
git worktree add --detach "$base_tree" "$base_sha" >/dev/null 2>&1

estimate() {
  "$inferstack" plan "$stack" --cost --no-policies "$@" 2>&1 || true
}

echo "### Cost of \`$stack\` (offline estimate, per month)"
echo
if [[ -f "$base_tree/stacks/Pulumi.$stack.yaml" ]]; then
  echo "<details><summary>base ($base_sha)</summary>"
  echo
  echo '```'
  estimate --project "$base_tree"
  echo '```'
  echo "</details>"
else
  echo "New stack: no cost at the base."
fi
echo
echo "<details open><summary>this pull request</summary>"
echo
echo '```'
estimate
echo '```'
echo "</details>"
