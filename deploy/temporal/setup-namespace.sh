#!/bin/sh
# Registers the namespace and the custom search attributes (Keyword) that the workflows set. Idempotent. The compose
# job `temporal-setup` runs it, and `npm run test:production-stack` runs it against its own cluster.
#   TEMPORAL_ADDRESS   the frontend, host:port (read by the temporal CLI)
#   NAMESPACE          default: default
set -eu
namespace=${NAMESPACE:-default}
temporal operator namespace describe -n "$namespace" >/dev/null 2>&1 ||
  temporal operator namespace create -n "$namespace" --retention 30d
for name in CatalogId ImageId RolloutId RolloutPhase; do
  temporal operator search-attribute list -n "$namespace" | grep -qw "$name" ||
    temporal operator search-attribute create -n "$namespace" --name "$name" --type Keyword
done
temporal operator search-attribute list -n "$namespace"
