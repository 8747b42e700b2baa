#!/usr/bin/env bash
# The differential replay of issue 20 (packages/node/test/unit/batch/replay.test.ts) over many seeds: each
# seed feeds one decided chain of 200 heights to a calm pipeline and to one with shuffled certificates and
# shares, crashes and restarts; every result at every height must match.
#   bash scripts/replay-seeds.sh 2000        # seeds 1…2000
#   bash scripts/replay-seeds.sh 500 10001   # seeds 10001…10500
# CI runs seeds 1…200 (replay.test.ts and replay-more.test.ts). A failing seed is printed with its
# differences; run it alone with REPLAY_FIRST_SEED=<seed> REPLAY_SEEDS=1 and REPLAY_LOG=info.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-1000}
first=${2:-1}
REPLAY_SEEDS=$seeds REPLAY_FIRST_SEED=$first npx vitest run packages/node/test/unit/batch/replay.test.ts \
  -t 'seeds: shuffled' --reporter verbose
