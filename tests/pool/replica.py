#!/usr/bin/env python3
"""Reads a pool member's own replica of the database over XML-RPC, with an
internal session (session.slave_login and the pool secret): what that host
itself sees, not what its master answers.
  replica.py IP SECRET master            uuid of the pool's master
  replica.py IP SECRET count CLASS FIELD VALUE   rows with FIELD == VALUE
  replica.py IP SECRET login             TCP login: Status and error
"""
import sys
import xmlrpc.client


def main():
    ip, secret, what = sys.argv[1], sys.argv[2], sys.argv[3]
    s = xmlrpc.client.ServerProxy("http://%s/" % ip)
    if what == "login":
        r = s.session.login_with_password("root", secret, "1.0", "test")
        print(r["Status"], ",".join(r.get("ErrorDescription", [])))
        return
    r = s.session.slave_login("OpaqueRef:NULL", secret)
    if r["Status"] != "Success":
        print("login failed:", r)
        sys.exit(1)
    sid = r["Value"]
    if what == "master":
        pools = s.pool.get_all_records(sid)["Value"]
        master = list(pools.values())[0]["master"]
        print(s.host.get_uuid(sid, master)["Value"])
    elif what == "count":
        cls, field, value = sys.argv[4], sys.argv[5], sys.argv[6]
        recs = getattr(s, cls).get_all_records(sid)["Value"]
        print(sum(1 for r in recs.values() if r.get(field) == value))


main()
