"""An implementation that cannot even be imported."""

from distlab import Node

SETTINGS = {"retries": 3}
RETRIES = SETTINGS["retry"]


class PingServer(Node):
    pass


class PingClient(Node):
    pass
