"""Client soak for boto3 against `shoal local`, at boto3's default settings (only the endpoint, the
region and dummy credentials are set; AWS_CA_BUNDLE from the environment with --tls).

    python3 soak.py ENDPOINT STREAM TABLE BATCHES

Creates STREAM (2 shards), puts BATCHES PutRecords of 500 records, each with a unique id, reads
everything back with GetRecords, reads it again through SubscribeToShard (from TRIM_HORIZON), and
does lease-table traffic in TABLE (DynamoDB): conditional creates, conditional renewals, a Scan.
Prints one JSON line with the counts; exits 1 on any error, a duplicate or a missing record.
"""
import json
import sys
import time

import boto3

endpoint, stream, table, batches = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conf = dict(endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="AKIDSOAK", aws_secret_access_key="soak")
kin = boto3.client("kinesis", **conf)
ddb = boto3.client("dynamodb", **conf)
out = {"client": "boto3 " + boto3.__version__, "written": 0, "read": 0, "readUnique": 0,
       "subscribed": 0, "subscribedUnique": 0, "leaseWrites": 0, "leaseItems": 0}


def wait_for(what, fn):
    for _ in range(600):
        if fn():
            return
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


def main():
    kin.create_stream(StreamName=stream, ShardCount=2)
    wait_for("stream ACTIVE", lambda: kin.describe_stream_summary(StreamName=stream)
             ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE")
    arn = kin.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    shards = [s["ShardId"] for s in kin.list_shards(StreamName=stream)["Shards"]]

    for b in range(batches):
        records = [{"PartitionKey": "pk-%d-%d" % (b, i), "Data": ("%d-%d" % (b, i)).ljust(100, ".").encode()}
                   for i in range(500)]
        res = kin.put_records(StreamName=stream, Records=records)
        if res.get("FailedRecordCount"):
            raise RuntimeError("PutRecords: %d records failed" % res["FailedRecordCount"])
    out["written"] = batches * 500

    seen = set()
    for shard in shards:
        it = kin.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            r = kin.get_records(ShardIterator=it, Limit=10000)
            for rec in r["Records"]:
                out["read"] += 1
                seen.add(rec["Data"].decode())
            # Every record was put before this loop: an empty answer means the shard is drained.
            if not r["Records"]:
                break
            it = r.get("NextShardIterator")
    out["readUnique"] = len(seen)

    consumer = kin.register_stream_consumer(StreamARN=arn, ConsumerName="soak")["Consumer"]["ConsumerARN"]
    wait_for("consumer ACTIVE", lambda: kin.describe_stream_consumer(ConsumerARN=consumer)
             ["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE")
    seen_sub = set()
    for shard in shards:
        sub = kin.subscribe_to_shard(ConsumerARN=consumer, ShardId=shard,
                                     StartingPosition={"Type": "TRIM_HORIZON"})
        stream_events = sub["EventStream"]
        deadline = time.time() + 30
        got = 0
        for ev in stream_events:
            e = ev.get("SubscribeToShardEvent")
            if e is None:
                continue
            for rec in e["Records"]:
                out["subscribed"] += 1
                got += 1
                seen_sub.add(rec["Data"].decode())
            if e.get("MillisBehindLatest", 1) == 0 and not e["Records"] or time.time() > deadline:
                break
        stream_events.close()
    out["subscribedUnique"] = len(seen_sub)

    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}])
    wait_for("table ACTIVE", lambda: ddb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE")
    for shard in shards:
        ddb.put_item(TableName=table, ConditionExpression="attribute_not_exists(leaseKey)",
                     Item={"leaseKey": {"S": shard}, "leaseOwner": {"S": "py"}, "leaseCounter": {"N": "0"},
                           "checkpoint": {"S": "TRIM_HORIZON"}})
        out["leaseWrites"] += 1
        for c in range(20):
            ddb.update_item(TableName=table, Key={"leaseKey": {"S": shard}},
                            ConditionExpression="leaseCounter = :c AND leaseOwner = :o",
                            UpdateExpression="SET leaseCounter = :n",
                            ExpressionAttributeValues={":c": {"N": str(c)}, ":n": {"N": str(c + 1)}, ":o": {"S": "py"}})
            out["leaseWrites"] += 1
    items = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
    out["leaseItems"] = len(items)
    for it in items:
        if it["leaseCounter"]["N"] != "20":
            raise RuntimeError("lease %s: leaseCounter %s, want 20" % (it["leaseKey"]["S"], it["leaseCounter"]["N"]))

    problems = []
    if out["read"] != out["written"] or out["readUnique"] != out["written"]:
        problems.append("GetRecords read %d (%d unique) of %d" % (out["read"], out["readUnique"], out["written"]))
    if out["subscribed"] != out["written"] or out["subscribedUnique"] != out["written"]:
        problems.append("SubscribeToShard delivered %d (%d unique) of %d" % (out["subscribed"], out["subscribedUnique"], out["written"]))
    if out["leaseItems"] != len(shards):
        problems.append("Scan returned %d leases, want %d" % (out["leaseItems"], len(shards)))
    out["problems"] = problems
    print(json.dumps(out))
    sys.exit(1 if problems else 0)


try:
    main()
except Exception as e:  # report every failure as the result line
    out["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out))
    sys.exit(1)
