"""paper-digest: a daily research-paper digest, ranked for each reader, sent as one email a day.

Installed as the distribution `paper-digest-mail` (`paper-digest` on PyPI is another project).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("paper-digest-mail")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
