"""An independent Kafka client for the tests (confluent-kafka, with its own librdkafka).

    kafka_peer.py produce BOOTSTRAP TOPIC [unbatched]  < JSON lines {"key": ..., "value": ...}
    kafka_peer.py consume BOOTSTRAP TOPIC[,TOPIC...] COUNT TIMEOUT_SECONDS

`produce` prints how many records the broker acknowledged; with `unbatched`, each record
goes in a record batch of its own. `consume` reads from the beginning with a group of its
own until COUNT records arrived or the time is up, and prints one JSON line per record:
topic, partition, offset, key, value (text) and headers.
"""

import json
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer


def produce(bootstrap, topic, unbatched=False):
    config = {"bootstrap.servers": bootstrap, "enable.idempotence": True}
    if unbatched:
        config["batch.num.messages"] = 1
    producer = Producer(config)
    acked = []

    def report(err, msg):
        if err is None:
            acked.append(msg.offset())
        else:
            print(json.dumps({"error": str(err)}), file=sys.stderr)

    for line in sys.stdin:
        if not line.strip():
            continue
        record = json.loads(line)
        producer.produce(
            topic,
            key=record.get("key"),
            value=record["value"].encode("utf-8"),
            on_delivery=report,
        )
    producer.flush(30)
    print(len(acked))


def consume(bootstrap, topics, count, timeout):
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "test-peer-" + uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(topics.split(","))
    seen = 0
    deadline = time.time() + timeout
    while seen < count and time.time() < deadline:
        msg = consumer.poll(0.2)
        if msg is None or msg.error():
            continue
        headers = {k: (v.decode("utf-8") if v is not None else None) for k, v in (msg.headers() or [])}
        print(
            json.dumps(
                {
                    "topic": msg.topic(),
                    "partition": msg.partition(),
                    "offset": msg.offset(),
                    "key": msg.key().decode("utf-8") if msg.key() is not None else None,
                    "value": msg.value().decode("utf-8", "replace") if msg.value() is not None else None,
                    "headers": headers,
                }
            ),
            flush=True,
        )
        seen += 1
    consumer.close()


if __name__ == "__main__":
    if sys.argv[1] == "produce":
        produce(sys.argv[2], sys.argv[3], sys.argv[4:5] == ["unbatched"])
    elif sys.argv[1] == "consume":
        consume(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit("usage: kafka_peer.py produce|consume ...")
