"""Apps with no Django. The trivial ones measure the load tools' own ceiling (calibration):
both answer every request with a 2-byte ``ok`` and a reason phrase (h2load counts a status line
without one as failed). The busy ones are the interleaved rounds' reference: the same answer
after a fixed amount of pure-Python work, so that they run at a Django-like rate, bound by the
server's CPU (as the configurations are) rather than by the load tool (as the trivial ones,
at 30,000-40,000 requests a second, were: their rate varied between rounds more than the
configurations' did). The ASGI apps complete the lifespan protocol so Granian logs no warning.
"""

BODY = b"ok"
HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"2")]


# About 0.25 ms of CPU on the 2-core machine this site started on, so the busy apps answer
# about as many requests a second as the fast WSGI configurations (2,000-3,000).
WORK_STEPS = 4000


def work() -> int:
    """A fixed amount of pure-Python work, the same on every run."""
    total = 0
    for step in range(WORK_STEPS):
        total += step * step % 7
    return total


async def asgi_app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [BODY]


async def asgi_busy_app(scope, receive, send):
    if scope["type"] != "lifespan":
        work()
    await asgi_app(scope, receive, send)


def wsgi_busy_app(environ, start_response):
    work()
    return wsgi_app(environ, start_response)
