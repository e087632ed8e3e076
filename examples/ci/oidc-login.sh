# Source this in a GitLab CI job: `. examples/ci/oidc-login.sh STACK`. It exchanges the
# job's OIDC ID tokens (gitlab-ci.yml's id_tokens) for short-lived credentials: a Pulumi
# Cloud access token, and those of the stack's cloud (its target in
# stacks/Pulumi.STACK.yaml). No long-lived key is read or written.
# shellcheck shell=bash

_inferstack_stack="$1"
_inferstack_target="$(.venv/bin/python -c '
import sys, yaml
doc = yaml.safe_load(open(f"stacks/Pulumi.{sys.argv[1]}.yaml"))
print(doc["config"]["inferstack:deployment"]["target"])' "$_inferstack_stack")"
_inferstack_tokens="${RUNNER_TEMP:-${CI_BUILDS_DIR:-/tmp}}/oidc"
mkdir -p "$_inferstack_tokens" && chmod 700 "$_inferstack_tokens"

# Pulumi Cloud: RFC 8693 token exchange (POST /api/oauth/token).
PULUMI_ACCESS_TOKEN="$(curl -fsS https://api.pulumi.com/api/oauth/token \
  -d "audience=urn:pulumi:org:$PULUMI_ORG" \
  -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange \
  -d subject_token_type=urn:ietf:params:oauth:token-type:id_token \
  -d requested_token_type=urn:pulumi:token-type:access_token:organization \
  -d "subject_token=$PULUMI_ID_TOKEN" \
  | .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
export PULUMI_ACCESS_TOKEN

case "$_inferstack_target" in
  aws)
    # The AWS SDKs and the Pulumi AWS provider assume the role with this token themselves.
    printf '%s' "$AWS_ID_TOKEN" > "$_inferstack_tokens/aws"
    export AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE="$_inferstack_tokens/aws"
    export AWS_ROLE_SESSION_NAME="gitlab-$CI_PROJECT_ID-$CI_JOB_ID"
    ;;
  azure)
    # azure-native reads these: a federated credential of the app, no client secret.
    export ARM_USE_OIDC=true ARM_OIDC_TOKEN="$AZURE_ID_TOKEN"
    export ARM_CLIENT_ID="$AZURE_CLIENT_ID" ARM_TENANT_ID="$AZURE_TENANT_ID"
    export ARM_SUBSCRIPTION_ID="$AZURE_SUBSCRIPTION_ID"
    ;;
  gcp)
    # Workload identity federation: an external-account credential file whose token
    # source is the job's ID token; Google's libraries exchange and impersonate.
    printf '%s' "$GCP_ID_TOKEN" > "$_inferstack_tokens/gcp"
    cat > "$_inferstack_tokens/gcp.json" <<JSON
{
  "type": "external_account",
  "audience": "//iam.googleapis.com/$GCP_WORKLOAD_IDENTITY_PROVIDER",
  "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
  "token_url": "https://sts.googleapis.com/v1/token",
  "credential_source": {"file": "$_inferstack_tokens/gcp"},
  "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/$GCP_SERVICE_ACCOUNT:generateAccessToken"
}
JSON
    export GOOGLE_APPLICATION_CREDENTIALS="$_inferstack_tokens/gcp.json"
    ;;
  *)
    echo "error: stack $_inferstack_stack has target $_inferstack_target, which needs no cloud login" >&2
    return 1
    ;;
esac
