#!/usr/bin/env bash
# Runs the Go client's tests offline: go-test.sh <contrib/go> <scratch dir in the build tree>.
# GOCACHE and GOPATH live in the scratch dir, so a clean clone needs nothing outside it.
set -euo pipefail
src=$1 scratch=$2
if ! command -v go >/dev/null; then
        echo "SKIP: no go (scripts/deps.sh installs golang-go)"
        exit 77
fi
mkdir -p "$scratch"
export GOCACHE=$scratch/cache GOPATH=$scratch/path GOPROXY=off GOTOOLCHAIN=local GOFLAGS= \
        GOTELEMETRY=off GO111MODULE=on CGO_ENABLED=0 GOENV=off
cd "$src"
go version
go vet ./...
go test -count=1 -v ./...
