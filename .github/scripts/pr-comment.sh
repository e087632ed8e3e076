#!/usr/bin/env bash
# Post FILE as a comment on pull request PR, or update the comment posted earlier with
# the same KEY (one comment per key, not one per run).
#
#   pr-comment.sh PR KEY FILE     (needs GH_TOKEN and GITHUB_REPOSITORY)
set -euo pipefail

pr="$1"
marker="<!-- inferstack:$2 -->"
body="$marker"$'\n'"$(cat "$3")"
existing="$(gh api "repos/$GITHUB_REPOSITORY/issues/$pr/comments" --paginate \
  --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | head -n 1)"
if [[ -n "$existing" ]]; then
  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$existing" \
    -f body="$body" >/dev/null
else
  gh pr comment "$pr" --repo "$GITHUB_REPOSITORY" --body "$body" >/dev/null
fi
