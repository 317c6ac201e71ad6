"""Paths of the measurement views. The URL names are the names used in endpoints.toml."""

from django.urls import path

from demo.views import basic, disconnect, echo, orm, sse, streaming, upload, upstream

app_name = "demo"

urlpatterns = [
    path("", basic.home, name="home"),
    path("preload", basic.preload, name="preload"),
    path("json/sync", basic.json_sync, name="json_sync"),
    path("json/async", basic.json_async, name="json_async"),
    path("process", basic.process, name="process"),
    path("process/exit", basic.process_exit, name="process_exit"),
    path("sleep/sync", basic.sleep_sync, name="sleep_sync"),
    path("sleep/async", basic.sleep_async, name="sleep_async"),
    path("stream/sync", streaming.stream_sync, name="stream_sync"),
    path("stream/async", streaming.stream_async, name="stream_async"),
    path("sse", sse.sse, name="sse"),
    path("sse/sync", sse.sse_sync, name="sse_sync"),
    path("sse/page", sse.sse_page, name="sse_page"),
    path("upstream/api", upstream.upstream_api, name="upstream_api"),
    path("upstream/sequential", upstream.upstream_sequential, name="upstream_sequential"),
    path("upstream/threadpool", upstream.upstream_threadpool, name="upstream_threadpool"),
    path("upstream/async", upstream.upstream_async, name="upstream_async"),
    path("orm/sync", orm.orm_sync, name="orm_sync"),
    path("orm/async", orm.orm_async, name="orm_async"),
    path("echo", echo.echo, name="echo"),
    path("echo/count", echo.echo_count, name="echo_count"),
    path("upload", upload.upload, name="upload"),
    path("disconnect/sync", disconnect.disconnect_sync, name="disconnect_sync"),
    path("disconnect/async", disconnect.disconnect_async, name="disconnect_async"),
    path("disconnect/query", disconnect.disconnect_query, name="disconnect_query"),
    path(
        "disconnect/query/async",
        disconnect.disconnect_query_async,
        name="disconnect_query_async",
    ),
    path(
        "disconnect/stream/sync",
        disconnect.disconnect_stream_sync,
        name="disconnect_stream_sync",
    ),
    path(
        "disconnect/stream/async",
        disconnect.disconnect_stream_async,
        name="disconnect_stream_async",
    ),
]
