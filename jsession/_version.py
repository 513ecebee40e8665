"""The one version string of jsession, and the protocol version it speaks."""

__version__ = "0.1.0"

# The Jupyter messaging protocol implemented, as in jupyter_client 8.10.
protocol_version_info = (5, 4)
protocol_version = "%i.%i" % protocol_version_info
