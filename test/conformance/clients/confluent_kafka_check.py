"""python3-confluent-kafka (librdkafka) against provbus dev, the way a data
team's Python job reads a handler topic. Run by test/conformance_test.go:

    python3 confluent_kafka_check.py <broker> <registry-url> <topic> <records> first <group>
    python3 confluent_kafka_check.py <broker> <registry-url> <topic> <records> resume <group> <ids-seen>

first: asks committed() for the group, which the broker has never seen
(every partition must answer OFFSET_INVALID, no error), then consumes the
topic read_committed, decoding every value through the registry (Confluent
wire format: magic 0, 4-byte schema id, Avro binary) and committing after
each record, and closes after two. resume (after provbus dev restarted): a
new consumer of the same group reads the rest; with the event ids the first
run saw (comma separated) every record must be read exactly once. Prints
one JSON line and exits 0, or prints the failure and exits 1.
"""

import io
import json
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


broker, registry_url, topic, want, phase, group = sys.argv[1:7]
want = int(want)
deadline = time.time() + 40
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


if phase == "first":
    # A lag monitor's first run: committed offsets of a group that never committed.
    c = consumer()
    partitions = c.list_topics(topic, timeout=10).topics[topic].partitions
    for tp in c.committed([TopicPartition(topic, p) for p in partitions], timeout=10):
        if tp.error is not None or tp.offset != OFFSET_INVALID:
            fail("committed() of a new group: %s/%d offset %d error %s" % (tp.topic, tp.partition, tp.offset, tp.error))
    c.close()

seen = {i: "first run" for i in (sys.argv[7] if len(sys.argv) > 7 else "").split(",") if i}


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


n = run("first run", 2) if phase == "first" else run("resumed run", want)
if phase != "first" and len(seen) != want:
    fail("%d distinct records, want %d" % (len(seen), want))
print(json.dumps({"client": "confluent-kafka-python", "phase": phase, "group": group, "read": n, "ids": list(seen)}))
