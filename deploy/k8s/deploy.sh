#!/usr/bin/env bash
# Deploy an overlay with plain kubectl, migrations first:
#   deploy/k8s/deploy.sh prod            (or dev; needs kubectl and a kube context)
# 1. render the overlay once;
# 2. apply the ConfigMap, the ServiceAccount and the migration Job (replacing a finished Job:
#    its pod template is immutable), and wait for the Job to complete;
# 3. apply everything else: the Deployments roll only after the schema is in place.
# A failed migration stops here, before any pod of the new version starts.
# (Argo CD does the same with the Job's PreSync hook annotation.)
set -euo pipefail
overlay="${1:?usage: deploy.sh <overlay>}"
here="$(cd "$(dirname "$0")" && pwd)"
manifests="$(mktemp)"
trap 'rm -f "$manifests"' EXIT
kubectl kustomize "$here/overlays/$overlay" >"$manifests"
namespace="$(awk '/^  namespace: /{print $2; exit}' "$manifests")"

kubectl -n "$namespace" delete job fortbridge-migrate --ignore-not-found
kubectl apply -f "$manifests" -l 'app.kubernetes.io/component in (config,migrate)'
kubectl -n "$namespace" wait --for=condition=complete --timeout=600s job/fortbridge-migrate
kubectl apply -f "$manifests" -l 'app.kubernetes.io/component notin (config,migrate)'
kubectl -n "$namespace" rollout status deployment -l app.kubernetes.io/name=fortbridge --timeout=600s
