#!/usr/bin/env bash
# Client soak for the AWS CLI against `shoal local`, at the CLI's default settings (only
# --endpoint-url, the region and dummy credentials; AWS_CA_BUNDLE from the environment with --tls).
#
#   bash soak-cli.sh ENDPOINT STREAM TABLE BATCHES
#
# Creates STREAM (1 shard), puts BATCHES PutRecords of 500 records with unique data (at most 20),
# reads them back with one GetRecords, and does lease-table traffic in TABLE (conditional create,
# a conditional renewal, a Scan). SubscribeToShard is not offered by the CLI. Prints one JSON line with the
# counts; exits 1 on any error, a duplicate or a missing record.
set -uo pipefail
endpoint="$1" stream="$2" table="$3" batches="$4"
export AWS_ACCESS_KEY_ID=AKIDSOAK AWS_SECRET_ACCESS_KEY=soak AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
version="aws-cli"
fail() {
  printf '{"client":"%s","error":"%s"}\n' "$version" "$(echo "$*" | tr -d '"\\' | tr '\n' ' ' | cut -c1-600)"
  exit 1
}
k() { aws --endpoint-url "$endpoint" kinesis "$@" 2>"$tmp/err" || fail "aws kinesis $1: $(cat "$tmp/err")"; }
d() { aws --endpoint-url "$endpoint" dynamodb "$@" 2>"$tmp/derr" || fail "aws dynamodb $1: $(cat "$tmp/derr")"; }

# Eight CLI runs in all, each costing seconds on a busy machine: the lease-table part runs beside
# the stream part, and nothing waits for ACTIVE (the test starts shoal local with
# --state-delay 0s; a stream or table not yet ACTIVE fails the run loudly).
lease_table() {
  d create-table --table-name "$table" --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=leaseKey,AttributeType=S --key-schema AttributeName=leaseKey,KeyType=HASH >/dev/null
  d put-item --table-name "$table" --condition-expression 'attribute_not_exists(leaseKey)' \
    --item '{"leaseKey":{"S":"shardId-000000000000"},"leaseOwner":{"S":"cli"},"leaseCounter":{"N":"0"}}'
  d update-item --table-name "$table" --key '{"leaseKey":{"S":"shardId-000000000000"}}' \
    --condition-expression 'leaseCounter = :c AND leaseOwner = :o' --update-expression 'SET leaseCounter = :n' \
    --expression-attribute-values '{":c":{"N":"0"},":n":{"N":"1"},":o":{"S":"cli"}}'
  d scan --table-name "$table" --consistent-read --query '[Count, Items[0].leaseCounter.N]' --output text
}
lease_table >"$tmp/lease" 2>&1 &
lease_pid=$!

k create-stream --stream-name "$stream" --shard-count 1 >/dev/null
for b in $(seq "$batches"); do
  # Data is 12 characters of the base64 alphabet: CLI v2 decodes blob arguments, v1 sends them as
  # they are; unique either way.
  { printf '{"StreamName":"%s","Records":[' "$stream"
    for i in $(seq 500); do
      ((i > 1)) && printf ','
      printf '{"PartitionKey":"pk-%d-%d","Data":"cli0%04d%04d"}' "$b" "$i" "$b" "$i"
    done
    printf ']}'; } >"$tmp/put.json"
  failed="$(k put-records --cli-input-json "file://$tmp/put.json" --query FailedRecordCount --output text)"
  [[ "$failed" == 0 || "$failed" == None ]] || fail "PutRecords: $failed records failed"
done
written=$((batches * 500))

it="$(k get-shard-iterator --stream-name "$stream" --shard-id shardId-000000000000 --shard-iterator-type TRIM_HORIZON --query ShardIterator --output text)"
# One GetRecords returns up to 10,000 records: all of them, and any duplicate would show.
k get-records --shard-iterator "$it" --limit 10000 --query 'Records[].Data' --output text | tr '\t' '\n' | grep -v '^$' >"$tmp/data"
read_n="$(wc -l <"$tmp/data")"
unique="$(sort -u "$tmp/data" | wc -l)"

wait "$lease_pid" || fail "$(cat "$tmp/lease")"
read -r items counter <"$tmp/lease"

problems=()
((read_n == written && unique == written)) || problems+=("\"GetRecords read $read_n ($unique unique) of $written\"")
[[ "$counter" == 1 && "$items" == 1 ]] || problems+=("\"lease table: $items items, leaseCounter $counter, want 1 item at 1\"")
printf '{"client":"%s","written":%d,"read":%d,"readUnique":%d,"leaseWrites":2,"leaseItems":%d,"problems":[%s]}\n' \
  "$version" "$written" "$read_n" "$unique" "$items" "$(IFS=,; echo "${problems[*]}")"
((${#problems[@]} == 0))
