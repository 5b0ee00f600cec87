"""Partitions: one per LLaMA source for the data stages."""
import dagster as dg

from pipelines.document import SOURCES

source_partitions = dg.StaticPartitionsDefinition(list(SOURCES))
