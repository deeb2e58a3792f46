// KafkaJS + @kafkajs/confluent-schema-registry against provbus dev, the way
// a data team's Node service reads a handler topic. Run by
// test/conformance_test.go:
//
//   node kafkajs_check.js <broker> <registry-url> <topic> <records> first <group>
//   node kafkajs_check.js <broker> <registry-url> <topic> <records> resume <group> <ids-seen>
//
// first: fetches the offsets of the group, which the broker has never seen
// (each partition must answer -1, no error), then consumes the topic
// read_committed, decoding every value through the registry and committing
// after each record, and stops after two. resume (after provbus dev
// restarted): a new consumer of the same group reads the rest; with the
// event ids the first run saw (comma separated) every record must be read
// exactly once. Prints one JSON line and exits 0, or prints the failure and
// exits 1.
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const { SchemaRegistry } = require('@kafkajs/confluent-schema-registry')

// provbus produces Snappy batches by default (kafka.compression);
// KafkaJS only has gzip built in.
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec

const [broker, registryURL, topic, wantArg, phase, group, seenArg] = process.argv.slice(2)
const want = Number(wantArg)
const deadline = Date.now() + 40000

function fail (msg) {
  console.error('kafkajs check failed: ' + msg)
  process.exit(1)
}

async function main () {
  const kafka = new Kafka({ clientId: 'conformance-kafkajs', brokers: [broker], logLevel: logLevel.NOTHING })
  const registry = new SchemaRegistry({ host: registryURL })

  if (phase === 'first') {
    // A lag monitor's first run: offsets of a group that never committed.
    const admin = kafka.admin()
    await admin.connect()
    const fetched = await admin.fetchOffsets({ groupId: group, topics: [topic] })
    await admin.disconnect()
    for (const t of fetched) {
      for (const p of t.partitions) {
        if (p.offset !== '-1') fail(`fetchOffsets of a new group: ${t.topic}/${p.partition} at ${p.offset}, want -1`)
      }
    }
  }

  const seen = new Map() // event_id → run
  for (const id of (seenArg || '').split(',').filter(Boolean)) seen.set(id, 'first run')
  async function run (label, stopAfter) {
    const consumer = kafka.consumer({ groupId: group, readUncommitted: false })
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    let n = 0
    let done
    const finished = new Promise(resolve => { done = resolve })
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const key = message.key.toString('utf8')
        const ev = await registry.decode(message.value)
        if (!/^[0-9]+$/.test(key) || String(ev.i_account) !== key) {
          fail(`key ${JSON.stringify(key)} is not the UTF-8 i_account ${ev.i_account}`)
        }
        if (ev.event_type !== 'Account/Blocked' || !ev.event_id) fail('decoded ' + JSON.stringify(ev))
        if (seen.has(ev.event_id)) fail(`${ev.event_id} read again in ${label} (first in ${seen.get(ev.event_id)})`)
        seen.set(ev.event_id, label)
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }])
        n++
        if (n >= stopAfter || seen.size >= want) {
          consumer.pause([{ topic }])
          done()
        }
      }
    })
    const timer = setInterval(() => { if (Date.now() > deadline) fail(`${label}: ${seen.size} of ${want} records before the deadline`) }, 200)
    await finished
    clearInterval(timer)
    await consumer.disconnect()
    return n
  }

  const n = phase === 'first' ? await run('first run', 2) : await run('resumed run', want)
  if (phase !== 'first' && seen.size !== want) fail(`${seen.size} distinct records, want ${want}`)
  console.log(JSON.stringify({ client: 'kafkajs', phase, group, read: n, ids: [...seen.keys()] }))
}

main().catch(err => fail(err && err.stack ? err.stack : String(err)))
