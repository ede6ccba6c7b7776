"""Turning a Selection into what a reader sees: subject, preheader, HTML and plain text.

Light on purpose: importing the package loads nothing. Its modules, lightest first:

- `text`: the plain-text helpers (one line, shortened, wrapped, checked URLs), stdlib only
- `issue`: `RenderedIssue` and `Layout`, what a renderer hands to the message builder
- `views`: what a template sees of a paper (`PaperView`, `CardSlot`)
- `renderer`: Jinja, MJML and the `IssueRenderer` that joins shared cards into each issue

`newsletter.mail` needs only the first two, so building or sending a message never imports
Jinja, MarkupSafe or MJML.
"""
