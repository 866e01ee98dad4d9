#!/usr/bin/env python3
"""bridge.py — the Python peer of tests/bench/run (issue #8): the Kafka-to-HTTPS script a bank
engineer would write instead of xborder, doing the same job on the same broker, topic and receiver.

Owns: one consumer (confluent-kafka), the masking (lxml): debtor and creditor names and account
ids pseudonymised with HMAC-SHA-256 (16 base32 characters; IBANs keep their country), contact
details (CtctDtls) dropped; one POST per message (requests, mutual TLS) with the same
Idempotency-Key as xborder (the lower-case UETR); offsets committed after the receiver's answer.
Never: does xborder's classification, audit or settlement (it is the baseline, not a copy), or
retries forever: it exits non-zero on the first failed delivery.

usage: bridge.py --bootstrap H:P --topic T --group G --url URL --ca F --cert F --key F
                 --hmac-key FILE --count N [--stay]
Prints one line `done N msgs in S s` when N messages were delivered.
"""
import argparse
import base64
import hashlib
import hmac
import sys
import time

import requests
from confluent_kafka import Consumer
from lxml import etree

B32 = base64.b32encode


def normalise(value, drop_spaces):
    v = " ".join(value.split()).upper()
    return v.replace(" ", "") if drop_spaces else v


def pseudonym(key, domain, value, iban=False):
    norm = normalise(value, iban)
    mac = hmac.new(key, domain.encode() + b"\0" + norm.encode("utf-8"), hashlib.sha256).digest()
    b32 = B32(mac).decode()[:16]
    if iban:
        cc = norm[:2] if norm[:2].isalpha() else "XX"
        return f"{cc}{mac[20] % 100:02d}{b32}"
    return b32


def mask(doc, key):
    for party in ("Dbtr", "Cdtr"):
        for p in doc.iter("{*}" + party):
            nm = p.find("{*}Nm")
            if nm is not None and nm.text:
                nm.text = pseudonym(key, "party", nm.text)
            for c in p.findall("{*}CtctDtls"):
                p.remove(c)
        for acct in doc.iter("{*}" + party + "Acct"):
            for el in acct.iterfind("{*}Id/{*}IBAN"):
                el.text = pseudonym(key, "acct", el.text, iban=True)
            for el in acct.iterfind("{*}Id/{*}Othr/{*}Id"):
                el.text = pseudonym(key, "acct", el.text)
    uetr = next(doc.iter("{*}UETR"), None)
    return uetr.text.strip().lower() if uetr is not None else None


def main():
    ap = argparse.ArgumentParser()
    for a in ("bootstrap", "topic", "group", "url", "ca", "cert", "key", "hmac-key"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--stay", action="store_true",
                    help="after COUNT, wait for SIGTERM (the harness reads /proc before it stops us)")
    args = ap.parse_args()
    key = open(args.hmac_key, "rb").read()
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([args.topic])
    http = requests.Session()
    http.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace the receiver's CA
    http.cert = (args.cert, args.key)
    http.verify = args.ca
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    done, t0 = 0, None
    while done < args.count:
        batch = consumer.consume(num_messages=500, timeout=1.0)
        for m in batch:
            if m.error():
                continue
            if t0 is None:
                t0 = time.monotonic()
            doc = etree.fromstring(m.value(), parser)
            idem = mask(doc, key)
            body = etree.tostring(doc, xml_declaration=True, encoding="UTF-8")
            r = http.post(args.url, data=body, headers={"Content-Type": "application/xml",
                                                        "Idempotency-Key": idem})
            if r.status_code not in (200, 409):
                print(f"bridge.py: receiver answered {r.status_code}: {r.text[:200]}",
                      file=sys.stderr)
                return 1
            done += 1
        if batch:
            consumer.commit(asynchronous=False)
    consumer.close()
    print(f"done {done} msgs in {time.monotonic() - (t0 or time.monotonic()):.3f} s", flush=True)
    while args.stay:
        time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
