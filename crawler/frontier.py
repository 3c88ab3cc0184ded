"""A crawl shared by several machines through Redis (``nianbao crawl --frontier``, ``nianbao ingest-worker``).

One machine is enough for a nightly re-read (docs/scale.md); a first national back-fill fetches millions of
documents and can use more.  The crawl nodes share, in one Redis database:

* the request queue and the duplicate filter: scrapy-redis's scheduler, priority queue and dupefilter (the
  existing engine, unchanged); requests are serialised as JSON (``JsonRequestCodec``), never pickled, so
  whoever can write to Redis cannot make a node run code;
* per-host politeness: scrapy-redis does not space requests to one host across nodes.  The download handler
  (``SharedDelayDownloadHandler``) reserves, right before each send (after the node's own slot delay and
  concurrency), the host's next allowed start time in Redis, atomically and on the Redis server's clock
  (``_RESERVE``): sends to one host are at least its delay apart whichever node makes them.  The delay is
  the site's ``download_delay`` (else ``crawl.download_delay``), raised to the robots.txt Crawl-delay and to
  the node's own AutoThrottle delay for the host;
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

What a frontier crawl does not do: conditional requests (a crawl node has no database to read ETags from:
every report is fetched again, and the worker stores only what changed) and the cross-node cap of
concurrent requests per host (each node keeps ``crawl.concurrent_per_domain`` of its own; the delay between
sends is shared).  A node killed midway leaves the requests it had taken unfetched (they are in the
dupefilter): the next crawl, a new generation, reads them.
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
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger(__name__)

#: What a frontier URL looks like (for messages).
URL_FORM = "redis://[:PASSWORD@]HOST[:PORT][/DB] (or rediss:// for TLS)"
#: Bytes of a robots.txt shared between nodes at most (Google reads 500 KiB).
ROBOTS_MAX_BYTES = 512 * 1024
ITEM_MAGIC = b"NBF1\n"


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
  redis.call('DEL', KEYS[3], KEYS[4])
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
redis.call('DEL', KEYS[3], KEYS[4])
return 1
"""
#: KEYS[1] the host's next-allowed start; ARGV delay (s), TTL (ms).  Returns the wait in seconds (a string:
#: Lua numbers come back as integers).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, nxt)
redis.call('SET', KEYS[1], string.format('%.6f', start + tonumber(ARGV[1])), 'PX', ARGV[2])
return string.format('%.6f', start - now)
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

    def next_allowed(self, host: str) -> str:
        return f"{self.prefix}host:{host}:next"

    def robots(self, netloc: str) -> str:
        return f"{self.prefix}robots:{netloc}"

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
        self._leave, self._reserve = c.register_script(_LEAVE), c.register_script(_RESERVE)

    @property
    def shown_url(self) -> str:
        return display_url(self.settings.url)

    def _node_keys(self) -> list[str]:
        k = self.keys
        return [k.nodes, k.state, k.requests, k.dupefilter]

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

    def idle(self) -> str:
        """'work' (requests queued), 'wait' (another node is busy) or 'done'."""
        self.state = "idle"
        out = self._idle(keys=[self.keys.nodes, self.keys.requests], args=[self.node, self.settings.node_timeout_s])
        return out.decode() if isinstance(out, bytes) else str(out)

    def leave(self) -> bool:
        """Mark this node done; True when it was the last one (the crawl is finished)."""
        self.state = "done"
        return bool(self._leave(keys=self._node_keys(), args=[self.node, self.settings.node_timeout_s]))

    def status(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.client.hgetall(self.keys.state).items()}

    # -- politeness ---------------------------------------------------------------------------------------
    def reserve(self, host: str, delay: float) -> float:
        """Seconds to wait before sending to ``host`` so that sends from every node are ``delay`` apart."""
        ttl_ms = int(max(delay * 1000 * 4, 60_000))
        return float(self._reserve(keys=[self.keys.next_allowed(host)], args=[f"{delay:.6f}", ttl_ms]))

    # -- items ----------------------------------------------------------------------------------------------
    def queued(self) -> tuple[int, int]:
        pipe = self.client.pipeline(transaction=False)
        pipe.llen(self.keys.items).get(self.keys.items_bytes)
        n, size = pipe.execute()
        return int(n or 0), int(size or 0)

    def push(self, data: bytes) -> None:
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


# -- Scrapy components (crawl nodes) ------------------------------------------------------------------------
def frontier_for(crawler) -> Frontier:
    """The crawl's Frontier (one per process, shared by the components below)."""
    f = getattr(crawler, "_nianbao_frontier", None)
    if f is None:
        f = Frontier(FrontierSettings(**crawler.settings.getdict("NIANBAO_FRONTIER")["settings"]))
        crawler._nianbao_frontier = f
    return f


def _scheduler_base():
    from scrapy_redis.scheduler import Scheduler

    return Scheduler


class FrontierNode:
    """Extension: joins the shared crawl, beats, decides when an idle node may close, leaves.

    A node whose queue is empty does not close while another node is busy (that node's pages may yield new
    requests); a node marks itself busy before it takes a request (``FrontierScheduler``), so a node that
    sees the queue empty and every other node idle knows that nobody holds work.
    """

    HEARTBEAT_S = 10.0

    def __init__(self, crawler) -> None:
        from scrapy import signals

        self.crawler = crawler
        self.frontier = frontier_for(crawler)
        self.generation = self.frontier.join()
        crawler.stats.set_value("nianbao/frontier/generation", self.generation)
        crawler.stats.set_value("nianbao/frontier/node", self.frontier.node)
        logger.info("crawl node %s joined %s (job %s, generation %d)", self.frontier.node,
                    self.frontier.shown_url, self.frontier.settings.job, self.generation)
        self.task = None
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.idle, signal=signals.spider_idle)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def opened(self, spider) -> None:
        from twisted.internet import task

        self.task = task.LoopingCall(self._beat)
        self.task.start(self.HEARTBEAT_S, now=False)

    def _beat(self) -> None:
        try:
            self.frontier.heartbeat()
        except Exception as e:  # a lost beat is retried in 10 s; the crawl goes on
            logger.warning("frontier heartbeat failed: %s", e)

    def idle(self, spider) -> None:
        from scrapy.exceptions import DontCloseSpider

        verdict = self.frontier.idle()
        if verdict != "done":
            self.crawler.stats.inc_value(f"nianbao/frontier/idle_{verdict}")
            raise DontCloseSpider(verdict)

    def closed(self, spider, reason) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        from crawler.crawl import _json_safe

        f = self.frontier
        stats = _json_safe(self.crawler.stats.get_stats())
        try:
            f.push(encode_control("stats", generation=self.generation, node=f.node, stats=stats, reason=reason))
            if f.leave():
                f.push(encode_control("end", generation=self.generation, node=f.node))
                logger.info("crawl node %s was the last: generation %d finished", f.node, self.generation)
        except Exception as e:
            logger.error("%s: could not report the end of crawl node %s: %s", f.shown_url, f.node, e)


class FrontierScheduler:
    """scrapy-redis's Scheduler, which also marks this node busy before it takes a request."""

    def __new__(cls, *args, **kwargs):  # subclass built lazily: scrapy-redis imported only in frontier mode
        return _frontier_scheduler_class()(*args, **kwargs)

    @classmethod
    def from_crawler(cls, crawler):
        return _frontier_scheduler_class().from_crawler(crawler)


_SCHEDULER_CLS = None


def _frontier_scheduler_class():
    global _SCHEDULER_CLS
    if _SCHEDULER_CLS is None:
        base = _scheduler_base()

        class _Scheduler(base):
            @classmethod
            def from_crawler(cls, crawler):
                inst = super().from_crawler(crawler)
                inst.frontier = frontier_for(crawler)
                return inst

            def next_request(self):
                if self.frontier.state != "busy":
                    self.frontier.mark("busy")  # before the pop: see FrontierNode
                return super().next_request()

        _Scheduler.__name__ = _Scheduler.__qualname__ = "FrontierScheduler"
        _SCHEDULER_CLS = _Scheduler
    return _SCHEDULER_CLS


def _http11():
    from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler

    return HTTP11DownloadHandler


class SharedDelayDownloadHandler:
    """http/https download handler: Scrapy's HTTP/1.1 handler, after a wait that keeps sends to one host
    ``delay`` apart across every node (``Frontier.reserve``).  It runs at send time, inside the node's slot,
    so the node's own delay, jitter and concurrency cannot shift a send after its reservation."""

    lazy = False

    def __init__(self, crawler) -> None:
        from scrapy import signals

        self.crawler = crawler
        self.inner = _http11()(crawler)
        conf = crawler.settings.getdict("NIANBAO_FRONTIER")
        self.delays: dict[str, float] = conf.get("delays") or {}
        self.default_delay = float(conf.get("default_delay") or 0.0)
        self.frontier = frontier_for(crawler)
        self.crawl_delays: dict[str, float] = {}
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def robots_parsed(self, robotparser, request) -> None:
        ua = self.crawler.settings.get("ROBOTSTXT_USER_AGENT") or self.crawler.settings.get("USER_AGENT")
        try:
            delay = robotparser.crawl_delay(ua)
        except Exception:
            delay = None
        if delay:
            self.crawl_delays[_host_key(request.url)] = float(delay)

    def delay_for(self, request) -> float:
        host = _host_key(request.url)
        delay = self.delays.get(host, self.default_delay)
        if not request.meta.get("dont_obey_robotstxt"):
            delay = max(delay, self.crawl_delays.get(host, 0.0))
        slot = self.crawler.engine.downloader.slots.get(request.meta.get("download_slot") or host) \
            if self.crawler.engine else None
        if slot is not None and self.default_delay > 0:  # AutoThrottle raised it for a slow host
            delay = max(delay, float(getattr(slot, "delay", 0.0) or 0.0))
        return delay

    async def download_request(self, request):
        delay = self.delay_for(request)
        if delay > 0:
            wait = self.frontier.reserve(_host_key(request.url), delay)
            if wait > 0:
                from crawler.middlewares import _sleep

                self.crawler.stats.inc_value("nianbao/frontier/delay_wait_s", wait)
                await _sleep(wait)
        return await self.inner.download_request(request)

    async def close(self) -> None:
        await self.inner.close()


def _host_key(url: str) -> str:
    from spiders.portal import host_key

    return host_key(url)


def _robots_base():
    from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

    return RobotsTxtMiddleware


_ROBOTS_CLS = None


def _shared_robots_class():
    global _ROBOTS_CLS
    if _ROBOTS_CLS is not None:
        return _ROBOTS_CLS
    from scrapy.exceptions import IgnoreRequest
    from scrapy.http import Request, Response
    from scrapy.http.request import NO_CALLBACK
    from scrapy.utils.defer import maybe_deferred_to_future
    from scrapy.utils.httpobj import urlparse_cached
    from twisted.internet.defer import Deferred

    from crawler.middlewares import _sleep

    class _SharedRobots(_robots_base()):
        """Scrapy's robots.txt middleware; the robots.txt of a host is fetched by one node and shared."""

        CLAIM_S = 120  # a claim not answered in this time is taken over (its node died)

        def __init__(self, crawler) -> None:
            super().__init__(crawler)
            self.frontier = frontier_for(crawler)

        async def robot_parser(self, request):
            url = urlparse_cached(request)
            netloc = url.netloc
            if netloc not in self._parsers:
                self._parsers[netloc] = Deferred()
                await self._shared(request, url.scheme, netloc)
            parser = self._parsers[netloc]
            if isinstance(parser, Deferred):
                return await maybe_deferred_to_future(parser)
            return parser

        async def _shared(self, request, scheme: str, netloc: str) -> None:
            client, key = self.frontier.client, self.frontier.keys.robots(netloc)
            ttl = self.frontier.settings.key_ttl_s
            robotsurl = f"{scheme}://{netloc}/robots.txt"
            deadline = time.monotonic() + self.CLAIM_S
            while True:
                got = client.hgetall(key)
                if got.get(b"state") == b"done":
                    self.crawler.stats.inc_value("nianbao/frontier/robots_shared")
                    if got.get(b"error"):
                        self._robots_error(RuntimeError(got[b"error"].decode("utf-8", "replace")), netloc)
                    else:
                        resp = Response(robotsurl, status=int(got.get(b"status") or 200), body=got.get(b"body") or b"")
                        await self._parse_robots(resp, netloc, request)
                    return
                if client.hsetnx(key, "claim", self.frontier.node):
                    client.expire(key, ttl)
                    break
                if time.monotonic() > deadline:  # the claiming node died: fetch it ourselves
                    client.delete(key)
                    deadline = time.monotonic() + self.CLAIM_S
                    continue
                await _sleep(0.1)
            robotsreq = Request(robotsurl, priority=self.DOWNLOAD_PRIORITY, meta={"dont_obey_robotstxt": True},
                                callback=NO_CALLBACK)
            try:
                resp = await self.crawler.engine.download_async(robotsreq)
            except Exception as e:
                if not isinstance(e, IgnoreRequest):
                    logger.warning("robots.txt of %s: %s", netloc, e)
                client.hset(key, mapping={"state": "done", "error": f"{type(e).__name__}: {e}"[:500]})
                self._robots_error(e, netloc)
            else:
                client.hset(key, mapping={"state": "done", "status": resp.status,
                                          "body": resp.body[:ROBOTS_MAX_BYTES]})
                await self._parse_robots(resp, netloc, request)
            self._stats.inc_value("robotstxt/request_count")

    _SharedRobots.__name__ = _SharedRobots.__qualname__ = "SharedRobotsTxtMiddleware"
    _ROBOTS_CLS = _SharedRobots
    return _ROBOTS_CLS


class SharedRobotsTxtMiddleware:
    """Scrapy's RobotsTxtMiddleware with each host's robots.txt fetched once for all nodes."""

    def __new__(cls, *args, **kwargs):
        return _shared_robots_class()(*args, **kwargs)

    @classmethod
    def from_crawler(cls, crawler):
        return _shared_robots_class()(crawler)


class SharedBudgetUrlPolicyMiddleware:
    """The URL policy (crawler.middlewares), with the page budget per site counted in Redis for all nodes."""

    def __new__(cls, *args, **kwargs):
        return _budget_class()(*args, **kwargs)

    @classmethod
    def from_crawler(cls, crawler):
        return _budget_class()(crawler)


_BUDGET_CLS = None


def _budget_class():
    global _BUDGET_CLS
    if _BUDGET_CLS is not None:
        return _BUDGET_CLS
    from spiders import hostile
    from crawler.middlewares import UrlPolicyMiddleware

    class _Budget(UrlPolicyMiddleware):
        def __init__(self, crawler) -> None:
            super().__init__(crawler)
            self.shared_budget, self.budget = self.budget, {}  # the parent's local count is off
            self.frontier = frontier_for(crawler)

        async def process_request(self, request, spider=None):
            await super().process_request(request, spider)
            site = request.meta.get("site")
            budget = self.shared_budget.get(site)
            if site and budget:
                f = self.frontier
                key = f.keys.budget(f.generation or 0, site)
                pipe = f.client.pipeline(transaction=True)
                pipe.incr(key).expire(key, f.settings.key_ttl_s)
                n = pipe.execute()[0]
                if n > budget:
                    raise self._refuse(request, site, hostile.CAP_SITE_PAGES,
                                       f"page budget of {budget} requests reached by all crawl nodes "
                                       f"(max_pages_per_site)")
            return None

    _Budget.__name__ = _Budget.__qualname__ = "SharedBudgetUrlPolicyMiddleware"
    _BUDGET_CLS = _Budget
    return _BUDGET_CLS


def _pipeline_base():
    from scrapy_redis.pipelines import RedisPipeline

    return RedisPipeline


_PIPELINE_CLS = None


def _pipeline_class():
    global _PIPELINE_CLS
    if _PIPELINE_CLS is not None:
        return _PIPELINE_CLS
    from scrapy.utils.defer import maybe_deferred_to_future
    from twisted.internet.threads import deferToThread

    from crawler.middlewares import _sleep
    from spiders import hostile
    from spiders.hostile import FetchRecord
    from storage.models import Document

    class _Pipeline(_pipeline_base()):
        """scrapy-redis's RedisPipeline: items to the shared list (our codec), with a size cap and
        back-pressure (a node waits while the ingest worker is ``max_queued_*`` behind)."""

        def __init__(self, crawler) -> None:
            self.crawler = crawler
            self.frontier = frontier_for(crawler)
            super().__init__(self.frontier.client, key=self.frontier.keys.items, serialize_func=self._encode)
            self.stats = crawler.stats
            self._waiting_logged = 0.0

        @classmethod
        def from_crawler(cls, crawler):
            return cls(crawler)

        def _encode(self, item) -> bytes:
            return encode_item(item, generation=self.frontier.generation or 0, node=self.frontier.node)

        async def process_item(self, item, spider=None):
            if not isinstance(item, (Document, FetchRecord)):
                return item
            s = self.frontier.settings
            if isinstance(item, Document) and len(item.content) > s.max_item_bytes:
                self.stats.inc_value("nianbao/frontier/items_too_large")
                pushed = FetchRecord(url=item.url, site=item.site, role="attachment" if item.report_url != item.url
                                     else "report", http_status=item.status, fetch_status=hostile.TOO_LARGE,
                                     error=f"{len(item.content) / 1e6:.1f} MB exceeds frontier.max_item_mb "
                                           f"({s.max_item_bytes / 1e6:.0f} MB): not pushed to the ingest worker")
            else:
                pushed = item
            data = self._encode(pushed)
            while True:  # back-pressure: the ingest worker is behind
                n, size = await maybe_deferred_to_future(deferToThread(self.frontier.queued))
                if n < s.max_queued_items and (size + len(data) <= s.max_queued_bytes or n == 0):
                    break
                now = time.monotonic()
                if now - self._waiting_logged > 60:
                    self._waiting_logged = now
                    logger.warning("%s: %d items (%.0f MB) wait for the ingest worker; crawl node waits",
                                   self.frontier.shown_url, n, size / 1e6)
                self.stats.inc_value("nianbao/frontier/backpressure_waits")
                await _sleep(0.5)
            await maybe_deferred_to_future(deferToThread(self.frontier.push, data))
            self.stats.inc_value("nianbao/frontier/items_pushed")
            self.stats.inc_value("nianbao/frontier/bytes_pushed", len(data))
            return item

    _Pipeline.__name__ = _Pipeline.__qualname__ = "FrontierItemPipeline"
    _PIPELINE_CLS = _Pipeline
    return _PIPELINE_CLS


class FrontierItemPipeline:
    def __new__(cls, *args, **kwargs):
        return _pipeline_class()(*args, **kwargs)

    @classmethod
    def from_crawler(cls, crawler):
        return _pipeline_class()(crawler)


def node_settings(config, url: str, sites, *, polite: bool = True) -> dict[str, Any]:
    """The Scrapy settings that turn a crawl process into a crawl node of the shared crawl at ``url``."""
    from crawler.settings import scrapy_settings  # noqa: F401  (the base settings are the caller's)
    from spiders.portal import host_key

    fs = FrontierSettings.from_config(config, url)
    keys = Keys(fs.job)
    delays = {}
    if polite:
        for s in sites:
            delays[host_key(s.start_url)] = s.download_delay if s.download_delay is not None \
                else config.crawl.download_delay
    return {
        "SCHEDULER": "crawler.frontier.FrontierScheduler",
        "SCHEDULER_PERSIST": True,  # the last node clears the queue (FrontierNode), not the first to finish
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_QUEUE_KEY": keys.requests,
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter,
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_SERIALIZER": JsonRequestCodec,
        "REDIS_URL": url,
        "REDIS_PARAMS": {"socket_timeout": 30, "socket_connect_timeout": 10, "retry_on_timeout": True,
                         "health_check_interval": 30},
        "NIANBAO_FRONTIER": {"settings": fs.__dict__, "delays": delays,
                             "default_delay": config.crawl.download_delay if polite else 0.0},
    }


def apply_node_settings(settings: dict[str, Any], config, url: str, sites, *, polite: bool = True) -> dict[str, Any]:
    """``settings`` (crawler.settings.scrapy_settings) changed in place for a crawl node."""
    settings.update(node_settings(config, url, sites, polite=polite))
    settings["NIANBAO_DB"] = None  # no database on a crawl node: no conditional requests
    settings["DOWNLOAD_HANDLERS"] = {**settings.get("DOWNLOAD_HANDLERS", {}),
                                     "http": "crawler.frontier.SharedDelayDownloadHandler",
                                     "https": "crawler.frontier.SharedDelayDownloadHandler"}
    mw = dict(settings["DOWNLOADER_MIDDLEWARES"])
    mw["crawler.middlewares.UrlPolicyMiddleware"] = None
    mw["crawler.frontier.SharedBudgetUrlPolicyMiddleware"] = 50
    mw["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] = None
    mw["crawler.frontier.SharedRobotsTxtMiddleware"] = 100
    settings["DOWNLOADER_MIDDLEWARES"] = mw
    settings["ITEM_PIPELINES"] = {"crawler.frontier.FrontierItemPipeline": 300}
    settings["EXTENSIONS"] = {**settings.get("EXTENSIONS", {}), "crawler.frontier.FrontierNode": 100}
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
    from crawler.crawl import _chosen

    connect(url).close()  # FrontierError naming the URL before anything starts
    chosen = _chosen(config, sites)
    started = time.monotonic()
    summary = NodeSummary(url=display_url(url))
    with tempfile.TemporaryDirectory(prefix="nianbao-node-") as tmp:
        cfg_file, result_file = Path(tmp) / "config.json", Path(tmp) / "result.json"
        cfg_file.write_text(json.dumps(config.model_dump(mode="json", by_alias=True)), encoding="utf-8")
        cmd = [sys.executable, "-m", "crawler.crawl", "--config-json", str(cfg_file), "--frontier", url,
               "--result", str(result_file)]
        for s in chosen:
            cmd += ["--site", s.name]
        if progress:
            cmd.append("--progress")
        if not polite:
            cmd.append("--impolite")
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
    last_lease = time.monotonic()

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

    def finish(n: int, g: _Generation) -> None:
        stats = dict(g.stats)
        for k, v in g.counts.items():
            stats[f"nianbao/{k}"] = stats.get(f"nianbao/{k}", 0) + v
        names = sorted(g.sites | {s.name for s in config.sites if f"nianbao/site/{s.name}/pages" in stats})
        crawl = summarize(g.run_id, stats, names)
        crawl.stats = {k: v for k, v in stats.items() if not k.startswith("nianbao/explain/")}
        _mark_repeated(crawl, store, config.crawl.failing_after_runs, g.run_id)
        out = crawl.to_stats()
        out["frontier"] = {"job": fs.job, "generation": n, "nodes": g.nodes}
        store.finish_run(g.run_id, crawl.status, out)
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
