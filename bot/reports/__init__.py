"""The published support figures: queries, rendering, the chart, the report CLI."""
