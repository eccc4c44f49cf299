#!/usr/bin/env python3
"""Another process holding an SQLite library's write lock, for the
integration tests: BEGIN IMMEDIATE on DB, then LOCKED is created; the lock
is held until RELEASE appears (or 120 s pass, should the test die).

Usage: sqlite_locker.py DB LOCKED RELEASE"""
import os
import sqlite3
import sys
import time

db, locked, release = sys.argv[1:4]
c = sqlite3.connect(db, isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(locked, "w").close()
deadline = time.time() + 120
while not os.path.exists(release) and time.time() < deadline:
    time.sleep(0.05)
