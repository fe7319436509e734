// Client soak for the Node AWS SDK v3 against `shoal local`, every client at its default settings
// (the Kinesis client speaks HTTP/2; only the endpoint, the region and dummy credentials are set).
//
//   node soak.mjs ENDPOINT STREAM TABLE BATCHES
//
// Creates STREAM (2 shards) and registers a consumer, subscribes to both shards
// (SubscribeToShard from TRIM_HORIZON), puts BATCHES PutRecords of 500 records, each with a
// unique id, reads everything back with GetRecords, and waits until the subscriptions delivered
// every record. Then it does lease-table traffic in TABLE (DynamoDB): conditional creates,
// conditional renewals, a Scan. Prints one JSON line with the counts; exits 1 on any error,
// a duplicate or a missing record.
import {
  KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, RegisterStreamConsumerCommand,
  DescribeStreamConsumerCommand, SubscribeToShardCommand, PutRecordsCommand, ListShardsCommand,
  GetShardIteratorCommand, GetRecordsCommand,
} from "@aws-sdk/client-kinesis";
import {
  DynamoDBClient, CreateTableCommand, DescribeTableCommand, PutItemCommand, UpdateItemCommand, ScanCommand,
} from "@aws-sdk/client-dynamodb";

const [endpoint, stream, table, batchesArg] = process.argv.slice(2);
const batches = Number(batchesArg || "10");
const conf = {
  endpoint, region: "us-east-1",
  credentials: { accessKeyId: "AKIDSOAK", secretAccessKey: "soak" },
};
const kin = new KinesisClient(conf);
const ddb = new DynamoDBClient(conf);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = { client: "node-sdk-v3", written: 0, read: 0, readUnique: 0, subscribed: 0, subscribedUnique: 0, leaseWrites: 0, leaseItems: 0 };

async function waitFor(what, fn) {
  for (let i = 0; i < 600; i++) {
    if (await fn()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function main() {
  await kin.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
  await waitFor("stream ACTIVE", async () =>
    (await kin.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary.StreamStatus === "ACTIVE");
  const summary = (await kin.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary;
  const reg = await kin.send(new RegisterStreamConsumerCommand({ StreamARN: summary.StreamARN, ConsumerName: "soak" }));
  const consumerARN = reg.Consumer.ConsumerARN;
  await waitFor("consumer ACTIVE", async () =>
    (await kin.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerARN }))).ConsumerDescription.ConsumerStatus === "ACTIVE");
  const shards = (await kin.send(new ListShardsCommand({ StreamName: stream }))).Shards.map((s) => s.ShardId);

  // Subscriptions first, from TRIM_HORIZON: every record put below must arrive as an event.
  const seenSub = new Set();
  const subs = shards.map(async (shardId) => {
    const resp = await kin.send(new SubscribeToShardCommand({
      ConsumerARN: consumerARN, ShardId: shardId, StartingPosition: { Type: "TRIM_HORIZON" },
    }));
    for await (const ev of resp.EventStream) {
      if (!ev.SubscribeToShardEvent) continue;
      for (const r of ev.SubscribeToShardEvent.Records) {
        out.subscribed++;
        seenSub.add(Buffer.from(r.Data).toString());
      }
      if (out.written > 0 && seenSub.size >= out.written) break;
    }
  });
  const subsDone = Promise.all(subs);

  for (let b = 0; b < batches; b++) {
    const records = [];
    for (let i = 0; i < 500; i++) {
      const id = `${b}-${i}`;
      records.push({ PartitionKey: `pk-${id}`, Data: Buffer.from(id.padEnd(100, ".")) });
    }
    const res = await kin.send(new PutRecordsCommand({ StreamName: stream, Records: records }));
    if (res.FailedRecordCount) throw new Error(`PutRecords: ${res.FailedRecordCount} records failed`);
  }
  out.written = batches * 500;

  const seen = new Set();
  for (const shardId of shards) {
    let it = (await kin.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" }))).ShardIterator;
    for (;;) {
      const r = await kin.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10000 }));
      for (const rec of r.Records) {
        out.read++;
        seen.add(Buffer.from(rec.Data).toString());
      }
      // Every record was put before this loop: an empty answer means the shard is drained.
      if (r.Records.length === 0) break;
      it = r.NextShardIterator;
      if (!it) break;
    }
  }
  out.readUnique = seen.size;

  const subTimeout = sleep(30000).then(() => { throw new Error(`SubscribeToShard delivered ${seenSub.size} of ${out.written} records in 30 s`); });
  await Promise.race([subsDone, waitFor("subscription events", async () => seenSub.size >= out.written).then(() => {}), subTimeout]);
  out.subscribedUnique = seenSub.size;

  // Lease-table traffic, shaped like the KCL's: conditional create, conditional renew, scan.
  await ddb.send(new CreateTableCommand({
    TableName: table, BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [{ AttributeName: "leaseKey", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "leaseKey", KeyType: "HASH" }],
  }));
  await waitFor("table ACTIVE", async () =>
    (await ddb.send(new DescribeTableCommand({ TableName: table }))).Table.TableStatus === "ACTIVE");
  for (const shardId of shards) {
    await ddb.send(new PutItemCommand({
      TableName: table, ConditionExpression: "attribute_not_exists(leaseKey)",
      Item: { leaseKey: { S: shardId }, leaseOwner: { S: "node" }, leaseCounter: { N: "0" }, checkpoint: { S: "TRIM_HORIZON" } },
    }));
    out.leaseWrites++;
    for (let c = 0; c < 20; c++) {
      await ddb.send(new UpdateItemCommand({
        TableName: table, Key: { leaseKey: { S: shardId } },
        ConditionExpression: "leaseCounter = :c AND leaseOwner = :o",
        UpdateExpression: "SET leaseCounter = :n",
        ExpressionAttributeValues: { ":c": { N: String(c) }, ":n": { N: String(c + 1) }, ":o": { S: "node" } },
      }));
      out.leaseWrites++;
    }
  }
  const scan = await ddb.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  out.leaseItems = scan.Items.length;
  for (const it of scan.Items) {
    if (it.leaseCounter.N !== "20") throw new Error(`lease ${it.leaseKey.S}: leaseCounter ${it.leaseCounter.N}, want 20`);
  }

  const problems = [];
  if (out.read !== out.written || out.readUnique !== out.written) problems.push(`GetRecords read ${out.read} (${out.readUnique} unique) of ${out.written}`);
  if (out.subscribedUnique !== out.written || out.subscribed !== out.written) problems.push(`SubscribeToShard delivered ${out.subscribed} (${out.subscribedUnique} unique) of ${out.written}`);
  if (out.leaseItems !== shards.length) problems.push(`Scan returned ${out.leaseItems} leases, want ${shards.length}`);
  out.problems = problems;
  console.log(JSON.stringify(out));
  process.exit(problems.length ? 1 : 0);
}

main().catch((err) => {
  out.error = `${err.name}: ${err.message} ${err.code || ""} ${err.cause ? err.cause.message || err.cause : ""}`.trim();
  console.log(JSON.stringify(out));
  process.exit(1);
});
