"""kpiflow: quarterly performance returns in, Appendix 6(b) exception reports out."""

__version__ = "0.1.0"
