"""Everything a person reads: units, markdown and text tables, figures, the report.

Renderers take tables and records and return text or figures; they measure nothing.
"""
