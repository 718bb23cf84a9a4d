#!/usr/bin/env python3
"""Publishes fair-value signals for a polyfleet `directional` Strategy, with the official NATS
client (nats-py). Any model can do the same from any language: one JSON document per signal on
`signal.<venue>.<token>`, schema `polyfleet.signal.fairValue/v1` (see the README).

    pip install nats-py
    python3 publish.py --nats nats://127.0.0.1:4222 --venue sim --token <YES token id> \
        --model fed-model --probability 0.62 --every 1 --count 60

`--also-bad` publishes, before each good signal, the kinds of message the strategy must ignore
and count (not JSON, another schema, a probability outside (0, 1), an expired signal, a model
it does not follow), so a test can check that they are refused and nothing is traded on them.
Each signal carries a W3C `traceparent` header: the orders it causes continue that trace.
"""

import argparse
import asyncio
import json
import secrets
import time

import nats

SCHEMA = "polyfleet.signal.fairValue/v1"


def subject_token(name: str) -> str:
    """A name as one NATS subject token, escaped as polyfleet escapes it ([A-Za-z0-9_-] pass,
    every other byte becomes ~xx)."""
    if name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name):
        return name
    out = "~" if not name else ""
    for b in name.encode():
        c = chr(b)
        out += c if (b < 128 and (c.isalnum() or c in "_-")) else f"~{b:02x}"
    return out


def subject(venue: str, token: str) -> str:
    return f"signal.{subject_token(venue)}.{token}"


def fair_value(token, probability, model, version, std_error, valid_for_s):
    now_ms = int(time.time() * 1000)
    doc = {
        "schema": SCHEMA,
        "token": token,
        "probability": probability,
        "model": model,
        "modelVersion": version,
        "validUntilMs": now_ms + int(valid_for_s * 1000),
        "publishedMs": now_ms,
    }
    if std_error is not None:
        doc["stdError"] = std_error
    return doc


def traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def bad_messages(token, model):
    """What a strategy must refuse: (label, payload bytes)."""
    good = fair_value(token, 0.5, model, "1", None, 30)
    expired = dict(good, validUntilMs=int(time.time() * 1000) - 1000)
    return [
        ("malformed", b"{not json"),
        ("malformed", json.dumps(dict(good, schema="polyfleet.signal.fairValue/v9")).encode()),
        ("malformed", json.dumps(dict(good, probability=1.5)).encode()),
        ("stale", json.dumps(expired).encode()),
        ("unfollowed", json.dumps(dict(good, model=model + "-unfollowed")).encode()),
    ]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nats", default="nats://127.0.0.1:4222")
    ap.add_argument("--venue", required=True)
    ap.add_argument("--token", required=True, help="token id (decimal)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--model-version", default="1.0.0")
    ap.add_argument("--probability", type=float, required=True)
    ap.add_argument("--std-error", type=float, default=None)
    ap.add_argument("--valid-for", type=float, default=30.0, help="seconds each signal stays valid")
    ap.add_argument("--every", type=float, default=1.0, help="seconds between signals")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--also-bad", action="store_true")
    args = ap.parse_args()

    nc = await nats.connect(args.nats)
    subj = subject(args.venue, args.token)
    sent = {"accepted": 0}
    traces = []
    for i in range(args.count):
        if args.also_bad:
            for label, payload in bad_messages(args.token, args.model):
                await nc.publish(subj, payload)
                sent[label] = sent.get(label, 0) + 1
        doc = fair_value(
            args.token, args.probability, args.model, args.model_version, args.std_error, args.valid_for
        )
        parent = traceparent()
        await nc.publish(subj, json.dumps(doc).encode(), headers={"traceparent": parent})
        traces.append(parent.split("-")[1])
        sent["accepted"] += 1
        await nc.flush()
        if i + 1 < args.count:
            await asyncio.sleep(args.every)
    await nc.drain()
    print(json.dumps({"subject": subj, "sent": sent, "traces": traces}))


if __name__ == "__main__":
    asyncio.run(main())
