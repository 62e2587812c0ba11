#!/usr/bin/env python3
"""Small helpers for scripts/bench (standard library only).

    util.py ports N                  N free TCP ports on 127.0.0.1, one a line
    util.py jwt SECRET FIRST_ID [N]  N HS256 JWTs {id, iat, exp} for ids FIRST_ID..,
                                     one a line (what Strapi / the gateway issue)
    util.py seed-users DB N          insert N confirmed 'authenticated' users, last
                                     changed a day ago, into up_users of the SQLite
                                     store DB (dummy password hash); prints the first
                                     and last new id
    util.py get URL N [HEADER_FILE]  N keep-alive GETs to URL, one connection; each
                                     request takes the next line of HEADER_FILE as
                                     its Authorization bearer token (cycling);
                                     prints "<n> <elapsed s> <statuses>"
"""
import base64
import hashlib
import hmac
import http.client
import json
import socket
import sqlite3
import sys
import time
import urllib.parse
from collections import Counter


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign(secret: bytes, claims: dict) -> str:
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


def cmd_ports(n):
    socks = []
    for _ in range(int(n)):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    for s in socks:
        print(s.getsockname()[1])
        s.close()


def cmd_jwt(secret, first, n="1"):
    now = int(time.time())
    out = sys.stdout
    for i in range(int(first), int(first) + int(n)):
        out.write(sign(secret.encode(), {"id": i, "iat": now, "exp": now + 30 * 86400}) + "\n")


def cmd_seed_users(db, n):
    con = sqlite3.connect(db)
    cols = {r[1] for r in con.execute("PRAGMA table_info(up_users)")}
    # A day old: rows changed in the last seconds are re-read by every
    # replica's change feed (a bulk import would be), which is not what
    # this measures.
    now = int(time.time() * 1000) - 86_400_000
    start = con.execute("SELECT COALESCE(MAX(id), 0) FROM up_users").fetchone()[0] + 1
    base = {
        "provider": "local",
        # not a valid hash: these users only ever present JWTs
        "password": "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2g$YmVuY2g",
        "confirmed": 1,
        "blocked": 0,
        "role": "authenticated",
        "created_at": now,
        "updated_at": now,
        "published_at": now,
    }
    base = {k: v for k, v in base.items() if k in cols}

    def rows():
        for i in range(int(n)):
            row = dict(base)
            row.update(document_id=f"benchdoc{start + i:012d}", username=f"bench{start + i}",
                       email=f"bench{start + i}@example.com")
            yield row

    names = list(base) + ["document_id", "username", "email"]
    sql = f"INSERT INTO up_users ({', '.join(names)}) VALUES ({', '.join(':' + c for c in names)})"
    with con:
        con.executemany(sql, rows())
    last = con.execute("SELECT MAX(id) FROM up_users").fetchone()[0]
    print(start, last)


def cmd_get(url, n, header_file=None):
    u = urllib.parse.urlsplit(url)
    tokens = []
    if header_file:
        with open(header_file) as f:
            tokens = [line.strip() for line in f if line.strip()]
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    path = u.path + (("?" + u.query) if u.query else "")
    seen = Counter()
    t0 = time.monotonic()
    for i in range(int(n)):
        headers = {"Authorization": "Bearer " + tokens[i % len(tokens)]} if tokens else {}
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        r.read()
        seen[r.status] += 1
    elapsed = time.monotonic() - t0
    print(int(n), f"{elapsed:.2f}", ",".join(f"{k}:{v}" for k, v in sorted(seen.items())))


def main(argv):
    cmds = {"ports": cmd_ports, "jwt": cmd_jwt, "seed-users": cmd_seed_users, "get": cmd_get}
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
