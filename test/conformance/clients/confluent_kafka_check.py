"""python3-confluent-kafka (librdkafka) against provbus dev, the way a data
team's Python job reads a handler topic. Run by test/conformance_test.go:

    python3 confluent_kafka_check.py <broker> <registry-url> <topic> <records>

It asks committed() for a group the broker has never seen (every partition
must answer OFFSET_INVALID, no error), consumes the topic read_committed,
decodes every value through the registry (Confluent wire format: magic 0,
4-byte schema id, Avro binary), commits after each record, closes, and
resumes with a new consumer of the same group: the two runs together must
see every record exactly once. Prints one JSON line and exits 0, or prints
the failure and exits 1.
"""

import io
import json
import os
import struct
import sys
import time

import avro.io
import avro.schema
from confluent_kafka import OFFSET_INVALID, Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient


def fail(msg):
    print("confluent-kafka check failed: " + msg, file=sys.stderr)
    sys.exit(1)


broker, registry_url, topic, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
deadline = time.time() + 40
group = "conformance-python-%d-%d" % (os.getpid(), int(time.time() * 1000))
registry = SchemaRegistryClient({"url": registry_url})
schemas = {}


def decode(value):
    if len(value) < 5 or value[0] != 0:
        fail("value is not in the Confluent wire format: %r" % value[:8])
    (schema_id,) = struct.unpack(">I", value[1:5])
    if schema_id not in schemas:
        schemas[schema_id] = avro.schema.parse(registry.get_schema(schema_id).schema_str)
    reader = avro.io.DatumReader(schemas[schema_id])
    return reader.read(avro.io.BinaryDecoder(io.BytesIO(value[5:])))


def consumer():
    return Consumer({
        "bootstrap.servers": broker,
        "group.id": group,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })


# A lag monitor's first run: committed offsets of a group that never committed.
c = consumer()
partitions = c.list_topics(topic, timeout=10).topics[topic].partitions
for tp in c.committed([TopicPartition(topic, p) for p in partitions], timeout=10):
    if tp.error is not None or tp.offset != OFFSET_INVALID:
        fail("committed() of a new group: %s/%d offset %d error %s" % (tp.topic, tp.partition, tp.offset, tp.error))
c.close()

seen = {}


def run(label, stop_after):
    c = consumer()
    c.subscribe([topic])
    n = 0
    while n < stop_after and len(seen) < want:
        if time.time() > deadline:
            fail("%s: %d of %d records before the deadline" % (label, len(seen), want))
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            fail("%s: %s" % (label, msg.error()))
        key = msg.key().decode("utf-8")
        ev = decode(msg.value())
        if not key.isdigit() or str(ev["i_account"]) != key:
            fail("key %r is not the UTF-8 i_account %r" % (key, ev["i_account"]))
        if ev["event_type"] != "Account/Blocked" or not ev["event_id"]:
            fail("decoded %r" % ev)
        if ev["event_id"] in seen:
            fail("%s read again in %s (first in %s)" % (ev["event_id"], label, seen[ev["event_id"]]))
        seen[ev["event_id"]] = label
        c.commit(message=msg, asynchronous=False)
        n += 1
    c.close()
    return n


first = run("first run", 2)
resumed = run("resumed run", want)
if len(seen) != want:
    fail("%d distinct records, want %d" % (len(seen), want))
print(json.dumps({"client": "confluent-kafka-python", "group": group, "first": first, "resumed": resumed, "records": len(seen)}))
