"""Per-subject limit on writes (SPEC §2 `RATE_LIMITED`), through Litestar's rate-limit middleware.

Only the writes that cost storage or rendering count: creating and replacing scripts, approving
them, starting renders and speaking voice previews, all against one budget per token subject (not per IP: many users
share a proxy address, and one user may come from many). Reads, cancels, health and assets are
never limited. The middleware runs inside authentication, so `request.user` is known.

The count is Litestar's fixed window of a minute per subject; concurrent writes to different
routes may be under-counted by a few, which an abuse limit tolerates.
"""

from typing import Any

from litestar import Request
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.rate_limit import CacheObject, RateLimitConfig, RateLimitMiddleware

LIMITED_OPERATIONS = frozenset({"putScript", "createScript", "approveScript", "createRenderJob", "previewVoice"})
"""OpenAPI operation ids of the limited handlers: stable names, unlike their parameterised paths."""


class RetryAfterRateLimitMiddleware(RateLimitMiddleware):
    """Litestar states when the window resets only in the draft `RateLimit-Reset` header, while
    HTTP clients and proxies act on the standard `Retry-After`. It goes with `RateLimit-Remaining: 0`:
    on every refused write, and on the one that took the window's last slot."""

    def create_response_headers(self, cache_object: CacheObject) -> dict[str, str]:
        headers = super().create_response_headers(cache_object)
        if len(cache_object.history) >= self.max_requests:
            headers["Retry-After"] = headers[self.config.rate_limit_reset_header_key]
        return headers


async def is_limited_write(request: Request[Any, Any, Any]) -> bool:
    # Async: Litestar would run a plain function in a worker thread.
    return request.route_handler.operation_id in LIMITED_OPERATIONS


def token_subject(request: Request[Any, Any, Any]) -> str:
    return request.user.subject


def write_rate_limit(per_minute: int) -> DefineMiddleware:
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        identifier_for_request=token_subject,
        check_throttle_handler=is_limited_write,
        middleware_class=RetryAfterRateLimitMiddleware,
    ).middleware
