"""AutoThrottle that lets a 304 Not Modified count as the server's answer time.

Scrapy's AutoThrottle never *lowers* a host's delay on a response that is not a 200, because an error
page (or a redirect) is small and fast and would talk the crawler into hitting a failing server harder.
A 304 is not an error: it is the server's complete answer to a conditional request, after the same
look-up it does for a 200, without the body.  On an incremental night almost every report and attachment
answers 304, so under Scrapy's rule one slow answer (a busy server, or this machine's own CPU starving
the reactor, which reads as latency) raises a host's delay and the 304s that follow can never bring it
back down: the host stays at tens of seconds for the rest of the night (docs/scale.md, the 100-portal
night of 2 December 2026).

What does not change, so a portal sees no less politeness: the delay still never drops below
``download_delay`` (or the robots.txt Crawl-delay, applied by ``PoliteDelayMiddleware``), any slow answer,
304 included, still raises it at once, errors (4xx/5xx) and redirects still never lower it, and the
per-host concurrency is unchanged.  A 304 lowers the delay only by the same halving of the gap a fast 200
would."""
from __future__ import annotations

from scrapy.extensions.throttle import AutoThrottle


class ConditionalAwareThrottle(AutoThrottle):
    def _adjust_delay(self, slot, latency: float, response) -> None:
        if response.status == 304:
            target = latency / self.target_concurrency
            new_delay = max(target, (slot.delay + target) / 2.0)
            slot.delay = min(max(self.mindelay, new_delay), self.maxdelay)
            return
        super()._adjust_delay(slot, latency, response)
