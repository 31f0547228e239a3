"""stageway: a self-hostable gateway that serves HTTP APIs the way AWS API Gateway does."""

__version__ = "0.1.0"
