"""The voice call's rules, pure: no ARI, no asyncio, no clock (see docs/architecture.md)."""
