#!/usr/bin/env bash
# Regenerate the TypeScript types of every message and service in proto/ with
# ts-proto. protoc is Debian's protobuf-compiler (installed by setup-node.sh);
# the generated files are committed and CI checks they are current. Services come
# out as plain definitions (no grpc-js import, so the services that only need the
# messages do not load grpc-js); services/common/src/cri-grpc.ts turns them into
# grpc-js service definitions and clients for the gateway, the CLI and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
out=services/common/src/gen
rm -rf "$out"
mkdir -p "$out"
mapfile -t files < <(cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)
protoc \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=generic-definitions,esModuleInterop=true,importSuffix=.js,forceLong=bigint,env=node,useDate=false,outputIndex=false \
  -I proto "${files[@]}"
echo "generated $(find "$out" -name '*.ts' | wc -l) files into $out"
