#!/bin/sh
# Mirror the repository's policies/ into the kustomize base, which can only read files below
# its own directory (see README.md). Run it after changing policies/, then list any new file
# in base/kustomization.yaml; tests/deploy checks both.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$root/deploy/kubernetes/base/policies"
cp -R "$root/policies" "$root/deploy/kubernetes/base/policies"
echo "mirrored $root/policies -> deploy/kubernetes/base/policies"
