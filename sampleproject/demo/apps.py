from django.apps import AppConfig
from django.core.signals import request_finished, request_started
from django.db.backends.signals import connection_created


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Measurement views"

    def ready(self) -> None:
        from demo import disconnect_log
        from demo.views.disconnect import register_work_step

        # The client-disconnect check's records (demo/disconnect_log.py); dispatch_uid keeps
        # one receiver each however often ready() runs.
        request_started.connect(disconnect_log.on_request_started, dispatch_uid="demo-started")
        request_finished.connect(disconnect_log.on_request_finished, dispatch_uid="demo-finished")
        connection_created.connect(register_work_step, dispatch_uid="demo-work-step")
