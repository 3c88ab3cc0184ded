"""A crawl shared by several machines through Redis (``nianbao crawl --frontier``, ``nianbao ingest-worker``).

One machine is enough for a nightly re-read (docs/scale.md); a first national back-fill fetches millions of
documents and can use more.  The crawl nodes share, in one Redis database:

* the request queue and the duplicate filter: scrapy-redis's scheduler, priority queue and dupefilter (the
  existing engine, unchanged); requests are serialised as JSON (``JsonRequestCodec``), never pickled, so
  whoever can write to Redis cannot make a node run code;
* per-host politeness: scrapy-redis does not space requests to one host across nodes.  The download handler
  (``SharedDelayDownloadHandler``) claims, right before each send (after the node's own slot delay and
  concurrency), the host's next send in Redis, atomically and on the Redis server's clock (``_CLAIM``):
  sends to one host are at least its delay apart whichever node makes them.  The delay is
  the site's ``download_delay`` (else ``crawl.download_delay``), raised to the robots.txt Crawl-delay and to
  the node's own AutoThrottle delay for the host.  The same script takes one of the host's
  ``crawl.concurrent_per_domain`` slots (requests in flight from all nodes together), freed when the download
  ends, or by itself after the download timeout + 10 s (a node that died).  ``fetch: browser`` sites, whose
  requests Chromium answers before any download handler, take both in ``SharedBrowserPolitenessMiddleware``,
  the slot held for a challenged browser fetch's bound + 10 s (crawler.browser.fetch_bound_s);
* leases: a request popped from the queue is, in the same script (``_POP``), leased to the node, which
  extends the lease with its heartbeat and drops it once Scrapy's engine is done with the request (its
  callback ran, its items are pushed, its new requests queued).  A lease not extended for
  ``frontier.node_timeout`` (its node died) goes back into the queue, put there by any node (``_REQUEUE``: at
  start, every heartbeat, when idle), at most ``max_lease_tries`` times per request (then given up, with a
  fetch record that says so): a node killed midway loses nothing while another node is alive or joins;
* robots.txt: fetched once per host for all nodes (``SharedRobotsTxtMiddleware``: the first node claims the
  fetch, the others read the body it stored), so its Crawl-delay is known to every node;
* the page budget per site (``crawl.max_pages_per_site``): one counter for all nodes;
* which nodes are still working (``nodes`` hash, heartbeats): a node whose queue is empty keeps waiting
  while another node is busy (it may yield new requests), and the last node to finish ends the crawl.

Crawl nodes push their items (document bytes and fetch facts) to a Redis list instead of writing SQLite
(``FrontierItemPipeline``, scrapy-redis's pipeline with our codec, size cap and back-pressure).  The ingest
worker on the database machine (``run_ingest_worker``) pops them one at a time (BLMOVE into a processing
list, removed only once stored: a killed worker loses nothing), stores them through ``Store`` and runs the
parse stage; one crawl run row per shared crawl, with the nodes' stats summed.

Bounded: items above ``frontier.max_item_mb`` are recorded as too_large, not pushed; nodes wait while
``max_queued_items`` / ``max_queued_mb`` wait for the worker; every key expires ``key_ttl_hours`` after the
last activity.  A bad URL or an unreachable server is a ``FrontierError`` naming the URL (exit code 2).

This module is the part without Scrapy (URL checks, the Redis scripts, the codecs, the node's parent process,
the ingest worker); the Scrapy components of a node are in crawler/frontier_node.py.  Like scrapy-redis's own
scheduler, they call Redis synchronously on the reactor thread (a round trip on a LAN is well under a
millisecond); items are pushed from a thread.

What a frontier crawl does not do: conditional requests (a crawl node has no database to read ETags from:
every report is fetched again, and the worker stores only what changed).  When every node is killed, the
next node to start begins a new generation (queue, duplicate filter and leases cleared).
"""
from __future__ import annotations

import base64
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger(__name__)

#: What a frontier URL looks like (for messages).
URL_FORM = "redis://[:PASSWORD@]HOST[:PORT][/DB] (or rediss:// for TLS)"
#: Bytes of a robots.txt shared between nodes at most (Google reads 500 KiB).
ROBOTS_MAX_BYTES = 512 * 1024
ITEM_MAGIC = b"NBF1\n"
#: Seconds between two tries of a node waiting for one of a host's slots (requests in flight across nodes).
SLOT_POLL_S = 0.2


class FrontierError(Exception):
    """The frontier cannot be used (bad URL, server unreachable, bad item); the message names the URL."""


# -- connection -------------------------------------------------------------------------------------
def display_url(url: str) -> str:
    """The URL without its password (messages and the run row never show it)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def check_url(url: str) -> None:
    """A frontier URL we can use: redis:// or rediss://, a host, a numeric database."""
    shown = display_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise FrontierError(f"{shown}: not a Redis URL ({e}); expected {URL_FORM}") from None
    if parts.scheme not in ("redis", "rediss"):
        raise FrontierError(f"{shown}: not a Redis URL (scheme {parts.scheme or 'missing'!r}); expected {URL_FORM}")
    if not parts.hostname:
        raise FrontierError(f"{shown}: no host; expected {URL_FORM}")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise FrontierError(f"{shown}: database {db!r} is not a number; expected {URL_FORM}")
    if port == 0:
        raise FrontierError(f"{shown}: port 0; expected {URL_FORM}")


def connect(url: str, *, timeout: float = 10.0):
    """A Redis client for ``url``, checked with PING (FrontierError naming the URL otherwise)."""
    import redis

    check_url(url)
    shown = display_url(url)
    try:
        client = redis.Redis.from_url(url, socket_timeout=max(timeout, 30.0), socket_connect_timeout=timeout,
                                      retry_on_timeout=True, health_check_interval=30)
        client.ping()
    except redis.AuthenticationError as e:
        raise FrontierError(f"{shown}: Redis refused the password: {e}") from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
        raise FrontierError(f"{shown}: cannot reach the Redis server: {e}") from None
    except (redis.RedisError, ValueError) as e:
        raise FrontierError(f"{shown}: {type(e).__name__}: {e}") from None
    try:
        version = client.info("server").get("redis_version", "0")
    except redis.RedisError:
        version = "0"
    if tuple(int(x) for x in str(version).split(".")[:2] if x.isdigit()) < (6, 2):
        raise FrontierError(f"{shown}: Redis {version} is too old (6.2 or later: BLMOVE, scripts reading TIME)")
    return client


# -- keys and the node protocol (Lua scripts run atomically on the server, on its clock) ---------------
_JOIN = """
local t = redis.call('TIME'); local now = tonumber(t[1])
local all = redis.call('HGETALL', KEYS[1]); local live = 0
for i = 1, #all, 2 do
  local st, at = string.match(all[i + 1], '^(%a+):(%d+)$')
  if st ~= nil and st ~= 'done' and now - tonumber(at) <= tonumber(ARGV[2]) then live = live + 1
  else redis.call('HDEL', KEYS[1], all[i]) end
end
local gen
if live == 0 then
  redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8])
  gen = redis.call('HINCRBY', KEYS[2], 'generation', 1)
  redis.call('HSET', KEYS[2], 'status', 'running', 'started', now)
else
  gen = tonumber(redis.call('HGET', KEYS[2], 'generation'))
end
redis.call('HSET', KEYS[1], ARGV[1], 'busy:' .. now)
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
return gen
"""
_STATE = """
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. t[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
_IDLE = """
local t = redis.call('TIME'); local now = tonumber(t[1])
redis.call('HSET', KEYS[1], ARGV[1], 'idle:' .. now)
if redis.call('ZCARD', KEYS[2]) > 0 then return 'work' end
if redis.call('ZCARD', KEYS[3]) > 0 then return 'wait' end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local st, at = string.match(all[i + 1], '^(%a+):(%d+)$')
  if all[i] ~= ARGV[1] and st == 'busy' and now - tonumber(at) <= tonumber(ARGV[2]) then return 'wait' end
end
return 'done'
"""
_LEAVE = """
local t = redis.call('TIME'); local now = tonumber(t[1])
redis.call('HSET', KEYS[1], ARGV[1], 'done:' .. now)
if redis.call('HGET', KEYS[2], 'status') ~= 'running' then return 0 end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local st, at = string.match(all[i + 1], '^(%a+):(%d+)$')
  if st ~= nil and st ~= 'done' and now - tonumber(at) <= tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[2], 'status', 'finished', 'finished', now)
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8])
return 1
"""
#: Push an item unless the queue is full (atomic: concurrent pushes cannot pass the bound together).
#: KEYS items, items:bytes; ARGV item, max items, max bytes, TTL (s).  1 pushed, 0 full.
_PUSH = """
local n = redis.call('LLEN', KEYS[1])
local size = tonumber(redis.call('GET', KEYS[2]) or '0')
if n >= tonumber(ARGV[2]) or (n > 0 and size + string.len(ARGV[1]) > tonumber(ARGV[3])) then return 0 end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('INCRBY', KEYS[2], string.len(ARGV[1]))
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""
#: The worker's check: a running crawl whose nodes all stopped beating (killed) is abandoned.
_ABANDON = """
local t = redis.call('TIME'); local now = tonumber(t[1])
if redis.call('HGET', KEYS[2], 'status') ~= 'running' then return 0 end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local st, at = string.match(all[i + 1], '^(%a+):(%d+)$')
  if st ~= nil and st ~= 'done' and now - tonumber(at) <= tonumber(ARGV[1]) then return 0 end
end
redis.call('HSET', KEYS[2], 'status', 'abandoned', 'finished', now)
return tonumber(redis.call('HGET', KEYS[2], 'generation'))
"""
#: KEYS[1] the host's next-allowed send time, KEYS[2] the host's requests in flight (zset token -> expiry);
#: ARGV delay (s), TTL of the next-allowed key (ms), the cap of requests in flight (0: none), this request's
#: token, its slot's lifetime (s).  The send is claimed at the moment the node is ready to send (not booked
#: ahead): a node whose wake-up comes late (its reactor busy) then claims late, and the next send is still
#: ``delay`` after it.  A slot of a node that died expires by itself.  Returns "0" when claimed (the next send,
#: from any node, waits ``delay``; the slot is held until ``release_slot``), "d<s>" to wait s seconds for the
#: delay, "c<s>" when the host's slots are all taken (poll again; the delay has s seconds left).  Strings:
#: Lua numbers come back as integers.
_CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local cap = tonumber(ARGV[3])
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= cap then
    return 'c' .. string.format('%.6f', math.max(0, nxt - now))
  end
end
if nxt > now then return 'd' .. string.format('%.6f', nxt - now) end
if tonumber(ARGV[1]) > 0 then
  redis.call('SET', KEYS[1], string.format('%.6f', now + tonumber(ARGV[1])), 'PX', ARGV[2])
end
if cap > 0 then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[4])
  redis.call('EXPIRE', KEYS[2], math.ceil(tonumber(ARGV[5])) + 60)
end
return '0'
"""
#: Leases.  A request taken from the queue moves, in the same atomic step, into the leases: KEYS[2] a zset
#: lease id -> deadline (Redis clock), KEYS[3] a hash lease id -> "score\nnode\nrequest" (what goes back into the
#: queue).  The node that took it extends the deadline while it works on it (heartbeat) and drops the lease
#: once the request is done (its callback ran, its items were pushed, its new requests queued); a lease whose
#: deadline passed (its node died) is put back in the queue by any node (``_REQUEUE``), at most ``max tries``
#: times per request (KEYS[4], by the request's SHA-1), after which it goes to the failed list.
#: _POP: KEYS queue, leases, lease data, lease counter; ARGV node, lease seconds, key TTL.  {id, request} or nil.
_POP = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #r == 0 then return false end
redis.call('ZREM', KEYS[1], r[1])
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local id = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
redis.call('HSET', KEYS[3], id, r[2] .. '\\n' .. ARGV[1] .. '\\n' .. r[1])
for i = 2, 4 do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
return {id, r[1]}
"""
#: KEYS leases, lease data, tries, queue; ARGV 'done' (finished: dropped) or 'back' (handed back unfetched:
#: into the queue again, no try counted), then lease ids.  Returns how many leases were found.
_RELEASE = """
local n = 0
for i = 2, #ARGV do
  local v = redis.call('HGET', KEYS[2], ARGV[i])
  redis.call('ZREM', KEYS[1], ARGV[i])
  if v then
    n = n + 1
    redis.call('HDEL', KEYS[2], ARGV[i])
    local a = string.find(v, '\\n', 1, true); local b = string.find(v, '\\n', a + 1, true)
    local data = string.sub(v, b + 1)
    if ARGV[1] == 'back' then redis.call('ZADD', KEYS[4], tonumber(string.sub(v, 1, a - 1)), data)
    else redis.call('HDEL', KEYS[3], redis.sha1hex(data)) end
  end
end
return n
"""
#: KEYS leases; ARGV lease seconds, then the ids this node holds: their deadlines moved on (XX: a lease
#: already re-queued by another node is not brought back).
_EXTEND = """
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = 0
for i = 2, #ARGV do n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i]) end
return n
"""
#: KEYS leases, lease data, tries, queue, failed; ARGV max tries, key TTL, at most this many leases.
#: Expired leases back into the queue; {re-queued count, {requests given up}}.
_REQUEUE = """
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local back, failed = 0, {}
for _, id in ipairs(ids) do
  local v = redis.call('HGET', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  if v then
    redis.call('HDEL', KEYS[2], id)
    local a = string.find(v, '\\n', 1, true); local b = string.find(v, '\\n', a + 1, true)
    local data = string.sub(v, b + 1)
    local h = redis.sha1hex(data)
    if redis.call('HINCRBY', KEYS[3], h, 1) >= tonumber(ARGV[1]) then
      redis.call('HDEL', KEYS[3], h)
      redis.call('LPUSH', KEYS[5], data)
      table.insert(failed, data)
    else
      redis.call('ZADD', KEYS[4], tonumber(string.sub(v, 1, a - 1)), data)
      back = back + 1
    end
  end
end
for i = 3, 5 do if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ARGV[2]) end end
return {back, failed}
"""


@dataclass
class FrontierSettings:
    url: str
    job: str = "nianbao"
    max_item_bytes: int = 64 * 1024 * 1024
    max_queued_items: int = 2000
    max_queued_bytes: int = 1024 * 1024 * 1024
    key_ttl_s: int = 72 * 3600
    node_timeout_s: int = 120
    parse_every: int = 500
    #: times a request may be taken by a node that then stopped beating before it was done (a URL whose
    #: response kills the node must not kill every node in turn); then a fetch record says so
    max_lease_tries: int = 3

    @classmethod
    def from_config(cls, config, url: str) -> "FrontierSettings":
        f = config.frontier
        return cls(url=url, job=f.job, max_item_bytes=int(f.max_item_mb * 1024 * 1024),
                   max_queued_items=f.max_queued_items, max_queued_bytes=int(f.max_queued_mb * 1024 * 1024),
                   key_ttl_s=max(60, int(f.key_ttl_hours * 3600)), node_timeout_s=int(f.node_timeout),
                   parse_every=f.parse_every)


class Keys:
    """Every Redis key of one shared crawl, under ``<job>:``."""

    def __init__(self, job: str) -> None:
        p = f"{job}:"
        self.prefix = p
        self.requests = p + "requests"  # scrapy-redis priority queue (zset)
        self.dupefilter = p + "dupefilter"  # scrapy-redis fingerprints (set)
        self.nodes = p + "nodes"  # node id -> state:redis-time
        self.state = p + "state"  # generation, status, started, finished
        self.items = p + "items"  # crawl nodes -> ingest worker
        self.items_bytes = p + "items:bytes"
        self.processing = p + "items:processing"  # the item the worker is storing
        self.bad = p + "items:bad"  # items the worker could not read (kept, never dropped)
        self.worker = p + "worker"  # the one ingest worker's lease
        self.leases = p + "leases"  # lease id -> deadline: requests taken by a node, not yet done (zset)
        self.lease_data = p + "leases:data"  # lease id -> "score\nnode\nrequest"
        self.lease_seq = p + "leases:seq"
        self.lease_tries = p + "leases:tries"  # SHA-1 of a request -> times its lease expired
        # named after the queue: requests given up after max_lease_tries (their bytes), and requests whose
        # bytes do not decode (``{"error": why, "data_b64": bytes}``: kept to be looked at, never popped again)
        self.failed = self.requests + ":failed"  # (list)

    def next_allowed(self, host: str) -> str:
        return f"{self.prefix}host:{host}:next"

    def slots(self, host: str) -> str:
        return f"{self.prefix}host:{host}:inflight"  # token -> expiry (zset)

    def robots(self, generation: int, netloc: str) -> str:
        return f"{self.prefix}g{generation}:robots:{netloc}"  # read again by every crawl

    def budget(self, generation: int, site: str) -> str:
        return f"{self.prefix}g{generation}:budget:{site}"


class Frontier:
    """One process's handle on the shared crawl: its Redis client, keys, scripts and limits."""

    def __init__(self, settings: FrontierSettings, client=None) -> None:
        self.settings = settings
        self.client = client if client is not None else connect(settings.url)
        self.keys = Keys(settings.job)
        self.node = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.generation: int | None = None
        self.state = "busy"
        c = self.client
        self._join, self._state, self._idle = c.register_script(_JOIN), c.register_script(_STATE), c.register_script(_IDLE)
        self._leave, self._claim = c.register_script(_LEAVE), c.register_script(_CLAIM)
        self._abandon, self._push = c.register_script(_ABANDON), c.register_script(_PUSH)
        self._pop, self._release = c.register_script(_POP), c.register_script(_RELEASE)
        self._extend, self._requeue = c.register_script(_EXTEND), c.register_script(_REQUEUE)
        self.held: set[int] = set()  # lease ids of the requests this node took and has not finished
        self.last_lease: int | None = None
        self._tokens = 0

    @property
    def shown_url(self) -> str:
        return display_url(self.settings.url)

    def _node_keys(self) -> list[str]:
        k = self.keys
        return [k.nodes, k.state, k.requests, k.dupefilter, k.leases, k.lease_data, k.lease_tries, k.failed]

    # -- node lifecycle -------------------------------------------------------------------------------
    def join(self) -> int:
        """Join the running crawl, or start a new generation when no node is alive."""
        self.generation = int(self._join(keys=self._node_keys(), args=[self.node, self.settings.node_timeout_s,
                                                                        self.settings.key_ttl_s]))
        self.state = "busy"
        return self.generation

    def mark(self, state: str) -> None:
        self.state = state
        self._state(keys=[self.keys.nodes], args=[self.node, state, self.settings.key_ttl_s])

    def heartbeat(self) -> None:
        self.mark(self.state)
        for key in (self.keys.state, self.keys.requests, self.keys.dupefilter, self.keys.items):
            self.client.expire(key, self.settings.key_ttl_s)
        self.extend_leases()

    def idle(self) -> str:
        """'work' (requests queued), 'wait' (another node is busy) or 'done'."""
        self.state = "idle"
        out = self._idle(keys=[self.keys.nodes, self.keys.requests, self.keys.leases],
                         args=[self.node, self.settings.node_timeout_s])
        return out.decode() if isinstance(out, bytes) else str(out)

    def leave(self) -> bool:
        """Mark this node done; True when it was the last one (the crawl is finished)."""
        self.state = "done"
        return bool(self._leave(keys=self._node_keys(), args=[self.node, self.settings.node_timeout_s]))

    def abandon_dead(self) -> int | None:
        """The generation marked abandoned because every node of it stopped beating, else None."""
        gen = self._abandon(keys=[self.keys.nodes, self.keys.state], args=[self.settings.node_timeout_s])
        return int(gen) if gen else None

    def status(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.client.hgetall(self.keys.state).items()}

    # -- leases: a request taken is the node's until it is done, or until the node stops beating ----------
    @property
    def lease_s(self) -> int:
        """A lease not extended for this long is taken back (the node counts as gone after as long)."""
        return self.settings.node_timeout_s

    def take(self) -> bytes | None:
        """The next request of the shared queue (its encoded form), leased to this node; None when empty.
        ``self.last_lease`` is its lease id, to give to ``done``."""
        k = self.keys
        got = self._pop(keys=[k.requests, k.leases, k.lease_data, k.lease_seq],
                        args=[self.node, self.lease_s, self.settings.key_ttl_s])
        if not got:
            return None
        lease, data = int(got[0]), got[1]
        self.held.add(lease)
        self.last_lease = lease
        return data

    def done(self, lease: int) -> None:
        """The request of ``lease`` is done: its response handled, its items pushed, its new requests queued."""
        if lease in self.held:
            self.held.discard(lease)
            k = self.keys
            self._release(keys=[k.leases, k.lease_data, k.lease_tries, k.requests], args=["done", lease])

    def fail(self, lease: int, data: bytes, reason: str) -> str:
        """The request of ``lease`` cannot be used (its bytes do not decode): into the failed list with the
        reason, its lease dropped.  Handed back instead, it would be popped again on every pop of every
        node.  Returns the failed list's key."""
        self.held.discard(lease)  # if Redis fails below, the lease expires and is given up after max_lease_tries
        k = self.keys
        entry = json.dumps({"error": reason, "data_b64": base64.b64encode(data).decode("ascii")}).encode("utf-8")
        pipe = self.client.pipeline(transaction=True)
        pipe.lpush(k.failed, entry).expire(k.failed, self.settings.key_ttl_s)
        self._release(keys=[k.leases, k.lease_data, k.lease_tries, k.requests], args=["done", lease], client=pipe)
        pipe.execute()
        return k.failed

    def hand_back(self) -> int:
        """Every lease this node still holds back into the queue (a node that stops with requests taken)."""
        ids, self.held = sorted(self.held), set()
        if not ids:
            return 0
        k = self.keys
        return int(self._release(keys=[k.leases, k.lease_data, k.lease_tries, k.requests], args=["back", *ids]))

    def extend_leases(self) -> None:
        if self.held:
            self._extend(keys=[self.keys.leases], args=[self.lease_s, *sorted(self.held)])

    def requeue_expired(self, limit: int = 1000) -> tuple[int, list[bytes]]:
        """Leases of nodes that stopped beating back into the queue; (how many, the requests given up after
        ``max_lease_tries``)."""
        k = self.keys
        back, failed = self._requeue(keys=[k.leases, k.lease_data, k.lease_tries, k.requests, k.failed],
                                     args=[self.settings.max_lease_tries, self.settings.key_ttl_s, limit])
        return int(back), list(failed)

    def leases(self) -> dict[int, str]:
        """lease id -> node, of every request taken and not done (tests, the CLI)."""
        out = {}
        for lease, v in self.client.hgetall(self.keys.lease_data).items():
            out[int(lease)] = v.split(b"\n", 2)[1].decode()
        return out

    # -- politeness ---------------------------------------------------------------------------------------
    def claim(self, host: str, delay: float, cap: int = 0,
              hold_s: float = 60.0) -> tuple[float, str | None, str | None]:
        """(0, token, None) when this node may send to ``host`` now: the next send, from any node, waits
        ``delay``, and the request holds one of the host's ``cap`` slots (0: no cap) until
        ``release_slot(host, token)`` or ``hold_s``.  Else (seconds to wait before claiming again, None, why:
        "delay" or "slots")."""
        ttl_ms = int(max(delay * 1000 * 4, 60_000))
        self._tokens += 1
        token = f"{self.node}:{self._tokens}"
        out = self._claim(keys=[self.keys.next_allowed(host), self.keys.slots(host)],
                          args=[f"{delay:.6f}", ttl_ms, int(cap), token, f"{hold_s:.3f}"])
        out = out.decode() if isinstance(out, bytes) else str(out)
        if out == "0":
            return 0.0, (token if cap > 0 else None), None
        wait = float(out[1:])
        if out[0] == "c":  # the host's slots are taken: poll (nobody can say when a response comes)
            return max(wait, SLOT_POLL_S), None, "slots"
        return wait, None, "delay"

    def release_slot(self, host: str, token: str | None) -> None:
        if token:
            self.client.zrem(self.keys.slots(host), token)

    # -- items ----------------------------------------------------------------------------------------------
    def queued(self) -> tuple[int, int]:
        pipe = self.client.pipeline(transaction=False)
        pipe.llen(self.keys.items).get(self.keys.items_bytes)
        n, size = pipe.execute()
        return int(n or 0), int(size or 0)

    def offer(self, data: bytes) -> bool:
        """Push an item unless max_queued_items / max_queued_bytes wait already (then False: wait, offer again)."""
        s, k = self.settings, self.keys
        return bool(self._push(keys=[k.items, k.items_bytes],
                               args=[data, s.max_queued_items, s.max_queued_bytes, s.key_ttl_s]))

    def push(self, data: bytes) -> None:
        """Push whatever the queue holds (control items: a node's stats, the end of a crawl)."""
        k = self.keys
        pipe = self.client.pipeline(transaction=True)
        pipe.lpush(k.items, data).incrby(k.items_bytes, len(data))
        pipe.expire(k.items, self.settings.key_ttl_s).expire(k.items_bytes, self.settings.key_ttl_s)
        pipe.execute()


# -- codecs -------------------------------------------------------------------------------------------------
def _to_json(v: Any) -> Any:
    if isinstance(v, bytes):
        return {"__b": base64.b64encode(v).decode("ascii")}
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v):
            return {k: _to_json(x) for k, x in v.items()}
        return {"__d": [[_to_json(k), _to_json(x)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return [_to_json(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    raise TypeError(f"cannot share a {type(v).__name__} between crawl nodes: {v!r:.80}")


def _from_json(v: Any) -> Any:
    if isinstance(v, dict):
        if set(v) == {"__b"}:
            return base64.b64decode(v["__b"])
        if set(v) == {"__d"}:
            return {_from_json(k): _from_json(x) for k, x in v["__d"]}
        return {k: _from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_from_json(x) for x in v]
    return v


class JsonRequestCodec:
    """scrapy-redis serializer (SCHEDULER_SERIALIZER): requests as JSON, not pickle (a pickle read from
    Redis could run code on every node)."""

    @staticmethod
    def dumps(obj: dict) -> bytes:
        return json.dumps(_to_json(obj), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @staticmethod
    def loads(data: bytes) -> dict:
        return _from_json(json.loads(data))


_DOC_FIELDS = ("url", "content_type", "status", "etag", "last_modified", "site", "link_title", "listing_date",
               "report_url", "page_date", "fetch_status")
_FETCH_FIELDS = ("url", "site", "role", "http_status", "fetch_status", "error", "method")


def encode_item(item, *, generation: int, node: str) -> bytes:
    """A Document or FetchRecord as one Redis value: magic, a JSON header line, then the raw bytes."""
    from spiders.hostile import FetchRecord
    from storage.models import Document

    if isinstance(item, Document):
        head = {"kind": "document", **{f: getattr(item, f) for f in _DOC_FIELDS},
                "fetched_at": item.fetched_at.isoformat() if item.fetched_at else None, "size": len(item.content)}
        body = item.content
    elif isinstance(item, FetchRecord):
        head, body = {"kind": "fetch", **{f: getattr(item, f) for f in _FETCH_FIELDS}}, b""
    else:
        raise TypeError(f"not an item the ingest worker stores: {type(item).__name__}")
    head.update(generation=generation, node=node)
    return ITEM_MAGIC + json.dumps(head, ensure_ascii=False).encode("utf-8") + b"\n" + body


def encode_control(kind: str, *, generation: int, node: str, **extra) -> bytes:
    """A node's final stats (``stats``) or the end of a shared crawl (``end``)."""
    head = {"kind": kind, "generation": generation, "node": node, **extra}
    return ITEM_MAGIC + json.dumps(head, ensure_ascii=False).encode("utf-8") + b"\n"


def decode_item(data: bytes) -> tuple[dict[str, Any], Any]:
    """(header, Document | FetchRecord | None); ValueError says what is wrong with a bad value."""
    from spiders.hostile import FetchRecord
    from storage.models import Document

    if not data.startswith(ITEM_MAGIC):
        raise ValueError("not a nianbao frontier item (bad magic)")
    end = data.find(b"\n", len(ITEM_MAGIC))
    if end < 0:
        raise ValueError("no header line")
    head = json.loads(data[len(ITEM_MAGIC):end].decode("utf-8"))
    if not isinstance(head, dict) or not isinstance(head.get("generation"), int):
        raise ValueError("header without a generation")
    body = data[end + 1:]
    kind = head.get("kind")
    if kind == "document":
        if not isinstance(head.get("url"), str) or head.get("size") != len(body):
            raise ValueError(f"document header does not match its {len(body)} bytes")
        fetched = head.get("fetched_at")
        doc = Document(content=body, fetched_at=datetime.fromisoformat(fetched) if fetched else None,
                       **{f: head.get(f) for f in _DOC_FIELDS if f in head})
        if not isinstance(doc.status, int):
            raise ValueError("document status is not a number")
        return head, doc
    if kind == "fetch":
        if not isinstance(head.get("url"), str) or not isinstance(head.get("fetch_status"), str):
            raise ValueError("fetch record without url or fetch_status")
        return head, FetchRecord(**{f: head.get(f) for f in _FETCH_FIELDS if f in head})
    if kind in ("stats", "end"):
        return head, None
    raise ValueError(f"unknown item kind {kind!r}")


def node_settings(config, url: str, sites, *, polite: bool = True) -> dict[str, Any]:
    """The Scrapy settings that turn a crawl process into a crawl node of the shared crawl at ``url``."""
    from spiders.portal import host_key

    fs = FrontierSettings.from_config(config, url)
    keys = Keys(fs.job)
    delays = {}
    if polite:
        for s in sites:
            delays[host_key(s.start_url)] = s.download_delay if s.download_delay is not None \
                else config.crawl.download_delay
    return {
        "SCHEDULER": "crawler.frontier_node.FrontierScheduler",
        "SCHEDULER_PERSIST": True,  # the last node clears the queue (FrontierNode), not the first to finish
        "SCHEDULER_QUEUE_CLASS": "crawler.frontier_node.LeasedPriorityQueue",
        "SCHEDULER_QUEUE_KEY": keys.requests,
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter,
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_SERIALIZER": JsonRequestCodec,
        "REDIS_URL": url,
        "REDIS_PARAMS": {"socket_timeout": 30, "socket_connect_timeout": 10, "retry_on_timeout": True,
                         "health_check_interval": 30},
        "NIANBAO_FRONTIER": {"settings": fs.__dict__, "delays": delays,
                             "default_delay": config.crawl.download_delay if polite else 0.0,
                             # requests in flight per host, across every node (each node's own cap is the same)
                             "concurrency": config.crawl.concurrent_per_domain if polite else 0},
    }


def apply_node_settings(settings: dict[str, Any], config, url: str, sites, *, polite: bool = True) -> dict[str, Any]:
    """``settings`` (crawler.settings.scrapy_settings) changed in place for a crawl node."""
    settings.update(node_settings(config, url, sites, polite=polite))
    settings["NIANBAO_DB"] = None  # no database on a crawl node: no conditional requests
    settings["DOWNLOAD_HANDLERS"] = {**settings.get("DOWNLOAD_HANDLERS", {}),
                                     "http": "crawler.frontier_node.SharedDelayDownloadHandler",
                                     "https": "crawler.frontier_node.SharedDelayDownloadHandler"}
    mw = dict(settings["DOWNLOADER_MIDDLEWARES"])
    mw["crawler.middlewares.UrlPolicyMiddleware"] = None
    mw["crawler.frontier_node.SharedBudgetUrlPolicyMiddleware"] = 50
    mw["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] = None
    mw["crawler.frontier_node.SharedRobotsTxtMiddleware"] = 100
    mw["crawler.frontier_node.SharedBrowserPolitenessMiddleware"] = 940  # just before BrowserFetchMiddleware
    settings["DOWNLOADER_MIDDLEWARES"] = mw
    settings["ITEM_PIPELINES"] = {"crawler.frontier_node.FrontierItemPipeline": 300}
    settings["EXTENSIONS"] = {**settings.get("EXTENSIONS", {}), "crawler.frontier_node.FrontierNode": 100}
    return settings


# -- crawl node: parent side -----------------------------------------------------------------------------
@dataclass
class NodeSummary:
    url: str
    status: str = "ok"
    elapsed_s: float = 0.0
    generation: int | None = None
    node: str | None = None
    pages: int = 0
    reports: int = 0
    attachments: int = 0
    errors: int = 0
    items: int = 0
    sites: dict[str, int] = field(default_factory=dict)  # site -> requests answered (pages+reports+attachments)
    error: str | None = None

    def render(self) -> str:
        lines = [f"crawl node {self.node or '?'} of {self.url} (generation {self.generation}): {self.status} in "
                 f"{self.elapsed_s:.1f}s — pages {self.pages}, reports {self.reports}, attachments "
                 f"{self.attachments}, errors {self.errors}, items pushed {self.items}"]
        lines += [f"  {name}: {n} fetched by this node" for name, n in sorted(self.sites.items())]
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)


def run_node(config, url: str, *, sites: list[str] | None = None, progress: bool = True, polite: bool = True,
             timeout: float | None = None) -> NodeSummary:
    """Run one crawl node (a child process, as ``run_crawl`` does) of the shared crawl at ``url``."""
    from crawler.crawl import _chosen, child_command

    connect(url).close()  # FrontierError naming the URL before anything starts
    chosen = _chosen(config, sites)
    started = time.monotonic()
    summary = NodeSummary(url=display_url(url))
    with tempfile.TemporaryDirectory(prefix="nianbao-node-") as tmp:
        cmd, result_file = child_command(config, Path(tmp), chosen, ["--frontier", url],
                                         progress=progress, polite=polite)
        try:
            proc = subprocess.run(cmd, timeout=timeout, check=False)
            if proc.returncode != 0:
                summary.error = f"crawl process exited with code {proc.returncode}"
        except subprocess.TimeoutExpired:
            summary.error = f"crawl process exceeded {timeout}s and was stopped"
        stats = json.loads(result_file.read_text(encoding="utf-8")).get("stats", {}) if result_file.exists() else {}
    g = lambda k: int(stats.get(f"nianbao/{k}", 0) or 0)  # noqa: E731
    summary.elapsed_s = time.monotonic() - started
    summary.generation = stats.get("nianbao/frontier/generation")
    summary.node = stats.get("nianbao/frontier/node")
    summary.pages, summary.reports, summary.attachments = g("pages"), g("reports"), g("attachments")
    summary.errors, summary.items = g("errors"), g("frontier/items_pushed")
    for s in chosen:
        n = sum(g(f"site/{s.name}/{k}") for k in ("pages", "reports", "attachments"))
        if n:
            summary.sites[s.name] = n
    if not summary.error and not stats.get("finish_reason"):
        summary.error = "the crawl process stopped before its crawl ran (see its log above)"
    elif not summary.error and summary.generation is None:
        summary.error = "the crawl process never joined the shared crawl (see its log above)"
    if summary.error:
        summary.status = "failed"
    return summary


# -- the ingest worker (database machine) ----------------------------------------------------------------
@dataclass
class WorkerSummary:
    url: str
    items: int = 0
    documents: int = 0
    fetches: int = 0
    bad: int = 0
    generations: dict[int, int] = field(default_factory=dict)  # generation -> crawl run id
    finished: list[int] = field(default_factory=list)  # generations whose end was seen
    parsed: int = 0
    parse_failed: int = 0
    problems: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"ingest worker {self.url}: {self.items} items — {self.documents} documents, {self.fetches} fetch "
                 f"records, {self.bad} unreadable (kept in the bad list); parsed {self.parsed}, "
                 f"{self.parse_failed} parse failures"]
        for gen, run in sorted(self.generations.items()):
            lines.append(f"  generation {gen}: crawl run {run}" + (" (finished)" if gen in self.finished else ""))
        lines += [f"  problem: {p}" for p in self.problems]
        return "\n".join(lines)


def _sum_stats(into: dict[str, Any], stats: dict[str, Any]) -> None:
    for k, v in stats.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            into.setdefault(k, v)
        else:
            into[k] = into.get(k, 0) + v


class _Generation:
    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.stats: dict[str, Any] = {}
        self.counts: Counter[str] = Counter()
        self.nodes: dict[str, dict[str, int]] = {}
        self.sites: set[str] = set()


def run_ingest_worker(config, store, url: str, *, until_finished: bool = False, idle_exit: float | None = None,
                      parse: bool = True, progress: bool = False,
                      should_stop: Callable[[], bool] | None = None) -> WorkerSummary:
    """Pop the crawl nodes' items, store them, run the parse stage; until stopped, or (``until_finished``)
    until a shared crawl has finished and its items are all stored, or ``idle_exit`` seconds without items."""
    from crawler.crawl import _mark_repeated, summarize
    from crawler.ingest import ingest_document
    from crawler.parse_stage import ParseSettings, parse_pending
    import redis

    fs = FrontierSettings.from_config(config, url)
    frontier = Frontier(fs)
    keys, client = frontier.keys, frontier.client
    should_stop = should_stop or (lambda: False)
    summary = WorkerSummary(url=frontier.shown_url)
    lease = max(30, fs.node_timeout_s)
    if not client.set(keys.worker, frontier.node, nx=True, ex=lease):
        holder = (client.get(keys.worker) or b"?").decode()
        raise FrontierError(f"{frontier.shown_url}: another ingest worker ({holder}) is storing the items of job "
                            f"{fs.job!r}; one worker per database")
    parse_settings = ParseSettings.from_config(config)
    gens: dict[int, _Generation] = {}
    known_sites = {s.name: s for s in config.sites}
    since_parse = 0
    last_item = time.monotonic()
    last_lease = last_check = time.monotonic()

    def generation(n: int) -> _Generation:
        if n not in gens:
            rows = [r for r in store.last_runs(limit=50, kind="crawl")
                    if (r["config"] or {}).get("frontier", {}).get("job") == fs.job
                    and (r["config"] or {}).get("frontier", {}).get("generation") == n
                    and r["status"] == "running"]
            run_id = rows[0]["id"] if rows else store.start_run(
                "crawl", config={"frontier": {"url": frontier.shown_url, "job": fs.job, "generation": n},
                                 "sites": [s.name for s in config.sites]})
            gens[n] = _Generation(run_id)
            summary.generations[n] = run_id
            for s in config.sites:  # as `nianbao crawl` does: every configured site has its row
                store.upsert_site(s.name, region=s.region, start_url=s.start_url)
        return gens[n]

    def site_row(name: str | None, g: _Generation) -> None:
        if name and name not in g.sites:
            g.sites.add(name)
            s = known_sites.get(name)
            store.upsert_site(name, region=s.region if s else None, start_url=s.start_url if s else None)

    def run_parse() -> None:
        nonlocal since_parse
        if not parse:
            return
        result = parse_pending(store, parse_settings, progress=progress, should_stop=should_stop)
        summary.parsed += result.written
        summary.parse_failed += len(result.failures)
        since_parse = 0

    def finish(n: int, g: _Generation, error: str | None = None) -> None:
        stats = dict(g.stats)
        for k, v in g.counts.items():
            stats[f"nianbao/{k}"] = stats.get(f"nianbao/{k}", 0) + v
        names = sorted(g.sites | {s.name for s in config.sites if f"nianbao/site/{s.name}/pages" in stats})
        crawl = summarize(g.run_id, stats, names)
        crawl.stats = {k: v for k, v in stats.items() if not k.startswith("nianbao/explain/")}
        _mark_repeated(crawl, store, config.crawl.failing_after_runs, g.run_id)
        out = crawl.to_stats()
        out["frontier"] = {"job": fs.job, "generation": n, "nodes": g.nodes}
        status = crawl.status
        if error:
            summary.problems.append(f"generation {n}: {error}")
            status = "failed" if not crawl.pages else "partial"
        store.finish_run(g.run_id, status, out, error=error)
        summary.finished.append(n)
        logger.info("generation %d finished: crawl run %d %s", n, g.run_id, crawl.status)

    def handle(raw: bytes) -> None:
        nonlocal since_parse
        try:
            head, item = decode_item(raw)
        except (ValueError, UnicodeDecodeError, json.JSONDecodeError) as e:
            summary.bad += 1
            client.lpush(keys.bad, raw)
            client.expire(keys.bad, fs.key_ttl_s)
            summary.problems.append(f"unreadable item kept in {keys.bad}: {e}")
            logger.error("%s: unreadable item (%s) kept in %s", frontier.shown_url, e, keys.bad)
            return
        g = generation(head["generation"])
        kind = head["kind"]
        if kind == "stats":
            stats = head.get("stats") or {}
            _sum_stats(g.stats, stats)
            g.nodes[str(head.get("node"))] = _node_sites(stats)
            return
        if kind == "end":
            if parse:
                run_parse()
            finish(head["generation"], g)
            return
        from spiders.hostile import FetchRecord

        site_row(item.site, g)
        if isinstance(item, FetchRecord):
            store.record_fetch(item.url, run_id=g.run_id, http_status=item.http_status,
                               fetch_status=item.fetch_status, error=item.error, site=item.site)
            summary.fetches += 1
            return
        try:
            result = ingest_document(store, item, run_id=g.run_id, site=item.site)
        except Exception as e:  # storage failure: recorded, the item is not lost from the journal
            logger.exception("ingest failed for %s", item.url)
            store.record_fetch(item.url, run_id=g.run_id, http_status=item.status, fetch_status="ingest_error",
                               error=f"{type(e).__name__}: {e}", site=item.site)
            g.counts["ingest_errors"] += 1
            return
        summary.documents += 1
        g.counts["documents"] += 1
        for flag in ("is_new", "revised", "skipped"):
            if getattr(result, flag, False):
                g.counts[f"documents_{flag}"] += 1
                g.counts[f"site/{item.site}/documents_{flag}"] += 1
        if result.is_new or result.revised:
            since_parse += 1

    try:
        # an item a killed worker had taken is stored first (storing is idempotent: same bytes, same row)
        for raw in client.lrange(keys.processing, 0, -1)[::-1]:
            handle(raw)
            client.lrem(keys.processing, 1, raw)
        while not should_stop():
            if time.monotonic() - last_lease > lease / 3:
                client.set(keys.worker, frontier.node, ex=lease)
                last_lease = time.monotonic()
            raw = client.blmove(keys.items, keys.processing, 1, "RIGHT", "LEFT")
            if raw is None:
                if since_parse:
                    run_parse()
                if time.monotonic() - last_check > 5:
                    last_check = time.monotonic()
                    dead = frontier.abandon_dead()
                    if dead is not None:
                        logger.error("%s: every crawl node of generation %d stopped without finishing",
                                     frontier.shown_url, dead)
                        finish(dead, generation(dead), error="every crawl node stopped beating before the "
                                                               "crawl finished (killed?); what they sent is stored")
                if until_finished and summary.finished and not client.llen(keys.items):
                    break
                if idle_exit is not None and time.monotonic() - last_item > idle_exit:
                    break
                continue
            last_item = time.monotonic()
            summary.items += 1
            handle(raw)
            pipe = client.pipeline(transaction=True)
            pipe.lrem(keys.processing, 1, raw).decrby(keys.items_bytes, len(raw))
            pipe.execute()
            if since_parse >= fs.parse_every:
                run_parse()
        if since_parse:
            run_parse()
    except redis.RedisError as e:  # the server went away mid-run: what was stored stays, the rest waits in Redis
        raise FrontierError(f"{frontier.shown_url}: lost the Redis server: {e}") from None
    finally:
        try:
            if client.get(keys.worker) == frontier.node.encode():
                client.delete(keys.worker)
        except Exception:  # the lease expires by itself
            pass
    return summary


def _node_sites(stats: dict[str, Any]) -> dict[str, int]:
    """site -> pages + reports + attachments a node fetched (from its Scrapy stats)."""
    out: Counter[str] = Counter()
    for k, v in stats.items():
        parts = k.split("/")
        if len(parts) == 4 and parts[:2] == ["nianbao", "site"] and parts[3] in ("pages", "reports", "attachments"):
            out[parts[2]] += int(v or 0)
    return dict(out)
