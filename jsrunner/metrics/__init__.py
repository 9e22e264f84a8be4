"""Pure metrics core: definitions, sinks, sub-metrics, thresholds, summaries and outputs.

No JS and no I/O besides writing output files: the JS bindings feed samples in batches
(``MetricsEngine.ingest``) and the runner asks for thresholds results and summaries.
"""

from jsrunner.metrics.engine import MetricsEngine, Sample
from jsrunner.metrics.registry import Metric, MetricType, Registry, ValueType

__all__ = ["MetricsEngine", "Sample", "Metric", "MetricType", "Registry", "ValueType"]
