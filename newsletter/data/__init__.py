"""Files shipped with the package: the starter config and the bundled sample papers."""
