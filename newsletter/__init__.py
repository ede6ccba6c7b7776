"""paper-digest: a daily research-paper digest, ranked for each reader, sent as one email a day."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("paper-digest")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
