"""Quality: is the output of an endpoint any good right now.

`expect` judges one answer against a golden prompt's expectation (exact, contains, regular
expression, JSON matching a schema, or similarity to a reference answer computed locally with
no network). Everything here is pure; the expectations are team-written and so hostile: a
regular expression runs under a time limit and a schema never fetches a remote `$ref`.
"""
