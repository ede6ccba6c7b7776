"""Files shipped with the package: the starter config, the bundled sample papers, arXiv's
category list (`arxiv_categories.txt`) and the time zone names that work but mislead
(`legacy_timezones.txt`), both read by `newsletter.fields`, and the field's common
abbreviations (`abbreviations.txt`), read by `newsletter.abbreviations`."""
