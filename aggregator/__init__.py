"""aggregator: world-news headlines grouped by story, region and topic.

Data flows one way: config -> fetch -> parse -> normalise -> cluster -> classify -> store ->
render. :mod:`aggregator.pipeline` runs one pass; :mod:`aggregator.cli` and
:mod:`aggregator.scheduler` sit on top of it.
"""

__version__ = "0.1.0"
